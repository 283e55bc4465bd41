"""``judgekit agreement``: the DESIGN JSON contract, three file formats, one-line bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import run_judgekit

from judgekit.agreement import fleiss_kappa, krippendorff_alpha, pairwise_cohen_kappas, rater_vs_gold

TABLE = pd.DataFrame(
    {
        "h1": ["a", "b", "tie", "a", "b", "a", "b", "a"],
        "h2": ["a", "b", None, "a", "b", "b", "b", "a"],
        "h3": ["a", "a", "tie", "a", "b", "a", None, "a"],
        "judge": ["b", "b", "a", None, "b", "a", "b", "a"],
        "gold": ["a", "b", "tie", "a", "b", "a", "b", "a"],
    }
)
RATERS = ["h1", "h2", "h3", "judge"]


def _write(tmp_path, kind):
    path = tmp_path / f"labels.{kind}"
    if kind == "csv":
        TABLE.to_csv(path, index=False)  # None -> empty cell
    elif kind == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in TABLE.to_dict(orient="records")))
    else:
        TABLE.to_parquet(path)
    return path


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_json_contract_and_values(tmp_path, kind, cli):
    path = _write(tmp_path, kind)
    args = ["agreement", str(path), "--raters", ",".join(RATERS), "--gold", "gold", "--level", "nominal",
            "--labels", "a,b,tie", "--format", "json"]
    code, printed, err = cli(*args)
    assert code == 0, err
    out = json.loads(printed)
    assert set(out) == {"n_items", "raters", "level", "fleiss_kappa", "krippendorff_alpha",
                        "pairwise_cohen_kappa", "vs_gold"}
    assert out["n_items"] == 8 and out["raters"] == RATERS and out["level"] == "nominal"
    labels = ["a", "b", "tie"]
    # Fleiss on the 5 items every rater labelled; alpha on all 8.
    assert out["fleiss_kappa"] == pytest.approx(fleiss_kappa(TABLE[RATERS].dropna(), labels=labels))
    assert out["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(TABLE[RATERS], labels=labels))
    assert out["pairwise_cohen_kappa"] == pytest.approx(pairwise_cohen_kappas(TABLE[RATERS], labels=labels))
    assert set(out["pairwise_cohen_kappa"]) >= {"h1|h2", "h3|judge"}
    expected = rater_vs_gold(TABLE[RATERS], TABLE.gold, labels=labels)
    for name in RATERS:
        assert out["vs_gold"][name] == pytest.approx(
            {"accuracy": expected[name].accuracy, "cohen_kappa": expected[name].cohen_kappa}
        )


def test_ordinal_level_and_table_output(tmp_path, cli):
    path = _write(tmp_path, "csv")
    result = cli("agreement", path, "--raters", "h1,h2,h3", "--level", "ordinal", "--labels", "a,tie,b",
                 "--format", "json")
    assert json.loads(result.out)["krippendorff_alpha"] == pytest.approx(
        krippendorff_alpha(TABLE[["h1", "h2", "h3"]], level="ordinal", labels=["a", "tie", "b"])
    )
    table = cli("agreement", path, "--raters", "h1,judge", "--gold", "gold")
    assert table.code == 0
    assert "Krippendorff" in table.out and "h1 vs judge" in table.out and "against gold" in table.out


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("csv", ["--raters", "h1,nobody"], "column 'nobody' not found"),
        ("csv", ["--raters", "h1,h2", "--labels", "a,b"], "row 3, column 'h1': label 'tie' is not one of a, b"),
        ("missing", ["--raters", "h1"], "file not found"),
        ("broken", ["--raters", "h1"], ":2: invalid JSON"),
        ("shifted", ["--raters", "h1,h2"], "shifted.csv:3: 3 fields, but the header has 2"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, setup, args, message, monkeypatch, capsys):
    if setup == "csv":
        path = _write(tmp_path, "csv")
    elif setup == "missing":
        path = tmp_path / "absent.csv"
    elif setup == "shifted":  # a trailing comma: pandas would shift the raters' columns
        path = tmp_path / "shifted.csv"
        path.write_text("h1,h2\na,b\na,b,\n")
    else:
        path = tmp_path / "broken.jsonl"
        path.write_text('{"h1": "a"}\n{"h1": \n')
    code, out, err = run_judgekit(monkeypatch, capsys, "agreement", path, *args)  # the console entry point
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path.name) in lines[0]


@pytest.mark.parametrize(("table", "args", "warning"), [
    ("h1,h2\na,a\nb,b\n", ["--raters", "h1,h2,h1"], "--raters names 'h1' more than once"),
    ("h1,h2,gold\na,a,a\nb,a,b\n", ["--raters", "h1,h2,gold", "--gold", "gold"], "'gold' is both --gold and a rater"),
    ("h1,h2\na,b\n", ["--raters", "h1,h2"], "the table holds one item"),
    ("h1,h2\na,b\ntie,b\n", ["--raters", "h1,h2", "--level", "interval"],
     "--level interval on labels that are not numbers (a, b, tie)"),
])
def test_doubtful_designs_warn_on_stderr_and_still_answer(tmp_path, monkeypatch, capsys, table, args, warning):
    path = tmp_path / "labels.csv"
    path.write_text(table)
    code, out, err = run_judgekit(monkeypatch, capsys, "agreement", path, *args, "--format", "json")
    assert code == 0, err
    assert err.startswith(f"warning: {warning}") and len(err.strip().splitlines()) == 1
    assert "n_items" in json.loads(out)


def test_an_ordinary_design_warns_about_nothing(tmp_path, monkeypatch, capsys):
    path = _write(tmp_path, "csv")
    code, _, err = run_judgekit(monkeypatch, capsys, "agreement", path, "--raters", "h1,h2,h3", "--gold", "gold",
                                "--level", "nominal", "--format", "json")
    assert code == 0 and err == ""
