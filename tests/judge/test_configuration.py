"""No silent configuration: what a user sets is either used or refused, naming where it was set."""

from __future__ import annotations

import pytest
from conftest import run_judgekit

from judgekit.backends.registry import create_backend
from judgekit.errors import BadInput
from judgekit.protocols import load_protocol
from judgekit.resources import protocols_root


def builtin(protocol_id):
    return (protocols_root() / f"{protocol_id}.yaml").read_text(encoding="utf-8")


def test_a_misspelt_backend_option_is_named_not_ignored():
    with pytest.raises(BadInput, match=r"unknown option 'base_ulr' for provider openai \(accepted: .*base_url"):
        create_backend("openai:gpt-4o-mini", base_ulr="http://127.0.0.1:9/v1")
    with pytest.raises(BadInput, match="unknown option 'base_url' for provider local"):
        create_backend("local:", base_url="http://127.0.0.1:9/v1")


@pytest.mark.parametrize("spec, change, message", [
    ("llmbar/vanilla", ("parser: {format: llmbar}", "parser: {format: rating}"),
     "parser.format: strategy pairwise reads a slot, which 'rating' does not give"),
    ("llmbar/rating", ("parser: {format: rating, min: 1, max: 10}", "parser: {format: mtbench}"),
     "parser.format: strategy rating reads a score"),
    ("llmbar/vanilla", ("parser: {format: llmbar}", "parser: {format: regex, pattern: 'Score: (?P<score>\\d+)'}"),
     "parser.pattern: strategy pairwise reads a slot: the pattern needs the group.s. first, second"),
    ("checklist/drfr", ("strategy: checklist\n", "strategy: checklist\nparser: {format: llmbar}\n"),
     "parser: strategy checklist reads its own answer format"),
    ("llmbar/vanilla", ("strategy: pairwise\n", "strategy: pairwise\ndecide_by: logprobs\n"),
     "unknown key 'decide_by'"),
])
def test_a_spec_that_could_not_run_is_refused_at_load(tmp_path, spec, change, message):
    text = builtin(spec)
    assert change[0] in text
    path = tmp_path / "mine.yaml"
    path.write_text(text.replace(*change), encoding="utf-8")
    with pytest.raises(BadInput, match=message) as info:
        load_protocol(path)
    assert str(path) in str(info.value)


def test_the_cli_refuses_it_with_exit_2_and_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text(builtin("llmbar/vanilla").replace("{format: llmbar}", "{format: rating}"), encoding="utf-8")
    code, out, err = run_judgekit(monkeypatch, capsys, "protocols", "show", path)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [f"error: {path}: parser.format: strategy pairwise reads a slot, which "
                                        "'rating' does not give (use one of llmbar, mtbench, regex)"]
