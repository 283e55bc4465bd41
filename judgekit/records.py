"""The records every stage speaks: Example in, Verdict out, Manifest for a run.

Pairwise runs judge :class:`Example` pairs into :class:`Verdict`; pointwise runs
rate :class:`ScoredExample` responses into :class:`Rating` (one score per
criterion); classify runs label :class:`LabelledOutput` outputs into
:class:`Classification`. The manifest's ``kind`` says which pair of records a
run holds.

Everything here is written to or read from a run directory, so the records are
pydantic models (validated on read, frozen, one JSON object per line).
Labels are canonical: ``a`` is ``response_a`` as stored in the dataset, ``b``
is ``response_b``, ``tie`` means neither is better. A verdict's winner is
always in this canonical frame, whatever order the judge saw the responses in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from judgekit.errors import BadInput

FORMAT_VERSION = 1
"""Version of the run-directory format; bump when a record changes shape."""

PROBE_KEY = "probe"
"""Metadata a probed copy of an example carries (``judgekit probe``): probe id, base example id, probe kind,
target role, changed slots. Analysis leaves such copies out of a run's own figures."""
BASE_KEY = "base_example"
KIND_KEY = "probe_kind"
TARGET_KEY = "probe_target"
SLOTS_KEY = "probe_slots"

Label = Literal["a", "b", "tie"]
LABELS: tuple[str, ...] = ("a", "b", "tie")
OrderConflict = Literal["tie", "invalid", "mean"]
"""How a pairwise verdict's final winner combines its presentation orders (``judgekit.judge.orders``)."""


class Record(BaseModel):
    """Base for all records: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Example(Record):
    """One human-labelled pair: an instruction and two responses to it."""

    id: str = Field(min_length=1)
    """Unique within its dataset."""
    instruction: str
    """The instruction (with any input folded in) the responses answer."""
    response_a: str
    response_b: str
    gold: Label | None = None
    """Which response humans prefer; None for unlabelled pairs (plain judging)."""
    votes: tuple[Label, ...] = ()
    """The individual human votes when there are several (gold is their majority)."""
    generator_a: str | None = None
    """Model that wrote response_a, when known (for self-preference bias)."""
    generator_b: str | None = None
    reference: str | None = None
    """A reference answer, when the dataset has one."""
    checklist: tuple[str, ...] = ()
    """Decomposed yes/no questions for the instruction (InFoBench style)."""
    subset: str | None = None
    cluster: str | None = None
    """Items sharing a cluster are not independent (e.g. one question id); None: the instruction text is the cluster."""
    metadata: dict[str, Any] = Field(default_factory=dict)


class OrderResult(Record):
    """What the judge said for one presentation order."""

    swapped: bool
    """False: the judge saw response_a first; True: it saw response_b first."""
    raw: str
    """The judge's raw text (for multi-call protocols, the deciding call's text)."""
    winner: Label | None
    """Parsed winner mapped back to the canonical a/b frame; None if unparseable."""
    margin: float | None = None
    """log P(a) - log P(b) in the canonical frame, when decided from logprobs."""
    scores: dict[str, float] | None = None
    """Per-response scores (rating protocols), keyed by canonical label."""


class Usage(Record):
    """Cost of producing one verdict (or a whole run, when summed)."""

    calls: int = 0
    """Model calls made, cache hits included."""
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    retries: int = 0
    """Attempts repeated after a failure (timeouts included). Counted per run, by
    the call path, so a verdict's own usage leaves it 0."""
    timeouts: int = 0
    """Attempts abandoned because the server stayed silent for the timeout (per run)."""
    prefix_restarts: int = 0
    """Replies that started the forced answer prefix over instead of continuing it:
    the server closed the assistant turn, so the judge saw another prompt (per run)."""

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            cache_hits=self.cache_hits + other.cache_hits,
            tokens_in=self.tokens_in + other.tokens_in,
            tokens_out=self.tokens_out + other.tokens_out,
            cost_usd=self.cost_usd + other.cost_usd,
            latency_s=self.latency_s + other.latency_s,
            retries=self.retries + other.retries,
            timeouts=self.timeouts + other.timeouts,
            prefix_restarts=self.prefix_restarts + other.prefix_restarts,
        )


