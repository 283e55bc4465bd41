"""``judgekit cache path|stats|clear``: see and empty the response cache, never by accident."""

from __future__ import annotations

import json

from conftest import run_judgekit
from servers import ScriptedServer, oracle_for

from judgekit.backends.base import Completion
from judgekit.backends.cache import ResponseCache
from judgekit.data import load_dataset


def filled(folder, counts: dict[tuple[str, str], int]) -> ResponseCache:
    cache = ResponseCache(folder)
    for (provider, model), n in counts.items():
        for i in range(n):
            cache.put(f"{provider}-{model}-{i}", provider, model, Completion(text="Output (a)" * 50, tokens_in=9,
                                                                             tokens_out=3))
    return cache


def test_path_names_the_file_under_judgekit_cache_dir_and_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    code, out, _ = run_judgekit(monkeypatch, capsys, "cache", "path")
    assert (code, out) == (0, f"{tmp_path / 'cache' / 'responses.sqlite'}\n")
    code, out, _ = run_judgekit(monkeypatch, capsys, "cache", "stats")
    assert code == 0 and "no cache yet" in out
    assert not (tmp_path / "cache").exists()


def test_stats_counts_entries_per_model_and_the_bytes_on_disk(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path))
    filled(tmp_path, {("openai", "gpt-4o"): 3, ("anthropic", "claude"): 5}).close()
    code, out, _ = run_judgekit(monkeypatch, capsys, "cache", "stats", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["entries"] == 8 and data["exists"] is True
    assert data["models"] == [{"provider": "anthropic", "model": "claude", "entries": 5},
                              {"provider": "openai", "model": "gpt-4o", "entries": 3}]
    on_disk = sum(p.stat().st_size for p in tmp_path.glob("responses.sqlite*") if not p.name.endswith("-shm"))
    assert data["bytes"] == on_disk > 0
    code, out, _ = run_judgekit(monkeypatch, capsys, "cache", "stats")
    assert code == 0 and "8 answers" in out and "claude" in out and "gpt-4o" in out


def test_clear_without_yes_refuses_in_one_line_and_deletes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path))
    filled(tmp_path, {("openai", "m"): 4}).close()
    code, out, err = run_judgekit(monkeypatch, capsys, "cache", "clear")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "4 stored answers" in err and "--yes" in err
    assert len(ResponseCache(tmp_path)) == 4


def test_clear_yes_empties_the_cache_so_a_rerun_asks_the_server_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path / "cache"))
    with ScriptedServer(answer=oracle_for(load_dataset("judgekit/bundled").examples)) as server:
        args = ["run", "--judge", "openai:judge", "--base-url", server.openai_url, "--dataset", "judgekit/bundled",
                "--protocol", "llmbar/vanilla", "--limit", "3", "--quiet", "--out"]
        assert run_judgekit(monkeypatch, capsys, *args, tmp_path / "first")[0] == 0
        assert server.total_answered() == 6
        stats = json.loads(run_judgekit(monkeypatch, capsys, "cache", "stats", "-f", "json")[1])
        assert stats["models"] == [{"provider": "openai", "model": "judge", "entries": 6}]

        code, out, _ = run_judgekit(monkeypatch, capsys, "cache", "clear", "--yes")
        assert code == 0 and "deleted 6 answers" in out
        assert json.loads(run_judgekit(monkeypatch, capsys, "cache", "stats", "-f", "json")[1])["entries"] == 0
        assert run_judgekit(monkeypatch, capsys, *args, tmp_path / "second")[0] == 0
        assert server.total_answered() == 12  # nothing left to answer from


def test_clear_gives_the_space_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path))
    filled(tmp_path, {("openai", "m"): 400}).close()
    before = json.loads(run_judgekit(monkeypatch, capsys, "cache", "stats", "-f", "json")[1])["bytes"]
    assert run_judgekit(monkeypatch, capsys, "cache", "clear", "--yes")[0] == 0
    after = json.loads(run_judgekit(monkeypatch, capsys, "cache", "stats", "-f", "json")[1])["bytes"]
    assert after < before / 4


def test_a_cache_that_is_not_a_database_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path))
    (tmp_path / "responses.sqlite").write_text("not a database" * 100)
    for command in (["stats"], ["clear", "--yes"]):
        code, out, err = run_judgekit(monkeypatch, capsys, "cache", *command)
        assert code == 2 and err.count("\n") == 1 and "responses.sqlite" in err and "unusable" in err, (command, err)
    assert "not a database" in (tmp_path / "responses.sqlite").read_text()
