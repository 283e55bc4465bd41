"""Test-retest stability: repeats with distinct sample indices, their agreement, and the rerun flip rate."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from conftest import KILLS_PROCESSES, run_judgekit
from servers import ScriptedServer
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

import judgekit
from judgekit.agreement.retest import flip_rate, icc_absolute, item_sd, repeat_agreement
from judgekit.analysis.stability import rerun_flip_rate, stability_figures
from judgekit.backends.base import Message, Request
from judgekit.backends.cache import cache_key
from judgekit.errors import BadInput
from judgekit.records import Example, content_hash
from judgekit.runs.run_dir import read_run
from judgekit.runs.stability import REPEAT_STRIDE, read_repeats, run_repeats

JUDGEKIT = str(Path(sys.executable).parent / "judgekit")

ONE_ORDER = """\
id: test/one-order
description: LLMBar's vanilla prompt, the original order only.
citation: Zeng et al. 2024 (LLMBar), arXiv 2310.07641.
strategy: pairwise
orders: original
parser: {format: llmbar}
params: {temperature: 0.0, max_tokens: 16}
templates:
  compare: |-
    Which output is better? Output (a) or Output (b)?
    {{ instruction }}
    [Output (a)]
    {{ output_1 }}
    [Output (b)]
    {{ output_2 }}
"""


def pairs(n: int) -> list[Example]:
    return [Example(id=f"p{i}", instruction=f"Question {i}?", response_a=f"answer {i}", response_b=f"reply {i}",
                    gold="a") for i in range(n)]


def stability_dir(tmp_path, judge_spec: str, n: int, repeats: int, protocol: str | None = None):
    """K repeats of a judge on n pairs, through the runner and a response cache of their own."""
    if protocol is None:
        spec = tmp_path / "one-order.yaml"
        spec.write_text(ONE_ORDER, encoding="utf-8")
        protocol = str(spec)
    judge = judgekit.load_judge(judge_spec, protocol, cache=tmp_path / "cache")
    examples = pairs(n)

    async def go():
        try:
            return await run_repeats(judge, "pairs", content_hash(examples), examples, repeats=repeats,
                                     out=tmp_path / "stability")
        finally:
            await judge.aclose()

    asyncio.run(go())
    return tmp_path / "stability"


# -- the statistics, by hand --------------------------------------------------------

CODES = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 2]])
"""Three items, three repeats: unanimous, two against one, all different."""


def test_agreement_by_hand_and_fleiss_kappa_against_statsmodels():
    found = repeat_agreement(CODES, 3)
    # per item: the share of its 3 repeat pairs that agree
    assert found.item_agreement.tolist() == pytest.approx([1, 1 / 3, 0])
    assert found.changed.tolist() == [False, True, True] and found.changed_rate == pytest.approx(2 / 3)
    # P-bar = 4/9, label shares 6/9, 2/9, 1/9 -> P_e = 41/81; kappa = (36 - 41) / (81 - 41)
    assert found.fleiss_kappa == pytest.approx(-5 / 40)
    assert found.fleiss_kappa == pytest.approx(fleiss_kappa(aggregate_raters(CODES)[0], method="fleiss"))
    assert flip_rate(CODES, 3).estimate == pytest.approx(5 / 9)


def test_fleiss_kappa_matches_statsmodels_on_random_verdicts():
    codes = np.random.default_rng(3).integers(0, 4, size=(50, 5))
    assert repeat_agreement(codes, 4).fleiss_kappa == pytest.approx(
        fleiss_kappa(aggregate_raters(codes)[0], method="fleiss"))


SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
"""Shrout & Fleiss (1979), Table 2: six targets rated by four judges; their ICC(2,1) is 0.29."""


def test_icc_is_shrout_and_fleiss_published_value_and_the_anova_by_hand():
    assert icc_absolute(SHROUT_FLEISS) == pytest.approx(0.29, abs=0.005)
    # the mean squares by hand: rows (targets) 11.24, columns (judges) 32.49, residual 1.02 (their Table 3)
    x = SHROUT_FLEISS.astype(float)
    n, k = x.shape
    msr = k * ((x.mean(1) - x.mean()) ** 2).sum() / (n - 1)
    msc = n * ((x.mean(0) - x.mean()) ** 2).sum() / (k - 1)
    mse = (((x - x.mean(1, keepdims=True) - x.mean(0) + x.mean()) ** 2).sum()) / ((n - 1) * (k - 1))
    assert (round(msr, 2), round(msc, 2), round(mse, 2)) == (11.24, 32.49, 1.02)
    assert icc_absolute(SHROUT_FLEISS) == pytest.approx((msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n))
    assert item_sd(np.array([[1, 2, 3], [4, 4, 4]])).tolist() == pytest.approx([1.0, 0.0])


def test_bad_shapes_are_bad_input():
    with pytest.raises(BadInput, match="two repeats"):
        repeat_agreement(np.array([[0], [1]]), 2)
    with pytest.raises(BadInput, match="0..1"):
        repeat_agreement(np.array([[0, 2]]), 2)


# -- sample indices and the cache ---------------------------------------------------

def test_sample_zero_keeps_todays_cache_key_and_repeats_get_their_own():
    request = Request(messages=(Message("user", "hi"),))
    key = cache_key("openai", "m", "https://api.openai.com/v1", request)
    assert key == cache_key("openai", "m", "https://api.openai.com/v1", Request(messages=request.messages, sample=0))
    keys = {cache_key("openai", "m", "https://api.openai.com/v1",
                      Request(messages=request.messages, sample=r * REPEAT_STRIDE)) for r in range(4)}
    assert len(keys) == 4 and key in keys


# -- a seeded random mock judge: expected flip rates ---------------------------------

def by_hand(verdicts: list[list[str]]) -> tuple[float, float]:
    """(flip rate, share changed) counted the plain way from each item's verdicts per repeat."""
    flips = [np.mean([a != b for a, b in combinations(row, 2)]) for row in verdicts]
    return float(np.mean(flips)), float(np.mean([len(set(row)) > 1 for row in verdicts]))


