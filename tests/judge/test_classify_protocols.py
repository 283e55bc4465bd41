"""Classify protocols: strict label reading, option-letter probabilities, checklists, few-shot files, label sets."""

from __future__ import annotations

import json
import math

import pytest

from judgekit.backends.base import Completion, Refused
from judgekit.errors import BadInput
from judgekit.judge.protocol import LabelSet
from judgekit.judge.strategies import run_protocol
from judgekit.judge.strategies.classify import bind_labels, choice_distribution, read_label
from judgekit.protocols import load_protocol
from judgekit.records import LabelledOutput

PASS_FAIL = LabelSet(names=("fail", "pass"), descriptions={"fail": "It states something false."}, positive="fail")
OUTPUT = LabelledOutput(id="o1", input="When did the Berlin Wall fall?", output="In 1991.", gold="fail")


class Scripted:
    """A caller answering each request from a list, keeping the requests."""

    def __init__(self, *replies: Completion | Exception) -> None:
        self.replies = list(replies)
        self.requests = []

    async def complete(self, request):
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


@pytest.mark.parametrize("text, label, reason", [
    ("fail", "fail", None),
    ("**Pass**.", "pass", None),
    ("It gives 1991; the wall fell in 1989.\n\nLabel: FAIL", "fail", None),
    ("Checked every date.\nTherefore, the final answer is pass.", "pass", None),
    ("[[fail]]", "fail", None),
    ("maybe", None, "unknown_label"),  # an answer, but not a label
    ("The dates look off.\nLabel: mostly wrong", None, "unknown_label"),
    ("fail - it gets the year wrong", None, "unparseable"),  # the label must stand alone on the last line
    ("I cannot decide without more context.", None, "unparseable"),
    ("", None, "unparseable"),
])
def test_a_label_is_read_only_from_a_last_line_that_is_one(text, label, reason):
    assert read_label(text, ("fail", "pass")) == (label, reason)


def test_label_names_read_alike_across_spaces_dashes_and_underscores():
    assert read_label("Answer: not flagged", ("flagged", "not_flagged")) == ("not_flagged", None)


async def test_binary_run_keeps_an_invalid_answer_with_its_raw_text():
    protocol = bind_labels(load_protocol("classify/binary"), PASS_FAIL)
    caller = Scripted(Completion(text="Hard to say.\nprobably fine", tokens_in=50, tokens_out=5))
    verdict = await run_protocol(protocol, OUTPUT, caller)
    assert (verdict.label, verdict.invalid_reason, verdict.raw) == (None, "unparseable", "Hard to say.\nprobably fine")
    prompt = caller.requests[0].messages[-1].content
    assert "- fail: It states something false." in prompt and "In 1991." in prompt  # the data's labels and meanings
    assert verdict.usage.calls == 1 and verdict.usage.tokens_in == 50


async def test_a_refused_item_is_an_invalid_classification_with_the_reason():
    protocol = bind_labels(load_protocol("classify/categorical"), PASS_FAIL)
    verdict = await run_protocol(protocol, OUTPUT, Scripted(Refused("openai:judge", "context too long")))
    assert verdict.refused and verdict.label is None and verdict.details["refused"] == "context too long"


def test_option_letters_give_probabilities_renormalised_over_the_options():
    position = {"A": math.log(0.6), " B": math.log(0.2), "B": math.log(0.1), "x": math.log(0.1)}
    found, read = choice_distribution(({"Answer": 0.0}, position), "AB")
    assert found == pytest.approx({"A": 0.6 / 0.9, "B": 0.3 / 0.9}) and read is position
    assert choice_distribution(({"Sorry": -0.1},), "AB") is None


