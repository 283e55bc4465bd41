"""From scores to pairs: pairwise examples and verdicts derived from scored ones.

Two responses to the same input by different systems make a pair; the one
with the higher human mean on the criterion is the gold winner, equal means
are a tie. A pointwise judge's scores decide the same pairs the same way
(higher score wins, equal scores tie, an invalid score makes the verdict
invalid), so every pairwise figure (accuracy, kappa, position-free
comparisons with a pairwise judge on the same pairs) applies to it.

Pair ids are ``<id of a>|<id of b>`` (in the data's order), with any bar or
backslash inside an id escaped by a backslash, so no two pairs share an id
whatever the ids hold; the same for every run over the same scored items, so
runs pair up in ``compare``. The two ids themselves are kept in the pair's
metadata (``example_a``, ``example_b``), never read back from the pair id.
Pairs of one input share its responses and their ratings, so the input is their
cluster: intervals and paired tests resample inputs, not pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from judgekit.errors import BadInput
from judgekit.records import (
    CriterionRating,
    Example,
    Label,
    OrderResult,
    RunInMemory,
    RunRecords,
    ScoredExample,
    Verdict,
)


def pairs_from_scores(examples: Sequence[ScoredExample], criterion: str) -> list[Example]:
    """Every pair of responses to one input from different systems, labelled by the human means."""
    by_input: dict[str, list[ScoredExample]] = {}
    for example in examples:
        if criterion in example.criteria and example.criteria[criterion].scores:
            by_input.setdefault(example.input_id, []).append(example)
    if not by_input:
        raise BadInput(f"criterion '{criterion}': no scored example has human scores for it")
    pairs = []
    for group in by_input.values():
        for a, b in combinations(group, 2):
            if a.system is not None and a.system == b.system:
                continue
            mean_a, mean_b = a.criteria[criterion].mean, b.criteria[criterion].mean
            pairs.append(Example(
                id=f"{_escaped(a.id)}|{_escaped(b.id)}", instruction=a.instruction, response_a=a.response,
                response_b=b.response, gold=_higher(mean_a, mean_b), generator_a=a.system, generator_b=b.system,
                reference=a.reference, subset=a.subset, cluster=a.input_id,
                metadata={"criterion": criterion, "input_id": a.input_id, "example_a": a.id, "example_b": b.id,
                          "human_mean_a": mean_a, "human_mean_b": mean_b},
            ))
    return pairs


def pointwise_as_pairwise(run: RunRecords, criterion: str) -> RunInMemory:
    """A pointwise run read as a pairwise one on the derived pairs (in memory; report and compare take it)."""
    if run.manifest.kind != "pointwise":
        raise BadInput(f"{run.path}: not a pointwise run")
    pairs = pairs_from_scores(run.examples, criterion)
    ratings = {r.example_id: r.criteria.get(criterion) for r in run.verdicts}
    verdicts = [_verdict(pair, ratings) for pair in pairs if all(i in ratings for i in _members(pair))]
    judged = {v.example_id for v in verdicts}
    examples = [p for p in pairs if p.id in judged]
    manifest = run.manifest.model_copy(update={
        "kind": "pairwise", "protocol": f"{run.manifest.protocol} as pairs ({criterion})",
        "n_examples": len(examples), "n_verdicts": len(verdicts), "invalid_policy": "wrong",
        "params": {**run.manifest.params, "pairs_from_criterion": criterion},
    })
    return RunInMemory(run.path.with_name(f"{run.path.name}:pairs-{criterion}"), manifest, examples, verdicts)


def _verdict(pair: Example, ratings: dict[str, CriterionRating | None]) -> Verdict:
    first, second = (ratings[i] for i in _members(pair))
    scores = {"a": first.score if first else None, "b": second.score if second else None}
    if None in scores.values():
        order = OrderResult(swapped=False, raw="", winner=None)
        return Verdict(example_id=pair.id, winner=None, orders=(order,), invalid_reason="invalid_rating")
    winner = _higher(scores["a"], scores["b"])
    return Verdict(example_id=pair.id, winner=winner,
                   orders=(OrderResult(swapped=False, raw="", winner=winner, scores=scores),))


def _escaped(example_id: str) -> str:
    return example_id.replace("\\", "\\\\").replace("|", "\\|")


def _members(pair: Example) -> tuple[str, str]:
    """The ids of the two scored examples a pair was made of."""
    return pair.metadata["example_a"], pair.metadata["example_b"]


def _higher(a: float, b: float) -> Label:
    return "a" if a > b else "b" if b > a else "tie"

