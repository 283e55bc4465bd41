"""The embedded judge as a single-output judge: ``logprob/classify`` on a seeded 200-answer HaluEval sample.

Draws 200 of HaluEval's 4,507 answers uniformly at random (seed below), writes
them as a JSONL file, judges them with the embedded model through the CLI
exactly as a user would (``judgekit run --dataset FILE --mapping ... --labels
...``), then prints the report's κ, MCC and balanced accuracy with their
intervals, the confusion matrix, the base rates and the time per answer.

    JUDGEKIT_DATA_DIR=../shared/datasets .venv/bin/python bench/bench_classify_halueval.py [--n 200] [--seed 2026]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from judgekit.data import load_dataset

MAPPING = "id=id,input=query,response=answer,label=hallucination,positive=fail"
LABELS = "yes=fail,no=pass"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--protocol", default="logprob/classify")
    args = parser.parse_args()
    examples = load_dataset("halueval").examples
    pick = np.random.default_rng(args.seed).choice(len(examples), size=args.n, replace=False)
    judgekit = Path(sys.executable).with_name("judgekit")
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "halueval-sample.jsonl"
        with sample.open("w", encoding="utf-8") as f:
            for i in sorted(pick):
                e = examples[i]
                f.write(json.dumps({"id": e.id, "query": e.input, "answer": e.output,
                                    "hallucination": "yes" if e.gold == "fail" else "no"}) + "\n")
        run = Path(tmp) / "run"
        start = time.perf_counter()
        subprocess.run([str(judgekit), "run", "--dataset", str(sample), "--mapping", MAPPING, "--labels", LABELS,
                        "--protocol", args.protocol, "--out", str(run), "--quiet", "--no-cache"], check=True,
                       stdout=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        report = subprocess.run([str(judgekit), "report", str(run), "--format", "json"], check=True,
                                capture_output=True, text=True)
    row = json.loads(report.stdout)["runs"][0]
    print(f"{args.n} HaluEval answers (seed {args.seed}), {args.protocol}, embedded judge")
    for name in ("cohen_kappa", "mcc", "balanced_accuracy", "accuracy"):
        ci = row.get(f"{name}_ci")
        shown = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "(no interval)"
        value = row[name]
        print(f"  {name:18s} {'-' if value is None else f'{value:.3f}'} {shown}")
    print(f"  confusion (rows human, columns judge {row['confusion']['columns']}): {row['confusion']['matrix']}")
    print(f"  base rate human {row['base_rate_human']}, judge {row['base_rate_judge']}")
    print(f"  invalid rate {row['invalid_rate']:.3f}; tpr {row['tpr']}, tnr {row['tnr']}")
    print(f"  wall {elapsed:.1f} s including model load: {elapsed / args.n:.2f} s per answer")


if __name__ == "__main__":
    main()
