"""Protocol specs: one YAML file per judging protocol, loaded and validated against its strategy.

A spec is data, not code: prompt templates, how to read the answer, default
sampling settings and which strategy (``judgekit.judge.strategies``) runs it. So a
user can write a prompt-only protocol and run it with ``--protocol my.yaml``.
Import the API as ``judgekit.protocols`` (the package that ships the specs
re-exports it; this module has its own name because ``judgekit.protocols`` is
that data package).

Keys of a spec file::

    id: llmbar/vanilla          # optional; built-ins must match their path, others may not take a built-in's
    description: one line
    citation: the paper the idea comes from
    strategy: pairwise          # pairwise, staged, swap_synthesize, rating, votes, ...
    templates: {system: ..., compare: ...}   # Jinja, sandboxed
    parser: {format: llmbar}    # llmbar, mtbench (which output won), rating (a score),
                                # regex (+ pattern); as the strategy reads (Strategy.reads)
    params: {temperature: 0.0, max_tokens: 16}
    orders: both                # both presentation orders, or original only
    ties: false                 # may the judge answer "tie"?
    order_conflict: tie         # final winner when the two orders disagree
    continuation: null          # answer prefix the reply must start with
    options: {}                 # strategy-specific settings (stages, members, ...)
    examples: shots.jsonl       # few-shot examples, one JSON object a line (input, output, label;
                                # context and note optional), relative to the spec; for strategies that
                                # show them. A .yaml/.yml file holds a list of such records instead
                                # (what ``judgekit fewshot`` writes)

Loading checks the spec against what its strategy declares
(``judgekit.judge.strategies.base.Strategy``): options (its ``Options`` model),
templates, template variables, the sampling settings and orders it needs; then
loads the member protocols a composite runs into ``Protocol.members``. A spec
that loads can run. Another package ships specs through the
``judgekit.protocols`` entry point group (``ENTRY_POINTS``).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache, lru_cache
from importlib.metadata import entry_points
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, get_args

import regex
import yaml
from jinja2 import TemplateError, meta
from pydantic import ValidationError

from judgekit.backends.base import SamplingParams
from judgekit.errors import BadInput
from judgekit.judge.protocol import JINJA, Member, Parser, ParserFormat, Protocol, StrategyOptions
from judgekit.judge.strategies.base import Strategy, get_strategy
from judgekit.records import Manifest, json_lines, load_yaml
from judgekit.resources import declared, protocols_root

SPEC_KEYS = frozenset({
    "id", "description", "citation", "strategy", "templates", "parser", "params", "orders",
    "ties", "order_conflict", "continuation", "options", "examples",
})
EXAMPLE_KEYS = frozenset({"input", "output", "label", "context", "note"})
"""Keys of a few-shot example record; input, output and label are required (note: the annotator's)."""
PARSER_FORMATS = get_args(ParserFormat)
READS = {"slot": ("llmbar", "mtbench", "regex"), "score": ("rating", "regex")}
"""The parser formats that give each kind of answer a strategy reads."""
PARSER_KEYS = frozenset({"format", "pattern", "min", "max"})
REGEX_GROUPS = frozenset({"first", "second", "tie", "score"})
"""Named groups a user regex may use: which slot won, or a score."""
PARAM_KEYS = frozenset({"temperature", "max_tokens", "top_logprobs", "stop"})
ENTRY_POINTS = "judgekit.protocols"
"""The entry point group through which another package ships protocol specs: name -> a package whose ``.yaml``
files are the protocols ``<name>/<file stem>`` (as the built-in ones are ``<folder>/<file stem>``)."""


def list_protocols() -> list[str]:
    """Ids of the shipped protocols (built in, and those of installed packages), sorted."""
    ids: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir() and not child.name.startswith(("_", ".")):
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".yaml"):
                ids.append(prefix + child.name[: -len(".yaml")])

    walk(protocols_root(), "")
    for name, root in _plugin_roots().items():
        walk(root, f"{name}/")
    return sorted(ids)


