"""The strategy interface: the Python half of a protocol, and the registry of them by name.

A protocol spec (YAML) says *what* to ask: templates, parser, sampling. Its
``strategy`` names the Python that says *how*: which calls, in what order,
and how their answers become a record. A strategy subclasses the public base
of the kind it judges and is registered under a name::

    @register("pairwise")
    class Pairwise(PairwiseStrategy):
        templates = ("compare",)
        variables = PAIR_VARIABLES
        reads = "slot"

        def calls_per_item(self, protocol):
            return len(protocol.swaps)

        async def run(self, protocol, example, calls):
            orders = [await judge_order(calls, s) for s in protocol.swaps]
            return verdict(calls, orders)

- :class:`PairwiseStrategy`: an :class:`~judgekit.records.Example` in, a :class:`~judgekit.records.Verdict` out;
- :class:`PointwiseStrategy`: a :class:`~judgekit.records.ScoredExample` in, a :class:`~judgekit.records.Rating` out;
- :class:`ClassifyStrategy`: a :class:`~judgekit.records.LabelledOutput` in, a
  :class:`~judgekit.records.Classification` out.

A strategy holds no state. It declares what its spec must give (``Options``,
a pydantic model of its ``options``; templates; variables; the parser it
reads; ``needs_logprobs`` ...), and the loader checks them, so a spec that
loads can run. It gets the loaded protocol, the item and a :class:`Calls`,
which renders, tags and sends each request, adds up usage and keeps every
reply's text (the record's ``transcript``: replay answers each call again
from it, so no strategy stores stage texts itself). Its :meth:`Strategy.confidence`
says how sure the judge was, for ``judgekit trust``.

Built-in strategies are the modules of this package; another package adds
one through the ``judgekit.strategies`` entry point group (name: the
strategy's name, value: its class). docs/protocols.md ("Writing a strategy")
walks through one.
"""

from __future__ import annotations

import math
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, TypeVar

from judgekit.backends.base import CallTag, Completion, Request
from judgekit.backends.seats import Caller, CallPaths
from judgekit.errors import BadInput
from judgekit.judge.protocol import LabelSet, Member, Protocol, StrategyOptions
from judgekit.judge.strategies.parsing import PatternTimeout
from judgekit.records import (
    HEADLINES,
    CallText,
    Classification,
    Example,
    LabelledOutput,
    Order,
    OrderResult,
    Rating,
    RunKind,
    ScoredExample,
    Usage,
    Verdict,
)
from judgekit.resources import declared, plugin_class


@dataclass(frozen=True)
class MemberSpec:
    """A member protocol a composite names in its options; the loader loads it."""

    name: str
    protocol: str
    """A built-in protocol id or a spec path."""
    judge: str = "default"
    base_url: str | None = None
    sample: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    """Sampling settings the composite imposes on the member (e.g. its temperature)."""
    key: str = "options"
    """Where in the composite's spec the member is named, for error messages."""


ItemT = TypeVar("ItemT", Example, ScoredExample, LabelledOutput)
ResultT = TypeVar("ResultT", Verdict, Rating, Classification)
OptionsT = TypeVar("OptionsT", bound=StrategyOptions)

ENTRY_POINTS = "judgekit.strategies"
"""The entry point group through which another package adds strategies (name -> Strategy subclass)."""


