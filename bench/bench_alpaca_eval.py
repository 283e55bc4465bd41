"""judgekit and alpaca_eval side by side: the same 200 judge calls against the same loopback server.

For each (concurrency, latency) the scripted server (tests/servers.py, its own
process, answering like a perfect judge of LLMBar Natural) serves first a
whole ``judgekit run`` (LLMBar Natural, ``llmbar/vanilla``: 100 pairs x 2
orders = 200 calls, ``--no-cache``), then a whole alpaca_eval evaluation
(pinned, ``alpaca-eval==0.6.6`` from the package index, in its own venv so its
requirements never touch judgekit's) of the same 100 pairs, each twice under
a numbered instruction (200 calls), with its ``chatgpt`` annotator (LLMBar's
"Output (a)" prompt) and ``num_procs`` = the concurrency. Both are timed as
whole processes; each ratio is wall / (ceil(200 / concurrency) x latency).

    .venv/bin/python bench/bench_alpaca_eval.py [--cases 16:1,64:1] [--venv DIR]

The venv is made on first use (``python -m venv DIR && DIR/bin/pip install
alpaca-eval==0.6.6``). Needs the staged data (``JUDGEKIT_DATA_DIR``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_whole_run import CALLS, DATASET, machine, start_server, timed_run  # noqa: E402

ALPACA_EVAL = "alpaca-eval==0.6.6"
DEFAULT_VENV = Path.home() / ".cache" / "judgekit-bench" / "alpaca-eval-0.6.6"

DRIVER = r'''
import json, shutil, sys
from pathlib import Path
import alpaca_eval
from alpaca_eval.main import evaluate

pairs_file, config_dir, concurrency = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
pairs = json.loads(Path(pairs_file).read_text())
model, reference = [], []
for k, (instruction, a, b) in enumerate([(p["instruction"], p["a"], p["b"]) for p in pairs] * 2):
    model.append({"instruction": f"({k}) {instruction}", "output": a, "generator": "model"})
    reference.append({"instruction": f"({k}) {instruction}", "output": b, "generator": "reference"})
shipped = Path(alpaca_eval.__file__).parent / "evaluators_configs" / "chatgpt"
config_dir.mkdir(parents=True, exist_ok=True)
shutil.copy(shipped / "basic_prompt.txt", config_dir / "basic_prompt.txt")
(config_dir / "configs.yaml").write_text(f"""bench:
  prompt_template: "{config_dir.name}/basic_prompt.txt"
  fn_completions: "openai_completions"
  completions_kwargs:
    model_name: "gpt-3.5-turbo-0301"
    max_tokens: 50
    temperature: 0
    num_procs: {concurrency}
  completion_parser_kwargs:
    outputs_to_match:
      1: '(?:^|\\n) ?Output \\(a\\)'
      2: '(?:^|\\n) ?Output \\(b\\)'
  batch_size: 1
""")
leaderboard, annotations = evaluate(model_outputs=model, reference_outputs=reference,
                                    annotators_config=str(config_dir / "configs.yaml"), output_path=None,
                                    precomputed_leaderboard=None, is_return_instead_of_print=True,
                                    fn_metric="get_winrate", sort_by="win_rate", caching_path=None)
print(json.dumps({"annotated": len(annotations)}))
'''



def alpaca_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", ALPACA_EVAL], check=True)
    return python


def timed_alpaca_eval(python: Path, url: str, pairs: Path, concurrency: int, workdir: Path) -> float:
    """Wall seconds of one alpaca_eval process annotating the 200 rows; fails if any is left unannotated."""
    env = {**os.environ, "OPENAI_API_BASE": url + "/v1", "OPENAI_API_KEY": "no-key-needed"}
    start = time.perf_counter()
    done = subprocess.run([str(python), "-c", DRIVER, str(pairs), str(workdir), str(concurrency)], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"alpaca_eval failed:\n{done.stderr[-3000:]}")
    if json.loads(done.stdout.strip().splitlines()[-1])["annotated"] != CALLS:
        raise SystemExit(f"alpaca_eval annotated fewer than {CALLS} rows:\n{done.stdout[-2000:]}")
    return wall


def main(cases: list[tuple[int, float]], venv: Path) -> None:
    if not os.environ.get("JUDGEKIT_DATA_DIR"):
        raise SystemExit("set JUDGEKIT_DATA_DIR to the staged datasets folder (LLMBar Natural)")
    from judgekit.data import load_dataset

    python = alpaca_python(venv)
    print(machine())
    print("| concurrency | latency s | calls | ideal s | judgekit wall s | judgekit wall / ideal "
          "| alpaca_eval wall s | alpaca_eval wall / ideal |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        pairs = Path(tmp) / "pairs.json"
        pairs.write_text(json.dumps([{"instruction": e.instruction, "a": e.response_a, "b": e.response_b}
                                     for e in load_dataset(DATASET).examples]))
        for concurrency, latency in cases:
            server, url = start_server(latency)
            try:
                ours = timed_run(url, concurrency, Path(tmp) / f"run-{concurrency}-{latency}")
                peer = timed_alpaca_eval(python, url, pairs, concurrency, Path(tmp) / f"alpaca-{concurrency}-{latency}")
            finally:
                server.terminate()
                server.wait(10)
            ideal = math.ceil(CALLS / concurrency) * latency
            print(f"| {concurrency} | {latency:g} | {CALLS} | {ideal:g} | {ours:.2f} | {ours / ideal:.2f} "
                  f"| {peer:.2f} | {peer / ideal:.2f} |", flush=True)
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="16:1,64:1", help="CONCURRENCY:LATENCY pairs")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="alpaca_eval's own venv (made if missing)")
    options = parser.parse_args()
    main([(int(c), float(lat)) for c, lat in (case.split(":") for case in options.cases.split(","))], options.venv)
