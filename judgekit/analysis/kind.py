"""The one interface every run kind implements for analysis: read this to add a kind.

A run kind (pairwise, pointwise, classify) turns a run's records into a
report row, pairs two of its runs by content and tests their difference.
Everything downstream — ``report``, ``compare``, the default run's
leaderboard, the HTML page, ``Run.summary()``, sweeps — calls only this
interface (through ``judgekit.analysis.kinds.kind_of``), so a figure is the
same wherever it appears and a new kind is one module plus one line in
``kinds.py``.

A row is a plain dict: the common fields (``ROW_FIELDS``), then the kind's
own figures, each figure ``name`` with ``name_ci`` when it has an interval.
``headline`` names the figure that leads the row and ranks the run by
default. Every rate is a fraction in [0, 1]; a figure the run cannot define
is None.
"""

from __future__ import annotations

import math
import weakref
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from judgekit.agreement.uncertainty import Clusters, cluster_codes
from judgekit.records import RunRecords, Usage

if TYPE_CHECKING:
    from judgekit.agreement.uncertainty import Interval


ROW_FIELDS = ("run", "judge", "protocol", "dataset", "kind", "n", "n_clusters", "ci_method", "complete", "headline",
              "invalid_rate", "invalid_policy", "calls", "cache_hits", "retries", "tokens_in", "tokens_out",
              "cost_usd")
"""Fields every kind's row carries (the pairwise row adds DESIGN's contract fields around them)."""


@dataclass(frozen=True)
class Options:
    """How figures are computed: invalid-verdict policy, bootstrap settings, clustering, ranking scope."""

    invalid_policy: str | None = None
    """None: each run's own policy (its manifest's)."""
    confidence: float = 0.95
    n_resamples: int = 1000
    seed: int = 0
    clusters: bool = True
    """Resample clusters (items sharing an input or question id) when there are any."""
    epsilon: float = 0.2
    """The alt-test's margin, for runs over items with several human votes (REFERENCES E1)."""
    criterion: str | None = None
    """Pointwise runs: rank and pair on this criterion (None: the mean over criteria)."""
    target_accuracy: float = 0.9
    """The accuracy at which the page reports the coverage a judge may decide alone (selective judging)."""


class Kind(Protocol):
    """What analysis needs from a run kind."""

    name: str
    """The manifest's ``kind``."""
    summary_figures: tuple[str, ...]
    """Figures ``Run.summary()`` and the end-of-run table list, after the headline."""

    def row(self, run: RunRecords, options: Options) -> dict[str, Any]:
        """The run's report row: ``ROW_FIELDS``, then the kind's figures with their intervals."""

    def ranked_figure(self, row: dict[str, Any], rank_by: str) -> str:
        """The row's field that ``rank_by`` ranks on (``headline``: the row's own headline); BadInput if unknown."""

    def lower_is_better(self, figure: str) -> bool:
        """True for error figures (MAE): ranked ascending."""

    def content_key(self, item: Any) -> str:
        """What makes two items of this kind the same in two runs (their texts, and the human labels where the
        kind pairs on them; never the id, which two files may give to different texts): ``paired``, the
        leaderboard and ``drift`` match items by this key."""

    def decisions(self, run: RunRecords, *, by_order: bool = False) -> dict[str | None, dict[str, Any]]:
        """Each judged item's decision by item id, per aspect; None for an invalid one. What ``drift`` and
        ``stability`` count changes of.

        One aspect, keyed None, for a kind that gives each item one decision
        (pairwise: a, b or tie; classify: the label); one per criterion for
        pointwise (the score). ``by_order``: each presentation order's decision
        instead, keyed by order (pairwise ``original``, ``swapped``), or nothing
        for a kind without orders.
        """

    def paired(self, run_1: RunRecords, run_2: RunRecords, figures: tuple[str, str],
               options: Options) -> dict[str, Any] | str | None:
        """Each run's ranked figure on the items both judged (paired by content) and a paired test.

        Returns ``PAIR_FIELDS`` (difference = run_1 - run_2), a reason (str)
        when the runs share ids but not content, None when they share nothing.
        """

    def extras(self, runs: Sequence[RunRecords], rows: list[dict[str, Any]], options: Options) -> dict[str, Any]:
        """Top-level keys the kind adds to ``report`` and ``compare`` (probe tables, per-criterion tables).

        May also add per-row fields that depend on the other runs (pairwise: the self-preference excess).
        """

    def plan_cells(self, run_1: RunRecords, run_2: RunRecords) -> tuple[Any, int]:
        """Shares of (both right, only 1, only 2, both wrong) on the items both runs judged, paired as
        ``paired`` pairs them, and how many items: what ``plan paired`` sizes from two pilots."""

    def page(self, run: RunRecords, options: Options) -> dict[str, Any]:
        """What the HTML page shows of one run beyond its row: the items where the judge and the humans
        disagree with the judge's raw text, judge-against-human points, trust figures."""


