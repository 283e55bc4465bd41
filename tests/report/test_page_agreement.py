"""One figure, four places: ``report`` JSON, ``compare`` JSON, the HTML page and ``Run.summary()`` agree.

For a pairwise, a pointwise and a classify run dir (two runs each, so compare
pairs them), every figure ``Run.summary()`` lists is read back from the other
three with its interval: from the JSON rows, and from the page's cells, which
carry each number unrounded in ``data-value`` / ``data-low`` / ``data-high``.
"""

from __future__ import annotations

import functools
import json
import math
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

import pytest
import run_dirs
from conftest import module_cli

from judgekit.records import Usage
from judgekit.runs.run_dir import read_run

HOSTILE = "<script>alert('x')</script> & <b>bold</b>"

_COUNTS = {"n", "n_clusters", "calls", "cache_hits", "retries", "tokens_in", "tokens_out", "cost_usd"}
"""Rows of ``Run.summary()`` that are counts, not agreement figures: checked against the JSON rows only."""
_CALL_PATH = {"refused", "timeouts", "prefix_restarts"}
"""Rows of ``Run.summary()`` read from the verdicts and manifest, in no report row."""


def _shared(judge: str, dataset: str, n: int) -> dict:
    """Manifest fields of every run here: the judge and its model, the dataset, usage to total."""
    return {"judge": judge, "judge_model": judge.split(":")[1], "dataset": dataset,
            "usage": Usage(calls=n, tokens_in=10 * n, tokens_out=n, cost_usd=0.001 * n)}


def pairwise_run(path: Path, judge: str, wrong_every: int, *, combined: bool = False) -> Path:
    """24 pairs, gold alternating a/b; the first order is wrong every ``wrong_every`` items, the second
    every ``wrong_every + 1``, one second order is invalid. ``combined``: a final verdict headline."""
    examples = run_dirs.pairs(24, prefix="pw/", instruction=lambda i: f"question {i % 8}", response_a=lambda i: f"A{i}",
                              response_b=lambda i: f"B{i} " * i, generator_a="gpt-4o", generator_b="llama-3")
    picks, finals = [], []
    for i, e in enumerate(examples):
        other = "b" if e.gold == "a" else "a"
        first = other if i % wrong_every == 0 else e.gold
        second = None if i == 5 else (other if i % (wrong_every + 1) == 0 else e.gold)
        picks.append((first, second))
        finals.append(first if first == second else (e.gold if i % 3 else other))
    extra = {"strategy": "logprob", "headline": "accuracy_final"} if combined else {}
    return run_dirs.pairwise_run(path, picks, examples=examples, winners=finals,
                                 raws=lambda i, order: f"{('first', 'second')[order]} {i}",
                                 **_shared(judge, "toy-pairs", len(examples)), **extra)


def pointwise_run(path: Path, judge: str, noise: int) -> Path:
    """Eight inputs x three systems, two criteria; the judge's score is the human mean moved by a fixed pattern."""
    human, scores = [], []
    for p in range(8):
        for s in range(3):
            q = 1 + (p + 2 * s) % 5
            human.append({"fluency": (q, min(5, q + 1)), "coherence": (max(1, q - 1), q)})
            shift = ((p * 3 + s * 5) % (2 * noise + 1)) - noise
            scores.append({name: min(5, max(1, round(sum(h) / 2 + shift))) for name, h in human[-1].items()})
    scores[2 * 3 + 1]["fluency"] = None  # input 2, system 1
    examples = run_dirs.scored(human, inputs=[f"in{i // 3}" for i in range(24)],
                               systems=[f"sys{i % 3}" for i in range(24)], prefix="pt/")
    return run_dirs.pointwise_run(path, scores, examples=examples, headline="item_kendall",
                                  **_shared(judge, "toy-scored", len(examples)))


def classify_run(path: Path, judge: str, wrong_every: int, *, invalid: tuple[int, ...] = (7,)) -> Path:
    """30 outputs, a third labelled fail; the judge flips every ``wrong_every``-th label and gives no label
    on ``invalid``. Outputs and raw texts carry markup that must show as text."""
    gold = ["fail" if i % 3 == 0 else "pass" for i in range(30)]
    said = [None if i in invalid else ("pass" if g == "fail" else "fail") if i % wrong_every == 0 else g
            for i, g in enumerate(gold)]
    return run_dirs.classify_run(
        path, said, examples=run_dirs.outputs(gold, output=lambda i: f"output {i} {HOSTILE}"),
        raws=lambda i: f"cannot tell {i} {HOSTILE}" if said[i] is None else f"Verdict {i}: {said[i]} {HOSTILE}",
        protocol="classify/pass-fail", headline="cohen_kappa", **_shared(judge, "toy-outputs", len(gold)))


