"""A frozen dev/test split on disk: written once, checked by content hash on every read.

Layout of a split dir (``judgekit split``):

- ``dev.jsonl``, ``test.jsonl``: the items of each side, as the records a run
  snapshots (Example, ScoredExample or LabelledOutput lines);
- ``split.json``: the :class:`SplitInfo` record: the source, the seed and
  share asked for, each side's size, clusters, label counts and content
  hash (``records.content_hash``, the same hash a run's manifest gives its
  dataset), and the source's card, so a side loads as a dataset of its own;
- ``ledger.jsonl``: appended by runs on the split (``judgekit.runs.ledger``).

judgekit never writes the first three again (they are made read-only), and
every read recomputes each side's hash: an edited ``test.jsonl`` is refused,
so test figures always mean the items the split froze.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from judgekit.data.cards import Card
from judgekit.data.loader import Dataset
from judgekit.data.split import assign_test, cluster_key, stratum
from judgekit.errors import BadInput
from judgekit.records import (
    FORMAT_VERSION,
    Example,
    LabelledOutput,
    Record,
    RunKind,
    ScoredExample,
    content_hash,
    describe_validation_error,
    read_jsonl,
    write_jsonl,
)

SPLIT_FILE = "split.json"
SIDES = ("dev", "test")
Side = Literal["dev", "test"]
ITEM_TYPES: dict[str, type[Record]] = {"pairwise": Example, "pointwise": ScoredExample, "classify": LabelledOutput}


class SideSummary(Record):
    """One side of a split, as ``split.json`` records it."""

    n: int
    clusters: int
    labels: dict[str, int]
    """Items per stratum balanced: the gold label (``none`` when unlabelled); for scored responses the
    rounded human score (``score 3``)."""
    content_hash: str
    """``records.content_hash`` of the side's items: what a run on it records as its dataset hash."""


class SplitInfo(Record):
    """``split.json``: what was split, how, and what each side holds."""

    format_version: int = FORMAT_VERSION
    kind: RunKind
    source: str
    """The dataset id split (a card id, or the file's name)."""
    source_hash: str
    source_origin: str
    """Where the source was read from."""
    test_share: float
    seed: int
    created_at: str
    package_version: str
    dev: SideSummary
    test: SideSummary
    card: dict[str, Any]
    """The source's card (with any --mapping/--labels applied): how a side loads as a dataset."""


@dataclass(frozen=True)
class Split:
    """A split dir read and verified: its record and both sides as datasets."""

    path: Path
    info: SplitInfo
    dev: Dataset
    test: Dataset

    def side(self, name: Side) -> Dataset:
        return self.dev if name == "dev" else self.test


def write_split(dataset: Dataset, out: Path, *, test_share: float, seed: int, created_at: str,
                package_version: str) -> SplitInfo:
    """Split ``dataset`` into ``out`` (which must not exist; its parents are made): built beside it, then renamed
    into place, so a split dir is never half written."""
    if not 0 < test_share < 1:
        raise BadInput(f"--test: the test share must be between 0 and 1, got {test_share:g}")
    if out.exists():
        raise BadInput(f"{out}: already exists; a split is made once (choose another --out)")
    items = list(dataset.examples)
    keys = [cluster_key(e) for e in items]
    strata = [stratum(e) for e in items]
    in_test = assign_test(keys, strata, test_share, seed)
    sides = {name: [i for i, t in enumerate(in_test) if t == (name == "test")] for name in SIDES}
    if not sides["dev"] or not sides["test"]:
        raise BadInput(f"{dataset.id}: {len(items)} items in {len(set(keys))} clusters cannot be split so that "
                       f"both sides hold some at --test {test_share:g}")
    info = SplitInfo(
        kind=dataset.kind, source=dataset.id, source_hash=dataset.content_hash, source_origin=dataset.source,
        test_share=test_share, seed=seed, created_at=created_at, package_version=package_version,
        card=dataset.card.model_dump(mode="json"),
        **{name: _summary([items[i] for i in sides[name]], [keys[i] for i in sides[name]],
                          [strata[i] for i in sides[name]]) for name in SIDES},
    )
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in SIDES:
            write_jsonl(staging / f"{name}.jsonl", [items[i] for i in sides[name]])
        (staging / SPLIT_FILE).write_text(info.model_dump_json(indent=2) + "\n", encoding="utf-8")
        for name in (SPLIT_FILE, *(f"{side}.jsonl" for side in SIDES)):
            (staging / name).chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        staging.rename(out)
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise BadInput(f"--out {out}: cannot write the split ({e.strerror})") from None
    return info


def read_split(path: Path) -> Split:
    """The split at ``path``, each side checked against the hash ``split.json`` recorded for it."""
    info = _read_info(path)
    item_type = ITEM_TYPES[info.kind]
    card = Card.model_validate(info.card)
    sides = {}
    for name in SIDES:
        file = path / f"{name}.jsonl"
        items = tuple(read_jsonl(file, item_type))
        expected = getattr(info, name).content_hash
        if content_hash(items) != expected:
            raise BadInput(f"{file}: its content no longer matches the hash in {SPLIT_FILE} ({expected[:19]}...): "
                           f"the {name} side was edited after the split; restore it or make a new split")
        sides[name] = Dataset(f"{info.source}:{name}", items, card, f"split {path} ({name} side)")
    return Split(path, info, sides["dev"], sides["test"])


def item_key(input_text: str, output: str) -> str:
    """An item's content identity for the leakage guard: its input and output, whitespace-normalised."""
    text = json.dumps([" ".join(input_text.split()), " ".join(output.split())], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_no_test_examples(protocol: Any, split: Split) -> None:
    """Refuse a protocol (or any member of it) whose few-shot examples hold an item of the test side.

    Few-shot examples are labelled outputs, so only a classify split's items can leak into them.
    """
    if split.info.kind != "classify":
        return
    test_items = {item_key(e.input, e.output): e.id for e in split.test.examples}
    for owner in _with_members(protocol):
        for i, shot in enumerate(owner.examples, start=1):
            found = test_items.get(item_key(shot["input"], shot["output"]))
            if found is not None:
                raise BadInput(f"{owner.source}: examples: example {i} (output {_snippet(shot['output'])}) is the "
                               f"test item {found} of {split.path}; few-shot examples must come from the dev side")


def _with_members(protocol: Any) -> list[Any]:
    return [protocol, *(p for m in protocol.members for p in _with_members(m.protocol))]


def _snippet(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 1] + "…")


def _summary(items: Sequence[Any], keys: Sequence[str], strata: Sequence[str]) -> SideSummary:
    return SideSummary(n=len(items), clusters=len(set(keys)), labels=dict(sorted(Counter(strata).items())),
                       content_hash=content_hash(items))


def _read_info(path: Path) -> SplitInfo:
    file = path / SPLIT_FILE
    if not path.is_dir():
        raise BadInput(f"{path}: not a split dir (no such directory; make one with judgekit split)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{file}: missing (not a split dir; make one with judgekit split)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{file}: not valid JSON ({e})") from None
    try:
        return SplitInfo.model_validate(data)
    except ValidationError as e:
        raise BadInput(f"{file}: {describe_validation_error(e)}") from None