Order = Literal["original", "swapped"]
"""A call's presentation order by name (``swapped``: response_b shown first)."""


class CallText(Record):
    """The reply of one call of a record, by the call's stage and order (``judgekit.backends.base.CallTag``).

    The call path of a strategy (``Calls``) keeps these, not the strategy, so replay can answer every call again.
    """

    stage: str
    order: Order | None = None
    text: str


class Verdict(Record):
    """A judge's decision on one example, with everything needed to audit it."""

    example_id: str
    winner: Label | None
    """Final winner; None means invalid (never silently turned into a winner)."""
    orders: tuple[OrderResult, ...] = ()
    """One entry per presentation order the protocol used."""
    invalid_reason: str | None = None
    """Machine-readable reason when winner is None (e.g. ``unparseable``)."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Protocol extras: checklist answers, critiques, panel members (runs before ``transcript``: stage texts)."""
    transcript: tuple[CallText, ...] = ()
    """The replies this verdict keeps nowhere else (every call but each order's deciding one)."""
    usage: Usage = Field(default_factory=Usage)

    @property
    def refused(self) -> bool:
        return self.invalid_reason == "refused"

    def kept_reply(self, stage: str, order: Order | None) -> str | None:
        """The reply the verdict itself keeps for a call: its order's raw text."""
        found = next((o for o in self.orders if order is not None and o.swapped == (order == "swapped")), None)
        return found.raw if found is not None else None

    @property
    def decision(self) -> str | None:
        """The label this verdict gives its item (the winner): what agreement with humans is scored on."""
        return self.winner


class CriterionScores(Record):
    """The human scores of one response on one criterion, and the scale they use."""

    scores: tuple[float, ...]
    """One score per annotator who rated it (annotator order carries no identity)."""
    low: float = 1
    high: float = 5

    @model_validator(mode="after")
    def _on_scale(self) -> CriterionScores:
        if self.low >= self.high:
            raise ValueError(f"scale low {self.low} must be below high {self.high}")
        for score in self.scores:
            if not self.low <= score <= self.high:
                raise ValueError(f"score {score} is outside the scale {self.low:g}-{self.high:g}")
        return self

    @property
    def mean(self) -> float | None:
        """The human mean: what a judge's score is correlated with (None when unrated)."""
        return sum(self.scores) / len(self.scores) if self.scores else None


class ScoredExample(Record):
    """One response with human scores per criterion (pointwise meta-evaluation)."""

    id: str = Field(min_length=1)
    input_id: str = Field(min_length=1)
    """The input (prompt, source document) answered; responses sharing it are compared
    with each other at the item level and resampled together by the bootstrap."""
    instruction: str = ""
    """The input text; empty when the dataset ships scores without texts (HANNA)."""
    response: str = ""
    system: str | None = None
    """The system (model, or human writer) that produced the response."""
    criteria: dict[str, CriterionScores] = Field(min_length=1)
    reference: str | None = None
    subset: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class CriterionRating(Record):
    """A judge's score for one criterion, or why it has none."""

    score: float | None
    """None means invalid (unparseable, out of range, refused)."""
    raw: str = ""
    invalid_reason: str | None = None
    probabilities: dict[str, float] | None = None
    """Score token -> probability, when the score is a probability-weighted mean (G-Eval)."""


class Rating(Record):
    """A pointwise judge's scores on one ScoredExample, one entry per criterion it rated."""

    example_id: str
    criteria: dict[str, CriterionRating]
    details: dict[str, Any] = Field(default_factory=dict)
    transcript: tuple[CallText, ...] = ()
    """The replies this rating keeps nowhere else (calls other than a criterion's own)."""
    usage: Usage = Field(default_factory=Usage)

    @property
    def refused(self) -> bool:
        return any(c.invalid_reason == "refused" for c in self.criteria.values())

    def kept_reply(self, stage: str, order: Order | None) -> str | None:
        """The reply the rating itself keeps for a call: the raw text of the criterion its stage names."""
        rated = self.criteria.get(stage)
        return rated.raw if rated is not None else None


