"""The HTML page: self-contained, escaped, complete; and it renders in headless Chromium."""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import pytest
import run_dirs
from markupsafe import escape
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from test_page_agreement import classify_run

from judgekit.analysis.compare import Options
from judgekit.analysis.page import page_data
from judgekit.analysis.pairwise import disagreements
from judgekit.cli.run import DEFAULT_DATASET, DEFAULT_JUDGE
from judgekit.data import load_dataset
from judgekit.records import OrderResult, RunInMemory, Verdict
from judgekit.report.html import MAX_HEATMAP_RUNS, render_html, significance_heatmap
from judgekit.report.plots import (
    figure_data_uri,
    heatmap,
    significance_figure,
    significance_table,
)
from judgekit.runs.importers.llmbar import import_llmbar
from judgekit.runs.importers.llmbar_sample import recorded_runs
from judgekit.runs.importers.recorded import recorded_manifest, write_run
from judgekit.runs.run_dir import read_run

HOSTILE = "<script>alert('x')</script> & <b>bold</b>"


def _run(path: Path, judge: str, picks: list[tuple[str | None, str | None]]) -> Path:
    """Four items with gold a, b, a, b; each pick is (winner a shown first, winner b shown first)."""
    examples = run_dirs.pairs(4, instruction=lambda i: f"question {i} {HOSTILE}",
                              response_b=lambda i: f"answer B{i} " + "x" * i)

    def raw(i: int, order: int) -> str:
        return f"first order of toy/{i}: {HOSTILE}" if order == 0 else f"second order of toy/{i}"

    return run_dirs.pairwise_run(path, picks, examples=examples, raws=raw, judge=judge,
                                 judge_model=judge.split(":")[1])


@pytest.fixture
def toy_runs(tmp_path) -> list[Path]:
    good = _run(tmp_path / "good", "openai:gpt-4o", [("a", "a"), ("b", "b"), ("a", "a"), ("b", None)])
    poor = _run(tmp_path / "poor", "openai:llama-3", [("b", "a"), ("a", "a"), ("a", "a"), ("a", "b")])
    return [good, poor]


class _Tables(HTMLParser):
    """Body rows of each table with an id, and the src of every img."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, int] = {}
        self.images: list[str] = []
        self._table: str | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = attrs["id"]
            self.rows[self._table] = 0
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._table and self._in_body:
            self.rows[self._table] += 1
        elif tag == "img":
            self.images.append(attrs.get("src") or "")

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tbody":
            self._in_body = False


def _parse(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


def _external_urls(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*|url\(\s*["']?(?:https?:)?//""", page)


def test_page_has_tables_figures_and_the_disagreeing_items(toy_runs):
    runs = [read_run(p) for p in toy_runs]
    page = render_html(page_data(runs, Options(n_resamples=200)))
    parsed = _parse(page)
    assert parsed.rows["leaderboard"] == 2 and parsed.rows["significance"] == 2
    assert len(parsed.images) == 3 and all(src.startswith("data:image/png;base64,") for src in parsed.images)
    assert _external_urls(page) == []
    # good: only toy/3 (second order invalid); poor: toy/0 and toy/3 (one order wrong), toy/1 (both)
    assert [d.example.id for d in disagreements(runs[0])] == ["toy/3"]
    assert [(d.example.id, d.wrong_orders) for d in disagreements(runs[1])] == [("toy/0", 1), ("toy/1", 2),
                                                                                 ("toy/3", 1)]
    assert page.count('<details class="item">') == 4
    assert "first order of toy/1" in page and "second order of toy/3" in page
    assert "first order of toy/2" not in page  # both judges right on toy/2: not listed


def test_text_from_run_dirs_is_escaped(toy_runs):
    page = render_html(page_data([read_run(p) for p in toy_runs], Options(n_resamples=50)))
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page


