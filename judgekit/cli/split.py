"""``judgekit split``: a frozen dev/test split; and what ``judgekit run --split DIR --on SIDE`` adds to a run.

A run on a split judges one side's items, refuses a protocol whose few-shot
examples hold a test item, and appends its start and end to the split's
ledger (``judgekit.runs.ledger``), which ``judgekit versions`` reads.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from judgekit.cli.options import FORMAT, OutputFormat
from judgekit.errors import BadInput


class Side(str, Enum):
    dev = "dev"
    test = "test"


def register(app: typer.Typer) -> None:
    """Attach ``split`` to the main app."""
    app.command("split")(split_command)


def split_command(
    dataset: str = typer.Argument(..., help="Meta-dataset id, card or data file (pairs, scored responses or "
                                            "labelled outputs)."),
    out: Path = typer.Option(..., "--out", "-o", help="The split dir to create; it must not exist."),
    test: float = typer.Option(0.3, "--test", help="Share of the items on the test side, e.g. 0.3."),
    seed: int = typer.Option(0, "--seed", help="Seed of the assignment: the same seed gives the same split."),
    mapping: str | None = typer.Option(None, "--mapping", help="FIELD=COLUMN pairs for a data file, as for "
                                                                  "judgekit run."),
    labels: str | None = typer.Option(None, "--labels", help="VALUE=LABEL pairs, as for judgekit run."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Split only the first N items."),
    format: OutputFormat = FORMAT,
) -> None:
    """Split a labelled set into dev and test once, keeping clusters whole and label shares equal.

    Items sharing an instruction or input (or a declared cluster) land on one
    side; each label's share (for scored data, each rounded human score's) is
    kept on both sides. Writes dev.jsonl, test.jsonl and split.json (sizes,
    label counts, content hashes), read-only; judge a side with judgekit run
    --split DIR --on dev|test.

    Example: judgekit split halueval --test 0.3 --seed 7 --out splits/halueval
    """
    from judgekit.data import load_dataset
    from judgekit.data.split_dir import write_split
    from judgekit.runs.runner import now
    from judgekit.version import __version__

    loaded = load_dataset(dataset, mapping=mapping, labels=labels, limit=limit)
    info = write_split(loaded, out, test_share=test, seed=seed, created_at=now(), package_version=__version__)
    if format is OutputFormat.json:
        typer.echo(info.model_dump_json(indent=2, exclude={"card"}))
        return
    Console().print(_sides_table(info))
    Console().print(f"split dir: {out} (read-only); next: judgekit run --split {out} --on dev ...",
                    highlight=False, soft_wrap=True)


def _sides_table(info: Any) -> Table:
    strata = sorted({name for side in (info.dev, info.test) for name in side.labels})
    total = info.dev.n + info.test.n
    table = Table(title=f"{info.source} ({info.kind}): {total} items split {1 - info.test_share:g} / "
                        f"{info.test_share:g}, seed {info.seed}", title_justify="left")
    for header in ("side", "items", "clusters", *strata, "content hash"):
        table.add_column(header, justify="left" if header in ("side", "content hash") else "right")
    whole = {name: info.dev.labels.get(name, 0) + info.test.labels.get(name, 0) for name in strata}
    for name, side in (("dev", info.dev), ("test", info.test)):
        table.add_row(name, str(side.n), str(side.clusters),
                      *(f"{side.labels.get(s, 0)} ({side.labels.get(s, 0) / side.n:.1%})" for s in strata),
                      side.content_hash[:19])
    table.add_row("whole", str(total), str(info.dev.clusters + info.test.clusters),
                  *(f"{whole[s]} ({whole[s] / total:.1%})" for s in strata), info.source_hash[:19])
    return table


class SplitRun:
    """``judgekit run --split DIR --on SIDE``: the side's data, the leakage guard and the ledger lines."""

    def __init__(self, path: Path, on: Side) -> None:
        from judgekit.data.split_dir import read_split

        self.split = read_split(path)
        self.on = on

    @classmethod
    def open(cls, split: Path | None, on: Side | None, *, other_data: bool, limit: int | None,
             out: Path | None) -> SplitRun | None:
        """None without --split; refuses --on without --split, data options beside it, and an --out inside it."""
        if split is None:
            if on is not None:
                raise BadInput("--on: names a side of a split; give the split with --split DIR")
            return None
        if on is None:
            raise BadInput(f"--split {split}: say which side to judge with --on dev or --on test")
        if other_data:
            raise BadInput("--split: the split holds the data; drop --dataset, --mapping and --labels")
        if on is Side.test and limit is not None:
            raise BadInput("--limit: a test-side run judges the whole test side (its figure is the one reported)")
        if out is not None and split.resolve() in out.absolute().resolve().parents:
            raise BadInput(f"--out {out}: is inside the split dir {split}, which judgekit never writes; put runs "
                           "elsewhere")
        return cls(split, on)

    def data(self, limit: int | None) -> Any:
        """The side's items as a dataset (a dev run may take the first ``limit``)."""
        from dataclasses import replace

        side = self.split.side(self.on.value)
        return side if limit is None else replace(side, examples=side.examples[:limit])

    def check(self, protocol: str) -> None:
        """Refuse a protocol whose few-shot examples hold a test item (judged on either side)."""
        from judgekit.data.split_dir import check_no_test_examples
        from judgekit.protocols import load_protocol

        check_no_test_examples(load_protocol(protocol), self.split)

    def started(self, run_path: Path, manifest: Any) -> None:
        """Record the run before its first call: a run killed on the test side still counts as a look."""
        self._append("started", run_path, manifest)

    def finished(self, run: Any) -> None:
        """Record the run's headline figure with its interval."""
        from judgekit.analysis.compare import report

        row = report([run])["runs"][0]
        figure = row["headline"]
        self._append("finished", run.path, run.manifest, headline=figure, value=row.get(figure),
                     ci=row.get(f"{figure}_ci"), complete=run.manifest.complete)

    def _append(self, event: str, run_path: Path, manifest: Any, **figures: Any) -> None:
        from judgekit.judge.identity import version_of
        from judgekit.runs.ledger import LedgerEntry, append_entry
        from judgekit.runs.runner import now

        append_entry(self.split.path, LedgerEntry(
            event=event, on=self.on.value, version=version_of(manifest), judge=manifest.judge,
            protocol=manifest.protocol, protocol_hash=manifest.protocol_hash, params=manifest.params,
            run=str(Path(run_path).resolve()), time=now(), n=manifest.n_examples, dataset_hash=manifest.dataset_hash,
            **figures,
        ))
