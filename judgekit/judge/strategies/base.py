"""The strategy interface: the Python half of a protocol, and the registry of them by name.

A protocol spec (YAML) says *what* to ask: templates, parser, sampling. Its
``strategy`` names the Python that says *how*: which calls, in what order,
and how their answers become a verdict. To add one, subclass
:class:`Strategy` in a module of ``judgekit/judge/strategies/`` and decorate it::

    @register("pairwise")
    class Pairwise(Strategy):
        templates = ("compare",)
        variables = PAIR_VARIABLES

        def calls_per_item(self, protocol):
            return len(protocol.swaps)

        async def run(self, protocol, example, calls):
            orders = [await judge_order(calls, s) for s in protocol.swaps]
            return verdict(calls, orders)

Every module in this package is imported when a strategy is first looked
up, so the decorator is all the registration there is. A strategy holds no
state: it gets the loaded protocol, the example and a :class:`Calls` (which
renders templates, tags and sends each request, and adds up usage) and
returns a :class:`~judgekit.records.Verdict`. docs/protocols.md ("Writing a
strategy") walks through one.
"""

from __future__ import annotations

import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar, Literal

from judgekit.backends.base import CallTag, Completion, Request
from judgekit.backends.seats import Caller, CallPaths
from judgekit.errors import BadInput
from judgekit.judge.protocol import Member, Protocol
from judgekit.judge.strategies.parsing import PatternTimeout
from judgekit.records import HEADLINES, Example, OrderResult, Rating, Usage, Verdict


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


class Strategy(ABC):
    """How one kind of protocol judges an example. Subclass, then ``@register("name")``.

    Class attributes declare what the spec must provide; the loader checks
    them, so a spec that loads can run. Override the methods whose answer
    depends on the spec (a staged protocol's templates depend on its stages).
    """

    name: ClassVar[str] = ""
    """Set by :func:`register`: the value of ``strategy:`` in a spec."""
    kind: ClassVar[str] = "pairwise"
    """``pairwise``: Examples in, Verdicts out; ``pointwise``: ScoredExamples in, Ratings out;
    ``classify``: LabelledOutputs in, Classifications out."""
    combines_orders: ClassVar[bool] = False
    """Pairwise: True when the final verdict decides from both presentation orders together (summed
    margins, a synthesis call), so the run's headline is the final verdict's accuracy (as it is for any
    protocol whose spec declares an ``order_conflict`` rule)."""
    options: ClassVar[frozenset[str]] = frozenset()
    """Keys a spec's ``options`` may hold; any other key is refused at load."""
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

    def required_templates(self, protocol: Protocol) -> tuple[str, ...]:
        return self.templates

    def template_variables(self, protocol: Protocol) -> frozenset[str] | None:
        return self.variables

    def check(self, protocol: Protocol) -> None:
        """Further load-time checks of the spec; raise BadInput naming source and key."""

    def members(self, protocol: Protocol) -> list[MemberSpec]:
        """The protocols this one runs (composites); loaded into ``protocol.members``."""
        return []

    def member_identity(self, member: Member) -> str:
        """What of a member enters the composite's content hash (equal ones count once)."""
        return member.protocol.content_hash

    @abstractmethod
    def calls_per_item(self, protocol: Protocol) -> int | str:
        """Model calls per example: a number, or a short formula when it varies."""

    @abstractmethod
    async def run(self, protocol: Protocol, example: Example, calls: Calls) -> Verdict:
        """Judge one example: make calls with ``calls.ask`` (or run members with
        ``calls.member``), read the answers, return the verdict."""


_REGISTRY: dict[str, Strategy] = {}


def headline_of(strategy: Strategy, protocol: Protocol) -> str:
    """The headline figure of a run of this protocol, written into its manifest when the run starts.

    A pairwise protocol is judged by its final verdict when that verdict is its decision: the strategy
    decides from both orders together, or the spec declares how the orders combine (``order_conflict``).
    """
    if strategy.kind == "pairwise" and (strategy.combines_orders or protocol.order_conflict is not None):
        return "accuracy_final"
    return HEADLINES[strategy.kind]


