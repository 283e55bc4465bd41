"""One scoring path: the run summary, Run.summary(), report and compare agree, checked from the files.

Two swap-and-synthesize runs: LLMBar's recorded GPT-4 "Swap" evaluations
imported, and a run through ``judgekit run`` against a loopback server whose
synthesis answers are unparseable for some items (so the final verdicts are
invalid where every per-order answer parsed). The expected figures are
counted here from ``verdicts.jsonl`` and ``examples.jsonl`` with plain json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_judgekit
from servers import ScriptedServer

import judgekit
from judgekit.runs.importers.llmbar import import_llmbar
from judgekit.runs.run_dir import read_run

SWAP = "llmbar/Dataset/LLMBar/Natural/evaluators/GPT-4/Swap"


def _from_files(run_dir: Path) -> dict[str, float]:
    """accuracy_final and the final and per-order invalid/tie rates, counted from the run's files."""
    gold = {}
    for line in (run_dir / "examples.jsonl").read_text().splitlines():
        example = json.loads(line)
        gold[example["id"]] = example["gold"]
    verdicts = [json.loads(line) for line in (run_dir / "verdicts.jsonl").read_text().splitlines() if line]
    n = len(verdicts)
    orders = [o for v in verdicts for o in v["orders"]]
    return {
        "n": n,
        "accuracy_final": sum(v["winner"] == gold[v["example_id"]] for v in verdicts) / n,
        "final_invalid_rate": sum(v["winner"] is None for v in verdicts) / n,
        "final_tie_rate": sum(v["winner"] == "tie" for v in verdicts) / n,
        "invalid_rate": sum(o["winner"] is None for o in orders) / len(orders),
        "tie_rate": sum(o["winner"] == "tie" for o in orders) / len(orders),
    }


def _everywhere(run_dir: Path, monkeypatch, capsys) -> list[dict]:
    """The same figures as report JSON, compare JSON and Run.summary() give them."""
    code, out, err = run_judgekit(monkeypatch, capsys, "report", run_dir, "--format", "json", "--resamples", "200")
    assert code == 0, err
    report_row = json.loads(out)["runs"][0]
    code, out, err = run_judgekit(monkeypatch, capsys, "compare", run_dir, "--format", "json", "--resamples", "200")
    assert code == 0, err
    compare_row = json.loads(out)["leaderboard"][0]
    frame = read_run(run_dir).summary()["value"]
    summary_row = {name: frame.get(name) for name in report_row if name in frame.index}
    return [report_row, compare_row, summary_row]


def test_recorded_swap_run_gives_one_accuracy_final_everywhere(data_dir, tmp_path, monkeypatch, capsys):
    run_dir = import_llmbar(data_dir / SWAP, tmp_path / "swap").path
    expected = _from_files(run_dir)
    for row in _everywhere(run_dir, monkeypatch, capsys):
        for name, value in expected.items():
            assert row[name] == pytest.approx(value, abs=1e-12), name
    report_row, compare_row, _ = _everywhere(run_dir, monkeypatch, capsys)
    assert report_row["headline"] == compare_row["ranked_by"] == "accuracy"  # recorded LLMBar runs: their Acc


def test_swap_run_through_the_cli_counts_unparseable_finals(tmp_path, monkeypatch, capsys):
    """Orders always disagree (first slot wins), so every item goes to synthesis; a third of the
    synthesis answers are unparseable: the final invalid rate is 1/3 while no per-order answer is."""
    examples = [{"id": str(i), "instruction": f"task {i}", "response_a": f"alpha {i}", "response_b": f"beta {i}",
                 "gold": "a" if i % 2 else "b"} for i in range(12)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(e) + "\n" for e in examples))

    def answer(call) -> str:
        text = "\n".join(m["content"] for m in call.messages)
        if "[First judgement]" not in text:
            return "Output (a)"
        item = int(re.search(r"task (\d+)", text).group(1))
        return "I cannot decide." if item % 3 == 0 else "Output (b)"

    with ScriptedServer(answer=answer) as server:
        code, out, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                      server.openai_url, "--protocol", "llmbar/swap", "--dataset", data,
                                      "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    run_dir = tmp_path / "run"
    expected = _from_files(run_dir)
    assert expected["final_invalid_rate"] == pytest.approx(1 / 3) and expected["invalid_rate"] == 0
    rows = _everywhere(run_dir, monkeypatch, capsys)
    for row in rows:
        for name, value in expected.items():
            assert row[name] == pytest.approx(value, abs=1e-12), name
    assert rows[0]["headline"] == rows[1]["ranked_by"] == "accuracy_final"  # swap-and-synthesize decides jointly
    # the end-of-run table leads with the headline and shows the final rates
    lines = [line for line in out.splitlines() if line.startswith("│")]
    assert lines[1].split("│")[1].strip() == "accuracy_final"
    shown = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in lines}
    assert shown["accuracy_final"] == f"{expected['accuracy_final']:.3f}"
    assert shown["final_invalid_rate"] == f"{expected['final_invalid_rate']:.3f}"


def test_api_and_cli_share_the_dataset_hash_and_resume_each_other(tmp_path, monkeypatch, capsys):
    """evaluate(judge, id), evaluate(judge, Dataset) and `judgekit run` hash the same examples alike."""
    from judgekit.data import load_dataset

    with ScriptedServer(answer=lambda call: "Output (a)") as server:
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                    server.openai_url, "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
                                    "--limit", "6",
                                    "--out", tmp_path / "cli", "--quiet")
        assert code == 0, err
        cli_hash = read_run(tmp_path / "cli").manifest.dataset_hash
        judge = judgekit.load_judge("openai:judge", protocol="llmbar/vanilla", base_url=server.openai_url)
        try:
            by_id = judgekit.evaluate(judge, "judgekit/bundled", limit=6, out=tmp_path / "api-id")
            loaded = load_dataset("judgekit/bundled")
            by_dataset = judgekit.evaluate(judge, loaded, limit=6, out=tmp_path / "api-dataset")
            by_list = judgekit.evaluate(judge, list(loaded.examples)[:6], out=tmp_path / "api-list")
            assert cli_hash == by_id.manifest.dataset_hash == by_dataset.manifest.dataset_hash
            assert by_list.manifest.dataset_hash == cli_hash  # same examples, same hash
            assert cli_hash == load_dataset("judgekit/bundled", limit=6).content_hash
            server.reset_counters()
            resumed = judgekit.evaluate(judge, loaded, limit=6, out=tmp_path / "cli")  # the API resumes the CLI's
            assert server.total_answered() == 0 and len(resumed.verdicts) == 6
        finally:
            judge.close()
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url",
                                    server.openai_url, "--protocol", "llmbar/vanilla", "--dataset", "judgekit/bundled",
                                    "--limit", "6",
                                    "--out", tmp_path / "api-dataset", "--quiet")
        assert code == 0, err  # and the CLI resumes the API's
        assert server.total_answered() == 0