class PageNumbers(HTMLParser):
    """The numbers a judgekit page carries in data- attributes.

    ``lead``: run -> (ranked figure, value, [low, high]) from the leaderboard;
    ``cells``: (run, figure) -> (value, [low, high]) from the table of every figure.
    """

    def __init__(self, page: str) -> None:
        super().__init__()
        self.lead: dict[str, tuple[str, float | None, list[float] | None]] = {}
        self.cells: dict[tuple[str, str], tuple[float | None, list[float] | None]] = {}
        self._row: tuple[str, str] | None = None
        self._cell: tuple[str, str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-run" in a:
            self._row = (a["data-run"], a["data-figure"])
            self.lead[a["data-run"]] = (a["data-figure"], None, None)
        elif tag == "td" and self._row and "value" in (a.get("class") or "").split():
            figure, _, ci = self.lead[self._row[0]]
            self.lead[self._row[0]] = (figure, _number(a.get("data-value")), ci)
        elif tag == "td" and self._row and "ci" in (a.get("class") or "").split() and "data-low" in a:
            figure, value, _ = self.lead[self._row[0]]
            self.lead[self._row[0]] = (figure, value, [float(a["data-low"]), float(a["data-high"])])
        elif tag == "td" and "data-figure" in a:
            self._cell = (a["data-run"], a["data-figure"])
            self.cells[self._cell] = (_number(a.get("data-value")), None)
        elif tag == "span" and self._cell and "data-low" in a:
            self.cells[self._cell] = (self.cells[self._cell][0], [float(a["data-low"]), float(a["data-high"])])

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None
        elif tag == "td":
            self._cell = None


def _number(text: str | None) -> float | None:
    return None if text is None else float(text)


def _same(a, b) -> bool:
    """Equal numbers (None and NaN count as "no value"), or equal intervals."""
    if isinstance(a, list) or isinstance(b, list):
        return a is not None and b is not None and len(a) == len(b) and all(map(_same, a, b))

    def missing(v):
        return v is None or (isinstance(v, float) and math.isnan(v))

    if missing(a) or missing(b):
        return missing(a) and missing(b)
    return float(a) == float(b)


class Views(NamedTuple):
    """One kind's two runs seen four ways: report JSON rows, compare JSON rows (by run), the page's numbers
    (and the page), and each run's summary frame."""

    runs: list[Path]
    report: dict
    board: dict
    numbers: PageNumbers
    summaries: dict
    compared: dict
    page: str


def _four_views(cli, root: Path, kind: str) -> Views:
    runs = KINDS[kind](root)
    code, out, err = cli("report", *runs, "--format", "json")
    assert code == 0, err
    report = {row["run"]: row for row in json.loads(out)["runs"]}
    code, out, err = cli("compare", *runs, "--format", "json")
    assert code == 0, err
    compared = json.loads(out)
    board = {row["run"]: row for row in compared["leaderboard"]}
    code, _, err = cli("report", *runs, "--format", "html", "--out", root / "page.html")
    assert code == 0, err
    page = (root / "page.html").read_text(encoding="utf-8")
    summaries = {str(run): read_run(run).summary() for run in runs}
    return Views(runs, report, board, PageNumbers(page), summaries, compared, page)


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    """``views(kind)``: the kind's runs and four views, made once for the module (its tests only read them)."""
    @functools.cache
    def made(kind: str) -> Views:
        with module_cli(tmp_path_factory) as cli:
            return _four_views(cli, tmp_path_factory.mktemp(kind), kind)

    return made


KINDS = {
    "pairwise": lambda tmp: [pairwise_run(tmp / "careful", "openai:gpt-4o", 5),
                             pairwise_run(tmp / "combined", "openai:llama-3", 3, combined=True)],
    "pointwise": lambda tmp: [pointwise_run(tmp / "close", "openai:gpt-4o", 1),
                              pointwise_run(tmp / "far", "openai:llama-3", 2)],
    "classify": lambda tmp: [classify_run(tmp / "strict", "openai:gpt-4o", 6),
                             classify_run(tmp / "lenient", "openai:llama-3", 3, invalid=(4, 10))],
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_report_compare_page_and_summary_agree_on_every_figure(kind, views):
    """Each summary figure, value and interval, is the same number in report, compare and on the page."""
    _, report, board, numbers, summaries, compared, _ = views(kind)
    assert compared["kind"] == kind and len(compared["comparisons"]) == 1
    for run, frame in summaries.items():
        headline = frame.attrs["headline"]
        assert frame.index[2 if "n_clusters" in frame.index else 1] == headline  # after n (and clusters)
        figure, value, ci = numbers.lead[run]
        assert figure == board[run]["ranked_by"] == report[run]["headline"] == headline
        for found in (value, report[run][headline], board[run][headline]):
            assert _same(found, frame.loc[headline, "value"]), (run, headline, found)
        for found in (ci, report[run][f"{headline}_ci"], board[run][f"{headline}_ci"]):
            assert _same(found, frame.loc[headline, ["ci_low", "ci_high"]].tolist()), (run, headline, found)
        checked = 0
        for name, (value, low, high) in frame.iterrows():
            if name in _CALL_PATH:
                continue
            expected_ci = None if math.isnan(low) else [low, high]
            for row in (report[run], board[run]):
                assert _same(row[name], value), (run, name, row[name], value)
            if name in _COUNTS:
                continue
            page_value, page_ci = numbers.cells[run, name]
            assert _same(page_value, value), (run, name, page_value, value)
            assert _same(page_ci, expected_ci) if expected_ci else page_ci is None, (run, name, page_ci)
            if expected_ci:
                assert _same(report[run][f"{name}_ci"], expected_ci) and _same(board[run][f"{name}_ci"], expected_ci)
            checked += 1
        assert checked >= 4, (run, checked)  # the headline and at least three more figures were compared


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_number_on_the_page_is_the_json_s(kind, views):
    """Every cell of the page's table of every figure (biases and usage too) is compare's and report's number."""
    _, report, board, numbers, _, _, _ = views(kind)
    assert {run for run, _ in numbers.cells} == set(board) == set(report)
    for (run, name), (value, ci) in numbers.cells.items():
        if value is None and ci is None and isinstance(board[run][name], str):
            continue  # a text cell (judge, protocol, headline)
        for row in (board[run], report[run]):
            assert _same(value, row[name]), (run, name, value, row[name])
            assert _same(ci, row.get(f"{name}_ci")) if ci else not row.get(f"{name}_ci"), (run, name, ci)
    assert len(numbers.cells) >= 2 * 15


def test_a_changed_number_on_the_page_is_caught(views):
    """The page parser reads the figure the page shows: a page whose headline differs is told apart."""
    runs, _, board, numbers, _, _, page = views("classify")
    run = str(runs[0])
    shown = numbers.lead[run][1]
    assert _same(shown, board[run]["cohen_kappa"])
    tampered = PageNumbers(page.replace(f'data-value="{shown}"', 'data-value="0.123"', 1))
    assert not _same(tampered.lead[run][1], board[run]["cohen_kappa"])


def test_page_shows_the_invalid_rate_of_the_verdicts_it_ranks(views):
    """A combined-verdict run's leaderboard invalid rate is its final verdict's, a per-order run's its orders'."""
    runs, _, board, _, _, _, page = views("pairwise")
    invalid = _lead_invalid(page)
    combined, per_order = str(runs[1]), str(runs[0])
    assert board[combined]["ranked_by"] == "accuracy_final" and board[per_order]["ranked_by"] == "accuracy"
    assert board[combined]["final_invalid_rate"] != board[combined]["invalid_rate"]
    assert _same(invalid[combined], board[combined]["final_invalid_rate"])
    assert _same(invalid[per_order], board[per_order]["invalid_rate"])


def _lead_invalid(page: str) -> dict[str, float]:
    found: dict[str, float] = {}

    class Reader(HTMLParser):
        run = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "tr" and "data-run" in a:
                Reader.run = a["data-run"]
            elif tag == "td" and Reader.run and "invalid" in (a.get("class") or "").split():
                found[Reader.run] = float(a["data-value"])
                Reader.run = None

    Reader().feed(page)
    return found
