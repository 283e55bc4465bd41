"""Any project's recorded judgments as a run dir: a data file, a mapping of its columns, the kind of judgment.

``judgekit import verdicts FILE --mapping ...`` (and ``import scores``, its
``--kind scored`` form) reads FILE, one record per item, in one of two ways:

- on its own: the mapping names the item's columns as ``judgekit run
  --mapping`` reads a data file (pairs, scored responses or labelled outputs,
  ``judgekit.data``), plus the judge's columns (``order1``, ``order2``,
  ``raw1``, ``raw2`` for pairs; ``judge`` for labelled outputs;
  ``judge.CRITERION`` for scores), ``judge_model=NAME`` and ``subset=COLUMN``;
- beside a dataset (``--dataset``, a built-in id, a card or a data file): the
  items are the dataset's, and FILE holds only the judge's columns, matched
  to the items by ``id=COLUMN`` (the item's id, with or without the dataset's
  prefix) or, with no id, by position.

Either way every item gets exactly one record: a missing, duplicate or
unknown one is bad input naming the file, record and column, and nothing is
written. How each record's cells become a verdict is
``judgekit.runs.importers.judgments``; the run dir is an ordinary imported
run (report, compare, export and trust read it; it is never re-judged).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from judgekit.data import Card, Dataset, load_dataset
from judgekit.data.cards import Fields, label_key
from judgekit.data.files import Row, format_of, read_rows
from judgekit.data.labelled import lookup
from judgekit.data.loader import parse_label_names, parse_labels
from judgekit.errors import BadInput
from judgekit.judge.orders import ORDER_CONFLICTS
from judgekit.records import (
    Classification,
    Manifest,
    OrderConflict,
    Rating,
    RunKind,
    Verdict,
)
from judgekit.runs.importers.judgments import (
    OUT_OF_SCALE,
    JudgeColumns,
    Order2In,
    OutOfScale,
    classification,
    pairwise_verdict,
    rating,
)
from judgekit.runs.importers.recorded import recorded_manifest, staged, write_run
from judgekit.runs.run_dir import Run

KINDS: dict[str, RunKind] = {"pairwise": "pairwise", "classify": "classify", "scored": "pointwise"}
"""``--kind`` -> the run kind it makes."""
JUDGE_KEYS: dict[RunKind, tuple[str, ...]] = {
    "pairwise": ("order1", "order2", "raw1", "raw2"), "classify": ("judge",), "pointwise": ("judge.CRITERION",)}
"""The mapping keys that name the judge's columns, per kind (besides ``judge_model`` and ``subset``)."""
ORDER2_IN = ("display", "canonical")


@dataclass(frozen=True)
class SplitMapping:
    """A ``--mapping`` taken apart: what the data loader reads, the subset column, the judge's columns."""

    items: dict[str, str]
    """Item keys -> their text (``instruction`` -> ``prompt+input``), as ``judgekit run --mapping`` takes them."""
    subset: str | None
    judge: JudgeColumns


@dataclass(frozen=True)
class Table:
    """The items and, aligned with them, the record of FILE that holds each one's recorded judgment."""

    file: Path
    dataset: Dataset
    rows: tuple[Row, ...]
    values: dict[str, str]
    """Raw judge value -> label (a/b/tie for pairs, the label set's names for labelled outputs)."""


@dataclass(frozen=True)
class Recorded:
    """One recorded judge read into records, not yet written anywhere."""

    manifest: Manifest
    examples: tuple
    verdicts: tuple[Verdict, ...] | tuple[Rating, ...] | tuple[Classification, ...]


def import_recorded(file: str | Path, out: str | Path, mapping: str, *, kind: str = "pairwise",
                    labels: str | None = None, dataset: str | Dataset | None = None, fmt: str | None = None,
                    order2_in: Order2In = "display", order_conflict: OrderConflict | None = None,
                    out_of_scale: OutOfScale = "invalid") -> Run:
    """Write the recorded judgments in ``file`` into a new run dir ``out``; all or nothing."""
    check_new(out)
    return write_recorded(out, read_recorded(file, mapping, kind=kind, labels=labels, dataset=dataset, fmt=fmt,
                                             order2_in=order2_in, order_conflict=order_conflict,
                                             out_of_scale=out_of_scale))


def check_new(out: str | Path) -> None:
    """Refuse, before reading anything, an ``--out`` that exists."""
    if Path(out).exists():
        raise BadInput(f"{out}: already exists; choose another --out")


