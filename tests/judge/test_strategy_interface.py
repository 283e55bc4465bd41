"""The strategy interface: the call path keeps every reply, options are typed, kinds have abstract bases,
and trust asks the strategy for its confidence."""

from __future__ import annotations

import hashlib
import json

import pytest
import run_dirs

import judgekit
from judgekit.analysis.trust import confidences
from judgekit.data import load_dataset
from judgekit.errors import BadInput
from judgekit.judge.strategies import Calls, PairwiseStrategy, Strategy, register, run_protocol
from judgekit.judge.strategies import base as strategies
from judgekit.judge.strategies.pointwise import PerCriterion
from judgekit.protocols import load_protocol
from judgekit.records import Example, OrderResult, Verdict
from judgekit.report.export import to_frame
from judgekit.runs.run_dir import read_run

PAIRS = load_dataset("judgekit/bundled").examples[:4]


def _distinct(prompt: str) -> str:
    """A reply of its own for every prompt, ending in a verdict the llmbar parser reads."""
    return f"note {hashlib.sha256(prompt.encode()).hexdigest()[:8]}\nOutput (a)"


def _run(judge_spec: str, protocol: str, out, **options):
    judge = judgekit.load_judge(judge_spec, protocol=protocol, cache=False, **options)
    try:
        return judgekit.evaluate(judge, PAIRS, out=out)
    finally:
        judge.close()


def test_the_call_path_keeps_each_stage_once_in_asking_order_and_export_shows_it(tmp_path):
    run = _run("mock:", "reife/fine-grained-diff", tmp_path / "run", policy=_distinct)
    for verdict in run.verdicts:
        assert [(c.stage, c.order) for c in verdict.transcript] == [
            ("differences_original", "original"), ("differences_swapped", "swapped")]
        assert verdict.details == {}  # no strategy stores a stage's text itself
        assert all(c.text != o.raw for c in verdict.transcript for o in verdict.orders)
    frame = to_frame([read_run(tmp_path / "run")])
    first = json.loads(frame["transcript"].iloc[0])
    assert list(first) == ["differences_original/original", "differences_swapped/swapped"]
    assert first["differences_swapped/swapped"] == run.verdicts[0].transcript[1].text


def test_a_run_dir_from_before_transcripts_replays_from_its_details(tmp_path):
    """Runs written before the call path kept transcripts hold stage texts in details under the stage name."""
    run = _run("mock:", "reife/fine-grained-diff", tmp_path / "new", policy=_distinct)
    old = tmp_path / "old"
    old.mkdir()
    for name in ("manifest.json", "examples.jsonl"):
        (old / name).write_bytes((tmp_path / "new" / name).read_bytes())
    lines = []
    for line in (tmp_path / "new" / "verdicts.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record["details"] = {c["stage"]: c["text"] for c in record.pop("transcript")}
        lines.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
    (old / "verdicts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "transcript" not in (old / "verdicts.jsonl").read_text(encoding="utf-8")

    replayed = _run(f"replay:{old}", "reife/fine-grained-diff", tmp_path / "replayed")
    assert [v.transcript for v in replayed.verdicts] == [v.transcript for v in run.verdicts]
    assert [v.orders for v in replayed.verdicts] == [v.orders for v in run.verdicts]
    assert replayed.manifest.usage.tokens_in == 0


def test_a_kind_base_without_its_abstract_method_cannot_be_made():
    class NoRead(PerCriterion):
        pass

    with pytest.raises(TypeError, match="abstract method.*read"):
        NoRead()

    class NoKind(Strategy):
        def calls_per_item(self, protocol):
            return 1

        async def run(self, protocol, item, calls):
            raise AssertionError

    with pytest.raises(TypeError, match="subclass PairwiseStrategy, PointwiseStrategy or ClassifyStrategy"):
        register("no_kind")(NoKind)
    assert "no_kind" not in strategies.strategy_names()


async def test_a_stage_asked_twice_for_one_item_is_refused():
    class Twice(PairwiseStrategy):
        templates = ("compare",)

        def calls_per_item(self, protocol):
            return 2

        async def run(self, protocol, example, calls: Calls[Example]) -> Verdict:
            for _ in range(2):
                await calls.ask("compare", swapped=False, instruction="", output_1="", output_2="", reference=None)
            raise AssertionError("the second ask must not be sent")

    register("twice")(Twice)
    protocol = load_protocol("llmbar/vanilla").model_copy(update={"strategy": "twice"})
    judge = judgekit.load_judge("mock:first", protocol="llmbar/vanilla", cache=False)
    try:
        with pytest.raises(ValueError, match="stage 'compare' \\(original\\) asked twice for one item"):
            await run_protocol(protocol, PAIRS[0], judge.paths)
    finally:
        judge.close()
        strategies._REGISTRY.pop("twice")


@pytest.mark.parametrize(("edit", "message"), [
    (("rounds: 1", "rounds: '1'"), r"options.rounds: Input should be a valid integer$"),
    (("rounds: 1", "rounds: 1\n  turns: 3"),
     r"unknown key 'options.turns' for strategy debate \(allowed: personas, rounds\)$"),
    (("- name: critic", "- name: critic\n      mood: grumpy"),
     r"unknown key 'options.personas\[1\].mood' for strategy debate$"),
    (("- name: critic", "- name: expert"), r"options.personas: names must be unique$"),
])
def test_options_are_a_typed_model_and_the_first_problem_names_file_and_key(tmp_path, edit, message):
    from judgekit.resources import protocols_root

    text = (protocols_root() / "reife" / "multi-role-round1.yaml").read_text(encoding="utf-8")
    text = text.replace("id: reife/multi-role-round1", "id: mine")
    assert edit[0] in text
    spec = tmp_path / "mine.yaml"
    spec.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(BadInput, match=rf"^{spec}: {message}"):
        load_protocol(spec)


def _write(path, strategy, protocol, verdicts):
    examples = run_dirs.pairs(len(verdicts), gold="a", prefix="e", instruction="q", response_a="x", response_b="y")
    verdicts = [v.model_copy(update={"example_id": e.id}) for e, v in zip(examples, verdicts, strict=True)]
    return read_run(run_dirs.write_run(path, examples, verdicts, judge="mock:", protocol=protocol, strategy=strategy,
                                       complete=False))


def test_trust_asks_the_strategy_the_manifest_names_for_its_confidence(tmp_path):
    rated = [Verdict(example_id="", winner=w, orders=(OrderResult(swapped=False, raw="", winner=w, scores=s),))
             for w, s in (("a", {"a": 9, "b": 1}), ("a", {"a": 6, "b": 5}), ("b", {"a": 2, "b": 4}))]
    # a user spec's path as the protocol: only the manifest's strategy says how to read the confidence
    conf = confidences(_write(tmp_path / "rated", "rating", "my-specs/rate.yaml", rated))
    assert conf.source == "rating gap" and conf.confidence == pytest.approx([1.0, 0.5625, 0.625])
    # the same verdicts under a strategy that states no confidence carry none, whatever their scores
    conf = confidences(_write(tmp_path / "plain", "pairwise", "my-specs/plain.yaml", rated))
    assert conf.source is None and conf.confidence == [None, None, None]
