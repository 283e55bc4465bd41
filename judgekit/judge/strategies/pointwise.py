"""Pointwise strategies: score one response on each criterion, against the criterion's own scale.

They run on :class:`~judgekit.records.ScoredExample` and return a
:class:`~judgekit.records.Rating`, one call per criterion the spec can rate.
A spec names its criteria in ``options.criteria`` (criterion -> rubric text);
``options.rubric`` is a fallback rubric for any other criterion of the data
(the criterion's name is a template variable). The scale comes from the
data (``low``/``high`` of the human scores), so the judge rates on the scale
the humans used.

- ``likert``: a rubric prompt; the reply ends with "Score: N". Parsed
  strictly: one score on the first or last line, a whole scale point, inside
  the scale. Otherwise the rating is invalid (``unparseable``,
  ``out_of_range``, ``not_a_scale_point``), never clipped.
- ``absolute``: absolute grading in the style of Prometheus (Kim et al., ICLR
  2024): written feedback first, then "[RESULT] N" on the last line, same
  strict reading.
- ``geval``: G-Eval's probability-weighted score (Liu et al., EMNLP 2023):
  the answer token's top log-probabilities at the score position give
  p(s) for each scale point s, and the score is Σ s·p(s) / Σ p(s) over the
  points listed (renormalised, since the top-k list holds other tokens too).
  Works with any backend that returns ``top_logprobs`` (the embedded model,
  OpenAI's chat API); without them the rating is invalid (``no_score_logprobs``).

A criterion the server refuses (:class:`~judgekit.backends.base.Refused`) is
invalid (``refused``, the server's reason as its raw text) and the other
criteria are still asked; the rating's ``details["refused"]`` holds the reason,
as a pairwise verdict's does, and the runner counts the item as refused.
"""

from __future__ import annotations

import math
import re
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import model_validator

from judgekit.backends.base import Completion, Refused
from judgekit.errors import BadInput
from judgekit.judge.protocol import Protocol, StrategyOptions
from judgekit.judge.strategies.base import Calls, PointwiseStrategy, options_of, register
from judgekit.judge.strategies.parsing import parse_score
from judgekit.records import CriterionRating, CriterionScores, Rating, ScoredExample

SCORED_VARIABLES = frozenset({"instruction", "response", "reference", "criterion", "rubric", "low", "high"})
"""What a pointwise template may use."""

_RESULT = re.compile(r"\[RESULT\]\s*\(?(?P<score>-?\d+(?:\.\d+)?)\)?\s*$")


class RubricOptions(StrategyOptions):
    criteria: dict[str, str] = {}
    """Criterion name -> rubric text."""
    rubric: str | None = None
    """The rubric of any other criterion of the data (its name is the ``criterion`` variable)."""

    @model_validator(mode="after")
    def _some(self) -> RubricOptions:
        if not self.criteria and self.rubric is None:
            raise ValueError("name the criteria (options.criteria) or a fallback rubric (options.rubric)")
        return self


class PerCriterion(PointwiseStrategy):
    """A rubric call per criterion of the data that the spec can rate; :meth:`read` turns a reply into the
    criterion's rating. Subclass it and implement ``read`` for a new answer format."""

    Options = RubricOptions
    templates = ("rate",)
    variables = SCORED_VARIABLES

    def calls_per_item(self, protocol: Protocol) -> str:
        return "one per criterion rated"

    async def run(self, protocol: Protocol, example: ScoredExample, calls: Calls[ScoredExample]) -> Rating:
        rated: dict[str, CriterionRating] = {}
        details: dict[str, str] = {}
        for criterion, scale in example.criteria.items():
            rubric = rubric_for(protocol, criterion)
            if rubric is None:
                continue
            try:
                completion = await calls.ask(
                    "rate", stage=criterion, instruction=example.instruction, response=example.response,
                    reference=example.reference, criterion=criterion, rubric=rubric, low=_point(scale.low),
                    high=_point(scale.high),
                )
            except Refused as refusal:
                rated[criterion] = CriterionRating(score=None, raw=refusal.reason, invalid_reason="refused")
                details.setdefault("refused", refusal.reason)
                continue
            rated[criterion] = self.read(completion, scale)
        return Rating(example_id=example.id, criteria=rated, details=details, usage=calls.usage())

    @abstractmethod
    def read(self, completion: Completion, scale: CriterionScores) -> CriterionRating:
        """One criterion's rating from its reply, on the data's scale (invalid with a reason, never clipped)."""


def rubric_for(protocol: Protocol, criterion: str) -> str | None:
    """The spec's rubric for a criterion, its fallback rubric, or None (not rated)."""
    options = options_of(protocol, RubricOptions)
    return options.criteria.get(criterion, options.rubric)


def strict_rating(text: str, score: float | None, scale: CriterionScores) -> CriterionRating:
    """A parsed score checked against the scale: whole points inside it, or invalid with the reason."""
    if score is None:
        return CriterionRating(score=None, raw=text, invalid_reason="unparseable")
    if not scale.low <= score <= scale.high:
        return CriterionRating(score=None, raw=text, invalid_reason="out_of_range")
    if not float(score).is_integer():
        return CriterionRating(score=None, raw=text, invalid_reason="not_a_scale_point")
    return CriterionRating(score=score, raw=text)


@register("likert")
class Likert(PerCriterion):
    """A rubric prompt answered with "Score: N"."""

    def read(self, completion: Completion, scale: CriterionScores) -> CriterionRating:
        return strict_rating(completion.text, parse_score(completion.text, -math.inf, math.inf), scale)


@register("absolute")
class Absolute(PerCriterion):
    """Feedback, then "[RESULT] N" (Prometheus-style absolute grading)."""

    def read(self, completion: Completion, scale: CriterionScores) -> CriterionRating:
        match = _RESULT.search(completion.text.strip())
        return strict_rating(completion.text, float(match["score"]) if match else None, scale)


@register("geval")
class GEval(PerCriterion):
    """The score as the probability-weighted mean of the scale points (from top log-probabilities)."""

    needs_logprobs = True

    def read(self, completion: Completion, scale: CriterionScores) -> CriterionRating:
        points = scale_points(scale)
        distribution = score_distribution(completion.top_logprobs, points)
        if distribution is None:
            return CriterionRating(score=None, raw=completion.text, invalid_reason="no_score_logprobs")
        score = sum(float(point) * p for point, p in distribution.items())
        return CriterionRating(score=score, raw=completion.text, probabilities=distribution)


def scale_points(scale: CriterionScores) -> list[str]:
    """The whole scale points as token text: "1" ... "5"."""
    if not (float(scale.low).is_integer() and float(scale.high).is_integer()):
        raise BadInput(f"geval: the scale {scale.low:g}-{scale.high:g} has no whole-number points to read")
    return [str(p) for p in range(int(scale.low), int(scale.high) + 1)]


def score_distribution(top_logprobs: Sequence[Mapping[str, float]] | None,
                       points: Sequence[str]) -> dict[str, float] | None:
    """p(point) renormalised over the points, at the first position whose likeliest token is a point.

    A point's probability sums its token spellings (``5`` and `` 5``). A
    backend that ignores the forced "Score:" prefix may write words first, so
    the answer is the first position where a point is the top token.
    """
    for position in top_logprobs or ():
        if not position:
            continue
        top = max(position, key=position.__getitem__).strip()
        if top not in points:
            continue
        mass = {p: sum(math.exp(lp) for token, lp in position.items() if token.strip() == p) for p in points}
        total = sum(mass.values())
        return {p: m / total for p, m in mass.items()}
    return None


def _point(value: float) -> Any:
    return int(value) if float(value).is_integer() else value