class LabelledOutput(Record):
    """One output judged on its own (pass/fail or a category), with its human label(s).

    The label set is the dataset's (``Manifest.labels``); ``gold`` is one of
    them, or the majority of ``votes`` when several annotators labelled it.
    """

    id: str = Field(min_length=1)
    input: str
    """The instruction or prompt the output answers."""
    output: str
    """The output judged."""
    context: str | None = None
    """Source text the output should be faithful to (a document, retrieved passages, a dialogue)."""
    reference: str | None = None
    gold: str | None = None
    """The human label; None for an unlabelled output (plain judging) or a tied vote."""
    votes: tuple[str | None, ...] = ()
    """Each annotator's label in a fixed annotator order; None where one did not label this output."""
    system: str | None = None
    """The system that wrote the output, when known."""
    cluster: str | None = None
    """Outputs sharing a cluster are not independent; None: the input text is the cluster."""
    subset: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Classification(Record):
    """A single-output judge's label for one LabelledOutput, or why it has none."""

    example_id: str
    label: str | None
    """One of the run's labels; None means invalid (unparseable, unknown label, refused)."""
    raw: str = ""
    """The judge's raw text (for multi-call protocols, the deciding call's)."""
    invalid_reason: str | None = None
    confidence: float | None = None
    """The judge's probability of its own label, when it gives one (label-token log-probabilities)."""
    probabilities: dict[str, float] | None = None
    """Label -> probability, when read from log-probabilities."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Protocol extras: checklist answers, reasoning."""
    transcript: tuple[CallText, ...] = ()
    """The replies this classification keeps nowhere else (calls before the deciding one)."""
    usage: Usage = Field(default_factory=Usage)

    @property
    def refused(self) -> bool:
        return self.invalid_reason == "refused"

    def kept_reply(self, stage: str, order: Order | None) -> str | None:
        """The reply the classification itself keeps for a call: its raw text (the deciding call's)."""
        return self.raw

    @property
    def decision(self) -> str | None:
        """The label this verdict gives its item: what agreement with humans is scored on."""
        return self.label


RunKind = Literal["pairwise", "pointwise", "classify"]

HEADLINES: dict[str, str] = {"pairwise": "accuracy", "pointwise": "item_kendall", "classify": "cohen_kappa"}
"""Each kind's default headline figure. A pairwise protocol that decides from both orders together, or
combines them by a declared ``order_conflict`` rule, is headlined by ``accuracy_final`` instead
(``judgekit.judge.strategies.base.headline_of``)."""


class Manifest(Record):
    """What a run was and how far it got; written as ``manifest.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    format_version: int = FORMAT_VERSION
    kind: RunKind = "pairwise"
    """pairwise: Example + Verdict lines; pointwise: ScoredExample + Rating lines."""
    judge: str
    """Judge spec, e.g. ``openai:gpt-4o-mini`` (never holds a key)."""
    judge_model: str | None = None
    """The base model's name, used for self-preference (e.g. ``gpt-4``)."""
    protocol: str
    protocol_hash: str | None = None
    dataset: str
    dataset_hash: str | None = None
    package_version: str
    started_at: str
    finished_at: str | None = None
    complete: bool = False
    n_examples: int
    n_verdicts: int = 0
    invalid_policy: str = "wrong"
    """How invalid verdicts count in accuracy: wrong, exclude, half, coin, llmbar."""
    usage: Usage = Field(default_factory=Usage)
    params: dict[str, Any] = Field(default_factory=dict)
    """Sampling and runner settings that shaped the run (no secrets)."""
    source: str | None = None
    """Where recorded outputs came from (e.g. an imported LLMBar folder)."""
    run_id: str | None = None
    """Made when the run dir is created; every verdict line carries it (its ``run`` key), so reading
    refuses a manifest copied over another run's. None in run dirs made before it existed."""
    strategy: str | None = None
    """The protocol's strategy, written when the run starts: analysis never reloads a spec."""
    headline: str | None = None
    """The figure that leads the run's row and ranks it by default (set with ``strategy``)."""
    order_conflict: OrderConflict | None = None
    """Pairwise: the declared rule that made each final verdict from its orders (``tie``, ``invalid``, ``mean``);
    such a run is headlined by ``accuracy_final``. None: no rule declared, the orders count one by one."""
    labels: tuple[str, ...] = ()
    """Classify runs: the declared label set, in order."""
    positive_label: str | None = None
    """Classify runs: the label of the problem class (fail, hallucinated, unsafe), when there is one."""