@pytest.mark.parametrize(("policy", "p_first"), [("random", 1 / 2),
                                                 ("random=Output (a)|Output (a)|Output (a)|Output (b)", 3 / 4)])
def test_a_seeded_random_judge_flips_as_often_as_expected(tmp_path, policy, p_first):
    n, k = 200, 3
    path = stability_dir(tmp_path, f"mock:{policy}", n, k)
    runs = read_repeats(path)
    assert [r.manifest.params["sample"] for r in runs] == [REPEAT_STRIDE, 2 * REPEAT_STRIDE, 3 * REPEAT_STRIDE]
    verdicts = [[run.verdicts[i].winner for run in runs] for i in range(n)]
    figures = stability_figures(runs)
    flips, changed = by_hand(verdicts)
    assert figures["flip_rate"] == pytest.approx(flips) and figures["changed_rate"] == pytest.approx(changed)
    assert len(figures["straddling"]) == round(changed * n)
    # expected: two repeats differ with chance 2pq; some repeat differs with chance 1 - p^3 - q^3
    q = 1 - p_first
    expected_flips, expected_changed = 2 * p_first * q, 1 - p_first**3 - q**3
    sd_flips = np.sqrt((4 / 9 * expected_changed - expected_flips**2) / n)  # an item's flip share is 0 or 2/3
    sd_changed = np.sqrt(expected_changed * (1 - expected_changed) / n)
    assert abs(flips - expected_flips) < 3 * sd_flips
    assert abs(changed - expected_changed) < 3 * sd_changed
    assert abs(figures["fleiss_kappa"]) < 0.1  # a coin agrees with itself by chance only
    found = rerun_flip_rate(path)
    assert (found.rate, found.n) == (pytest.approx(flips), n) and found.low < found.rate < found.high


def test_a_deterministic_judge_never_flips(tmp_path):
    path = stability_dir(tmp_path, "mock:first", 5, 2)
    found = rerun_flip_rate(path)
    assert (found.rate, found.low, found.high, found.n) == (0, 0, 0, 5)
    assert stability_figures(read_repeats(path))["changed_rate"] == 0


def test_a_rerun_is_answered_from_the_cache(tmp_path):
    stability_dir(tmp_path, "mock:random", 4, 2)
    judge = judgekit.load_judge("mock:random", str(tmp_path / "one-order.yaml"), cache=tmp_path / "cache")
    examples = pairs(4)

    async def go():
        try:
            return await run_repeats(judge, "pairs", content_hash(examples), examples, repeats=3,
                                     out=tmp_path / "stability")
        finally:
            await judge.aclose()

    asyncio.run(go())
    assert judge.call_path.usage.calls == 4  # only repeat 3 was asked; repeats 1 and 2 were complete
    assert len(read_repeats(tmp_path / "stability")) == 3


# -- the command, on every run kind ---------------------------------------------------