class Strategy(ABC, Generic[ItemT, ResultT]):
    """How one kind of protocol judges an item. Subclass a kind's base, then ``@register("name")``.

    Class attributes declare what the spec must provide; the loader checks
    them, so a spec that loads can run. Override the methods whose answer
    depends on the spec (a staged protocol's templates depend on its stages).
    """

    name: ClassVar[str] = ""
    """Set by :func:`register`: the value of ``strategy:`` in a spec."""
    kind: ClassVar[RunKind]
    """What it judges, set by the kind's base class."""
    Options: ClassVar[type[StrategyOptions]] = StrategyOptions
    """The pydantic model of a spec's ``options`` (extra keys forbidden); none by default."""
    templates: ClassVar[tuple[str, ...]] = ()
    """Templates the spec must define (``system`` is always optional)."""
    variables: ClassVar[frozenset[str] | None] = None
    """Variables the templates may use; a misspelt one is refused at load.
    None leaves them unchecked (composites have no templates of their own)."""
    takes_examples: ClassVar[bool] = False
    """True when the templates can show few-shot examples (``examples:`` in a spec); others refuse the key."""
    reads: ClassVar[Literal["slot", "score"] | None] = None
    """What the spec's ``parser`` reads from a reply: a ``slot`` (which output
    won: ``llmbar``, ``mtbench``, or a regex with ``first``/``second`` groups),
    a ``score`` (``rating``, or a regex with a ``score`` group), or None: the
    strategy reads its own answer format and a ``parser`` key is refused."""
    needs_logprobs: ClassVar[bool] = False
    """True when it reads the answer from log-probabilities: the spec must set ``params.top_logprobs``."""
    needs_continuation: ClassVar[bool] = False
    """True when the answer is read right after a forced prefix: the spec must set ``continuation``."""
    needs_both_orders: ClassVar[bool] = False
    """True when it cannot judge from one presentation order: the spec may not set ``orders: original``."""
    confidence_source: ClassVar[str | None] = None
    """What :meth:`confidence` reads (shown beside trust figures), None when the judge states no confidence."""

    def required_templates(self, protocol: Protocol) -> tuple[str, ...]:
        return self.templates

    def template_variables(self, protocol: Protocol) -> frozenset[str] | None:
        return self.variables

    def members(self, protocol: Protocol) -> list[MemberSpec]:
        """The protocols this one runs (composites); loaded into ``protocol.members``."""
        return []

    def member_identity(self, member: Member) -> str:
        """What of a member enters the composite's content hash (equal ones count once)."""
        return member.protocol.content_hash

    @abstractmethod
    def calls_per_item(self, protocol: Protocol) -> int | str:
        """Model calls per item: a number, or a short formula when it varies."""

    @abstractmethod
    async def run(self, protocol: Protocol, item: ItemT, calls: Calls[ItemT]) -> ResultT:
        """Judge one item: make calls with ``calls.ask`` (or run members with
        ``calls.member``), read the answers, return the record."""

    def confidence(self, results: Sequence[ResultT]) -> list[float | None]:
        """How sure the judge was of each decided record of one run, a probability in [0.5, 1] for two
        outcomes (``judgekit trust``: calibration, selective judging, routing); None where it states none.
        Given the whole run, as a confidence may be relative to the run (a rating gap over the run's spread)."""
        return [None] * len(results)


class PairwiseStrategy(Strategy[Example, Verdict]):
    """Judges which of two responses is better: an Example in, a Verdict out.

    Its confidence, unless a strategy says otherwise, is what the verdict states in its own fields: the
    orders' log-probability margins (:func:`margin_confidences`).
    """

    kind = "pairwise"
    combines_orders: ClassVar[bool] = False
    """True when the final verdict decides from both presentation orders together (summed margins, a
    synthesis call), so the run's headline is the final verdict's accuracy (as it is for any protocol
    whose spec declares an ``order_conflict`` rule)."""
    confidence_source = "logprob margin"

    def confidence(self, results: Sequence[Verdict]) -> list[float | None]:
        return margin_confidences(results)


class PointwiseStrategy(Strategy[ScoredExample, Rating]):
    """Scores one response per criterion: a ScoredExample in, a Rating out."""

    kind = "pointwise"


class ClassifyStrategy(Strategy[LabelledOutput, Classification]):
    """Labels one output from the data's label set: a LabelledOutput in, a Classification out.

    Its confidence, unless a strategy says otherwise, is the Classification's own ``confidence`` (the
    probability a judge reading log-probabilities gives its label).
    """

    kind = "classify"
    confidence_source = "label probability"

    def confidence(self, results: Sequence[Classification]) -> list[float | None]:
        return label_probabilities(results)

    def check_labels(self, protocol: Protocol, labels: LabelSet) -> None:
        """What this strategy asks of the data's label set (bound when a run starts); raise BadInput naming
        the spec."""


def margin_confidences(verdicts: Sequence[Verdict]) -> list[float | None]:
    """sigmoid(|m|) of each verdict's mean canonical margin m over its orders: the model's probability of its
    own winner (REFERENCES E2); None when an order states no margin."""
    found: list[float | None] = []
    for verdict in verdicts:
        margins = [o.margin for o in verdict.orders if o.margin is not None]
        whole = bool(margins) and len(margins) == len(verdict.orders)
        found.append(1.0 / (1.0 + math.exp(-abs(sum(margins) / len(margins)))) if whole else None)
    return found