class RunRecords(Protocol):
    """What the analysis reads from a run: its folder, manifest, examples and verdicts.

    ``rundir.Run`` (a run dir read into memory) is the usual one; the bridge
    builds others in memory. Scoring, export and trust take this, not
    ``rundir.Run``, so they depend on the records and never on the storage
    module whose ``Run.summary()`` calls them.
    """

    @property
    def path(self) -> Path: ...

    @property
    def manifest(self) -> Manifest: ...

    @property
    def examples(self) -> list[Example] | list[ScoredExample] | list[LabelledOutput]: ...

    @property
    def verdicts(self) -> list[Verdict] | list[Rating] | list[Classification]: ...


@dataclass(frozen=True, repr=False)
class RunInMemory:
    """Run records held in memory, not read from a run dir: a run seen on some of its items, or a
    pointwise run seen as pairs. Analysis reads it like any ``RunRecords``."""

    path: Path
    manifest: Manifest
    examples: list
    verdicts: list


def content_hash(examples: Iterable[BaseModel]) -> str:
    """sha256 of the examples' canonical JSON: the same examples give the same hash, however loaded.

    An unset ``cluster`` (a field added after the first run dirs were made) is
    left out, so datasets without declared clusters keep their earlier hashes.
    """
    payload = [_hash_fields(e) for e in examples]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _hash_fields(record: BaseModel) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    if "cluster" in data and data["cluster"] is None:
        del data["cluster"]
    return data


def write_jsonl(path: Path, records: Iterable[BaseModel]) -> None:
    """Write records atomically: a temp file renamed into place."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(record.model_dump_json() + "\n")
    tmp.replace(path)


def read_jsonl(path: Path, model: type[Record]) -> Iterator[Any]:
    """Read records of one type, raising BadInput that names file, line, field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise BadInput(f"{path}: not UTF-8 text (byte {e.start})") from None
    for lineno, line in _numbered_lines(text):
        try:
            yield model.model_validate_json(line)  # parsed and checked in one pass: a third faster
        except ValidationError:  # read again in two steps, so that the error names the line and the field
            try:
                yield model.model_validate(_decoded(line, str(path), lineno))
            except ValidationError as e:
                raise BadInput(f"{path}:{lineno}: {describe_validation_error(e)}") from None


def json_lines(text: str, name: str) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value) per non-blank line; bad JSON names the file and line."""
    for lineno, line in _numbered_lines(text):
        yield lineno, _decoded(line, name, lineno)


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    return ((lineno, line) for lineno, line in enumerate(text.splitlines(), start=1) if line.strip())


def _decoded(line: str, name: str, lineno: int) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise BadInput(f"{name}:{lineno}: invalid JSON ({e.msg})") from None


MAX_YAML_ALIAS_VALUES = 1_000_000
"""Values that YAML aliases may add to a document: a 1 KB file nesting aliases ten deep would
otherwise become ten billion values the moment anything walks it (a hash, validation)."""


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, refusing (as a ``yaml.YAMLError``) aliases that expand past
    MAX_YAML_ALIAS_VALUES, aliases that contain themselves, and nesting Python cannot follow."""
    import yaml  # only the readers of YAML files pay for it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)  # libyaml's parser where installed
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node, yaml)
        return loader.construct_document(node)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply to read") from None
    finally:
        loader.dispose()


def _check_aliases(root: Any, yaml: Any) -> None:
    """Count the values of a composed YAML document with every alias expanded, without expanding any."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_counted = stack.pop()
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        if not children_counted:
            if id(node) in sizes:
                continue
            if id(node) in open_nodes:
                raise yaml.YAMLError("an alias refers to a value that contains it")
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children)
            continue
        sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
        if sizes[id(node)] > MAX_YAML_ALIAS_VALUES + len(sizes):
            raise yaml.YAMLError(f"aliases expand to more than {MAX_YAML_ALIAS_VALUES:,} values")


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first bad field and what is wrong with it."""
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "record"
    return f"field '{field}': {first['msg']}"