def write_recorded(out: str | Path, one: Recorded) -> Run:
    """``one`` as the new run dir ``out``: written whole into a hidden sibling, then renamed."""
    out = Path(out)
    with staged(out) as staging:
        write_run(staging, one.manifest, one.examples, one.verdicts)
    return Run(out, one.manifest, list(one.examples), list(one.verdicts))


def read_recorded(file: str | Path, mapping: str, *, kind: str = "pairwise", labels: str | None = None,
                  dataset: str | Dataset | None = None, fmt: str | None = None, order2_in: Order2In = "display",
                  order_conflict: OrderConflict | None = None, out_of_scale: OutOfScale = "invalid") -> Recorded:
    """The recorded judge of ``file`` under ``mapping``, read and checked (``import_recorded`` without writing)."""
    if kind not in KINDS:
        raise BadInput(f"--kind: {kind!r} is not one of {', '.join(KINDS)}")
    run_kind = KINDS[kind]
    split = split_mapping(mapping, run_kind)
    table = read_table(file, run_kind, split.items, subset=split.subset, labels=labels, dataset=dataset, fmt=fmt)
    return recorded(table, split.judge, order2_in=order2_in, order_conflict=order_conflict, out_of_scale=out_of_scale)


def split_mapping(text: str, kind: RunKind) -> SplitMapping:
    """The judge's keys and ``subset`` taken out of ``text``; the rest is the item mapping, checked by the loader."""
    items: dict[str, str] = {}
    found: dict[str, str] = {}
    scores: dict[str, tuple[str, ...]] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep:
            raise BadInput(f"--mapping: '{item}' is not FIELD=COLUMN")
        if key in items or key in found or (key.startswith("judge.") and key.removeprefix("judge.") in scores):
            raise BadInput(f"--mapping: '{key}' is given twice")
        if key.startswith("judge."):
            if kind != "pointwise":
                raise BadInput(f"--mapping: '{item}': judge.CRITERION names recorded scores (--kind scored)")
            columns = tuple(c.strip() for c in value.split("+") if c.strip())
            if not key.removeprefix("judge.") or not columns:
                raise BadInput(f"--mapping: '{item}' is not judge.CRITERION=COLUMN[+COLUMN...]")
            scores[key.removeprefix("judge.")] = columns
        elif key in ("order1", "order2", "raw1", "raw2", "judge"):
            if key not in JUDGE_KEYS[kind]:
                which = next(k for k, keys in JUDGE_KEYS.items() if key in keys)
                raise BadInput(f"--mapping: '{item}': {key} is a key of {_kind_name(which)} judgments, not of "
                               f"{_kind_name(kind)} ones (judge keys: {', '.join(JUDGE_KEYS[kind])})")
            found[key] = _one_column(item, value)
        elif key == "subset":
            found[key] = _one_column(item, value)
        elif key == "judge_model":
            if not value:
                raise BadInput(f"--mapping: '{item}': judge_model=NAME names the judge's base model")
            found[key] = value
        else:
            items[key] = value
    judge = JudgeColumns(order1=found.get("order1"), order2=found.get("order2"), raw1=found.get("raw1"),
                         raw2=found.get("raw2"), label=found.get("judge"), scores=scores,
                         judge_model=found.get("judge_model"))
    needed = {"pairwise": judge.order1, "classify": judge.label, "pointwise": scores or None}[kind]
    if needed is None:
        key = {"pairwise": "order1=COLUMN", "classify": "judge=COLUMN", "pointwise": "judge.CRITERION=COLUMN"}[kind]
        raise BadInput(f"--mapping: name the recorded judge's column: {key}")
    if (judge.raw1 and not judge.order1) or (judge.raw2 and not judge.order2):
        raise BadInput("--mapping: raw1/raw2 are the raw texts of order1/order2; map the verdict column too")
    return SplitMapping(items, found.get("subset"), judge)


def read_table(file: str | Path, kind: RunKind, items: dict[str, str], *, subset: str | None = None,
               labels: str | None = None, dataset: str | Dataset | None = None, fmt: str | None = None) -> Table:
    """FILE's records aligned with the items: FILE's own items, or ``dataset``'s matched by id or position."""
    file = Path(file)
    if not file.is_file():
        raise BadInput(f"{file}: no such file")
    rows = tuple(read_rows(file.read_bytes(), str(file), format_of(file.name, fmt)))
    if not rows:
        raise BadInput(f"{file}: holds no records")
    if dataset is None:
        return _own_items(file, rows, kind, items, subset, labels, fmt)
    return _dataset_items(file, rows, kind, items, subset, labels, dataset)


