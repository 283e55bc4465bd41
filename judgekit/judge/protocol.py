"""A loaded protocol: the data a strategy runs (templates, parser, sampling, members).

``judgekit.judge.spec`` reads a YAML spec into a :class:`Protocol`; a
strategy (``judgekit.judge.strategies``) receives one and makes its calls from it.
A composite protocol (a panel, self-consistency votes) holds its member
protocols already loaded, so a run's overrides reach every member
(:meth:`Protocol.with_params`).

Templates are rendered in a sandboxed Jinja environment with the instruction
and responses passed as plain variables: Jinja never re-reads a variable's
value as a template, so ``{{ ... }}`` inside a response stays literal text.
A rendering is bounded too (``judgekit.judge.sandbox``): in size, time and
integer size, so ``{{ 'x' * 10**9 }}`` or a loop without end is one line
naming the template, not gigabytes or a hang; a prompt longer than
MAX_RENDERED_CHARS (a huge field) refuses that one item, as a server's HTTP
400 would.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any, Literal

from jinja2 import StrictUndefined, Template, TemplateError
from pydantic import BaseModel, ConfigDict, SerializeAsAny

from judgekit.backends.base import Message, Refused, SamplingParams
from judgekit.errors import BadInput
from judgekit.judge.sandbox import BoundedSandbox, TooLong, render
from judgekit.records import OrderConflict

JINJA = BoundedSandbox(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)

ParserFormat = Literal["llmbar", "mtbench", "rating", "regex"]


class Parser(BaseModel):
    """How to read a judge's reply; see ``judgekit.judge.strategies.parsing``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: ParserFormat = "llmbar"
    pattern: str | None = None
    """For ``regex``: named groups ``first``/``second``/``tie`` or ``score``."""
    min: float = 1
    """Rating scale bounds; a score outside them is unparseable."""
    max: float = 10
    labels: tuple[str, str] | None = None
    """For ``llmbar``: the two slots' labels when a prompt shows others than ``Output (a)`` / ``Output (b)``
    (the ``label-names`` probe's ``Output (1)``, ``First output``); a reply's labels are read back as those."""


class LabelSet(BaseModel):
    """The labels a classify protocol picks from: the data's, in order, with what each means.

    Bound into a protocol when a run starts (``strategies.classify.bind_labels``),
    never written in a spec: the same spec judges pass/fail, safe/unsafe/unsure
    or any other label set.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    names: tuple[str, ...]
    descriptions: dict[str, str] = {}
    """Label -> what it means (the dataset card's); a spec's ``options.labels`` overrides them."""
    positive: str | None = None
    """The problem label (fail, unsafe), when the data names one."""


class StrategyOptions(BaseModel):
    """A strategy's ``options``, validated when its spec loads: a strategy subclasses this with the keys it
    reads (``Strategy.Options``), so an unknown or mistyped key is refused at load, naming file and key.
    Strict: YAML gives the types, so nothing is coerced (``rounds: "2"`` is refused, not read as 2)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Member(BaseModel):
    """A protocol that a composite protocol runs, loaded when the composite is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Unique within the composite; names the member in details and call tags."""
    protocol: Protocol
    judge: str = "default"
    """A judge spec such as ``openai:gpt-4o-mini``, or ``default``: the judge
    that runs the composite (the run's judge, or an enclosing member's)."""
    base_url: str | None = None
    sample: int = 0
    """Which draw this member is when the same protocol runs several times
    (self-consistency); part of the cache key, so draws stay distinct."""


class Protocol(BaseModel):
    """A loaded, validated protocol spec."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    id: str
    description: str
    citation: str
    strategy: str
    templates: dict[str, str]
    parser: Parser = Parser()
    params: SamplingParams = SamplingParams()
    orders: Literal["both", "original"] = "both"
    ties: bool = False
    order_conflict: OrderConflict | None = None
    """How the final verdict combines the orders (``judgekit.judge.orders``): ``tie`` (disagreeing
    orders tie), ``invalid`` (they make the verdict invalid) or ``mean`` (the sign of the summed votes).
    A protocol that declares a rule is headlined by its final verdict (``accuracy_final``); None: the
    orders count one by one (LLMBar's per-order accuracy) and the final verdict follows ``tie``."""
    continuation: str | None = None
    options: SerializeAsAny[StrategyOptions] = StrategyOptions()
    """The spec's ``options``, as its strategy's ``Options`` model."""
    examples: tuple[dict[str, str], ...] = ()
    """Few-shot examples read from the file the spec's ``examples:`` names (input, output, label; context)."""
    label_set: LabelSet | None = None
    """Classify protocols: the data's labels, bound when a run starts."""
    members: tuple[Member, ...] = ()
    """The protocols a composite runs (its strategy's ``members``), loaded."""
    calls_per_item: int | str = 0
    """Model calls per example: a number, or a short formula when it varies."""
    source: str = ""
    """Where the spec was read from."""
    content_hash: str = ""
    """sha256 of the spec's content (and its members'), for run identity."""

    @property
    def swaps(self) -> tuple[bool, ...]:
        """The presentation orders to judge: False = as stored, True = swapped."""
        return (False, True) if self.orders == "both" else (False,)

    def with_params(self, **overrides: Any) -> Protocol:
        """This protocol with sampling settings changed, in every member too
        (a run's ``--max-tokens`` or ``--temperature`` applies to every call)."""
        members = tuple(m.model_copy(update={"protocol": m.protocol.with_params(**overrides)}) for m in self.members)
        return self.model_copy(update={"params": replace(self.params, **overrides), "members": members})

    def render(self, template: str, **values: Any) -> str:
        """One template filled with plain values (never evaluated as templates).

        A prompt past the size cap because of this item's fields is :class:`Refused` (that item is
        invalid, the run goes on, as after a server's HTTP 400); one past it with every field empty,
        and any other failure, is the template's: BadInput naming the file and template.
        """
        compiled = _compiled(self.templates[template])
        try:
            return render(compiled, values)
        except TooLong as e:
            if not _fits(compiled, {k: "" if isinstance(v, str) else v for k, v in values.items()}):
                raise BadInput(f"{self.source}: templates.{template}: {e}, even with every field empty") from None
            where = f"{self.source}: templates.{template}"
            raise Refused(where, f"{where} {e} for this item: a field is too long for any model") from None
        except TemplateError as e:
            raise BadInput(f"{self.source}: templates.{template}: {e}") from None

    def messages(self, template: str, **values: Any) -> tuple[Message, ...]:
        """The chat for one call: the shared ``system`` template (if any), then this one."""
        user = Message("user", self.render(template, **values))
        if "system" in self.templates:
            return (Message("system", self.render("system", **values)), user)
        return (user,)


Member.model_rebuild()


def _fits(template: Template, values: dict[str, Any]) -> bool:
    try:
        render(template, values)
    except TemplateError:
        return False
    return True


@lru_cache(maxsize=256)
def _compiled(body: str) -> Template:
    """A template compiled once per text: compiling costs far more than rendering."""
    return JINJA.from_string(body)