@cache
def _plugin_roots() -> dict[str, Traversable]:
    """Id prefix -> folder of specs, for each package that declares protocols (read once)."""
    builtin = {child.name for child in protocols_root().iterdir() if child.is_dir()}
    roots: dict[str, Traversable] = {}
    for point in entry_points(group=ENTRY_POINTS):
        where = declared(point)
        if point.name in builtin or "/" in point.name:
            raise BadInput(f"{where}: '{point.name}' is a built-in protocol folder or not one name; rename it")
        try:
            roots[point.name] = files(point.value)
        except (ImportError, TypeError) as e:
            raise BadInput(f"{where}: cannot read its package ({type(e).__name__}: {e})") from None
    return roots


def load_protocol(id_or_path: str | Path, *, within: tuple[str, ...] = ()) -> Protocol:
    """A shipped protocol by id (built in, ``llmbar/vanilla``, or an installed package's, ``<name>/<stem>``) or a
    spec file by path.

    ``within`` are the composites being loaded that (transitively) name this
    one, so a protocol that contains itself is refused instead of recursing.
    """
    text_id = str(id_or_path)
    if text_id in within:
        raise BadInput(f"protocol '{text_id}' contains itself (through {' -> '.join(within)})")
    if text_id.endswith((".yaml", ".yml")) or Path(text_id).is_file():
        path = Path(text_id)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise BadInput(f"{path}: cannot read protocol spec ({e.strerror})") from None
        return parse_spec(text, source=str(path), builtin_id=None, within=(*within, text_id), folder=path.parent)
    prefix, _, rest = text_id.partition("/")
    plugin = _plugin_roots().get(prefix) if rest else None
    if plugin is None:
        return _load_builtin(text_id, within)
    return _load_shipped(text_id, within, plugin, rest)


@lru_cache(maxsize=256)
def _load_builtin(text_id: str, within: tuple[str, ...]) -> Protocol:
    """A built-in protocol, parsed once per process: its spec is package data and a Protocol is frozen, and
    analysis asks for a run's protocol per run (a 200-run compare parsed the same spec 200 times, 7 ms each)."""
    return _load_shipped(text_id, within, None, text_id)


def _load_shipped(text_id: str, within: tuple[str, ...], plugin: Traversable | None, name: str) -> Protocol:
    """A protocol shipped in judgekit (``plugin`` None) or in an installed package's folder ``plugin``."""
    node = folder = plugin if plugin is not None else protocols_root()
    for part in f"{name}.yaml".split("/"):
        folder, node = node, node / part
    if ".." in text_id.split("/") or not node.is_file():
        known = ", ".join(list_protocols())
        raise BadInput(f"unknown protocol '{text_id}' (built-in: {known}; or give a path to a .yaml spec)")
    source = str(node) if plugin is not None else f"protocols/{text_id}.yaml"
    return parse_spec(node.read_text(encoding="utf-8"), source=source, builtin_id=text_id,
                      within=(*within, text_id), folder=folder)


def strategy_of_run(manifest: Manifest) -> Strategy[Any, Any] | None:
    """The strategy a run was judged with, for what only it knows (its judge's confidence): the one its manifest
    names, or for a run dir from before manifests named it, the strategy of the built-in protocol it names.
    None for a recorded judge's imported run, or a strategy not installed here."""
    try:
        name = manifest.strategy
        if name is None and manifest.protocol in list_protocols():
            name = load_protocol(manifest.protocol).strategy
        strategy = get_strategy(name) if name is not None else None
    except BadInput:  # a plugin no longer installed, a shipped spec that no longer loads
        return None
    return strategy if strategy is not None and strategy.kind == manifest.kind else None


