"""Protocol probes' rewrites: the same protocol, its prompt changed in one way that should not matter.

Each function takes a loaded protocol and returns a copy whose templates
(and, for renamed labels, parser) differ; the strategy, sampling and
members stay. A rewrite that has nothing to act on (no numbered rules to
reorder, no instruction before the responses) is a one-line BadInput
naming the probe and the protocol, never a silent copy of the original.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from jinja2 import TemplateError, meta

from judgekit.errors import BadInput
from judgekit.judge.protocol import JINJA, Protocol

CANONICAL_LABELS = ("Output (a)", "Output (b)")
"""The LLMBar answer format's slot labels (DESIGN: the literal ``Output (a)`` / ``Output (b)``)."""
_SHORT_LABELS = ("(a)", "(b)")
_RULE = re.compile(r"^(?P<indent>[ \t]*)(?P<n>\d+)\.[ \t]+")
_INSTRUCTION = re.compile(r"\{\{\s*instruction\s*\}\}")
_RESPONSES = re.compile(r"\{\{\s*(?:output_1|output_2|response)\s*\}\}")


def paraphrased(protocol: Protocol, texts: Mapping[str, str], *, probe: str) -> Protocol:
    """The protocol with some templates replaced by reworded ones that use the same variables."""
    templates = dict(protocol.templates)
    for name, text in texts.items():
        if name not in templates:
            raise BadInput(f"{probe}: a paraphrase of {protocol.id} rewrites template '{name}', which it does not have")
        if (new := _variables(text, probe)) != (old := _variables(templates[name], probe)):
            raise BadInput(f"{probe}: the paraphrase of {protocol.id}'s template '{name}' uses "
                           f"{sorted(new)}, the original {sorted(old)}")
        templates[name] = text
    return _with(protocol, templates, probe)


def relabelled(protocol: Protocol, labels: Mapping[str, str], *, probe: str) -> Protocol:
    """The protocol naming its two slots ``labels['first']`` / ``labels['second']`` (short forms
    ``first_short`` / ``second_short`` replace a bare ``(a)`` / ``(b)``), its parser reading them back."""
    if protocol.parser.format != "llmbar" or protocol.continuation is not None or protocol.members:
        raise BadInput(f"{probe}: protocol {protocol.id} does not answer with Output (a) / Output (b) in text "
                       "(it uses another answer format, log-probabilities or member protocols); nothing to rename")
    if not any(CANONICAL_LABELS[0] in t for t in protocol.templates.values()):
        raise BadInput(f"{probe}: protocol {protocol.id} never names the label 'Output (a)' in its prompts")
    shown = (labels["first"], labels["second"])
    short = (labels.get("first_short", shown[0]), labels.get("second_short", shown[1]))
    templates = {}
    for name, text in protocol.templates.items():
        for old, new in (*zip(CANONICAL_LABELS, shown, strict=True), *zip(_SHORT_LABELS, short, strict=True)):
            text = text.replace(old, new)
        templates[name] = text
    parser = protocol.parser.model_copy(update={"labels": shown})
    return _with(protocol, templates, probe, parser=parser)


def criteria_reordered(protocol: Protocol, key: str, *, probe: str) -> Protocol:
    """The protocol with each numbered list of rules in its templates (``1. ...``, ``2. ...``, with
    indented continuation lines) in another order, renumbered; the order is a hash of ``key``."""
    templates = {name: _reorder(text, key) for name, text in protocol.templates.items()}
    if templates == protocol.templates:
        raise BadInput(f"{probe}: protocol {protocol.id} has no numbered list of rules (1. 2. ...) to reorder, "
                       "and is no checklist protocol")
    return _with(protocol, templates, probe)


def has_numbered_rules(protocol: Protocol) -> bool:
    return any(_reorder(text, "") != text for text in protocol.templates.values())


def reordered(items: Sequence[str], key: str) -> tuple[str, ...]:
    """``items`` in another order (a hash of ``key``), such as a pair's checklist questions."""
    return tuple(items[i] for i in _permutation(len(items), key))


def instruction_moved(protocol: Protocol, *, probe: str) -> Protocol:
    """The protocol showing the instruction after the responses: in each template, the paragraph holding
    ``{{ instruction }}`` moves to just after the last paragraph holding a response."""
    templates = {name: _move_instruction(text) for name, text in protocol.templates.items()}
    if templates == protocol.templates:
        raise BadInput(f"{probe}: protocol {protocol.id} shows no instruction in a paragraph of its own before "
                       "the responses")
    return _with(protocol, templates, probe)


def _with(protocol: Protocol, templates: dict[str, str], probe: str, **update: object) -> Protocol:
    digest = hashlib.sha256(f"{protocol.content_hash}|{probe}|{sorted(templates.items())}".encode()).hexdigest()
    return protocol.model_copy(update={"templates": templates, "content_hash": f"sha256:{digest}", **update})


def _variables(text: str, probe: str) -> set[str]:
    try:
        return set(meta.find_undeclared_variables(JINJA.parse(text)))
    except TemplateError as e:
        raise BadInput(f"{probe}: a paraphrase is not a valid template ({e})") from None


def _reorder(text: str, key: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        items, end = _numbered_list(lines, i)
        if len(items) < 2:
            out.append(lines[i])
            i += 1
            continue
        order = _permutation(len(items), f"{key}|{i}")
        for new_number, old in enumerate(order, start=1):
            first, *rest = items[old]
            match = _RULE.match(first)
            out.append(f"{match['indent']}{new_number}. {first[match.end():]}")
            out += rest
        i = end
    return "\n".join(out)


def _numbered_list(lines: list[str], start: int) -> tuple[list[list[str]], int]:
    """The items of a list numbered 1, 2, ... starting at ``lines[start]`` (each item: its line and the
    more-indented lines after it), and the index after the list."""
    items: list[list[str]] = []
    i = start
    while i < len(lines) and (match := _RULE.match(lines[i])) and int(match["n"]) == len(items) + 1:
        item, indent = [lines[i]], len(match["indent"])
        i += 1
        while i < len(lines) and lines[i].strip() and not _RULE.match(lines[i]) \
                and len(lines[i]) - len(lines[i].lstrip()) > indent:
            item.append(lines[i])
            i += 1
        items.append(item)
    return items, i


def _permutation(n: int, key: str) -> list[int]:
    """A fixed order of range(n) other than the identity, by a hash of ``key``."""
    order = sorted(range(n), key=lambda i: hashlib.sha256(f"{key}|{i}".encode()).digest())
    return order if order != list(range(n)) else order[1:] + order[:1]


def _move_instruction(text: str) -> str:
    blocks = re.split(r"\n[ \t]*\n", text)
    at = next((i for i, b in enumerate(blocks) if _INSTRUCTION.search(b) and not _RESPONSES.search(b)), None)
    last = max((i for i, b in enumerate(blocks) if _RESPONSES.search(b)), default=None)
    if at is None or last is None or at > last:
        return text
    return "\n\n".join(blocks[:at] + blocks[at + 1:last + 1] + [blocks[at]] + blocks[last + 1:])
