"""User specs that would hang or exhaust a run: catastrophic patterns, runaway templates (issue 12, item 12)."""

from __future__ import annotations

import time

import pytest
from conftest import run_judgekit
from servers import ScriptedServer

from judgekit.backends.base import Refused
from judgekit.data import load_dataset
from judgekit.errors import BadInput
from judgekit.judge.sandbox import MAX_RENDERED_CHARS
from judgekit.judge.strategies import parsing
from judgekit.protocols import load_protocol
from judgekit.runs.run_dir import read_run

EXAMPLE = load_dataset("judgekit/bundled").examples[0]
CATASTROPHIC = "^(?P<first>(a|a)+)(?P<second>x)?$"
"""Overlapping alternatives: on 'aaaa…!' both re and regex try 2^n ways (hours at n = 40)."""


def spec(tmp_path, *, pattern="(?P<first>ONE)|(?P<second>TWO)",
         compare="Task: {{ instruction }}\n{{ output_1 }}\n{{ output_2 }}"):
    path = tmp_path / "mine.yaml"
    template = compare.replace("\n", "\n    ")
    path.write_text(
        "description: a user's judge\ncitation: none\nstrategy: pairwise\n"
        f"parser: {{format: regex, pattern: '{pattern}'}}\n"
        f"templates:\n  compare: |-\n    {template}\n",
        encoding="utf-8",
    )
    return path


def test_a_catastrophic_pattern_is_an_invalid_verdict_not_a_hung_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(parsing, "PATTERN_TIMEOUT_S", 0.2)  # CPU seconds per search; the default is 1
    reply = "a" * 40 + "!"
    with ScriptedServer(answer=lambda call: reply) as server:
        out = tmp_path / "run"
        start = time.monotonic()
        code, _, err = run_judgekit(
            monkeypatch, capsys, "run", "--judge", "openai:judge", "--base-url", server.openai_url,
            "--dataset", "judgekit/bundled", "--limit", "2", "--protocol", spec(tmp_path, pattern=CATASTROPHIC),
            "--out", out, "--quiet",
        )
        elapsed = time.monotonic() - start
    assert code == 0, err
    assert elapsed < 60  # two items, two orders, each search stopped at its deadline
    run = read_run(out)
    assert [v.invalid_reason for v in run.verdicts] == ["regex_timeout", "regex_timeout"]
    assert all(v.winner is None and v.orders[0].raw == reply for v in run.verdicts)
    assert "no answer within 0.2 s" in run.verdicts[0].details["error"]


@pytest.mark.parametrize("compare", [
    "{{ 'x' * 9000000 }}{{ instruction }}{{ output_1 }}{{ output_2 }}",
    "{% for i in range(100000) %}{{ instruction }}{{ output_1 }}{{ output_2 }}{% endfor %}",
    "{{ instruction * 100000000 }}{{ output_1 }}{{ output_2 }}",
    "{{ 10 ** 100000000 }}{{ instruction }}{{ output_1 }}{{ output_2 }}",
])
def test_a_template_that_renders_a_huge_prompt_is_refused_naming_it(tmp_path, compare):
    protocol = load_protocol(spec(tmp_path, compare=compare))
    start = time.monotonic()
    with pytest.raises((BadInput, Refused), match=r"mine\.yaml: templates\.compare: "):  # Refused: that item
        protocol.messages("compare", instruction=EXAMPLE.instruction, output_1="a", output_2="b", reference=None)
    assert time.monotonic() - start < 5


def test_an_ordinary_template_renders_in_full(tmp_path):
    protocol = load_protocol(spec(tmp_path, compare="{{ instruction }}|{{ output_1 * 3 }}|{{ output_2 }}"))
    (message,) = protocol.messages("compare", instruction="Say hi", output_1="ab", output_2="c", reference=None)
    assert message.content == "Say hi|ababab|c" and len(message.content) < MAX_RENDERED_CHARS
