"""Issue 28, bad files and odd places: one line naming file, record and field (exit 2), never a traceback.

Through the real CLI (``mock:`` judge, in this process), on files a careless or hostile user could hand
over: Parquet list columns, lone surrogates in JSON Lines, unwritable or odd ``--out`` places, long names.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import run_judgekit


def _one_line(code: int, err: str) -> str:
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("cell", [["q1"], ["q1", "q2"]], ids=["one element", "two elements"])
def test_a_parquet_list_where_text_belongs_is_one_line(tmp_path, monkeypatch, capsys, cell):
    path = tmp_path / "pairs.parquet"
    pd.DataFrame({"id": ["a", "b"], "instruction": [cell, ["another", "list"]], "response_a": ["x", "y"],
                  "response_b": ["z", "w"], "gold": ["a", "b"]}).to_parquet(path)
    err = _one_line(*run_judgekit(monkeypatch, capsys, "datasets", "show", path)[::2])
    assert "pairs.parquet: record 1: field 'instruction': expected text, got list" in err


def test_a_lone_surrogate_in_json_lines_is_one_line(tmp_path, monkeypatch, capsys):
    rows = [{"id": "a", "instruction": "fine", "response_a": "x", "response_b": "y", "gold": "a"},
            {"id": "b", "instruction": "fine", "response_a": "x", "response_b": "bad \ud800 here", "gold": "b"}]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")  # json.dumps escapes it: \ud800
    err = _one_line(*run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:first", "--protocol", "llmbar/vanilla",
                                  "--dataset", path, "--out", tmp_path / "run", "--quiet")[::2])
    assert "pairs.jsonl: line 2: field 'response_b': a lone surrogate" in err
    assert not (tmp_path / "run").exists()
