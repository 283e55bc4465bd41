"""How long the HTML report takes, and how big the page gets, for many recorded runs.

Target (issue 8): a page over all 65 recorded LLMBar runs on one subset renders
in under 60 s on a 2-vCPU machine and stays under 25 MB, so it opens in a browser.
Runs are imported from the staged data (JUDGEKIT_DATA_DIR) into a temporary folder.
Run: .venv/bin/python bench/bench_html_report.py (exits 1 if a target is missed).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from judgekit.analysis.compare import Options
from judgekit.analysis.page import page_data
from judgekit.report.html import render_html
from judgekit.runs.importers.llmbar import dataset_for, import_llmbar, load_subset

TARGET_S, TARGET_MB = 60.0, 25.0


def main() -> int:
    root = Path(os.environ.get("JUDGEKIT_DATA_DIR", "../shared/datasets")) / "llmbar" / "Dataset"
    cases = {"MT-Bench, 8 runs": root / "Processed" / "MT-Bench", "Natural, 65 runs": root / "LLMBar" / "Natural"}
    ok = True
    with tempfile.TemporaryDirectory() as work:
        for name, subset in cases.items():
            dirs = sorted(p.parent for p in subset.glob("evaluators/*/*/statistics.json"))
            dataset = load_subset(dirs[0], dataset_for(dirs[0]))
            runs = [import_llmbar(d, Path(work) / name / f"{i}", dataset=dataset) for i, d in enumerate(dirs)]
            start = time.perf_counter()
            page = render_html(page_data(runs, Options(n_resamples=1000)))
            seconds = time.perf_counter() - start
            megabytes = len(page.encode("utf-8")) / 1e6
            met = seconds <= TARGET_S and megabytes <= TARGET_MB
            ok &= met
            print(f"| {name} | {len(runs)} | {seconds:.1f} | {megabytes:.1f} | {'yes' if met else 'NO'} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