def parse_spec(text: str, *, source: str, builtin_id: str | None, within: tuple[str, ...] = (),
               folder: Path | Traversable | None = None) -> Protocol:
    """Validate a spec's YAML text into a Protocol; errors name the file and key.

    ``folder`` is where a relative ``examples:`` file is found (the spec's own folder).
    """
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        raise BadInput(f"{source}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{source}: a protocol spec must be a mapping of keys")
    for key in data:
        if key not in SPEC_KEYS:
            raise BadInput(f"{source}: unknown key '{key}' (allowed: {', '.join(sorted(SPEC_KEYS))})")
    for key in ("description", "citation", "strategy"):
        if key not in data:
            raise BadInput(f"{source}: missing key '{key}'")
    spec_id = data.get("id") or builtin_id or Path(source).stem
    if builtin_id is not None and spec_id != builtin_id:
        raise BadInput(f"{source}: key 'id' is '{spec_id}' but the file's id is '{builtin_id}'")
    if builtin_id is None and spec_id in list_protocols():  # two runs would show one name for two prompts
        raise BadInput(f"{source}: key 'id': '{spec_id}' is a built-in protocol's id; give the spec its own id")
    examples = _examples(data["examples"], source, folder) if "examples" in data else ()
    strategy = _strategy(data["strategy"], source)
    fields = {
        **{k: v for k, v in data.items() if k not in ("params", "parser", "templates", "examples", "options")},
        "options": _options(data.get("options", {}), strategy, source),
        "id": spec_id,
        "templates": _templates(data.get("templates", {}), source),
        "parser": _parser(data.get("parser", {}), source),
        "params": _params(data.get("params", {}), source),
        "examples": examples,
        "source": source,
    }
    try:
        protocol = Protocol(**fields)
    except ValueError as e:
        raise BadInput(f"{source}: {_first_error(e)}") from None
    _check_strategy(protocol, strategy)
    if examples and not strategy.takes_examples:
        raise BadInput(f"{source}: examples: strategy {strategy.name} shows no few-shot examples; remove the key")
    _check_parser(protocol, strategy, given="parser" in data)
    protocol = protocol.model_copy(update={"members": _load_members(strategy, protocol, within)})
    return protocol.model_copy(update={
        "calls_per_item": strategy.calls_per_item(protocol),
        "content_hash": _content_hash({**data, "examples": list(examples)} if examples else data, strategy, protocol),
    })


def _templates(raw: Any, source: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: key 'templates' must map template names to text")
    for name, body in raw.items():
        if not isinstance(body, str):
            raise BadInput(f"{source}: templates.{name}: must be text")
        try:
            JINJA.parse(body)
        except TemplateError as e:
            raise BadInput(f"{source}: templates.{name}: bad Jinja template ({e})") from None
    return dict(raw)


def _examples(raw: Any, source: str, folder: Path | Traversable | None) -> tuple[dict[str, str], ...]:
    """The few-shot examples of the JSONL (or YAML list) file ``raw`` names; a bad record names the file and line."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadInput(f"{source}: examples: give the path of a JSONL or YAML file of input/output/label records")
    path = Path(raw)
    file: Path | Traversable = path if path.is_absolute() or folder is None else folder / raw
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{source}: examples: cannot read {raw} ({getattr(e, 'strerror', None) or e})") from None
    examples = []
    yaml_file = raw.endswith((".yaml", ".yml"))
    name = f"{source}: examples: {raw}"
    records = _yaml_records(text, name) if yaml_file else json_lines(text, name)
    for lineno, record in records:
        where = f"{name}: example {lineno}" if yaml_file else f"{name}:{lineno}"
        if not isinstance(record, dict):
            raise BadInput(f"{where}: a record must be a JSON object")
        unknown = sorted(set(record) - EXAMPLE_KEYS)
        if unknown:
            raise BadInput(f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(EXAMPLE_KEYS))})")
        missing = next((k for k in ("input", "output", "label") if k not in record), None)
        if missing is not None:
            raise BadInput(f"{where}: missing key '{missing}'")
        not_text = next((k for k, v in record.items() if not isinstance(v, str)), None)
        if not_text is not None:
            raise BadInput(f"{where}: key '{not_text}' must be text")
        examples.append(dict(record))
    if not examples:
        raise BadInput(f"{source}: examples: {raw} holds no examples")
    return tuple(examples)


def _yaml_records(text: str, name: str) -> list[tuple[int, Any]]:
    """(position from 1, record) of a YAML file holding a list of records."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        raise BadInput(f"{name}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, list):
        raise BadInput(f"{name}: a YAML examples file holds a list of input/output/label records")
    return list(enumerate(data, start=1))