def cli_json(monkeypatch, capsys, *args) -> dict:
    code, out, err = run_judgekit(monkeypatch, capsys, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_stability_of_a_pairwise_run_from_the_command(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "one-order.yaml"
    spec.write_text(ONE_ORDER, encoding="utf-8")
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:random", "--protocol", spec,
                                "--dataset", "judgekit/bundled", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    data = cli_json(monkeypatch, capsys, "stability", tmp_path / "run", "--repeats", "3", "--protocol", spec, "--quiet")
    runs = read_repeats(tmp_path / "run-stability")
    verdicts = [[run.verdicts[i].winner for run in runs] for i in range(len(runs[0].verdicts))]
    assert (data["flip_rate"], data["changed_rate"]) == pytest.approx(by_hand(verdicts))
    assert data["repeats"] == 3 and data["n"] == len(verdicts) and data["headline"] == "accuracy"
    assert data["headlines"] == [pytest.approx(np.mean([v == "a" if e.gold == "a" else v == "b" for v, e in
                                                        zip(column, runs[0].examples)])) for column in zip(*verdicts)]
    assert data["headline_sd"] == pytest.approx(np.std(data["headlines"], ddof=1))
    assert {s["id"] for s in data["straddling"]} == {e.id for e, row in zip(runs[0].examples, verdicts)
                                                     if len(set(row)) > 1}
    for item in data["straddling"]:  # three repeats: a verdict given twice is the majority, else none is
        top = max(item["votes"].values())
        assert item["majority"] == (max(item["votes"], key=item["votes"].get) if top == 2 else None)
    # the table and the page; the page lists every straddling item
    code, out, _ = run_judgekit(monkeypatch, capsys, "stability", tmp_path / "run-stability")
    assert code == 0 and "rerun flip rate" in out and "Fleiss" in out
    code, out, _ = run_judgekit(monkeypatch, capsys, "stability", tmp_path / "run-stability", "--format", "html")
    page = (tmp_path / "run-stability" / "stability.html").read_text(encoding="utf-8")
    assert code == 0 and all(f"<td>{s['id']}</td>" in page for s in data["straddling"])


LABELS_CSV = "id,question,answer,label\n" + "".join(f"q{i},Question {i}?,Answer {i},{'fail' if i % 3 else 'pass'}\n"
                                                     for i in range(30))


def test_stability_of_a_classify_run(tmp_path, monkeypatch, capsys):
    data_file = tmp_path / "labels.csv"
    data_file.write_text(LABELS_CSV, encoding="utf-8")
    code, _, err = run_judgekit(
        monkeypatch, capsys, "run", "--judge", "mock:random=Looks fine.\npass|Made up.\nfail", "--protocol",
        "classify/binary", "--dataset", data_file, "--mapping", "id=id,input=question,response=answer,label=label",
        "--labels", "pass=pass,fail=fail", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    data = cli_json(monkeypatch, capsys, "stability", tmp_path / "run", "--repeats", "2", "--quiet")
    runs = read_repeats(tmp_path / "run-stability")
    labels = [[run.verdicts[i].label for run in runs] for i in range(30)]
    assert {label for row in labels for label in row} == {"pass", "fail"}
    assert data["kind"] == "classify" and data["headline"] == "cohen_kappa"
    assert (data["flip_rate"], data["changed_rate"]) == pytest.approx(by_hand(labels))
    assert data["fleiss_kappa"] == pytest.approx(fleiss_kappa(aggregate_raters(
        np.array([[row[0] == "pass", row[1] == "pass"] for row in labels], dtype=int))[0]))


SCORED = "".join(json.dumps({"pid": f"p{i // 3}", "text": f"response {i}", "model": f"s{i % 3}", "f1": 1 + i % 5,
                             "f2": 1 + (i + 1) % 5}) + "\n" for i in range(24))


def test_stability_of_a_pointwise_run_gives_score_sd_and_icc(tmp_path, monkeypatch, capsys):
    data_file = tmp_path / "scored.jsonl"
    data_file.write_text(SCORED, encoding="utf-8")
    code, _, err = run_judgekit(
        monkeypatch, capsys, "run", "--judge", "mock:random=Score: 2|Score: 3|Score: 5", "--protocol",
        "pointwise/likert", "--dataset", data_file,
        "--mapping", "input=pid,response=text,system=model,score.fluency=f1+f2,scale=1-5",
        "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    data = cli_json(monkeypatch, capsys, "stability", tmp_path / "run", "--repeats", "3", "--quiet")
    runs = read_repeats(tmp_path / "run-stability")
    scores = np.array([[run.verdicts[i].criteria["fluency"].score for run in runs] for i in range(24)])
    fluency = data["criteria"]["fluency"]
    assert fluency["icc"] == pytest.approx(icc_absolute(scores))
    assert fluency["mean_item_sd"] == pytest.approx(scores.std(axis=1, ddof=1).mean())
    assert fluency["changed_rate"] == pytest.approx(np.mean([len(set(row)) > 1 for row in scores]))
    assert data["flip_rate"] == pytest.approx(by_hand([[f"{s:g}" for s in row] for row in scores])[0])


def test_imported_runs_and_stability_dirs_are_refused_with_one_line(tmp_path, monkeypatch, capsys):
    code, _, err = run_judgekit(monkeypatch, capsys, "stability", tmp_path / "nowhere", "--repeats", "2")
    assert code == 2 and "not a run dir" in err
    stability_dir(tmp_path, "mock:first", 3, 2)
    code, _, err = run_judgekit(monkeypatch, capsys, "stability", tmp_path / "stability", "--repeats", "2")
    assert code == 2 and "not a run dir" in err and "Traceback" not in err


@KILLS_PROCESSES
def test_kill_9_mid_repeats_then_rerun_pays_for_nothing_twice(tmp_path, monkeypatch, capsys):
    asked: Counter = Counter()

    def answer(call):
        asked[(call.prompt, call.body.get("seed"))] += 1
        return random.Random(f"{call.prompt}{call.body.get('seed')}").choice(["Output (a)", "Output (b)"])

    spec = tmp_path / "one-order.yaml"
    spec.write_text(ONE_ORDER, encoding="utf-8")
    env = {**os.environ, "JUDGEKIT_CACHE_DIR": str(tmp_path / "cache")}
    with ScriptedServer(answer=answer, latency=0.05) as server:
        base = ["--base-url", server.openai_url]
        done = subprocess.run([JUDGEKIT, "run", "--judge", "openai:judge", *base, "--protocol", str(spec),
                               "--dataset", "judgekit/bundled", "--out", str(tmp_path / "run"), "--quiet"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        n = len(read_run(tmp_path / "run").verdicts)
        command = [JUDGEKIT, "stability", str(tmp_path / "run"), "--repeats", "3", "--protocol", str(spec),
                   "--concurrency", "1", "--quiet"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        second = tmp_path / "run-stability" / "repeat-2" / "verdicts.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not second.exists() or len(second.read_text().splitlines()) < 3):
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert len(second.read_text().splitlines()) < n  # killed in the middle of repeat 2
        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
    assert sorted({seed for _, seed in asked}, key=str) == [1000, 2000, 3000, None]  # the run itself sends none
    assert len(asked) == 4 * n  # every item once per repeat, and once in the run
    assert sum(asked.values()) - len(asked) <= 1  # at most the one call in flight at the kill was asked again
    assert all(read_run(tmp_path / "run-stability" / f"repeat-{r}").manifest.complete for r in (1, 2, 3))


def test_a_random_judge_seen_in_both_orders_flips_five_times_in_eight(tmp_path):
    """llmbar/vanilla asks both orders; a coin per order gives a, b (each 1/4) or, when they disagree, a tie (1/2).
    Two repeats then differ with chance 1 - (1/16 + 1/16 + 1/4) = 5/8; one of three differs with 1 - (2/64 + 1/8)."""
    n = 200
    runs = read_repeats(stability_dir(tmp_path, "mock:random", n, 3, protocol="llmbar/vanilla"))
    figures = stability_figures(runs)
    disagreement = 1 - np.array([item["agreement"] for item in figures["items"]])
    assert {v for item in figures["items"] for v in item["verdicts"]} == {"a", "b", "tie"}
    assert abs(figures["flip_rate"] - 5 / 8) < 3 * disagreement.std(ddof=1) / np.sqrt(n)
    assert abs(figures["changed_rate"] - (1 - 2 / 64 - 1 / 8)) < 3 * np.sqrt(0.84375 * 0.15625 / n)


def test_an_unfinished_repeat_is_compared_on_the_items_every_repeat_judged(tmp_path):
    path = stability_dir(tmp_path, "mock:random", 40, 2)
    second = path / "repeat-2"
    lines = (second / "verdicts.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (second / "verdicts.jsonl").write_text("".join(lines[:10]), encoding="utf-8")  # as if killed after 10 items
    manifest = json.loads((second / "manifest.json").read_text(encoding="utf-8"))
    manifest |= {"complete": False, "n_verdicts": 10}
    (second / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    runs = read_repeats(path)
    kept = {v.example_id for v in runs[1].verdicts}
    figures = stability_figures(runs)
    assert figures["n"] == 10 and not figures["complete"]
    on_kept = [[v.winner == "a" for v in run.verdicts if v.example_id in kept] for run in runs]
    assert figures["headlines"] == [pytest.approx(np.mean(right)) for right in on_kept]


def test_the_embedded_judges_draws_are_independent_across_prompts_and_repeatable_per_prompt():
    from judgekit.backends.local import sampler

    draws = {(sample, prompt): sampler(sample, list(prompt)).random(4).tolist()
             for sample in (1000, 2000) for prompt in ((1, 2, 3), (1, 2, 4))}
    assert len({tuple(d) for d in draws.values()}) == 4  # another prompt or another repeat: other numbers
    assert sampler(1000, [1, 2, 3]).random(4).tolist() == draws[(1000, (1, 2, 3))]  # the same request: the same