PAIR_FIELDS = ("run_1", "run_2", "n", "n_clusters", "figure", "test", "p_value", "p_holm", "q_bh", "difference",
               "difference_ci", "ci_method", "items_1_better", "items_2_better")
"""Fields of one comparison in ``compare``'s JSON (a kind may add its own after them)."""


def current_usage(run: RunRecords) -> Usage:
    """The run's usage now: the manifest's totals once complete, else the verdicts' own sums.

    A running or stopped run's manifest lags by up to a few seconds. Retries,
    timeouts and prefix restarts belong to the call path, not to any verdict,
    so only the manifest has them.
    """
    usage = run.manifest.usage
    if run.manifest.complete:
        return usage
    live = Usage(retries=usage.retries, timeouts=usage.timeouts, prefix_restarts=usage.prefix_restarts)
    return sum((v.usage for v in run.verdicts), live)


def common_fields(run: RunRecords) -> dict[str, Any]:
    """``ROW_FIELDS`` that come from the manifest and usage, the figures left None."""
    manifest, usage = run.manifest, current_usage(run)
    return dict.fromkeys(ROW_FIELDS) | {
        "run": str(run.path), "judge": manifest.judge, "protocol": manifest.protocol, "dataset": manifest.dataset,
        "kind": manifest.kind, "complete": manifest.complete, "calls": usage.calls, "cache_hits": usage.cache_hits,
        "retries": usage.retries, "tokens_in": usage.tokens_in, "tokens_out": usage.tokens_out,
        "cost_usd": usage.cost_usd,
    }


def usable_clusters(keys: Sequence[str]) -> Clusters | None:
    """Cluster codes when some cluster holds several items and there are at least two clusters.

    One cluster holding every item carries no between-cluster information (every
    resample would be the data itself), so items are then resampled as independent.
    """
    found = cluster_codes(keys)
    return found if found.clustered and found.n_clusters > 1 else None


def match_by_content(keys_1: Sequence[str], ids_1: Sequence[str], keys_2: Sequence[str],
                     ids_2: Sequence[str]) -> tuple[list[str], list[str]]:
    """The ids of two runs' items with the same content, aligned, in run 1's order.

    Items are the same when their content keys are (texts and labels, never ids:
    two files may give one id to different texts). Items repeating one content
    within a run pair up one to one in the order each run holds them, so a
    dataset's duplicated texts (PandaLM has 71 such groups) all count.
    """
    waiting: dict[str, deque[str]] = defaultdict(deque)
    for key, item in zip(keys_2, ids_2, strict=True):
        waiting[key].append(item)
    keep_1, keep_2 = [], []
    for key, item in zip(keys_1, ids_1, strict=True):
        if waiting.get(key):
            keep_1.append(item)
            keep_2.append(waiting[key].popleft())
    return keep_1, keep_2


_ANSWERS: dict[int, dict[tuple, Any]] = {}
"""id of a run object -> question -> answer, for as long as that object lives."""


def remembered(run: RunRecords, question: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()``, remembered while the run object lives (runs are read once and never change in memory).

    ``compare`` asks the same of a run for every pair it is in (its content keys, its items, its
    statistics): 22 LLMBar runs make 231 pairs. The entry goes when the run is collected, so its id
    is never another object's; an answer must not hold the run itself, or the run would never go.
    """
    answers = _ANSWERS.get(id(run))
    if answers is None:
        answers = _ANSWERS[id(run)] = {}
        weakref.finalize(run, _ANSWERS.pop, id(run), None)
    if question not in answers:
        answers[question] = compute()
    return answers[question]


def content_keys(run: RunRecords, key: Callable[[Any], str]) -> dict[str, str]:
    """Each item's content key (``key``: its kind's ``content_key``) by id, remembered for the run: the kind's
    pairing and drift both ask, once per pair the run is in."""
    return remembered(run, ("content keys",), lambda: {e.id: key(e) for e in run.examples})


def estimate(interval: Interval | None) -> float | None:
    """An interval's point value for JSON: None when absent or undefined (NaN)."""
    if interval is None or math.isnan(interval.estimate):
        return None
    return float(interval.estimate)


def bounds(interval: Interval | None) -> list[float] | None:
    """An interval's [low, high] for JSON: None when absent or undefined."""
    if interval is None or math.isnan(interval.low) or math.isnan(interval.high):
        return None
    return [float(interval.low), float(interval.high)]