async def test_logprob_classify_gives_the_likeliest_label_and_its_confidence():
    labels = LabelSet(names=("unsafe", "safe", "unsure"), positive="unsafe")
    protocol = bind_labels(load_protocol("logprob/classify"), labels)
    position = {"B": math.log(0.7), "A": math.log(0.2), "C": math.log(0.05)}
    caller = Scripted(Completion(text="B)", top_logprobs=(position,)),
                      Completion(text="A)", top_logprobs=({"A": math.log(0.5), "B": math.log(0.5)},)),
                      Completion(text="I am", top_logprobs=({"I": -0.1},)))
    verdict = await run_protocol(protocol, OUTPUT, caller)
    assert verdict.label == "safe" and verdict.confidence == pytest.approx(0.7 / 0.95)
    assert verdict.probabilities == pytest.approx({"unsafe": 0.2 / 0.95, "safe": 0.7 / 0.95, "unsure": 0.05 / 0.95})
    request = caller.requests[0]
    assert request.continuation == "Answer: (" and request.params.top_logprobs == 20
    assert "(A) unsafe\n(B) safe\n(C) unsure" in request.messages[-1].content
    tied = await run_protocol(protocol, OUTPUT, caller)
    assert tied.label is None and tied.invalid_reason == "tied_probabilities"
    missing = await run_protocol(protocol, OUTPUT, caller)
    assert missing.label is None and missing.invalid_reason == "no_answer_logprobs" and missing.raw == "I am"


async def test_checklist_passes_only_when_every_item_passes():
    protocol = bind_labels(load_protocol("classify/checklist"), PASS_FAIL)
    caller = Scripted(Completion(text="1. Does it give the right year?\n2. Does it answer in one sentence?"),
                      Completion(text="1. NO - 1989, not 1991\n2. YES"),
                      Completion(text="1. Does it give the right year?"),
                      Completion(text="1. YES"),
                      Completion(text="1. Does it give the right year?\n2. Is it short?"),
                      Completion(text="1. YES"))
    failed = await run_protocol(protocol, OUTPUT, caller)
    assert failed.label == "fail" and failed.details["item_source"] == "judge"
    assert [a["passed"] for a in failed.details["answers"]] == [False, True]
    assert "1. Does it give the right year?" in caller.requests[1].messages[-1].content
    passed = await run_protocol(protocol, OUTPUT, caller)
    assert passed.label == "pass" and passed.usage.calls == 2
    unanswered = await run_protocol(protocol, OUTPUT, caller)  # item 2 has no answer
    assert unanswered.label is None and unanswered.invalid_reason == "unparseable"


async def test_a_users_checklist_spec_names_its_items(tmp_path):
    spec = tmp_path / "mine.yaml"
    spec.write_text("description: d\ncitation: c\nstrategy: classify_checklist\n"
                    "options:\n  items:\n    - Is it polite?\n    - Is it in English?\n"
                    "templates:\n  check: '{{ output }} {% for i in items %}{{ loop.index }}. {{ i }} {% endfor %}'\n",
                    encoding="utf-8")
    protocol = bind_labels(load_protocol(str(spec)), PASS_FAIL)
    assert protocol.calls_per_item == 1
    caller = Scripted(Completion(text="1. YES\n2. YES"))
    verdict = await run_protocol(protocol, OUTPUT, caller)
    assert verdict.label == "pass"
    assert "1. Is it polite? 2. Is it in English?" in caller.requests[0].messages[-1].content


def _fewshot_spec(tmp_path, shots):
    (tmp_path / "shots.jsonl").write_text("".join(json.dumps(s) + "\n" for s in shots), encoding="utf-8")
    spec = tmp_path / "fewshot.yaml"
    spec.write_text("description: d\ncitation: c\nstrategy: classify\nexamples: shots.jsonl\n"
                    "templates:\n  classify: '{% for s in examples %}[{{ s.output }} => {{ s.label }}] {% endfor %}"
                    "{{ output }}'\n", encoding="utf-8")
    return spec