def label_probabilities(classifications: Sequence[Classification]) -> list[float | None]:
    return [c.confidence for c in classifications]


RECORDED_CONFIDENCE: dict[str, tuple[str, Callable[[Sequence[Any]], list[float | None]]]] = {
    "pairwise": (PairwiseStrategy.confidence_source, margin_confidences),
    "classify": (ClassifyStrategy.confidence_source, label_probabilities),
}
"""(source, reader) of what a kind's records state of their judge's confidence in their own fields: what trust
reads of a run whose strategy is not known here (a recorded judge's import, an old run dir of a spec not
shipped), as the kind's base class reads it."""


def options_of(protocol: Protocol, model: type[OptionsT]) -> OptionsT:
    """The protocol's options as the strategy's own model (the loader validated them into it)."""
    options = protocol.options
    if not isinstance(options, model):
        raise TypeError(f"{protocol.source}: options are {type(options).__name__}, not {model.__name__}")
    return options


_REGISTRY: dict[str, Strategy[Any, Any]] = {}


def headline_of(strategy: Strategy[Any, Any], protocol: Protocol) -> str:
    """The headline figure of a run of this protocol, written into its manifest when the run starts.

    A pairwise protocol is judged by its final verdict when that verdict is its decision: the strategy
    decides from both orders together, or the spec declares how the orders combine (``order_conflict``).
    """
    if isinstance(strategy, PairwiseStrategy) and (strategy.combines_orders or protocol.order_conflict is not None):
        return "accuracy_final"
    return HEADLINES[strategy.kind]


def register(name: str) -> Callable[[type[Strategy[Any, Any]]], type[Strategy[Any, Any]]]:
    """Class decorator: ``strategy: <name>`` in a spec runs this class."""

    def decorate(cls: type[Strategy[Any, Any]]) -> type[Strategy[Any, Any]]:
        if name in _REGISTRY and type(_REGISTRY[name]) is not cls:
            raise ValueError(f"strategy {name!r} is registered twice")
        if not issubclass(cls, (PairwiseStrategy, PointwiseStrategy, ClassifyStrategy)):
            raise TypeError(f"strategy {name!r}: subclass PairwiseStrategy, PointwiseStrategy or ClassifyStrategy")
        cls.name = name
        _REGISTRY[name] = cls()
        return cls

    return decorate


@cache
def _load_all() -> None:
    """Import every module of this package, then the strategies other packages declare (once)."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        import_module(f"judgekit.judge.strategies.{module.name}")
    for point in entry_points(group=ENTRY_POINTS):
        found = plugin_class(point, Strategy)
        where = declared(point)
        if point.name in _REGISTRY and type(_REGISTRY[point.name]) is not found:
            raise BadInput(f"{where}: a strategy named '{point.name}' already exists")
        try:
            register(point.name)(found)
        except TypeError as e:
            raise BadInput(f"{where}: {e}") from None


def strategy_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_strategy(name: str) -> Strategy[Any, Any]:
    """The registered strategy called ``name``; BadInput listing the known ones."""
    _load_all()
    if name not in _REGISTRY:
        raise BadInput(f"strategy: '{name}' is not one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def order_name(swapped: bool) -> Order:
    return "swapped" if swapped else "original"


class Calls(Generic[ItemT]):
    """One item's calls under one protocol: render, tag, send, keep the completions and their texts.

    A member of a composite gets its own ``Calls`` (:meth:`member`), with the
    caller of its seat, its sample index and its name in every call's tag,
    so its usage is its own and replay finds its recorded answers.
    """

    def __init__(self, protocol: Protocol, example: ItemT, paths: CallPaths, *,
                 caller: Caller | None = None, sample: int = 0, member: tuple[str, ...] = ()) -> None:
        self.protocol = protocol
        self.example: ItemT = example
        self.paths = paths
        self.caller = caller if caller is not None else paths.default
        self.sample = sample
        self.member_path = member
        self.completions: list[Completion] = []
        self.replies: dict[tuple[str, Order | None], str | None] = {}
        """Each call's text by (stage, order), in the order the calls were asked (None until it is answered)."""

    async def ask(self, template: str, *, swapped: bool | None = None, stage: str | None = None,
                  **values: Any) -> Completion:
        """Render ``template`` with ``values`` and call.

        ``swapped`` says which presentation order the call judges (None: none,
        e.g. a per-item stage). ``stage`` (default: the template's name) names
        the call; each (stage, order) is asked once per item, so replay finds
        each reply by them.
        """
        order = None if swapped is None else order_name(swapped)
        stage = stage or template
        if (stage, order) in self.replies:
            raise ValueError(f"strategy {self.protocol.strategy}: stage {stage!r} ({order or 'no order'}) asked "
                             "twice for one item; give each call its own stage")
        try:
            messages = self.protocol.messages(template, **values)
        except BadInput as e:
            raise BadInput(f"{e} (rendering example {self.example.id!r})") from None
        request = Request(
            messages=messages,
            params=self.protocol.params,
            continuation=self.protocol.continuation,
            sample=self.sample,
            tag=CallTag(self.example.id, stage, order, self.member_path),
        )
        self.replies[stage, order] = None
        completion = await self.caller.complete(request)
        self.completions.append(completion)
        self.replies[stage, order] = completion.text
        return completion

    async def member(self, member: Member) -> Any:
        """Run a member protocol on this item, through its seat's caller: the member's record."""
        caller = self.paths.for_judge(member.judge, member.base_url, self.caller)
        calls = Calls(member.protocol, self.example, self.paths, caller=caller, sample=member.sample,
                      member=(*self.member_path, member.name))
        return calls.finish(await get_strategy(member.protocol.strategy).run(member.protocol, self.example, calls))

    def finish(self, record: ResultT) -> ResultT:
        """The strategy's record with what the call path knows: the replies it keeps nowhere else (its
        ``transcript``), and why an empty reply was empty."""
        transcript = tuple(CallText(stage=stage, order=order, text=text)
                           for (stage, order), text in self.replies.items()
                           if text is not None and record.kept_reply(stage, order) != text)
        return with_empty_reason(record, self.completions).model_copy(update={"transcript": transcript})

    def usage(self) -> Usage:
        return usage_of(self.completions)


