"""A judgekit judge as an inspect_ai scorer: the model's answer judged pairwise against a baseline.

    from judgekit.integrations.inspect_ai import judgekit_scorer

    Task(dataset=..., solver=generate(),
         scorer=judgekit_scorer("openai:gpt-4o-mini", protocol="llmbar/swap"))

Each sample's answer (``state.output.completion``) is response ``a`` and the
baseline (the sample's target, or ``metadata[KEY]`` with ``baseline="metadata:KEY"``)
is response ``b``; the instruction is the sample's input. The judge runs its
protocol as in any judgekit run (both presentation orders where the protocol
uses them, its combined verdict, the judge's response cache and cost accounting),
so a judge validated against human labels scores the eval unchanged.

Score value: 1 when the answer wins, 0.5 for a tie, 0 when the baseline wins.
An invalid verdict follows ``invalid``: ``wrong`` (0, judgekit's default
policy), ``half`` (0.5) or ``exclude`` (unscored: NaN, left out of the metrics,
reason ``grader_failed``). The score's metadata keeps the verdict: winner,
each order's winner and raw text, usage and cost. Needs ``pip install judgekit-meta[inspect]``.
"""

from __future__ import annotations

from typing import Any, Literal

from inspect_ai.scorer import Metric, SampleScore, Score, Target, mean, metric, scorer, stderr
from inspect_ai.solver import TaskState

from judgekit.errors import BadInput
from judgekit.judge.api import DEFAULT_API_PROTOCOL, Judge, load_judge
from judgekit.records import Verdict

__all__ = ["invalid_rate", "judgekit_scorer"]

InvalidPolicy = Literal["wrong", "half", "exclude"]
WIN_VALUE = {"a": 1.0, "tie": 0.5, "b": 0.0}
"""Score value by the canonical winner: ``a`` is the model's answer, ``b`` the baseline."""
INVALID_VALUE = {"wrong": 0.0, "half": 0.5}


@metric
def invalid_rate() -> Metric:
    """Share of samples whose judge verdict was invalid (reported beside every mean, as in judgekit)."""

    def compute(scores: list[SampleScore]) -> float:
        if not scores:
            return 0.0
        return sum(bool((s.score.metadata or {}).get("invalid")) for s in scores) / len(scores)

    return compute


@scorer(metrics=[mean(), stderr(), invalid_rate()])
def judgekit_scorer(
    judge: str | Judge,
    protocol: str = DEFAULT_API_PROTOCOL,
    *,
    baseline: str = "target",
    invalid: InvalidPolicy = "wrong",
    **judge_options: Any,
) -> Any:
    """Score each sample's answer against a baseline answer with a judgekit judge.

    ``judge`` is a loaded :class:`judgekit.Judge` or a spec such as
    ``openai:gpt-4o-mini`` (then ``protocol`` and ``judge_options``, e.g.
    ``base_url`` or ``temperature``, go to :func:`judgekit.load_judge`).
    ``baseline`` is ``target`` or ``metadata:KEY``.
    """
    if invalid not in ("wrong", "half", "exclude"):
        raise BadInput(f"judgekit_scorer: invalid must be wrong, half or exclude, got {invalid!r}")
    if baseline != "target" and not baseline.startswith("metadata:"):
        raise BadInput(f"judgekit_scorer: baseline must be 'target' or 'metadata:KEY', got {baseline!r}")
    loaded = judge if isinstance(judge, Judge) else load_judge(judge, protocol, **judge_options)

    async def score(state: TaskState, target: Target) -> Score:
        answer = state.output.completion
        verdict = await loaded.ajudge(state.input_text, answer, _baseline(state, target, baseline))
        metadata = _metadata(loaded, verdict)
        if verdict.winner is not None:
            return Score(value=WIN_VALUE[verdict.winner], answer=answer, explanation=_explanation(verdict),
                         metadata=metadata)
        if invalid == "exclude":
            return Score.unscored(reason="grader_failed", answer=answer, explanation=_explanation(verdict),
                                  metadata=metadata)
        return Score(value=INVALID_VALUE[invalid], answer=answer, explanation=_explanation(verdict),
                     metadata=metadata)

    return score


def _baseline(state: TaskState, target: Target, source: str) -> str:
    if source == "target":
        if not target.text:
            raise BadInput(f"sample {state.sample_id}: field 'target': empty, so there is no baseline answer")
        return target.text
    key = source.removeprefix("metadata:")
    value = (state.metadata or {}).get(key)
    if not isinstance(value, str):
        raise BadInput(f"sample {state.sample_id}: field 'metadata.{key}': no baseline answer (a string) there")
    return value


def _metadata(judge: Judge, verdict: Verdict) -> dict[str, Any]:
    return {
        "judge": judge.spec,
        "protocol": judge.protocol.id,
        "winner": verdict.winner,
        "invalid": verdict.winner is None,
        "invalid_reason": verdict.invalid_reason,
        "orders": [{"order": "swapped" if o.swapped else "original", "winner": o.winner, "raw": o.raw,
                    "margin": o.margin} for o in verdict.orders],
        "usage": verdict.usage.model_dump(),
    }


def _explanation(verdict: Verdict) -> str:
    """Each order's winner and raw text, so the eval viewer shows why."""
    if not verdict.orders:
        return f"invalid: {verdict.invalid_reason}"
    return "\n\n".join(
        f"[{'swapped' if o.swapped else 'original'} order: {o.winner or 'unparseable'}]\n{o.raw}"
        for o in verdict.orders
    )
