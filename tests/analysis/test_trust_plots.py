"""The trust figures draw the numbers of the trust JSON (reliability bins, accuracy-coverage curve)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_judgekit
from test_trust import _logprob_run, _write

from judgekit.agreement.alt_test import alt_test_json
from judgekit.analysis.trust import TrustOptions, run_alt_test, trust_figures
from judgekit.data.examples import majority
from judgekit.records import Example, OrderResult, Verdict
from judgekit.report.trust_html import trust_section
from judgekit.report.trust_plots import coverage_figure, reliability_figure


def test_figures_plot_the_reported_figures(tmp_path):
    figures = trust_figures(_logprob_run(tmp_path / "run"), TrustOptions(target_accuracy=0.8, n_resamples=200))
    cal, sel = figures["calibration"], figures["selective"]
    ax = reliability_figure(cal).axes[0]
    raw = ax.lines[1]
    assert list(raw.get_xdata()) == pytest.approx([b["confidence"] for b in cal["reliability"]])
    assert list(raw.get_ydata()) == pytest.approx([b["accuracy"] for b in cal["reliability"]])
    ax = coverage_figure(sel).axes[0]
    curve = ax.lines[0]
    assert list(curve.get_xdata()) == pytest.approx(sel["curve"]["coverage"])
    assert np.asarray(ax.lines[2].get_xdata())[0] == pytest.approx(sel["coverage"])
    assert any(f"coverage {sel['coverage']:.2f}" in t.get_text() for t in ax.get_legend().get_texts())


def _voted_run(path):
    """A run over items with three human votes each (some missing), judged by a fair-to-middling judge."""
    rng = np.random.default_rng(1)
    examples, verdicts = [], []
    for i in range(90):
        truth = rng.choice(["a", "b"])
        votes = tuple(truth if rng.random() < 0.85 else ("b" if truth == "a" else "a") for _ in range(3))
        examples.append(Example(id=f"v/{i}", instruction=f"q{i}", response_a="x", response_b="y",
                                gold=majority(votes), votes=votes))
        winner = truth if rng.random() < 0.75 else ("b" if truth == "a" else "a")
        verdicts.append(Verdict(example_id=f"v/{i}", winner=winner,
                                orders=(OrderResult(swapped=False, raw=winner, winner=winner),)))
    return _write(path, examples, verdicts, protocol="llmbar/vanilla")


def test_html_section_shows_epsilon_and_hides_the_annotator_table_one_click_away(tmp_path):
    voted = _voted_run(tmp_path / "voted")
    confident = _logprob_run(tmp_path / "logprob")
    options = TrustOptions(epsilon=0.15, target_accuracy=0.8, n_resamples=100)
    figures_per_run = [trust_figures(run, options) for run in (voted, confident)]
    html = str(trust_section(figures_per_run, ["voted judge", "logprob judge"], target_accuracy=0.8))
    alt = alt_test_json(run_alt_test(voted, epsilon=0.15, name="voted"))["candidates"]["voted"]
    assert '<table id="alt-test">' in html and "<td class=\"num\">0.15</td>" in html
    assert f"{alt['advantage_probability']:.3f}" in html
    details = html[html.index('<details class="run alt-annotators">'):]
    assert details.startswith('<details class="run alt-annotators">\n')  # closed: one click away
    assert details.index("annotator 3") < details.index("</details>")
    assert html.count('class="coverage-curve"') == 1 and "data:image/png;base64," in html
    figures = trust_figures(confident, options)
    assert f"{figures['calibration']['ece']:.3f}" in html and f"{figures['selective']['coverage']:.3f}" in html


def test_html_section_escapes_run_labels(tmp_path):
    figures = trust_figures(_voted_run(tmp_path / "v"), TrustOptions(n_resamples=50))
    html = str(trust_section([figures], ["<script>x</script>"], target_accuracy=0.9))
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html


def test_report_compare_and_html_carry_the_alt_test(tmp_path, monkeypatch, capsys):
    voted = _voted_run(tmp_path / "voted")
    _logprob_run(tmp_path / "logprob")
    code, out, err = run_judgekit(monkeypatch, capsys, "report", tmp_path / "voted", tmp_path / "logprob",
                                  "--epsilon", "0.15", "--resamples", "50", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["runs"]
    expected = alt_test_json(run_alt_test(voted, epsilon=0.15, name="judge"))["candidates"]["judge"]
    assert rows[0]["alt_test"]["epsilon"] == 0.15
    assert rows[0]["alt_test"]["advantage_probability"] == pytest.approx(expected["advantage_probability"])
    assert rows[0]["alt_test"]["annotators"] == expected["annotators"]
    assert rows[1]["alt_test"] is None  # no votes on those items
    code, out, err = run_judgekit(monkeypatch, capsys, "compare", tmp_path / "voted", tmp_path / "logprob",
                                  "--resamples", "50", "--format", "markdown")
    assert code == 0 and f"ρ {expected['advantage_probability']:.3f} at ε 0.2" in out
    page = tmp_path / "page.html"
    code, _, err = run_judgekit(monkeypatch, capsys, "compare", tmp_path / "voted", tmp_path / "logprob",
                                "--resamples", "50", "--target-accuracy", "0.8", "--format", "html", "--out", page)
    assert code == 0, err
    html = page.read_text()
    assert '<h2 id="trust">' in html and '<details class="run alt-annotators">' in html
    assert "coverage at accuracy 0.8" in html and 'class="coverage-curve"' in html
