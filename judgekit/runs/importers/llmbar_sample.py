"""The bundled LLMBar Natural sample: 40 label-balanced pairs and LLMBar's recorded verdicts on them.

The offline default run (``judgekit run``) judges this sample and sets the
result beside what LLMBar's own judges (Zeng et al., ICLR 2024, arXiv
2310.07641; MIT licence) said about the same pairs, so a first run already
answers "how does this judge compare with GPT-4 on human-labelled data?".

How the pairs are drawn, deterministically and with no random-number library
whose stream could change between versions: for every item of upstream
``Dataset/LLMBar/Natural/dataset.json`` (index i, 0-based) take the sha256 of
the text ``judgekit-llmbar-natural-40:<i>``; among the items with label 1,
keep the 20 with the smallest digests, likewise among label 2; list the 40
kept items in upstream order. Labels are LLMBar's curated gold labels.

The recorded verdicts are each evaluator's ``Vanilla`` run (LLMBar's rules
prompt, both presentation orders) on those items, stored compactly as one
line per evaluator: the winner in each order (``a``/``b``, null when LLMBar
could not parse the answer), already in the original numbering.

``write_sample`` regenerates the bundle from an upstream checkout:

    python -m judgekit.runs.importers.llmbar_sample $JUDGEKIT_DATA_DIR/llmbar meta_datasets/llmbar_natural_40
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from judgekit.data import Dataset, load_dataset
from judgekit.errors import BadInput
from judgekit.records import Example, OrderResult, Verdict, json_lines
from judgekit.resources import meta_datasets_root
from judgekit.runs.importers.llmbar import EVALUATOR_MODELS, INVALID_POLICY, protocol_for, read_evaluator_dir
from judgekit.runs.importers.recorded import recorded_manifest, write_run
from judgekit.runs.run_dir import Run, is_run_dir

SAMPLE_ID = "llmbar/natural-40"
SAMPLE_DIR = "llmbar_natural_40"
SEED_TEXT = "judgekit-llmbar-natural-40"
PER_LABEL = 20
STRATEGY = "Vanilla"
NATURAL = Path("Dataset/LLMBar/Natural")
FILES = ("pairs.jsonl", "recorded.jsonl")


def select(labels: Sequence[int]) -> list[int]:
    """Indices kept: per label, the PER_LABEL items whose seeded digest is smallest; in upstream order."""
    def digest(i: int) -> str:
        return hashlib.sha256(f"{SEED_TEXT}:{i}".encode()).hexdigest()

    kept: list[int] = []
    for label in sorted(set(labels)):
        candidates = [i for i, value in enumerate(labels) if value == label]
        if len(candidates) < PER_LABEL:
            raise BadInput(f"LLMBar Natural: only {len(candidates)} items with label {label}, need {PER_LABEL}")
        kept += sorted(candidates, key=digest)[:PER_LABEL]
    return sorted(kept)


def build_sample(llmbar_root: str | Path) -> dict[str, str]:
    """The bundle's files (name -> text) from an upstream LLMBar checkout (or the staged copy)."""
    root = Path(llmbar_root)
    subset = root / NATURAL
    try:
        items = json.loads((subset / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise BadInput(f"{subset / 'dataset.json'}: cannot read LLMBar Natural ({e})") from None
    kept = select([item["label"] for item in items])
    pairs = [{"index": i, "input": items[i]["input"], "output_1": items[i]["output_1"],
              "output_2": items[i]["output_2"], "label": items[i]["label"]} for i in kept]
    natural = load_dataset("llmbar/natural", path=subset / "dataset.json")
    recorded = []
    for evaluator in sorted(p.name for p in (subset / "evaluators").iterdir() if (p / STRATEGY).is_dir()):
        imported = read_evaluator_dir(subset / "evaluators" / evaluator / STRATEGY, dataset=natural)
        winners = []
        for i in kept:
            orders = {o.swapped: o.winner for o in imported.verdicts[i].orders}
            winners.append([orders[False], orders[True]])
        recorded.append({"evaluator": evaluator, "judge_model": EVALUATOR_MODELS[evaluator],
                         "strategy": STRATEGY, "index": kept, "winners": winners})
    return {"pairs.jsonl": _jsonl(pairs), "recorded.jsonl": _jsonl(recorded)}


def write_sample(llmbar_root: str | Path, out_dir: str | Path) -> None:
    """Regenerate ``pairs.jsonl`` and ``recorded.jsonl`` in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in build_sample(llmbar_root).items():
        (out / name).write_text(text, encoding="utf-8")


def recorded_runs(dataset: Dataset, out_dir: str | Path | None = None) -> list[Run]:
    """LLMBar's recorded judges on the sample as runs; also written as run dirs under ``out_dir`` if missing.

    Replaying costs no calls: each verdict is the recorded pair of winners,
    combined as the importer combines them (agreeing orders give the winner,
    disagreeing ones a tie, an unparseable order an invalid verdict). The
    run dirs let ``judgekit compare`` and the HTML page read them later.
    """
    if dataset.id != SAMPLE_ID:
        raise BadInput(f"{dataset.id}: recorded LLMBar verdicts are bundled only for {SAMPLE_ID}")
    source = meta_datasets_root().joinpath(SAMPLE_DIR, "recorded.jsonl")
    runs = []
    for line_no, record in json_lines(source.read_text(encoding="utf-8"), str(source)):
        name = f"{record['evaluator']}-{record['strategy']}"
        path = Path(out_dir) / name if out_dir is not None else Path(f"llmbar-recorded/{name}")
        run = _recorded_run(path, dataset, record, f"{source}:{line_no}")
        if out_dir is not None and not is_run_dir(path):
            write_run(path, run.manifest, run.examples, run.verdicts)
        runs.append(run)
    return runs


def _recorded_run(path: Path, dataset: Dataset, record: dict, where: str) -> Run:
    examples = list(dataset.examples)
    expected = [e.id.rsplit("/", 1)[1] for e in examples]
    if [str(i) for i in record["index"]] != expected or len(record["winners"]) != len(examples):
        raise BadInput(f"{where}: field 'index': the recorded items are not the sample's {len(examples)} pairs")
    manifest = recorded_manifest(
        dataset, n_verdicts=len(examples), judge=f"llmbar:{record['evaluator']}", judge_model=record["judge_model"],
        protocol=protocol_for(record["strategy"]), invalid_policy=INVALID_POLICY,
        params={"llmbar_evaluator": record["evaluator"], "llmbar_strategy": record["strategy"]},
        source=f"{where} (LLMBar's recorded verdicts, replayed)",
    )
    verdicts = [_verdict(e, first, second) for e, (first, second) in zip(examples, record["winners"], strict=True)]
    return Run(path, manifest, examples, verdicts)


def _verdict(example: Example, first: str | None, second: str | None) -> Verdict:
    orders = (OrderResult(swapped=False, raw="", winner=first), OrderResult(swapped=True, raw="", winner=second))
    if first is None or second is None:
        return Verdict(example_id=example.id, winner=None, orders=orders, invalid_reason="unparseable")
    return Verdict(example_id=example.id, winner=first if first == second else "tie", orders=orders)


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m judgekit.runs.importers.llmbar_sample LLMBAR_ROOT OUT_DIR", file=sys.stderr)
        return 2
    write_sample(argv[0], argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
