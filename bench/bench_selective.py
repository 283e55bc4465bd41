"""The embedded judge's accuracy-coverage curve on a run dir (bench/README.md, "Selective judging").

Usage: python bench/bench_selective.py RUN_DIR [--target-accuracy 0.9]

Prints the selective accuracy at fixed coverages, the coverage at the target
accuracy (Clopper-Pearson lower bound, bootstrap CI) and the calibration
figures, all through the same functions as ``judgekit trust``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from judgekit.analysis.trust import TrustOptions, trust_figures
from judgekit.runs.run_dir import read_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--target-accuracy", type=float, default=0.9)
    args = parser.parse_args()
    run = read_run(args.run)
    figures = trust_figures(run, TrustOptions(target_accuracy=args.target_accuracy))
    sel, cal = figures["selective"], figures["calibration"]
    curve = sel["curve"]
    coverage, accuracy = np.array(curve["coverage"]), np.array(curve["accuracy"])
    print(f"{run.manifest.judge} · {run.manifest.protocol} · {run.manifest.dataset}: {sel['n']} judged items")
    print("coverage  kept  accuracy on kept")
    for share in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        at = int(np.searchsorted(coverage, share - 1e-9))
        if at < len(coverage):
            print(f"{coverage[at]:8.2f}  {round(coverage[at] * sel['n']):4d}  {accuracy[at]:.3f}")
    low, high = sel["coverage_ci"]
    print(f"coverage at accuracy >= {sel['target_accuracy']:g} ({sel['bound']}): {sel['coverage']:.3f} "
          f"[{low:.3f}, {high:.3f}], threshold {sel['threshold']}")
    print(f"ECE {cal['ece']:.3f} -> {cal['calibrated_ece']:.3f} ({cal['method']}, cross-fitted); "
          f"Brier {cal['brier']:.3f} -> {cal['calibrated_brier']:.3f}")


if __name__ == "__main__":
    main()
