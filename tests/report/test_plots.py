"""Figures carry the numbers they are given: bar lengths, CI bars, matrix cells, labels."""

from __future__ import annotations

import base64
import io
import math

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from judgekit.report.plots import (
    accuracy_figure,
    bias_figure,
    figure_data_uri,
    heatmap,
    run_labels,
    significance_table,
)

ROWS = [
    {"run": "runs/x/gpt4", "judge": "openai:gpt-4", "protocol": "llmbar/vanilla", "dataset": "d", "accuracy": 0.8,
     "accuracy_ci": [0.7, 0.85], "invalid_rate": 0.0, "position_bias": 0.55, "position_bias_ci": [0.5, 0.6],
     "length_bias": 0.3, "self_preference_bias": 0.2, "self_preference_bias_ci": [0.1, 0.35]},
    {"run": "runs/y/llama", "judge": "openai:llama", "protocol": "llmbar/vanilla", "dataset": "d", "accuracy": 0.6,
     "accuracy_ci": [0.5, 0.7], "invalid_rate": 0.1, "position_bias": 0.7, "length_bias": None,
     "self_preference_bias": None},
]


def _bar_widths(ax) -> list[float]:
    return [patch.get_width() for patch in ax.patches]


def test_run_labels_keep_only_what_differs():
    assert run_labels(ROWS) == ["openai:gpt-4", "openai:llama"]
    same = [dict(ROWS[0]), dict(ROWS[0], run="runs/z/gpt4-again")]
    assert run_labels(same) == ["openai:gpt-4 (x/gpt4)", "openai:gpt-4 (z/gpt4-again)"]
    mixed = [ROWS[0], dict(ROWS[0], protocol="llmbar/cot", run="r2")]
    assert run_labels(mixed) == ["llmbar/vanilla", "llmbar/cot"]


def test_accuracy_bars_and_ci_whiskers_match_the_rows():
    fig = accuracy_figure(ROWS)
    ax = fig.axes[0]
    # the first row is drawn at the top (largest y)
    bars = sorted(ax.patches, key=lambda p: -p.get_y())
    assert [round(b.get_width(), 9) for b in bars] == [0.8, 0.6]
    whiskers = ax.collections[0].get_segments()  # errorbar's horizontal lines, one per row
    spans = sorted(((seg[0][0], seg[1][0]) for seg in whiskers), reverse=True)
    assert np.allclose(spans, [(0.7, 0.85), (0.5, 0.7)])
    texts = [t.get_text() for t in ax.texts]
    assert "0.800" in texts and any("invalid 10.0%" in t for t in texts)
    at = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    assert at["openai:gpt-4"] > at["openai:llama"]


def test_bias_panels_show_missing_figures_as_na():
    fig = bias_figure(ROWS)
    position, length, self_pref = fig.axes
    assert sorted(_bar_widths(position)) == pytest.approx([0.55, 0.7])
    assert sorted(_bar_widths(length)) == pytest.approx([0.0, 0.3])
    assert [t.get_text() for t in length.texts] == ["n/a"]
    assert sorted(_bar_widths(self_pref)) == pytest.approx([0.0, 0.2])
    assert self_pref.get_xlim() == (-1, 1)


def test_significance_table_is_antisymmetric_with_stars_for_small_p():
    board = [{"run": "r1", "rank": 1}, {"run": "r2", "rank": 2}, {"run": "r3", "rank": 3}]
    comparisons = [
        {"run_1": "r1", "run_2": "r2", "difference": 0.1, "p_value": 0.01, "p_holm": 0.02},
        {"run_1": "r1", "run_2": "r3", "difference": 0.2, "p_value": 0.2, "p_holm": 0.2},
    ]
    adjusted, text = significance_table(board, comparisons)
    assert adjusted.loc["#1", "#2"] == adjusted.loc["#2", "#1"] == 0.02  # coloured by the adjusted p
    assert math.isnan(adjusted.loc["#2", "#3"]) and text.loc["#2", "#3"] == ""
    assert text.loc["#1", "#2"].startswith("+0.100*") and "p=0.01 holm=0.02" in text.loc["#1", "#2"]
    assert text.loc["#2", "#1"].startswith("-0.100*")
    assert text.loc["#3", "#1"].startswith("-0.200\n")


def test_heatmap_annotates_every_known_cell_with_readable_ink():
    table = pd.DataFrame([[0.0, 1.0], [np.nan, 0.5]], index=["r1", "r2"], columns=["c1", "c2"])
    fig = heatmap(table, cmap="Greys", vmin=0, vmax=1)
    ax = fig.axes[0]
    texts = {t.get_text(): t.get_color() for t in ax.texts}
    assert set(texts) == {"0.00", "1.00", "0.50"}
    assert texts["0.00"] == "black" and texts["1.00"] == "white"  # Greys: 0 is white, 1 is black


def test_data_uri_is_a_png_of_the_figure():
    fig = accuracy_figure(ROWS)
    uri = figure_data_uri(fig, dpi=50)
    assert uri.startswith("data:image/png;base64,")
    pixels = mpimg.imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 200
    assert pixels[..., :3].std() > 0.05  # something is drawn
