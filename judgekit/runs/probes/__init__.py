"""Bias probes as data: change one thing about a pair that should not matter, then re-judge it.

Observational bias figures (position, length, self-preference read off
verdicts on the pairs as they are) confound the bias with the data: a longer
answer may really be better. A probe intervenes instead. It copies a
human-labelled pair, changes one response in a way that leaves its quality
alone (padding, a planted instruction to the judge, a fake citation, markdown
layout, a "written by" line), and counts how often the verdict moves — the
robustness rate of CALM (Ye et al., ICLR 2025, arXiv 2410.02736).

A probe is a small YAML file (this folder holds the built-in ones; ``--probes
my_probe.yaml`` adds yours, no Python needed)::

    id: verbosity
    description: what changes and why it should not matter
    citation: where the idea comes from
    kind: template            # template (default), identical or order
    target: dispreferred      # which response changes: preferred, dispreferred or both
    template: |-              # sandboxed Jinja over the response
      {{ response }}

      {{ padding }}
    choices:                  # each name becomes one seeded pick per pair
      padding: [..., ...]

Template variables: ``response`` (the text being changed), ``other`` (the
other response), ``instruction``, ``judge_model`` (the judge's base model,
or "this assistant" when unknown) and one pick from each ``choices`` list
(picked by a hash of probe, pair, side and seed, so the same seed gives the
same copies anywhere; a pick may itself use the variables). Filters:
``sentences`` (the text split into sentences) and ``paragraphs``. The sandbox
is the protocols' bounded one: a rendering past MAX_RENDERED_CHARS is a
BadInput naming the probe file, not gigabytes of text.

``identical`` puts the target response in both slots (no gold label: there
is nothing to prefer). ``order`` swaps the slots; for a judge that already
sees both presentation orders it needs no calls (see ``judgekit.analysis.probes``).

Protocol probes (``target: protocol``) leave the pair alone and change the
judge's own prompt instead (``judgekit.runs.probes.rewrite``):
``rubric-paraphrase`` (the templates a ``paraphrases`` entry for the
protocol's id rewrites), ``label-names`` (the slots named by one of the
``label_sets``, the parser reading them back), ``criteria-order`` (numbered
rules reordered; for a checklist protocol, the pair's own checklist) and
``instruction-position`` (the instruction after the responses). The copy's
metadata names which paraphrase, label set or order (``probe_variant``, a
seeded pick per pair); the probe run judges that copy under the rewritten
protocol.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import StrictUndefined, TemplateError, meta
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from judgekit.errors import BadInput
from judgekit.judge.protocol import Protocol
from judgekit.judge.sandbox import BoundedSandbox, render
from judgekit.records import BASE_KEY, KIND_KEY, PROBE_KEY, SLOTS_KEY, TARGET_KEY, Example, load_yaml
from judgekit.runs.probes.rewrite import (
    criteria_reordered,
    has_numbered_rules,
    instruction_moved,
    paraphrased,
    relabelled,
    reordered,
)

UNKNOWN_MODEL = "this assistant"
TEMPLATE_VARIABLES = frozenset({"response", "other", "instruction", "judge_model"})
"""What a probe's template may use besides its ``choices``."""
PROTOCOL_KINDS = frozenset({"rubric-paraphrase", "label-names", "criteria-order", "instruction-position"})
"""Probes that change the judge's prompt, not the pair."""
VARIANT_KEY = "probe_variant"
"""A protocol probe's copy: which paraphrase, label set or order of rules it is judged under."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after . ! ? followed by space; line breaks also split)."""
    out: list[str] = []
    for line in text.splitlines():
        out += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
    return out


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


_JINJA = BoundedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False,
                        trim_blocks=True)
_JINJA.filters["sentences"] = sentences
_JINJA.filters["paragraphs"] = paragraphs