async def test_few_shot_examples_come_from_the_specs_file(tmp_path):
    spec = _fewshot_spec(tmp_path, [{"input": "q", "output": "It is 1989.", "label": "pass"},
                                    {"input": "q", "output": "It is 1991.", "label": "fail"}])
    protocol = bind_labels(load_protocol(str(spec)), PASS_FAIL)
    caller = Scripted(Completion(text="fail"))
    verdict = await run_protocol(protocol, OUTPUT, caller)
    assert verdict.label == "fail"
    assert caller.requests[0].messages[-1].content == "[It is 1989. => pass] [It is 1991. => fail] In 1991."
    first_hash = protocol.content_hash
    _fewshot_spec(tmp_path, [{"input": "q", "output": "It is 1989.", "label": "fail"}])
    assert load_protocol(str(spec)).content_hash != first_hash  # the examples are part of the protocol


async def test_a_copy_of_a_built_in_spec_takes_few_shot_examples(tmp_path):
    from judgekit.resources import protocols_root

    (tmp_path / "shots.jsonl").write_text(
        json.dumps({"input": "Year of the moon landing?", "output": "1969.", "label": "pass"}) + "\n"
        + json.dumps({"input": "Boiling point?", "output": "90 C at sea level.", "label": "fail",
                      "context": "Water boils at 100 C at sea level."}) + "\n", encoding="utf-8")
    spec = tmp_path / "binary-2shot.yaml"
    text = protocols_root().joinpath("classify", "binary.yaml").read_text(encoding="utf-8")
    spec.write_text(text.replace("id: classify/binary\n", "") + "examples: shots.jsonl\n", encoding="utf-8")
    protocol = bind_labels(load_protocol(str(spec)), PASS_FAIL)
    caller = Scripted(Completion(text="Wrong year.\nfail"))
    assert (await run_protocol(protocol, OUTPUT, caller)).label == "fail"
    prompt = caller.requests[0].messages[-1].content
    assert "Example 1\nInput: Year of the moon landing?\nOutput: 1969.\nLabel: pass" in prompt
    assert "Example 2\nSource material: Water boils at 100 C at sea level.\nInput: Boiling point?" in prompt
    assert prompt.index("Example 2") < prompt.index("## Output to judge\nIn 1991.")


@pytest.mark.parametrize("shots, message", [
    ([{"input": "q", "output": "o"}], r"shots\.jsonl:1: missing key 'label'"),
    ([{"input": "q", "output": "o", "label": "pass", "why": "x"}], r"shots\.jsonl:1: unknown key 'why'"),
    ([{"input": "q", "output": "o", "label": 1}], r"shots\.jsonl:1: key 'label' must be text"),
])
def test_bad_few_shot_files_name_the_line(tmp_path, shots, message):
    with pytest.raises(BadInput, match=message):
        load_protocol(str(_fewshot_spec(tmp_path, shots)))


def test_spec_and_data_labels_must_fit(tmp_path):
    three = LabelSet(names=("unsafe", "safe", "unsure"), positive="unsafe")
    with pytest.raises(BadInput, match="a binary protocol needs two labels; the data has 3"):
        bind_labels(load_protocol("classify/binary"), three)
    with pytest.raises(BadInput, match="needs two labels, one of them the problem label"):
        bind_labels(load_protocol("classify/checklist"), LabelSet(names=("good", "bad")))
    spec = _fewshot_spec(tmp_path, [{"input": "q", "output": "o", "label": "correct"}])
    with pytest.raises(BadInput, match="example 1's label 'correct' is not one of the data's labels"):
        bind_labels(load_protocol(str(spec)), PASS_FAIL)
    with pytest.raises(BadInput, match="read the same in a judge's answer"):
        bind_labels(load_protocol("classify/categorical"), LabelSet(names=("not_ok", "not ok")))
    with pytest.raises(BadInput, match="examples: strategy pairwise shows no few-shot examples"):
        (tmp_path / "pair.yaml").write_text("description: d\ncitation: c\nstrategy: pairwise\nexamples: shots.jsonl\n"
                                            "templates: {compare: '{{ output_1 }}'}\n", encoding="utf-8")
        load_protocol(str(tmp_path / "pair.yaml"))