def test_cli_writes_the_page_for_report_and_compare(toy_runs, tmp_path, cli):
    for command in ("report", "compare"):
        out = tmp_path / f"{command}.html"
        code, _, err = cli(command, *toy_runs, "--format", "html", "--out", out, "--resamples", 100)
        assert code == 0, err
        page = out.read_text(encoding="utf-8")
        assert f"<title>judgekit {command}</title>" in page and _parse(page).rows["leaderboard"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging file left


def test_cli_out_into_a_missing_folder_is_one_error_line(toy_runs, tmp_path, cli):
    code, _, err = cli("report", toy_runs[0], "--format", "html", "--out", tmp_path / "nowhere" / "r.html")
    err = err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nowhere" in err[0]


def test_out_never_writes_into_a_run_dir_nor_over_a_file_without_force(toy_runs, tmp_path, cli):
    verdicts = toy_runs[0] / "verdicts.jsonl"
    before = verdicts.read_bytes()
    for command in ("report", "compare"):
        for target in (verdicts, toy_runs[0] / "report.html", toy_runs[0] / "sub" / "r.html"):
            code, _, err = cli(command, *toy_runs, "--format", "html", "--out", target, "--force")
            err = err.strip().splitlines()
            assert code == 2 and len(err) == 1 and "inside the run dir" in err[0], err
    assert verdicts.read_bytes() == before and read_run(toy_runs[0]).verdicts
    mine = tmp_path / "notes.md"
    mine.write_text("my notes", encoding="utf-8")
    code, _, err = cli("compare", *toy_runs, "--format", "markdown", "--out", mine, "--resamples", 50)
    err = err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--force" in err[0] and mine.read_text(encoding="utf-8") == "my notes"
    assert cli("compare", *toy_runs, "--format", "markdown", "--out", mine, "--resamples", 50, "--force").code == 0
    assert "|" in mine.read_text(encoding="utf-8")  # the markdown table replaced the notes


def test_out_also_takes_text_formats(toy_runs, tmp_path, cli):
    code, printed, _ = cli("compare", *toy_runs, "--format", "markdown", "--resamples", 100)
    assert code == 0
    board = tmp_path / "board.md"
    assert cli("compare", *toy_runs, "--format", "markdown", "--resamples", 100, "--out", board).code == 0
    assert (tmp_path / "board.md").read_text(encoding="utf-8") == printed
    assert cli("report", *toy_runs, "--out", tmp_path / "board.txt").code == 0
    assert "Agreement with human labels" in (tmp_path / "board.txt").read_text(encoding="utf-8")


# ---------------------------------------------------------------- Chromium


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("JUDGEKIT_REQUIRE_DATA"):
        pytest.fail("chromium is not installed (apt-get install chromium); CI must render the HTML report")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def _headless(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run([chromium, *flags, *args], capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.slow(reason="starts a headless chromium")
def test_llmbar_compare_page_renders_in_chromium(data_dir, tmp_path, cli):
    chromium = _chromium()
    evaluators = data_dir / "llmbar/Dataset/Processed/MT-Bench/evaluators"
    runs = [import_llmbar(evaluators / llm / "Vanilla_NoRules", tmp_path / llm) for llm in ("GPT-4", "ChatGPT",
                                                                                          "PaLM2")]
    page = tmp_path / "compare.html"
    assert cli("compare", *(run.path for run in runs), "--format", "html", "--out", page, "--resamples", 200).code == 0

    dom = _headless(chromium, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    parsed = _parse(dom)
    assert parsed.rows["leaderboard"] == 3 and parsed.rows["significance"] == 3
    assert len(parsed.images) == 3
    for src in parsed.images:  # every figure decodes to a real picture
        pixels = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert pixels.shape[0] > 100 and pixels[..., :3].std() > 0.05
    assert dom.count('<details class="run"') == 3 and "llmbar/mtbench/" in dom

    shot = tmp_path / "shot.png"
    _headless(chromium, tmp_path / "profile", "--window-size=1280,1800", f"--screenshot={shot}", page.as_uri())
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (1800, 1280)
    inked = (pixels.mean(axis=2) < 0.9).mean()
    assert pixels.std() > 0.1 and inked > 0.03, (pixels.std(), inked)



# ------------------------------------------------- the default run's seven runs


def _scripted_default_judge(path: Path):
    """The default run's seventh run without the embedded model: a logprob/pairwise run scripted on the same 40
    pairs (its orders right 2 times in 3 and 3 in 4, its combined verdict 3 in 4, with a margin)."""
    dataset = load_dataset(DEFAULT_DATASET)
    verdicts = []
    for i, e in enumerate(dataset.examples):
        other = "b" if e.gold == "a" else "a"
        orders = (OrderResult(swapped=False, raw=f"a first {HOSTILE}", winner=e.gold if i % 3 else other),
                  OrderResult(swapped=True, raw="b first", winner=e.gold if i % 4 else other))
        winner = e.gold if i % 4 != 1 else other
        margin = (0.4 + (i % 5) / 2) * (1 if winner == "a" else -1)  # log-odds of a over b: trust figures
        verdicts.append(Verdict(example_id=e.id, winner=winner, orders=orders, details={"margin": margin}))
    manifest = recorded_manifest(dataset, n_verdicts=len(verdicts), judge=DEFAULT_JUDGE,
                                 judge_model="qwen2.5-coder-1.5b-instruct", protocol="logprob/pairwise",
                                 strategy="logprob", headline="accuracy_final")
    return RunInMemory(path, manifest, list(dataset.examples), verdicts)


def default_seven(out: Path | None = None) -> list:
    """LLMBar's six recorded judges on llmbar/natural-40 and the scripted seventh; written as run dirs under
    ``out`` when given."""
    if out is None:
        return [*recorded_runs(load_dataset(DEFAULT_DATASET)), _scripted_default_judge(Path("scripted"))]
    recorded_runs(load_dataset(DEFAULT_DATASET), out / "recorded")
    scripted = _scripted_default_judge(out / "scripted")
    write_run(scripted.path, scripted.manifest, scripted.examples, scripted.verdicts)
    return sorted((out / "recorded").iterdir()) + [scripted.path]


def overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty text boxes of ``fig`` that overlap, as the renderer lays them out."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_figure() is not None]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
            if box_a.width and box_b.width and box_a.overlaps(box_b)]


@pytest.fixture(scope="module")
def seven_data():
    """The page data of the default run's seven runs (in memory, 200 resamples)."""
    return page_data(default_seven(), Options(n_resamples=200))


@pytest.fixture(scope="module")
def seven_page(seven_data):
    """Their page, drawn once for the tests that read it."""
    return render_html(seven_data)


def test_the_heatmap_the_page_embeds_has_no_overlapping_labels(seven_data, seven_page):
    """Seven runs: the embedded heatmap's cell labels, ticks, title and colour bar never overlap."""
    fig = significance_heatmap(seven_data)
    embedded = re.search(r'<img id="significance-figure"[^>]* src="([^"]+)"', seven_page)[1]
    assert embedded == figure_data_uri(fig)  # the figure checked is the one on the page
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert len(cells) == 7 * 6 and all("p=" not in c and "\n" not in c for c in cells)  # Δ and a star only
    assert overlapping_texts(fig) == []


@pytest.mark.parametrize("n_runs", [2, 3, 12, MAX_HEATMAP_RUNS])
def test_heatmap_labels_do_not_overlap_from_two_runs_to_the_most_drawn(n_runs):
    """Every size the page draws a heatmap for keeps its labels apart (star on every other pair)."""
    board = [{"run": f"r{i}", "rank": i} for i in range(1, n_runs + 1)]
    pairs = [{"run_1": f"r{i}", "run_2": f"r{j}", "difference": -0.125 * (i - j) / n_runs, "p_value": 0.001,
              "p_holm": 0.01 if (i + j) % 2 else 0.5} for i, j in itertools.combinations(range(1, n_runs + 1), 2)]
    fig = significance_figure(board, pairs)
    assert len(fig.axes[0].texts) == n_runs * (n_runs - 1)
    assert overlapping_texts(fig) == []


def test_the_overlap_check_sees_the_old_crowded_labels(seven_data):
    """Δ, p and Holm written in each cell, as the page did before, overlap: the check above can fail."""
    tested = [pair for pair in seven_data["comparisons"] if pair["p_value"] is not None]
    adjusted, text = significance_table(seven_data["leaderboard"], tested)
    crowded = heatmap(adjusted, annotations=text.map(lambda cell: cell.replace("\n", " ")), vmin=0, vmax=1)
    assert len(overlapping_texts(crowded)) >= 6


def test_the_tests_are_described_once_not_per_pair(seven_data, seven_page):
    """21 pairs tested by one family of tests: its name shows once, with no per-pair pattern counts."""
    page = seven_page
    tests = {pair["test"] for pair in seven_data["comparisons"]}
    assert len(seven_data["comparisons"]) == 21 and any("patterns" in t for t in tests)
    assert page.count("sign-flip permutation over items") == 1 and "patterns" not in page
    cells = re.findall(r'<td class="num diff[^"]*"[^>]*title="([^"]*)"', page)
    assert len(cells) == 42 and all("p = " in c and "Holm" in c and "CI [" in c for c in cells)


def test_a_combined_verdict_run_shows_its_combined_verdict_per_item(seven_data, seven_page):
    """The run ranked by its combined verdict shows that verdict beside each order's; the others do not."""
    page = seven_page
    scripted = next(s for s in re.split(r'<details class="run"', page)[1:]
                    if "logprob/pairwise" in s.split("</summary>")[0])
    shown = len(seven_data["pages"]["scripted"]["disagreements"])
    assert shown > 0 and scripted.count("· combined:") == shown == page.count("· combined:")


_MEASURE = """<script>
window.addEventListener("load", () => {
  const measure = () => ({
    innerWidth: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
    tables: Object.fromEntries([...document.querySelectorAll("table[id]")].map(t => {
      const box = t.closest(".scroll") || t.parentElement;
      return [t.id, {right: t.getBoundingClientRect().right, scrolls: box.scrollWidth > box.clientWidth}];
    }))});
  const closed = measure();
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  document.body.dataset.measured = JSON.stringify({closed: closed, open: measure()});
});
</script>
"""
"""Test-only: the layout figures Chromium computes, written into the DOM that --dump-dom prints."""


def _measured(chromium: str, profile: Path, page: Path) -> dict:
    probe = page.with_name(f"measured-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = _headless(chromium, profile, "--window-size=1280,900", "--virtual-time-budget=5000", "--dump-dom",
                    probe.as_uri()).stdout
    return json.loads(html.unescape(re.search(r'data-measured="([^"]*)"', dom)[1]))


def _screenshot(chromium: str, profile: Path, page: Path, shot: Path, height: int) -> None:
    """A 1280-pixel-wide screenshot that is not blank."""
    _headless(chromium, profile, f"--window-size=1280,{height}", "--hide-scrollbars", f"--screenshot={shot}",
              page.as_uri())
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (height, 1280)
    assert pixels.std() > 0.1 and (pixels.mean(axis=2) < 0.9).mean() > 0.02


@pytest.mark.slow(reason="starts a headless chromium")
def test_default_runs_page_fits_1280_pixels_in_chromium(tmp_path, cli):
    """The seven runs' page: no sideways scroll for the page, the leaderboard or the significance table,
    closed or with every fold open."""
    chromium = _chromium()
    runs = default_seven(tmp_path / "runs")
    page = tmp_path / "compare.html"
    assert cli("compare", *runs, "--format", "html", "--out", page, "--resamples", 200).code == 0
    measured = _measured(chromium, tmp_path / "profile", page)
    for state in ("closed", "open"):
        found = measured[state]
        assert found["innerWidth"] == 1280 and found["scrollWidth"] <= found["innerWidth"], (state, found)
        for table in ("leaderboard", "leaderboard-full", "significance"):
            assert found["tables"][table]["right"] <= found["innerWidth"], (state, table, found["tables"][table])
            assert not found["tables"][table]["scrolls"], (state, table)
    dom = _headless(chromium, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    parsed = _parse(dom)
    assert parsed.rows["leaderboard"] == 7 and parsed.rows["significance"] == 7
    assert dom.count('<details class="run"') == 7 and dom.count("sign-flip permutation over items") == 1
    _screenshot(chromium, tmp_path / "profile", page, tmp_path / "shot.png", 2400)


# ------------------------------------------------------------ classify page


def _links(page: str) -> list[tuple[str, str, str, int]]:
    """Off-diagonal count links of the confusion tables: (href target, human, judge, count)."""
    return [(href, human, judge, int(count)) for human, judge, count, href in re.findall(
        r'<td class="num" data-human="([^"]*)" data-judge="([^"]*)" data-count="(\d+)"><a href="#([^"]+)">', page)]


def _cell_items(page: str, anchor: str) -> tuple[str, str, str]:
    """The human and judge labels of the cell group holding ``anchor``, and the group's HTML."""
    start = page.index(f'id="{anchor}"')
    group = page.rindex('<details class="cell"', 0, start)
    human, judge = re.match(r'<details class="cell"[^>]* data-human="([^"]*)" data-judge="([^"]*)"',
                            page[group:]).groups()
    return human, judge, page[start:page.index('</div>\n  </details>', start)]


def test_classify_page_groups_disagreements_by_cell_behind_the_counts(tmp_path, cli):
    """Each off-diagonal count links to its cell's outputs, as many as it counts, with the raw judge text."""
    run = classify_run(tmp_path / "run", "openai:gpt-4o", 4)
    page_path = tmp_path / "page.html"
    assert cli("report", run, "--format", "html", "--out", page_path, "--resamples", 100).code == 0
    page = page_path.read_text(encoding="utf-8")
    matrix = read_run(run)
    links = _links(page)
    assert {(h, j) for _, h, j, _ in links} == {("fail", "pass"), ("pass", "fail"), ("pass", "invalid")}
    for anchor, human, judge, count in links:
        cell_human, cell_judge, items = _cell_items(page, anchor)
        assert (cell_human, cell_judge) == (human, judge)
        assert items.count('<details class="item">') == count
        wrong = [v for v in matrix.verdicts if (v.label or "invalid") == judge
                 and next(e.gold for e in matrix.examples if e.id == v.example_id) == human]
        assert len(wrong) == count and all(str(escape(v.raw)) in items for v in wrong)
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert str(escape(HOSTILE)) in page


@pytest.mark.slow(reason="starts a headless chromium")
def test_classify_page_renders_and_its_counts_open_their_outputs_in_chromium(tmp_path, cli):
    """In Chromium: the confusion table shows, markup in outputs stays text, and following a count's link
    opens the folded group of outputs behind it."""
    chromium = _chromium()
    runs = [classify_run(tmp_path / "strict", "openai:gpt-4o", 6), classify_run(tmp_path / "loose", "openai:llama", 3)]
    page = tmp_path / "page.html"
    assert cli("report", *runs, "--format", "html", "--out", page, "--resamples", 100).code == 0
    dom = _headless(chromium, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    assert dom.count('<table class="confusion">') == 2 and len(_parse(dom).images) == 2
    assert "<script>" not in dom and "&lt;script&gt;alert('x')&lt;/script&gt;" in dom
    anchor, human, _, _ = _links(dom)[0]
    assert '<details class="cell" open' not in dom
    opened = _headless(chromium, tmp_path / "profile", "--dump-dom", f"{page.as_uri()}#{anchor}").stdout
    group = re.search(rf'<details class="cell"([^>]*)>(?:(?!</details>\s*</div>).)*id="{re.escape(anchor)}"', opened,
                      re.DOTALL)
    assert group is not None and "open" in group[1] and f'data-human="{human}"' in group[1]
    measured = _measured(chromium, tmp_path / "profile", page)
    assert measured["open"]["scrollWidth"] <= measured["open"]["innerWidth"]
    _screenshot(chromium, tmp_path / "profile", page, tmp_path / "shot.png", 1600)
