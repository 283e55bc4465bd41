"""Coverage of ``judgekit estimate``'s intervals on staged data with a known full labelling (bench/README.md).

Usage: python bench/bench_estimate.py [--simulations 5000] [--seed 0] [--no-recorded] [--sizes 100,250,500,1000]

Each case is a run whose every item has a human label. A simulation keeps
the labels of n items drawn uniformly at random without replacement, hides
the rest, computes every method's interval at 95 % exactly as ``judgekit
estimate`` does (``judgekit.agreement.ppi``) and checks whether it holds the
truth: the mean over all the run's items. The table gives each method's
empirical coverage and mean half-width.

Cases:
- HaluEval general (4,507 human yes/no labels; an item is its line number)
  with simulated judges of known sensitivity and specificity for "fail"
  (a hallucination): each judge's verdict on each item is drawn once, with a
  fixed seed, and then stays fixed, as a real judge's verdicts do. The target
  is the pass rate (815 fail, 3,692 pass: 0.8192).
- Recorded judges (unless ``--no-recorded``): PandaLM's gpt-3.5-turbo
  verdicts (win rate of response 1, ties half; the human majority as truth)
  and HANNA's ChatGPT coherence scores, prompt 1 (mean of the three human
  scores; 96 prompts with 11 stories each, so also with the clustered
  variance). Their arrays come from ``analysis.estimate.outcomes``, the code
  the command runs.

Exit 1 if classical, ppi or ppi++ covers less than 93 % anywhere.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("JUDGEKIT_DATA_DIR", str(REPO.parent / "shared" / "datasets"))

from judgekit.agreement.ppi import classical_mean, naive_mean, ppi_mean, rogan_gladen  # noqa: E402 (after the env)

JUDGES = {"good (Se 0.85, Sp 0.90)": (0.85, 0.90), "fair (Se 0.70, Sp 0.80)": (0.70, 0.80),
          "over-flags (Se 0.90, Sp 0.60)": (0.90, 0.60)}
"""Simulated judges: sensitivity and specificity for 'fail'."""
SIZES = (100, 250, 500, 1000)
RECORDED_SIZES = (100, 300)
FLOOR = 0.93
VALID = ("classical", "ppi", "ppi++")


def simulate(y: np.ndarray, f: np.ndarray, n: int, *, simulations: int, seed: int, binary: bool,
             clusters: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Coverage and mean half-width of each method over random labelled subsets of size n."""
    truth = y.mean()
    rng = np.random.default_rng(seed)
    hits: dict[str, list[bool]] = {}
    widths: dict[str, list[float]] = {}
    for _ in range(simulations):
        mask = np.zeros(len(y), bool)
        mask[rng.choice(len(y), n, replace=False)] = True
        groups = {} if clusters is None else {"groups": clusters[mask], "groups_unlabelled": clusters[~mask]}
        results = {
            "naive": naive_mean(f, groups=clusters),
            "classical": classical_mean(y[mask], groups=groups.get("groups")),
            "ppi": ppi_mean(y[mask], f[mask], f[~mask], lam=1.0, **groups),
            "ppi++": ppi_mean(y[mask], f[mask], f[~mask], lam=None, **groups),
        }
        if binary and clusters is None:
            rg = rogan_gladen(1 - y[mask], 1 - f[mask], 1 - f[~mask])  # prevalence of fail, then as a pass rate
            results["rogan-gladen"] = type(results["naive"])(1 - rg.estimate, 1 - rg.high, 1 - rg.low, rg.se)
        for name, r in results.items():
            if np.isnan(r.low):
                continue
            hits.setdefault(name, []).append(r.low <= truth <= r.high)
            widths.setdefault(name, []).append((r.high - r.low) / 2)
    return {name: (float(np.mean(hits[name])), float(np.mean(widths[name]))) for name in hits}


def halueval_cases(seed: int, sizes: tuple[int, ...] = SIZES):
    from judgekit.data.loader import load_dataset

    dataset = load_dataset("halueval")
    fail = np.array([e.gold == "fail" for e in dataset.examples])
    y = (~fail).astype(float)
    for k, (name, (sens, spec)) in enumerate(JUDGES.items()):
        draw = np.random.default_rng(seed + 100 + k).random(len(y))
        said_fail = np.where(fail, draw < sens, draw >= spec)
        yield f"HaluEval pass rate, judge {name}", y, (~said_fail).astype(float), True, None, sizes


def recorded_cases(tmp: Path):
    from judgekit.analysis.estimate import HumanLabels, Target, outcomes
    from judgekit.records import RunInMemory
    from judgekit.runs.importers.hanna import read_hanna
    from judgekit.runs.importers.pandalm import import_pandalm

    pandalm = import_pandalm("gpt-3.5-turbo", tmp / "pandalm")
    labels = {e.id: e.gold for e in pandalm.examples if e.gold is not None}
    o = outcomes(pandalm, Target("win_rate", "a"), HumanLabels(tmp, labels, {}, 0), clusters=False)
    keep = o.labelled  # items without a human majority are outside the population
    yield "PandaLM gpt-3.5-turbo, win rate of response 1", o.y, o.judge[keep], False, None, RECORDED_SIZES
    hanna = read_hanna(llms=("ChatGPT",), prompts=(1,))[0]
    run = RunInMemory(tmp / "hanna", hanna.manifest, list(hanna.examples), list(hanna.ratings))
    scores = {e.id: e.criteria["coherence"].mean for e in run.examples}
    o = outcomes(run, Target("mean_score", "coherence"), HumanLabels(tmp, scores, {}, 0))
    yield "HANNA ChatGPT p1, mean coherence (independent-items variance)", o.y, o.judge, False, None, RECORDED_SIZES
    yield (f"HANNA ChatGPT p1, mean coherence (clustered variance, {o.n_clusters} prompts)", o.y, o.judge, False,
           o.clusters, RECORDED_SIZES)


def main() -> int:
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--simulations", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-recorded", action="store_true")
    parser.add_argument("--sizes",
                        help="Comma-separated labelled sizes for the HaluEval cases (default 100,250,500,1000).")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else SIZES
    started, cpu = time.perf_counter(), time.process_time()
    methods = ("naive", "classical", "ppi", "ppi++", "rogan-gladen")
    print(f"{args.simulations} simulated labelled subsets per row, "
          f"seed {args.seed}; Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print("| case | N | truth | n | " + " | ".join(f"{m} cover (± mean)" for m in methods) + " |")
    print("|---|---|---|---|" + "---|" * len(methods))
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = list(halueval_cases(args.seed, sizes)) + ([] if args.no_recorded else list(recorded_cases(Path(tmp))))
        for name, y, f, binary, clusters, sizes in cases:
            for n in sizes:
                result = simulate(y, f, n, simulations=args.simulations, seed=args.seed + n, binary=binary,
                                  clusters=clusters)
                cells = [f"{result[m][0]:.3f} (±{result[m][1]:.4f})" if m in result else "-" for m in methods]
                print(f"| {name} | {len(y):,} | {y.mean():.4f} | {n:,} | " + " | ".join(cells) + " |", flush=True)
                missed += [(name, n, m, result[m][0]) for m in VALID if result[m][0] < FLOOR]
    print(f"wall {time.perf_counter() - started:.1f} s, CPU {time.process_time() - cpu:.1f} s")
    for name, n, method, coverage in missed:
        print(f"MISSED: {method} covers {coverage:.3f} < {FLOOR} on {name}, n = {n}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
