"""LLMBar's published per-run figures come out of our functions under the ``llmbar`` policy.

Every recorded evaluator run: correct_False, correct_True, correct_average,
correct_both and equal from its statistics.json, recomputed from result.json
with LLMBar's invalid-verdict convention (an unparseable verdict is wrong; two
unparseable orders agree). The import/report path has its own reproduction test.
"""

from __future__ import annotations

import json
import re

import pytest

from judgekit.agreement import pairwise_summary, positional_agreement

LABEL = {"1": "a", "2": "b", None: None}


def _fraction(text: str) -> tuple[int, int]:
    count, total = re.match(r"\s*(\d+)\s*/\s*(\d+)", text).groups()
    return int(count), int(total)


def test_every_recorded_llmbar_run_reproduces(data_dir):
    runs = sorted((data_dir / "llmbar" / "Dataset").glob("**/evaluators/*/*/result.json"))
    assert len(runs) >= 200
    with_invalid = 0
    for path in runs:
        stats = json.loads((path.parent / "statistics.json").read_text())
        items = json.loads(path.read_text())
        gold = [LABEL[str(item["label"])] for item in items]
        first = [LABEL[item["results"][-1]["swap = False"]["winner"]] for item in items]
        second = [LABEL[item["results"][-1]["swap = True"]["winner"]] for item in items]
        with_invalid += None in first + second
        n = len(items)
        summary = pairwise_summary(gold, first, second, invalid="llmbar", n_resamples=20)
        where = str(path.relative_to(data_dir))
        for field, ours in [
            ("correct_False", summary.accuracy_first_order),
            ("correct_True", summary.accuracy_second_order),
            ("correct_both", summary.accuracy_both_orders),
            ("equal", summary.positional_agreement),
        ]:
            count, total = _fraction(stats[field])
            assert total == n, where
            assert round(ours.estimate * n) == count and ours.estimate == pytest.approx(count / n), (where, field)
        published_average = float(stats["correct_average"].rstrip("%")) / 100
        assert summary.accuracy.estimate == pytest.approx(published_average, abs=5e-4), where
        if None in first + second:
            # Without LLMBar's convention two invalid orders would not agree.
            strict = positional_agreement(first, second)
            both_invalid = sum(f is None and s is None for f, s in zip(first, second, strict=True))
            assert strict == pytest.approx(summary.positional_agreement.estimate - both_invalid / n), where
    assert with_invalid >= 50
