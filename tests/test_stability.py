"""Test-retest stability: repeats with distinct sample indices, their agreement, and the rerun flip rate."""

from __future__ import annotations

import asyncio
from itertools import combinations

import numpy as np
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

import judgekit
from judgekit.agreement.retest import flip_rate, icc_absolute, item_sd, repeat_agreement
from judgekit.analysis.stability import rerun_flip_rate, stability_figures
from judgekit.backends.cache import cache_key
from judgekit.backends.base import Message, Request
from judgekit.errors import BadInput
from judgekit.records import Example, content_hash
from judgekit.runs.stability import REPEAT_STRIDE, read_repeats, run_repeats

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
    assert found.majority.tolist()[:2] == [0, 0]
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