def recorded(table: Table, judge: JudgeColumns, *, order2_in: Order2In = "display",
             order_conflict: OrderConflict | None = None, out_of_scale: OutOfScale = "invalid",
             judge_name: str | None = None, protocol: str = "recorded", params: dict | None = None) -> Recorded:
    """The recorded judge's verdicts on every item of ``table``, and the finished run's manifest.

    ``judge_name`` (default ``recorded:<judge_model or file stem>``), ``protocol`` and ``params`` let a
    preset (PandaLM's, HANNA's importers) name the run as it always has.
    """
    if order2_in not in ORDER2_IN:
        raise BadInput(f"--order2-in: {order2_in!r} is not one of {', '.join(ORDER2_IN)}")
    if order_conflict is not None and order_conflict not in ORDER_CONFLICTS:
        raise BadInput(f"--order-conflict: {order_conflict!r} is not one of {', '.join(ORDER_CONFLICTS)}")
    if out_of_scale not in OUT_OF_SCALE:
        raise BadInput(f"--out-of-scale: {out_of_scale!r} is not one of {', '.join(OUT_OF_SCALE)}")
    dataset, name = table.dataset, str(table.file)
    kind = dataset.kind
    settings: dict = {}
    if kind == "pairwise":
        verdicts = tuple(pairwise_verdict(e, row, judge, table.values, order2_in=order2_in, rule=order_conflict,
                                          name=name) for e, row in zip(dataset.examples, table.rows, strict=True))
        if judge.order2:
            settings["order2_in"] = order2_in
    elif kind == "pointwise":
        _check_criteria(dataset, judge)
        verdicts = tuple(rating(e, row, judge.scores, out_of_scale=out_of_scale, name=name)
                         for e, row in zip(dataset.examples, table.rows, strict=True))
        settings["out_of_scale"] = out_of_scale
    else:
        verdicts = tuple(classification(e, row, judge.label, table.values, name=name)
                         for e, row in zip(dataset.examples, table.rows, strict=True))
    fields: dict = {}
    if kind == "pairwise" and order_conflict is not None:
        fields = {"order_conflict": order_conflict, "headline": "accuracy_final"}
    elif kind == "pointwise":
        fields = {"invalid_policy": "exclude"}  # an invalid rating is left out of every figure
    elif kind == "classify":
        fields = {"labels": dataset.labels, "positive_label": dataset.positive_label}
    manifest = recorded_manifest(
        dataset, n_verdicts=len(verdicts), kind=kind, judge_model=judge.judge_model, protocol=protocol,
        judge=judge_name or f"recorded:{judge.judge_model or table.file.stem}", params={**settings, **(params or {})},
        source=str(table.file.resolve()), **fields,
    )
    return Recorded(manifest, dataset.examples, verdicts)


def _own_items(file: Path, rows: tuple[Row, ...], kind: RunKind, items: dict[str, str], subset: str | None,
               labels: str | None, fmt: str | None) -> Table:
    """Items read from FILE's own records by the item mapping: one item per record."""
    if kind == "classify" and "group" in items:
        raise BadInput("--mapping: 'group' makes one output of several records; recorded judgments need one "
                       "record per output")
    if kind == "pointwise" and labels is not None:
        raise BadInput("--labels: recorded scores are numbers; --labels maps labels of pairs or outputs")
    if kind == "classify":
        items = {"label": "", **items}  # no label: unlabelled outputs, judged but not scored
    card = Card(id=file.stem, description=f"recorded judgments in {file}", local=str(file.resolve()),
                format=format_of(file.name, fmt), fields=Fields(), license="unknown", citation="")
    dataset = load_dataset(card, mapping=",".join(f"{k}={v}" for k, v in items.items()), labels=labels)
    _check_kind(dataset, kind, f"--mapping describes {_kind_name(dataset.kind)} items")
    if len(dataset.examples) != len(rows):
        raise BadInput(f"{file}: {len(rows)} records make {len(dataset.examples)} items; recorded judgments need "
                       "one record per item")
    if subset is not None:
        examples = tuple(e.model_copy(update={"subset": _text(row, subset, str(file))})
                         for e, row in zip(dataset.examples, rows, strict=True))
        dataset = Dataset(dataset.id, examples, dataset.card, dataset.source)
    return Table(file, dataset, rows, _values(dataset))