def register(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator: ``strategy: <name>`` in a spec runs this class."""

    def decorate(cls: type[Strategy]) -> type[Strategy]:
        if name in _REGISTRY and type(_REGISTRY[name]) is not cls:
            raise ValueError(f"strategy {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls()
        return cls

    return decorate


@cache
def _load_builtins() -> None:
    """Import every module of this package (once), so their decorators run."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        import_module(f"judgekit.judge.strategies.{module.name}")


def strategy_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get_strategy(name: str) -> Strategy:
    """The registered strategy called ``name``; BadInput listing the known ones."""
    _load_builtins()
    if name not in _REGISTRY:
        raise BadInput(f"strategy: '{name}' is not one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def order_name(swapped: bool) -> str:
    return "swapped" if swapped else "original"


class Calls:
    """One example's calls under one protocol: render, tag, send, keep the completions.

    A member of a composite gets its own ``Calls`` (:meth:`member`), with the
    caller of its seat, its sample index and its name in every call's tag,
    so its usage is its own and replay finds its recorded answers.
    """

    def __init__(self, protocol: Protocol, example: Example, paths: CallPaths, *,
                 caller: Caller | None = None, sample: int = 0, member: tuple[str, ...] = ()) -> None:
        self.protocol = protocol
        self.example = example
        self.paths = paths
        self.caller = caller if caller is not None else paths.default
        self.sample = sample
        self.member_path = member
        self.completions: list[Completion] = []

    async def ask(self, template: str, *, swapped: bool | None = None, stage: str | None = None,
                  **values: Any) -> Completion:
        """Render ``template`` with ``values`` and call.

        ``swapped`` says which presentation order the call judges (None: none,
        e.g. a per-item stage). ``stage`` (default: the template's name) is the
        key the verdict keeps the reply's text under in ``details``; a deciding
        call's text is its order's ``raw`` instead.
        """
        order = None if swapped is None else order_name(swapped)
        try:
            messages = self.protocol.messages(template, **values)
        except BadInput as e:
            raise BadInput(f"{e} (rendering example {self.example.id!r})") from None
        request = Request(
            messages=messages,
            params=self.protocol.params,
            continuation=self.protocol.continuation,
            sample=self.sample,
            tag=CallTag(self.example.id, stage or template, order, self.member_path),
        )
        completion = await self.caller.complete(request)
        self.completions.append(completion)
        return completion

    async def member(self, member: Member) -> Verdict:
        """Run a member protocol on this example, through its seat's caller."""
        caller = self.paths.for_judge(member.judge, member.base_url, self.caller)
        calls = Calls(member.protocol, self.example, self.paths, caller=caller, sample=member.sample,
                      member=(*self.member_path, member.name))
        return with_empty_reason(await get_strategy(member.protocol.strategy).run(member.protocol, self.example, calls),
                                 calls.completions)

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


async def run_protocol(protocol: Protocol, example: Example, paths: Caller | CallPaths) -> Verdict:
    """Judge one example with a loaded protocol.

    ``paths`` is the run's :class:`CallPaths`, or a single caller that then
    serves every seat (a test double, a dry-run counter).
    """
    paths = paths if isinstance(paths, CallPaths) else CallPaths(paths)
    calls = Calls(protocol, example, paths)
    try:
        return with_empty_reason(await get_strategy(protocol.strategy).run(protocol, example, calls),
                                 calls.completions)
    except PatternTimeout as e:  # a user pattern that backtracks without end: this item is invalid, not the run
        order = OrderResult(swapped=False, raw=e.text, winner=None)
        return Verdict(example_id=example.id, winner=None, orders=(order,), invalid_reason="regex_timeout",
                       details={"error": str(e)}, usage=calls.usage())