def _parser(raw: Any, source: str) -> Parser:
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: key 'parser' must be a mapping")
    for key in raw:
        if key not in PARSER_KEYS:
            raise BadInput(f"{source}: unknown key 'parser.{key}' (allowed: {', '.join(sorted(PARSER_KEYS))})")
    if raw.get("format", "llmbar") not in PARSER_FORMATS:
        raise BadInput(f"{source}: parser.format: '{raw.get('format')}' is not one of {', '.join(PARSER_FORMATS)}")
    if raw.get("format") == "regex":
        _check_regex(raw.get("pattern"), source)
    try:
        return Parser(**raw)
    except ValueError as e:
        raise BadInput(f"{source}: parser.{_first_error(e)}") from None


def _check_regex(pattern: Any, source: str) -> None:
    if not isinstance(pattern, str):
        raise BadInput(f"{source}: parser.pattern: a regex parser needs a pattern")
    try:
        compiled = regex.compile(pattern)  # the engine that parses replies (strategies.parsing)
    except regex.error as e:
        raise BadInput(f"{source}: parser.pattern: bad regex ({e})") from None
    groups = set(compiled.groupindex)
    if not groups or not groups <= REGEX_GROUPS:
        raise BadInput(f"{source}: parser.pattern: named groups must be among {', '.join(sorted(REGEX_GROUPS))}")
    if "score" not in groups and not {"first", "second"} <= groups:
        raise BadInput(f"{source}: parser.pattern: needs groups 'first' and 'second' (or 'score')")


def _params(raw: Any, source: str) -> SamplingParams:
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: key 'params' must be a mapping")
    for key in raw:
        if key not in PARAM_KEYS:
            raise BadInput(f"{source}: unknown key 'params.{key}' (allowed: {', '.join(sorted(PARAM_KEYS))})")
    values = dict(raw)
    if "stop" in values:
        stop = values["stop"]
        values["stop"] = (stop,) if isinstance(stop, str) else tuple(stop) if isinstance(stop, list) else None
        if values["stop"] is None or not all(isinstance(s, str) for s in values["stop"]):
            raise BadInput(f"{source}: params.stop: must be text or a list of texts")
    try:
        params = SamplingParams(**values)
        float(params.temperature), int(params.max_tokens)
    except (TypeError, ValueError) as e:
        raise BadInput(f"{source}: params: {e}") from None
    return params


def _strategy(name: Any, source: str) -> Strategy[Any, Any]:
    if not isinstance(name, str):
        raise BadInput(f"{source}: strategy: the name of a strategy, e.g. pairwise")
    try:
        return get_strategy(name)
    except BadInput as e:
        raise BadInput(f"{source}: {e}") from None


def _options(raw: Any, strategy: Strategy[Any, Any], source: str) -> StrategyOptions:
    """The spec's ``options`` as the strategy's Options model; the first problem names file and key."""
    if not isinstance(raw, dict):
        raise BadInput(f"{source}: key 'options' must be a mapping")
    try:
        return strategy.Options.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        key = "options" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        if first["type"] == "extra_forbidden":
            fields = ", ".join(strategy.Options.model_fields) or "none"
            allowed = f" (allowed: {fields})" if len(first["loc"]) == 1 else ""
            raise BadInput(f"{source}: unknown key '{key}' for strategy {strategy.name}{allowed}") from None
        raise BadInput(f"{source}: {key}: {first['msg'].removeprefix('Value error, ')}") from None