def _dataset_items(file: Path, rows: tuple[Row, ...], kind: RunKind, items: dict[str, str], subset: str | None,
                   labels: str | None, dataset: str | Dataset) -> Table:
    """``dataset``'s items, each with FILE's record of the same id (``id=COLUMN``), or at the same position."""
    loaded = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    _check_kind(loaded, kind, f"--dataset {loaded.id} holds {_kind_name(loaded.kind)} items")
    stray = next((k for k in (*items, *(["subset"] if subset else [])) if k != "id"), None)
    if stray is not None:
        raise BadInput(f"--mapping: '{stray}': the items come from --dataset {loaded.id}; map only id=COLUMN "
                       "(FILE's item id) and the judge's columns")
    values = _values(loaded) if labels is None else _given_values(loaded, labels)
    examples = loaded.examples
    if "id" not in items:
        if len(rows) != len(examples):
            raise BadInput(f"{file}: {len(rows)} records for the {len(examples)} items of {loaded.id}, matched by "
                           f"position{_first_unmatched(rows, examples)}; map id=COLUMN to match them by id")
        return Table(file, loaded, rows, values)
    column = items["id"]
    index = {e.id: i for i, e in enumerate(examples)}
    matched: dict[int, Row] = {}
    for row in rows:
        key = lookup(row, column, str(file))
        if key is None:
            raise BadInput(f"{file}: {row.where}: field '{column}': missing")
        key = label_key(key)
        at = index.get(key, index.get(f"{loaded.id}/{key}"))
        if at is None:
            raise BadInput(f"{file}: {row.where}: field '{column}': '{key}' is not an item of {loaded.id}")
        if at in matched:
            raise BadInput(f"{file}: {row.where}: field '{column}': duplicate id '{key}' (first at "
                           f"{matched[at].where})")
        matched[at] = row
    missing = next((e for i, e in enumerate(examples) if i not in matched), None)
    if missing is not None:
        raise BadInput(f"{file}: field '{column}': no record for item '{missing.id}' of {loaded.id} "
                       f"({len(rows)} records for {len(examples)} items)")
    return Table(file, loaded, tuple(matched[i] for i in range(len(examples))), values)


def _values(dataset: Dataset) -> dict[str, str]:
    """The dataset's own reading of raw label values, which the judge's values follow unless --labels says."""
    if dataset.kind == "classify":
        return dict(dataset.card.classify.labels)
    return dict(dataset.card.labels) if dataset.kind == "pairwise" else {}


def _given_values(dataset: Dataset, labels: str) -> dict[str, str]:
    """--labels for the judge's values beside a dataset: pairs read a/b/tie; labelled outputs, the dataset's labels."""
    if dataset.kind == "pointwise":
        raise BadInput("--labels: recorded scores are numbers; --labels maps labels of pairs or outputs")
    if dataset.kind == "pairwise":
        return {label_key(raw): label for raw, label in parse_labels(labels).items()}
    given = parse_label_names(labels)
    unknown = next((name for name in given.values() if name not in dataset.labels), None)
    if unknown is not None:
        raise BadInput(f"--labels: '{unknown}' is not a label of {dataset.id} ({', '.join(dataset.labels)})")
    return given


def _check_kind(dataset: Dataset, kind: RunKind, what: str) -> None:
    if dataset.kind != kind:
        raise BadInput(f"--kind {_kind_name(kind)}: {what}")


def _check_criteria(dataset: Dataset, judge: JudgeColumns) -> None:
    criteria = sorted({c for e in dataset.examples for c in e.criteria})
    unknown = next((c for c in judge.scores if c not in criteria), None)
    if unknown is not None:
        raise BadInput(f"--mapping: judge.{unknown}: '{unknown}' is not a criterion of the items "
                       f"({', '.join(criteria)})")


def _first_unmatched(rows: tuple[Row, ...], examples: tuple) -> str:
    if len(rows) < len(examples):
        return f" (item '{examples[len(rows)].id}' has none)"
    return f" ({rows[len(examples)].where} has no item)"


def _kind_name(kind: RunKind) -> Literal["pairwise", "classify", "scored"]:
    return "scored" if kind == "pointwise" else kind


def _one_column(item: str, value: str) -> str:
    if not value or "+" in value:
        raise BadInput(f"--mapping: '{item}' names one column")
    return value


def _text(row: Row, column: str, name: str) -> str:
    value = lookup(row, column, name)
    if value is None or isinstance(value, (dict, list, tuple)):
        raise BadInput(f"{name}: {row.where}: field '{column}': expected text, got "
                       f"{'nothing' if value is None else type(value).__name__}")
    return str(label_key(value))