class Probe(BaseModel):
    """One probe spec, validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    description: str
    citation: str
    kind: Literal["template", "identical", "order", "rubric-paraphrase", "label-names", "criteria-order",
                  "instruction-position"] = "template"
    target: Literal["preferred", "dispreferred", "both", "protocol"] = "dispreferred"
    template: str | None = None
    choices: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    paraphrases: dict[str, tuple[dict[str, str], ...]] = Field(default_factory=dict)
    """``rubric-paraphrase``: protocol id -> rewordings, each {template name: text}."""
    label_sets: tuple[dict[str, str], ...] = ()
    """``label-names``: each {first, second} (and optional first_short, second_short for a bare (a), (b))."""
    _source: str = PrivateAttr(default="")
    """The spec file, for errors met while rendering."""

    def apply(self, example: Example, *, seed: int = 0, judge_model: str | None = None,
              protocol: Protocol | None = None) -> Example | None:
        """The probed copy of a pair with gold ``a`` or ``b``; None for pairs a probe cannot use.

        A protocol probe needs the judge's ``protocol``: its copy is the pair unchanged, with the variant
        to judge it under (:meth:`rewrite`) in its metadata.
        """
        if example.gold not in ("a", "b"):
            return None
        if self.kind in PROTOCOL_KINDS:
            if protocol is None:
                raise ValueError(f"probe {self.id} changes the protocol: apply it with the judge's protocol")
            variant = _index(f"{self.id}|{example.id}|{seed}|variant", self.variants(protocol))
            metadata = {**example.metadata, PROBE_KEY: self.id, BASE_KEY: example.id, KIND_KEY: self.kind,
                        TARGET_KEY: self.target, SLOTS_KEY: [], VARIANT_KEY: variant}
            update: dict[str, Any] = {"id": f"{example.id}~{self.id}", "votes": (), "metadata": metadata}
            if self.kind == "criteria-order" and protocol.strategy == "checklist" and not has_numbered_rules(protocol):
                if len(example.checklist) < 2:
                    return None  # the judge writes this pair's checklist: nothing of ours to reorder
                update["checklist"] = reordered(example.checklist, str(variant))
            return example.model_copy(update=update)
        sides = self.sides(example.gold)
        texts = {"a": example.response_a, "b": example.response_b}
        gold: str | None = example.gold
        if self.kind == "identical":
            texts = dict.fromkeys(texts, texts[sides[0]])
            gold = None
        elif self.kind == "order":
            texts = {"a": texts["b"], "b": texts["a"]}
            gold = "b" if example.gold == "a" else "a"
        else:
            texts = {side: (self._render(example, side, seed, judge_model) if side in sides else text)
                     for side, text in texts.items()}
        metadata = {**example.metadata, PROBE_KEY: self.id, BASE_KEY: example.id, KIND_KEY: self.kind,
                    TARGET_KEY: self.target, SLOTS_KEY: sides}
        return example.model_copy(update={
            "id": f"{example.id}~{self.id}", "response_a": texts["a"], "response_b": texts["b"], "gold": gold,
            "votes": (), "generator_a": None, "generator_b": None, "metadata": metadata,
        })

    def sides(self, gold: str) -> list[str]:
        """Canonical slots the probe changes for a pair whose better response is ``gold``."""
        other = "b" if gold == "a" else "a"
        return {"preferred": [gold], "dispreferred": [other], "both": ["a", "b"], "protocol": []}[self.target]

    def variants(self, protocol: Protocol) -> int:
        """How many rewrites of ``protocol`` this protocol probe picks from (one per pair, seeded)."""
        if self.kind == "rubric-paraphrase":
            if not self.paraphrases.get(protocol.id):
                shipped = ", ".join(sorted(self.paraphrases)) or "none"
                raise BadInput(f"{self.id}: no paraphrase of protocol {protocol.id} ships with the probe (it has: "
                               f"{shipped}); a probe file of kind rubric-paraphrase can add one")
            return len(self.paraphrases[protocol.id])
        if self.kind == "label-names":
            return len(self.label_sets)
        return 2**31 if self.kind == "criteria-order" else 1  # criteria-order: the variant seeds the order

    def rewrite(self, protocol: Protocol, variant: int) -> Protocol:
        """``protocol`` as this protocol probe's ``variant`` shows it to the judge."""
        if self.kind == "rubric-paraphrase":
            self.variants(protocol)
            return paraphrased(protocol, self.paraphrases[protocol.id][variant], probe=self.id)
        if self.kind == "label-names":
            return relabelled(protocol, self.label_sets[variant], probe=self.id)
        if self.kind == "criteria-order":
            if protocol.strategy == "checklist" and not has_numbered_rules(protocol):
                return protocol  # the copy's own checklist is reordered (apply)
            return criteria_reordered(protocol, str(variant), probe=self.id)
        return instruction_moved(protocol, probe=self.id)

    def _render(self, example: Example, side: str, seed: int, judge_model: str | None) -> str:
        response, other = (example.response_a, example.response_b) if side == "a" else \
            (example.response_b, example.response_a)
        values: dict[str, Any] = {"response": response, "other": other, "instruction": example.instruction,
                                  "judge_model": judge_model or UNKNOWN_MODEL}
        try:
            for name, options in self.choices.items():
                pick = options[_index(f"{self.id}|{example.id}|{side}|{seed}|{name}", len(options))]
                values[name] = render(_compiled(pick), values)
            return render(_compiled(self.template or ""), values).strip()
        except TemplateError as e:
            raise BadInput(f"{self._source or self.id}: rendering pair {example.id}: {e}") from None