def _check_strategy(protocol: Protocol, strategy: Strategy[Any, Any]) -> None:
    """The spec gives what the strategy needs: templates, variables, sampling settings, orders."""
    source, name = protocol.source, strategy.name
    if strategy.needs_logprobs and not protocol.params.top_logprobs:
        raise BadInput(f"{source}: params.top_logprobs: strategy {name} reads log-probabilities; set it (e.g. 20)")
    if strategy.needs_continuation and not protocol.continuation:
        raise BadInput(f"{source}: continuation: strategy {name} reads the answer after a forced prefix; set one "
                       "(e.g. 'Output (')")
    if strategy.needs_both_orders and protocol.orders != "both":
        raise BadInput(f"{source}: orders: strategy {name} needs both orders")
    for name in strategy.required_templates(protocol):
        if name not in protocol.templates:
            raise BadInput(f"{protocol.source}: templates: missing template '{name}' (strategy {protocol.strategy})")
    known = strategy.template_variables(protocol)
    if known is not None:
        _check_variables(protocol, known)


def _check_parser(protocol: Protocol, strategy: Strategy, *, given: bool) -> None:
    """The parser gives the kind of answer the strategy reads (a slot, a score, or none at all)."""
    parser, source = protocol.parser, protocol.source
    if strategy.reads is None:
        if given:
            raise BadInput(f"{source}: parser: strategy {strategy.name} reads its own answer format; remove the key")
        return
    if parser.format not in READS[strategy.reads]:
        raise BadInput(f"{source}: parser.format: strategy {strategy.name} reads a {strategy.reads}, which "
                       f"'{parser.format}' does not give (use one of {', '.join(READS[strategy.reads])})")
    if parser.format == "regex":
        groups = set(regex.compile(parser.pattern or "").groupindex)
        needed = {"first", "second"} if strategy.reads == "slot" else {"score"}
        if not needed <= groups:
            raise BadInput(f"{source}: parser.pattern: strategy {strategy.name} reads a {strategy.reads}: "
                           f"the pattern needs the group(s) {', '.join(sorted(needed))}")


def _load_members(strategy: Strategy, protocol: Protocol, within: tuple[str, ...]) -> tuple[Member, ...]:
    """The member protocols a composite names, loaded (each distinct one once)."""
    loaded: dict[str, Protocol] = {}
    members = []
    for spec in strategy.members(protocol):
        if spec.protocol not in loaded:
            try:
                loaded[spec.protocol] = load_protocol(spec.protocol, within=within)
            except BadInput as e:
                raise BadInput(f"{protocol.source}: {spec.key}: member protocol '{spec.protocol}': {e}") from None
        member = loaded[spec.protocol]
        if spec.params:
            member = member.with_params(**spec.params)
        members.append(Member(name=spec.name, protocol=member, judge=spec.judge, base_url=spec.base_url,
                              sample=spec.sample))
    return tuple(members)


def _check_variables(protocol: Protocol, known: frozenset[str]) -> None:
    """Catch a misspelt variable at load time rather than mid-run."""
    for name, body in protocol.templates.items():
        unknown = sorted(meta.find_undeclared_variables(JINJA.parse(body)) - known)
        if unknown:
            raise BadInput(f"{protocol.source}: templates.{name}: unknown variable '{unknown[0]}' "
                           f"(available: {', '.join(sorted(known))})")


def _content_hash(data: dict[str, Any], strategy: Strategy, protocol: Protocol) -> str:
    """Hash of the spec content plus, for composite protocols, their members' identities."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode("utf-8"))
    for identity in dict.fromkeys(strategy.member_identity(m) for m in protocol.members):
        digest.update(identity.encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if errors is None:
        return str(error)
    first = errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
