"""``judgekit versions``: every judge version's dev and test figures (as ``report`` gives them), paired tests on
the test side with Holm's adjustment, the count of looks and the best-of-k warning, and ``--final``."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import module_cli, run_judgekit
from stand_in import LABELS, MAPPING, write_labelled_csv, write_model, write_spec
from statsmodels.stats.multitest import multipletests

from judgekit.analysis.classify import CLASSIFY
from judgekit.analysis.compare import Options, report
from judgekit.runs.ledger import LEDGER, LedgerEntry, append_entry, read_ledger
from judgekit.runs.run_dir import read_run

ACCURACY = {"v1": 0.6, "v2": 0.75, "v3": 0.9}


def develop(root, cli):
    """Three versions of one spec, each run on dev and then on test (the dishonest way: three looks)."""
    data = write_labelled_csv(root / "labels.csv", questions=60)
    split_dir = root / "split"
    code, _, err = cli("split", data, "--mapping", MAPPING, "--labels", LABELS, "--out", split_dir)
    assert code == 0, err
    model = write_model(root / "model.yaml", split_dir, ACCURACY)
    spec = root / "judge.yaml"
    for version in ACCURACY:
        write_spec(spec, version)
        for on in ("dev", "test"):
            code, _, err = cli("run", "--judge", f"mock:{model}", "--protocol", spec, "--split", split_dir,
                               "--on", on, "--out", root / f"{version}-{on}", "--quiet")
            assert code == 0, err
    return split_dir


@pytest.fixture(scope="module")
def developed(tmp_path_factory):
    """``develop``'s split dir, its runs beside it, made once for the tests that only read them (``versions``
    writes nothing into a split dir); with its own response cache, as every test has."""
    with module_cli(tmp_path_factory) as cli:
        return develop(tmp_path_factory.mktemp("developed"), cli)


def _versions(monkeypatch, capsys, split_dir, *args, fmt="json"):
    code, out, err = run_judgekit(monkeypatch, capsys, "versions", split_dir, "--format", fmt, *args)
    assert code == 0, err
    return json.loads(out) if fmt == "json" else out


def test_each_version_shows_the_figures_report_gives_on_each_side(developed, monkeypatch, capsys):
    data = _versions(monkeypatch, capsys, developed)
    assert [v["name"] for v in data["versions"]] == ["v1", "v2", "v3"]
    assert [v["edited_from"] for v in data["versions"]] == [None, "v1", "v2"]
    for version in data["versions"]:
        for side in ("dev", "test"):
            run = read_run(developed.parent / f"{version['name']}-{side}")
            row = report([run])["runs"][0]
            shown = version[side]
            assert (shown["figure"], shown["value"], shown["ci"], shown["n"]) == (
                "cohen_kappa", row["cohen_kappa"], row["cohen_kappa_ci"], len(run.examples))
        runs = [read_run(developed.parent / f"{version['name']}-{side}") for side in ("dev", "test")]
        tokens = sum(r.manifest.usage.tokens_in + r.manifest.usage.tokens_out for r in runs)
        assert version["tokens_per_1000"] == pytest.approx(1000 * tokens / sum(len(r.verdicts) for r in runs))
        assert version["cost_per_1000"] == 0.0  # mock calls are free
    values = [v["test"]["value"] for v in data["versions"]]
    assert values[0] < values[1] < values[2]  # the stand-in gets better with each version


def test_each_version_is_paired_with_the_best_earlier_one_on_test_and_holm_adjusts_them_all(
        developed, monkeypatch, capsys):
    data = _versions(monkeypatch, capsys, developed)
    pairs = [(c["version"], c["against"]) for c in data["comparisons"]]
    assert pairs == [("v2", "v1"), ("v3", "v2")]  # v2 beat v1, so v3 meets v2
    p_values = []
    for comparison in data["comparisons"]:
        mine, theirs = (read_run(developed.parent / f"{name}-test")
                        for name in (comparison["version"], comparison["against"]))
        expected = CLASSIFY.paired(mine, theirs, ("cohen_kappa", "cohen_kappa"), Options())
        assert {k: comparison[k] for k in ("test", "n", "difference", "difference_ci", "p_value")} == {
            k: expected[k] for k in ("test", "n", "difference", "difference_ci", "p_value")}
        p_values.append(expected["p_value"])
    holm = multipletests(p_values, method="holm")[1]
    assert [c["p_holm"] for c in data["comparisons"]] == pytest.approx(list(holm))
    assert any(c["p_holm"] > c["p_value"] for c in data["comparisons"])  # the adjustment did something

    table = _versions(monkeypatch, capsys, developed, fmt="table")
    for version, comparison in zip(data["versions"][1:], data["comparisons"], strict=True):
        row = next(line for line in table.splitlines() if f"{version['name']} {version['short']}" in line)
        cells = [cell.strip() for cell in row.split("│")]
        shown = [comparison["against"], f"{comparison['difference']:+.3f}", f"{comparison['p_value']:.2g}",
                 f"{comparison['p_holm']:.2g}"]
        assert cells[6:10] == shown, row


def test_more_than_one_look_at_test_is_counted_and_warned_about_and_final_leads(developed, monkeypatch, capsys):
    data = _versions(monkeypatch, capsys, developed)
    assert data["looks"] == 3 and data["final"] is None
    assert data["warning"].startswith("3 versions have been scored on the test side: the best of 3 on the same "
                                      "test set is an optimistic estimate")
    table = " ".join(_versions(monkeypatch, capsys, developed, "--final", "v2", fmt="table").split())
    assert "Looks at the test side: 3 versions." in table and "Warning: 3 versions have been scored" in table
    assert "v2 is named as the version chosen before looking at test." in table
    assert table.index("v2 ") < table.index("v1 ") < table.index("v3 ")  # the final one leads
    data = _versions(monkeypatch, capsys, developed, "--final", data["versions"][2]["short"][:8])
    assert data["final"] == "v3" and data["versions"][0]["name"] == "v3" and data["versions"][0]["final"]
    html = _versions(monkeypatch, capsys, developed, "--final", "v3", fmt="html")
    assert 'data-looks="3"' in html and 'id="warning"' in html and html.count("data-p-holm=") == 2

    code, _, err = run_judgekit(monkeypatch, capsys, "versions", developed, "--final", "v9")
    assert code == 2 and err.strip() == ("error: --final v9: names no version in the ledger (versions: v1, v2, v3; "
                                         "or give a longer hash prefix)")


def test_one_look_gives_no_warning_and_a_killed_test_run_is_a_look(tmp_path, monkeypatch, capsys):
    data_file = write_labelled_csv(tmp_path / "labels.csv")
    split_dir = tmp_path / "split"
    run_judgekit(monkeypatch, capsys, "split", data_file, "--mapping", MAPPING, "--labels", LABELS, "--out", split_dir)
    model = write_model(tmp_path / "model.yaml", split_dir, {"v1": 0.8})
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", f"mock:{model}", "--protocol",
                                write_spec(tmp_path / "judge.yaml", "v1"), "--split", split_dir, "--on", "test",
                                "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    data = _versions(monkeypatch, capsys, split_dir)
    assert data["looks"] == 1 and data["warning"] is None and data["comparisons"] == []
    started = read_ledger(split_dir).entries[0]
    append_entry(split_dir, LedgerEntry(**{**started.model_dump(), "version": "sha256:" + "e" * 64}))  # killed
    data = _versions(monkeypatch, capsys, split_dir)
    assert data["looks"] == 2 and data["warning"] is not None
    assert data["versions"][1]["test"] is None and data["versions"][1]["unfinished_test_runs"] == 1


def test_a_moved_run_dir_shows_the_ledger_figure_untested_and_a_torn_line_is_named(tmp_path, cli, monkeypatch,
                                                                                   capsys):
    developed = develop(tmp_path, cli)  # its own: this test removes a run and tears the ledger
    recorded = read_ledger(developed).entries
    shutil.rmtree(tmp_path / "v1-test")
    with (developed / LEDGER).open("ab") as ledger:  # what a crash of the machine mid-write could leave
        ledger.write(b'{"format_version": 1, "event": "fini')
    data = _versions(monkeypatch, capsys, developed)
    v1 = data["versions"][0]
    finished = next(e for e in recorded if e.on == "test" and e.event == "finished" and e.run.endswith("v1-test"))
    assert v1["test"]["from"] == "ledger" and (v1["test"]["value"], v1["test"]["ci"]) == (finished.value,
                                                                                         list(finished.ci))
    assert data["comparisons"][0]["reason"] == "a run dir is missing" and data["comparisons"][0]["p_value"] is None
    assert data["missing_runs"] == [finished.run] and data["damaged_lines"] == [len(recorded) + 1]
    append_entry(developed, recorded[0])  # the next line starts on a line of its own
    assert read_ledger(developed).entries[-1] == recorded[0]