def _index(key: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % n


@lru_cache(maxsize=256)
def _compiled(text: str) -> Any:
    return _JINJA.from_string(text)


def probes_root() -> Traversable:
    """The built-in probe specs (this package's ``*.yaml``)."""
    return files("judgekit.runs.probes")


def list_probes() -> list[str]:
    """Ids of the built-in probes, sorted."""
    return sorted(entry.name.removesuffix(".yaml") for entry in probes_root().iterdir()
                  if entry.name.endswith(".yaml"))


def load_probe(id_or_path: str | Path) -> Probe:
    """A built-in probe by id, or a spec file by path."""
    name = str(id_or_path)
    if name in list_probes():
        return _parse(probes_root().joinpath(f"{name}.yaml"))
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        probe = _parse(path)
        if probe.id in list_probes():  # its rows would read as the built-in probe's
            raise BadInput(f"{path}: key 'id': '{probe.id}' is a built-in probe's id; give the probe its own id")
        return probe
    raise BadInput(f"--probes: unknown probe {name!r} (built in: {', '.join(list_probes())}; or a .yaml spec file)")


def load_probes(names: Sequence[str]) -> list[Probe]:
    probes = [load_probe(n) for n in names]
    ids = [p.id for p in probes]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise BadInput(f"--probes: probe id {duplicated[0]!r} given twice")
    return probes


def _parse(source: Path | Traversable) -> Probe:
    try:
        raw = load_yaml(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise BadInput(f"{source}: cannot read probe spec ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: a probe spec must be a YAML mapping")
    try:
        probe = Probe.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "spec"
        raise BadInput(f"{source}: key '{key}': {first['msg']}") from None
    probe._source = str(source)
    if probe.kind == "template":
        if not probe.template:
            raise BadInput(f"{source}: key 'template': a template probe needs a template")
        known = {*TEMPLATE_VARIABLES, *probe.choices}
        try:
            for text in (probe.template, *(c for options in probe.choices.values() for c in options)):
                _compiled(text)
                unknown = sorted(meta.find_undeclared_variables(_JINJA.parse(text)) - known)
                if unknown:
                    raise BadInput(f"{source}: key 'template': unknown variable '{unknown[0]}' "
                                   f"(available: {', '.join(sorted(known))})")
        except TemplateError as e:
            raise BadInput(f"{source}: key 'template': not a valid template ({e})") from None
        if any(not options for options in probe.choices.values()):
            raise BadInput(f"{source}: key 'choices': every choice list needs at least one entry")
    if (probe.kind in PROTOCOL_KINDS) != (probe.target == "protocol"):
        raise BadInput(f"{source}: key 'target': a probe of kind {probe.kind} needs target "
                       f"{'protocol' if probe.kind in PROTOCOL_KINDS else 'preferred, dispreferred or both'}")
    if probe.kind == "label-names" and (not probe.label_sets or any(
            not {"first", "second"} <= set(s) <= {"first", "second", "first_short", "second_short"}
            for s in probe.label_sets)):
        raise BadInput(f"{source}: key 'label_sets': a list of {{first, second}} labels "
                       "(optional first_short, second_short)")
    return probe
