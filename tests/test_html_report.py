"""The HTML page: self-contained, escaped, complete; and it renders in headless Chromium."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from judgekit.cli import main
from judgekit.analysis.page import page_data
from judgekit.analysis.pairwise import disagreements
from judgekit.report.html import render_html
from judgekit.runs.importers.llmbar import import_llmbar
from judgekit.records import Example, Manifest, OrderResult, Verdict
from judgekit.analysis.compare import Options
from judgekit.runs.run_dir import RunDir, read_run

HOSTILE = "<script>alert('x')</script> & <b>bold</b>"


def _run(path: Path, judge: str, picks: list[tuple[str | None, str | None]]) -> Path:
    """Four items with gold a, b, a, b; each pick is (winner a shown first, winner b shown first)."""
    examples = [Example(id=f"toy/{i}", instruction=f"question {i} {HOSTILE}", response_a=f"answer A{i}",
                        response_b=f"answer B{i} " + "x" * i, gold="ab"[i % 2]) for i in range(4)]
    manifest = Manifest(judge=judge, judge_model=judge.split(":")[1], protocol="llmbar/vanilla", dataset="toy",
                        package_version="0", started_at="2026-11-23T00:00:00+00:00", n_examples=4)
    run_dir = RunDir.create(path, manifest, examples)
    for example, (w1, w2) in zip(examples, picks, strict=True):
        orders = (OrderResult(swapped=False, raw=f"first order of {example.id}: {HOSTILE}", winner=w1),
                  OrderResult(swapped=True, raw=f"second order of {example.id}", winner=w2))
        run_dir.append(Verdict(example_id=example.id, winner=w1 if w1 == w2 else None, orders=orders))
    run_dir.update(complete=True, n_verdicts=4)
    return path


@pytest.fixture
def toy_runs(tmp_path) -> list[Path]:
    good = _run(tmp_path / "good", "openai:gpt-4o", [("a", "a"), ("b", "b"), ("a", "a"), ("b", None)])
    poor = _run(tmp_path / "poor", "openai:llama-3", [("b", "a"), ("a", "a"), ("a", "a"), ("a", "b")])
    return [good, poor]


def _cli(monkeypatch, *args: object) -> int:
    """The real console entry point, in-process; its exit code."""
    monkeypatch.setattr(sys, "argv", ["judgekit", *map(str, args)])
    try:
        main()
    except SystemExit as e:
        return e.code or 0
    return 0


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


def test_cli_writes_the_page_for_report_and_compare(toy_runs, tmp_path, monkeypatch, capsys):
    for command in ("report", "compare"):
        out = tmp_path / f"{command}.html"
        code = _cli(monkeypatch, command, *toy_runs, "--format", "html", "--out", out, "--resamples", 100)
        assert code == 0, capsys.readouterr().err
        page = out.read_text(encoding="utf-8")
        assert f"<title>judgekit {command}</title>" in page and _parse(page).rows["leaderboard"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging file left


def test_cli_out_into_a_missing_folder_is_one_error_line(toy_runs, tmp_path, monkeypatch, capsys):
    code = _cli(monkeypatch, "report", toy_runs[0], "--format", "html", "--out", tmp_path / "nowhere" / "r.html")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nowhere" in err[0]


def test_out_never_writes_into_a_run_dir_nor_over_a_file_without_force(toy_runs, tmp_path, monkeypatch, capsys):
    verdicts = toy_runs[0] / "verdicts.jsonl"
    before = verdicts.read_bytes()
    for command in ("report", "compare"):
        for target in (verdicts, toy_runs[0] / "report.html", toy_runs[0] / "sub" / "r.html"):
            code = _cli(monkeypatch, command, *toy_runs, "--format", "html", "--out", target, "--force")
            err = capsys.readouterr().err.strip().splitlines()
            assert code == 2 and len(err) == 1 and "inside the run dir" in err[0], err
    assert verdicts.read_bytes() == before and read_run(toy_runs[0]).verdicts
    mine = tmp_path / "notes.md"
    mine.write_text("my notes", encoding="utf-8")
    code = _cli(monkeypatch, "compare", *toy_runs, "--format", "markdown", "--out", mine, "--resamples", 50)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--force" in err[0] and mine.read_text(encoding="utf-8") == "my notes"
    assert _cli(monkeypatch, "compare", *toy_runs, "--format", "markdown", "--out", mine, "--resamples", 50,
                "--force") == 0
    assert "|" in mine.read_text(encoding="utf-8")  # the markdown table replaced the notes


def test_out_also_takes_text_formats(toy_runs, tmp_path, monkeypatch, capsys):
    assert _cli(monkeypatch, "compare", *toy_runs, "--format", "markdown", "--resamples", 100) == 0
    printed = capsys.readouterr().out
    assert _cli(monkeypatch, "compare", *toy_runs, "--format", "markdown", "--resamples", 100,
                "--out", tmp_path / "board.md") == 0
    assert (tmp_path / "board.md").read_text(encoding="utf-8") == printed
    assert _cli(monkeypatch, "report", *toy_runs, "--out", tmp_path / "board.txt") == 0
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
def test_llmbar_compare_page_renders_in_chromium(data_dir, tmp_path, monkeypatch):
    chromium = _chromium()
    evaluators = data_dir / "llmbar/Dataset/Processed/MT-Bench/evaluators"
    runs = [import_llmbar(evaluators / llm / "Vanilla_NoRules", tmp_path / llm) for llm in ("GPT-4", "ChatGPT",
                                                                                          "PaLM2")]
    page = tmp_path / "compare.html"
    assert _cli(monkeypatch, "compare", *(run.path for run in runs), "--format", "html", "--out", page,
                "--resamples", 200) == 0

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

