"""Every command a user types pays judgekit's start-up: printing help loads no library a command needs only
when it runs (issue 29: ``judgekit --help`` and ``datasets list`` in at most 0.3 s, bench/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import run_judgekit
from servers import ScriptedServer, oracle_for

from judgekit.data import load_dataset

HEAVY = ("pydantic", "yaml", "jinja2", "regex", "numpy", "pandas", "pyarrow", "scipy", "statsmodels", "sklearn",
         "matplotlib", "openai", "anthropic", "aiohttp", "httpx", "llama_cpp", "sqlite3", "asyncio",
         "judgekit.records", "judgekit.data", "judgekit.judge.spec", "judgekit.backends", "judgekit.runs",
         "judgekit.analysis", "judgekit.agreement", "judgekit.report")
"""What a command loads when it runs: none of it is needed to print help."""


def loaded_after(code: str) -> list[str]:
    """The HEAVY modules a fresh interpreter holds after running ``code``."""
    probe = f"import sys\n{code}\nprint(__import__('json').dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_heavy_list_would_catch_a_heavy_import():
    assert loaded_after("import judgekit.records") == ["judgekit.records", "pydantic"]


def test_importing_the_cli_loads_no_heavy_module():
    assert loaded_after("import judgekit.cli") == []


def help_loads(*args: str) -> list[str]:
    code = ("import contextlib, io, judgekit.cli\n"
            f"sys.argv = ['judgekit', *{args!r}]\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        judgekit.cli.main()\n    except SystemExit as e:\n        assert not e.code, e.code")
    return loaded_after(code)


def test_printing_help_loads_no_heavy_module():
    assert help_loads("--help") == []


@pytest.mark.parametrize("args", [["run", "--help"], ["import", "hanna", "--help"], ["datasets", "--help"],
                                  ["plan", "paired", "--help"], ["report", "--help"]])
def test_a_command_s_help_loads_only_what_typer_parses_options_with(args):
    """typer (0.29) coerces every option it parses, even the group's own --help flag, through a pydantic
    TypeAdapter: pydantic itself is typer's, not ours."""
    assert help_loads(*args) == ["pydantic"]


def test_import_help_names_every_recorded_judge(monkeypatch, capsys):
    """The import commands spell the importers' names out (so help imports no importer): they must match."""
    from judgekit.runs.importers.hanna import LLMS
    from judgekit.runs.importers.pandalm import JUDGES

    for command, names in (("hanna", LLMS), ("pandalm", JUDGES)):
        code, out, _ = run_judgekit(monkeypatch, capsys, "import", command, "--help")
        assert code == 0
        listed = " ".join(out.split())
        assert all(name in listed for name in names), (command, names, listed)


def test_an_sdk_backend_imports_its_sdk_at_its_first_call_not_before():
    """A rerun answered from the cache makes no call, so it never pays the SDK's imports."""
    made = loaded_after("from judgekit.backends.registry import create_backend\n"
                        "create_backend('openai:m', base_url='http://127.0.0.1:9/v1')\n"
                        "create_backend('anthropic:m', base_url='http://127.0.0.1:9')")
    assert "judgekit.backends" in made and not {"openai", "anthropic", "aiohttp"} & set(made)


def test_a_rerun_answered_from_the_cache_loads_no_sdk_pandas_or_scipy(tmp_path, monkeypatch, capsys):
    """The whole rerun, its end-of-run table included, in a fresh process (issue 29: a cached rerun in 1 s)."""
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    with ScriptedServer(answer=oracle_for(load_dataset("judgekit/bundled").examples)) as server:
        args = ["run", "--judge", "openai:judge", "--base-url", server.openai_url, "--dataset", "judgekit/bundled",
                "--protocol", "llmbar/vanilla", "--limit", "6", "--quiet", "--out"]
        assert run_judgekit(monkeypatch, capsys, *args, tmp_path / "first")[0] == 0
        answered = server.total_answered()
        made = loaded_after("import contextlib, io, judgekit.cli\n"
                            f"sys.argv = ['judgekit', *{[*args, str(tmp_path / 'rerun')]!r}]\n"
                            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
                            "    try:\n        judgekit.cli.main()\n    except SystemExit as e:\n"
                            "        assert not e.code, e.code\n"
                            "assert 'accuracy' in out.getvalue()")
        assert server.total_answered() == answered == 12
    assert "judgekit.analysis" in made and not {"openai", "aiohttp", "pandas", "scipy"} & set(made), made


