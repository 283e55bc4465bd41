"""The embedded judge against IFEval's program: accuracy and κ per instruction type, and DRFR judge-alone vs mixed.

Draws a seeded sample of GPT-4's IFEval responses (whole prompts, so every
instruction of a drawn prompt is in), writes it as an IFEval response file and
judges it through the CLI as a user would:

1. ``judgekit run --dataset ifeval --responses SAMPLE`` (one output per
   response and instruction, the program's strict verdict as the label), then
   ``judgekit report --by instruction_id``: accuracy and κ per instruction type,
   clustered by prompt, and the time per item;
2. with ``--checklists``: ``ifeval/prompts`` judged by ``classify/checklist``
   (the judge answers every instruction) and ``classify/checklist-program``
   (IFEval's checkers answer what they can, the judge the rest), each
   prompt's DRFR (satisfied / instructions) averaged, beside the program's.

    JUDGEKIT_DATA_DIR=../shared/datasets .venv/bin/python bench/bench_ifeval.py \
        [--prompts 60] [--seed 2311] [--checklists]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GPT4 = "ifeval/instruction_following_eval/data/input_response_data_gpt4_20231107_145030.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2311)
    parser.add_argument("--protocol", default="logprob/classify")
    parser.add_argument("--checklists", action="store_true", help="Also compare DRFR, judge alone vs mixed.")
    args = parser.parse_args()
    lines = (Path(os.environ["JUDGEKIT_DATA_DIR"]) / GPT4).read_text(encoding="utf-8").splitlines(keepends=True)
    picked = sorted(random.Random(args.seed).sample(range(len(lines)), args.prompts))
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.jsonl"
        sample.write_text("".join(lines[i] for i in picked), encoding="utf-8")
        row, elapsed = _judged(Path(tmp) / "one", "ifeval", args.protocol, sample)
        print(f"{args.prompts} IFEval prompts (seed {args.seed}), {row['n']} scored instructions "
              f"({row['n_examples'] - row['n']} unverifiable), {args.protocol}, embedded judge")
        print(f"  wall {elapsed:.1f} s including model load: {elapsed / row['n_examples']:.2f} s per item")
        _figures("all", row)
        for kind, group in sorted(row["groups"].items()):
            _figures(kind, group)
        if args.checklists:
            for protocol in ("classify/checklist", "classify/checklist-program"):
                _drfr(protocol, *_judged(Path(tmp) / protocol.replace("/", "-"), "ifeval/prompts", protocol, sample,
                                         by=None))


def _judged(out: Path, dataset: str, protocol: str, sample: Path, by: str | None = "instruction_id"):
    judgekit = str(Path(sys.executable).with_name("judgekit"))
    start = time.perf_counter()
    subprocess.run([judgekit, "run", "--dataset", dataset, "--responses", str(sample), "--protocol", protocol,
                    "--out", str(out), "--quiet", "--no-cache"], check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    report = subprocess.run([judgekit, "report", str(out), "--format", "json", *(["--by", by] if by else [])],
                            check=True, capture_output=True, text=True)
    row = json.loads(report.stdout)["runs"][0]
    row["run_dir"] = out
    return row, elapsed


def _figures(name: str, row: dict) -> None:
    def shown(figure: str) -> str:
        value, ci = row[figure], row[f"{figure}_ci"]
        return "-" if value is None else f"{value:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
    print(f"  {name:42s} n {row['n']:3d}  accuracy {shown('accuracy'):22s} kappa {shown('cohen_kappa')}")


def _drfr(protocol: str, row: dict, elapsed: float) -> None:
    verdicts = [json.loads(line) for line in (row["run_dir"] / "verdicts.jsonl").read_text().splitlines()]
    judged = [v["details"]["drfr"] for v in verdicts if v["details"].get("drfr") is not None]
    decided = {s: sum(v["details"].get("decided_by", {}).get(s, 0) for v in verdicts) for s in ("program", "judge")}
    print(f"  {protocol}: mean DRFR {sum(judged) / len(judged):.3f} over {len(judged)} prompts; items decided by "
          f"program {decided['program']}, judge {decided['judge']}; prompt-level kappa {row['cohen_kappa']}, "
          f"accuracy {row['accuracy']:.3f}; {elapsed / len(verdicts):.2f} s per prompt")


if __name__ == "__main__":
    main()