NORMAL_ENDS = frozenset({None, "stop", "end_turn", "stop_sequence"})
"""Finish reasons of a reply that ended as the model meant it to."""


def with_empty_reason(record: Any, completions: list[Completion]) -> Any:
    """An invalid record whose calls include an empty reply that ended otherwise (``content_filter``,
    ``length``, a refusal), with that finish reason as its invalid reason: it says why there was
    nothing to read, where "unparseable" would hide it. Other records are returned as they are."""
    reason = next((c.finish_reason for c in completions if not c.text.strip() and c.finish_reason not in NORMAL_ENDS),
                  None)
    if reason is None:
        return record
    if isinstance(record, Rating):
        criteria = {name: rated.model_copy(update={"invalid_reason": reason})
                    if rated.score is None and not rated.raw.strip() and rated.invalid_reason != "refused" else rated
                    for name, rated in record.criteria.items()}
        return record.model_copy(update={"criteria": criteria})
    if record.decision is None and record.invalid_reason not in ("refused", "regex_timeout"):
        return record.model_copy(update={"invalid_reason": reason})
    return record


def usage_of(completions: list[Completion]) -> Usage:
    return Usage(
        calls=len(completions),
        cache_hits=sum(c.cached for c in completions),
        tokens_in=sum(c.tokens_in for c in completions),
        tokens_out=sum(c.tokens_out for c in completions),
        cost_usd=sum(c.cost_usd for c in completions),
        latency_s=sum(c.latency_s for c in completions),
    )


async def run_protocol(protocol: Protocol, example: ItemT, paths: Caller | CallPaths) -> Any:
    """Judge one item with a loaded protocol: its strategy's record (Verdict, Rating or Classification).

    ``paths`` is the run's :class:`CallPaths`, or a single caller that then
    serves every seat (a test double, a dry-run counter).
    """
    paths = paths if isinstance(paths, CallPaths) else CallPaths(paths)
    calls: Calls[Any] = Calls(protocol, example, paths)
    try:
        return calls.finish(await get_strategy(protocol.strategy).run(protocol, example, calls))
    except PatternTimeout as e:  # a user pattern that backtracks without end: this item is invalid, not the run
        order = OrderResult(swapped=False, raw=e.text, winner=None)
        return calls.finish(Verdict(example_id=example.id, winner=None, orders=(order,), invalid_reason="regex_timeout",
                                    details={"error": str(e)}, usage=calls.usage()))