def test_each_command_is_built_from_the_module_that_registers_it():
    """``judgekit.cli.COMMANDS`` names, for each command, the one module a run of it builds: it must be complete."""
    import importlib
    from pathlib import Path

    import typer

    from judgekit.cli import COMMANDS

    registered = {}
    for path in sorted((Path(__file__).resolve().parents[2] / "judgekit" / "cli").glob("*.py")):
        module = importlib.import_module(f"judgekit.cli.{path.stem}")
        if not hasattr(module, "register"):
            continue
        commands = typer.Typer()
        module.register(commands)
        names = [c.name for c in commands.registered_commands] + [g.name for g in commands.registered_groups]
        registered |= dict.fromkeys(names, path.stem)
    assert registered == COMMANDS


def test_listing_the_datasets_reads_the_card_files_and_builds_no_model():
    """``datasets list`` reads the shipped cards' YAML (``judgekit.resources.shipped``): no card or record
    model is built, and pydantic is only typer's (its option parsing)."""
    code = ("import contextlib, io, judgekit.cli\nsys.argv = ['judgekit', 'datasets', 'list']\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n    judgekit.cli.main()\n"
            "assert 'llmbar/natural' in out.getvalue()")
    assert loaded_after(code) == ["pydantic", "yaml"]


@pytest.mark.parametrize("data_dir", [False, True])
def test_the_listing_read_from_the_yaml_is_the_validated_cards_listing(data_dir, tmp_path, monkeypatch):
    """Every shipped card, read without validation, says what the validated card says: id, size, sources, and
    where its data is (with and without a data dir holding some of it)."""
    from judgekit.cli.datasets import _list_row
    from judgekit.data import list_datasets
    from judgekit.resources import DATA_DIR_ENV, shipped

    if data_dir:
        (tmp_path / "llmbar" / "Dataset" / "LLMBar" / "Natural").mkdir(parents=True)
        (tmp_path / "llmbar" / "Dataset" / "LLMBar" / "Natural" / "dataset.json").write_text("[]")
        monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    else:
        monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    validated = [_list_row(a) for a in list_datasets()]
    assert [_list_row(a) for a in shipped()] == validated
    assert {row["source"] for row in validated} >= {"bundled", "local + hub", "parts"}
    assert any(row["available"] for row in validated if "local" in row["source"]) == data_dir


def test_the_top_level_help_builds_no_command():
    """Its list of commands comes from ``cli.SUMMARIES``: building every command's options is not needed for it."""
    from judgekit.cli import COMMANDS

    modules = sorted({f"judgekit.cli.{m}" for m in COMMANDS.values()})
    code = ("import contextlib, io, sys, judgekit.cli\nsys.argv = ['judgekit', '--help']\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        judgekit.cli.main()\n"
            "    except SystemExit as e:\n        assert not e.code, e.code\n"
            f"print(__import__('json').dumps([m for m in {modules!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_summaries_are_what_the_commands_themselves_would_list(monkeypatch, capsys):
    """The top-level help from ``cli.SUMMARIES`` is, character for character, the help typer prints after
    building every command; a command added to ``cli.COMMANDS`` needs its line there too."""
    import judgekit.cli

    assert list(judgekit.cli.SUMMARIES) == list(dict.fromkeys(judgekit.cli.SUMMARIES)) and \
        judgekit.cli.SUMMARIES.keys() == judgekit.cli.COMMANDS.keys(), "cli.SUMMARIES and cli.COMMANDS differ"
    monkeypatch.setenv("COLUMNS", "100")
    listed = run_judgekit(monkeypatch, capsys, "--help")
    monkeypatch.setattr(judgekit.cli, "SUMMARIES", {})  # now the help builds every command and asks each
    built = run_judgekit(monkeypatch, capsys, "--help")
    assert listed[0] == built[0] == 0 and "datasets" in listed[1]
    assert listed[1] == built[1]
