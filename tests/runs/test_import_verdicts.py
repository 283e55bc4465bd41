"""judgekit import verdicts / import scores: any project's recorded judgments by a mapping of columns.

PandaLM's and HANNA's published judges come out the same through the general
importers as through the dedicated ones; PandaLM's own accuracy table
(data/compute_metrics.py upstream, which counts "garbage" as a tie) comes
out to the fourth decimal. Hand-made files cover both orders, classify and
scored imports, and every mapping error is one line naming file, record and
column, with nothing written.
"""

from __future__ import annotations

import csv
import json

import pytest
from sklearn.metrics import precision_recall_fscore_support

from judgekit.analysis.compare import report
from judgekit.runs.importers.hanna import CODES, import_hanna
from judgekit.runs.run_dir import read_run

PANDALM = {
    "gpt-3.5-turbo": ("gpt-3.5-turbo-testset-v1.json", "gpt_result", "1=a,2=b,Tie=tie"),
    "pandalm-7b": ("pandalm-7b-testset-v1.json", "pandalm_result", "1=a,2=b,0=tie"),
}
PUBLISHED = {  # PandaLM's data/compute_metrics.py: accuracy, macro precision, recall, F1 (3 classes)
    "gpt-3.5-turbo": (0.7107, 0.5879, 0.5736, 0.5755),
    "pandalm-7b": (0.6677, 0.5738, 0.5750, 0.5743),
}
FIGURES = ("n", "n_clusters", "accuracy", "accuracy_ci", "accuracy_final", "invalid_rate", "tie_rate", "cohen_kappa",
           "cohen_kappa_ci", "position_bias", "length_bias", "ties", "annotators", "alt_test")


def one_line(result, *needles):
    code, _, err = result
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def _write_csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("judge", PANDALM)
def test_pandalm_through_import_verdicts_equals_the_dedicated_importer(judge, data_dir, tmp_path, cli):
    file, column, labels = PANDALM[judge]
    code, _, err = cli("import", "verdicts", data_dir / "pandalm" / "data" / file, "--dataset", "pandalm",
                       "--mapping", f"id=idx,order1={column},judge_model={judge}", "--labels", labels,
                       "--out", tmp_path / "general")
    assert code == 0, err
    code, _, err = cli("import", "pandalm", "--judge", judge, "--out", tmp_path / "dedicated")
    assert code == 0, err
    general, dedicated = read_run(tmp_path / "general"), read_run(tmp_path / "dedicated")
    assert general.verdicts == dedicated.verdicts and general.examples == dedicated.examples
    rows = [report([run])["runs"][0] for run in (general, dedicated)]
    assert [{f: row[f] for f in FIGURES} for row in rows] == [{f: rows[1][f] for f in FIGURES}] * 2


@pytest.mark.parametrize("judge", PANDALM)
def test_pandalms_published_table_comes_out_of_import_verdicts(judge, data_dir, tmp_path, cli):
    """compute_metrics.py counts an unparseable ("garbage") verdict as a tie: said so with --labels."""
    file, column, labels = PANDALM[judge]
    out = tmp_path / judge
    code, _, err = cli("import", "verdicts", data_dir / "pandalm" / "data" / file, "--dataset", "pandalm",
                       "--mapping", f"id=idx,order1={column}", "--labels", labels + ",garbage=tie", "--out", out)
    assert code == 0, err
    run = read_run(out)
    gold = [e.gold for e in run.examples]
    judged = [v.winner for v in run.verdicts]
    precision, recall, f1, _ = precision_recall_fscore_support(gold, judged, average="macro", zero_division=0)
    accuracy = report([run])["runs"][0]["accuracy"]
    assert [round(x, 4) for x in (accuracy, precision, recall, f1)] == list(PUBLISHED[judge])


def test_hanna_through_import_scores_equals_the_dedicated_importer(data_dir, tmp_path, cli):
    llm, prompt = "ChatGPT", 1
    judge_columns = ",".join(f"judge.{c}={llm} {code} {prompt}" for c, code in CODES.items())
    file = data_dir / "hanna" / "hanna_metric_scores_llm.csv"
    code, _, err = cli("import", "scores", file, "--dataset", "hanna", "--format", "csv-lists",
                       "--mapping", judge_columns, "--out", tmp_path / "beside")
    assert code == 0, err
    humans = ",".join(f"score.{c}=Human 1 {code}+Human 2 {code}+Human 3 {code}" for c, code in CODES.items())
    code, _, err = cli("import", "verdicts", file, "--kind", "scored", "--format", "csv-lists", "--mapping",
                       f"input=_position,system=Model,{humans},{judge_columns},scale=1-5,judge_model={llm}",
                       "--out", tmp_path / "own")
    assert code == 0, err
    (dedicated,) = import_hanna(tmp_path / "hanna", llms=(llm,), prompts=(prompt,))
    beside, own, dedicated = (read_run(p) for p in (tmp_path / "beside", tmp_path / "own", dedicated))
    assert beside.verdicts == dedicated.verdicts and beside.examples == dedicated.examples
    assert [v.criteria for v in own.verdicts] == [v.criteria for v in dedicated.verdicts]
    assert [e.criteria for e in own.examples] == [e.criteria for e in dedicated.examples]
    assert own.manifest.invalid_policy == "exclude" and own.manifest.params["out_of_scale"] == "invalid"
    rows = [report([run])["runs"][0] for run in (beside, own)]  # dedicated's records are beside's (above)
    assert rows[0]["criteria"] == rows[1]["criteria"]
    assert {"dataset_pearson", "item_kendall", "system_spearman", "mae"} <= set(rows[0]["criteria"]["coherence"])
    assert sum(c["n_invalid"] for c in rows[0]["criteria"].values()) > 0  # HANNA's values below 1


def test_both_orders_read_in_display_or_canonical_slots(tmp_path, cli):
    """The swapped order's "a" is the response shown first (response_b) unless --order2-in canonical."""
    rows = [("p1", "Say hi", "hi", "bye", "A", "A", "B"), ("p2", "Say no", "yes", "no", "B", "B", "B"),
            ("p3", "Say so", "so", "so!", "T", "A", "maybe")]
    file = _write_csv(tmp_path / "two.csv", ["id", "q", "x", "y", "human", "g1", "g2"], rows)
    mapping = "id=id,instruction=q,response_a=x,response_b=y,gold=human,order1=g1,order2=g2,judge_model=m"
    for order2_in in ("display", "canonical"):
        code, _, err = cli("import", "verdicts", file, "--mapping", mapping, "--labels", "A=a,B=b,T=tie",
                           "--order2-in", order2_in, "--out", tmp_path / order2_in)
        assert code == 0, err
    display, canonical = read_run(tmp_path / "display"), read_run(tmp_path / "canonical")
    assert [[o.winner for o in v.orders] for v in display.verdicts] == [["a", "a"], ["b", "a"], ["a", None]]
    assert [[o.winner for o in v.orders] for v in canonical.verdicts] == [["a", "b"], ["b", "b"], ["a", None]]
    assert [v.winner for v in display.verdicts] == ["a", "tie", None]  # no rule declared: disagreeing orders tie
    assert display.verdicts[2].orders[1].raw == "maybe" and display.verdicts[2].invalid_reason == "unparseable"
    assert display.manifest.params["order2_in"] == "display" and canonical.manifest.params["order2_in"] == "canonical"
    assert display.manifest.headline == "accuracy" and display.manifest.judge == "recorded:m"
    row = report([display])["runs"][0]
    assert row["accuracy"] == pytest.approx(3 / 6)  # as stored: 2 of 3 right; swapped: 1 of 3


def test_raw_texts_and_subsets_ride_along(tmp_path, cli):
    rows = [("Q1", "a1", "b1", "1", "2", "I pick 2", "writing"), ("Q2", "a2", "b2", "2", "2", "Two.", "code")]
    file = _write_csv(tmp_path / "r.csv", ["q", "x", "y", "gold", "v", "why", "cat"], rows)
    code, _, err = cli("import", "verdicts", file, "--mapping",
                       "instruction=q,response_a=x,response_b=y,gold=gold,order1=v,raw1=why,subset=cat",
                       "--labels", "1=a,2=b", "--out", tmp_path / "run")
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert [e.subset for e in run.examples] == ["writing", "code"]
    assert [v.orders[0].raw for v in run.verdicts] == ["I pick 2", "Two."]
    assert [v.details["recorded"] for v in run.verdicts] == [{"v": "2"}, {"v": "2"}]


def test_recorded_score_samples_are_averaged_and_the_scale_policy_is_explicit(tmp_path, cli):
    rows = [("q1", "s1", "text one", 4, 5, 4, 5, ""), ("q1", "s2", "text two", 2, 1, 2, 2, 9),
            ("q2", "s1", "text three", 3, 3, 1, 3, 2), ("q2", "s2", "text four", 5, 4, 4, "", "")]
    file = _write_csv(tmp_path / "s.csv", ["doc", "sys", "out", "h1", "h2", "j1", "j2", "j3"], rows)
    mapping = "input=doc,system=sys,response=out,score.quality=h1+h2,judge.quality=j1+j2+j3,scale=1-5"
    for policy in ("invalid", "keep"):
        code, _, err = cli("import", "scores", file, "--mapping", mapping, "--out-of-scale", policy,
                           "--out", tmp_path / policy)
        assert code == 0, err
    invalid, keep = read_run(tmp_path / "invalid"), read_run(tmp_path / "keep")
    assert [v.criteria["quality"].score for v in invalid.verdicts] == [4.5, None, 2.0, 4.0]
    assert invalid.verdicts[1].criteria["quality"].invalid_reason == "out_of_range"
    assert invalid.verdicts[1].criteria["quality"].raw == "2.0, 2.0, 9.0"
    assert [v.criteria["quality"].score for v in keep.verdicts] == [4.5, 13 / 3, 2.0, 4.0]
    assert keep.manifest.params["out_of_scale"] == "keep"
    row = report([invalid])["runs"][0]
    assert row["criteria"]["quality"]["n_invalid"] == 1 and row["invalid_rate"] == pytest.approx(1 / 4)


def test_classify_judgments_with_and_without_human_labels(tmp_path, cli):
    rows = [("What is 2+2?", "4", "pass", "PASS"), ("Capital of France?", "Lyon", "fail", "FAIL"),
            ("Spell cat", "kat", "fail", "PASS"), ("Name a prime", "9", "fail", "unsure")]
    file = _write_csv(tmp_path / "c.csv", ["q", "a", "human", "judge"], rows)
    labels = "pass=pass,fail=fail,PASS=pass,FAIL=fail"
    code, _, err = cli("import", "verdicts", file, "--kind", "classify", "--mapping",
                       "input=q,response=a,label=human,judge=judge,positive=fail", "--labels", labels,
                       "--out", tmp_path / "labelled")
    assert code == 0, err
    run = read_run(tmp_path / "labelled")
    assert [v.label for v in run.verdicts] == ["pass", "fail", "pass", None]
    assert run.verdicts[3].raw == "unsure" and run.verdicts[3].invalid_reason == "unparseable"
    assert run.manifest.labels == ("pass", "fail") and run.manifest.positive_label == "fail"
    row = report([run])["runs"][0]
    assert row["n"] == 4 and row["invalid_rate"] == pytest.approx(1 / 4) and row["accuracy"] == pytest.approx(2 / 4)
    code, _, err = cli("import", "verdicts", file, "--kind", "classify", "--mapping", "input=q,response=a,judge=judge",
                       "--labels", labels, "--out", tmp_path / "unlabelled")
    assert code == 0, err
    unlabelled = read_run(tmp_path / "unlabelled")
    assert all(e.gold is None for e in unlabelled.examples)
    assert [v.label for v in unlabelled.verdicts] == ["pass", "fail", "pass", None]
    assert report([unlabelled])["runs"][0]["n"] == 0  # judged, not scored: nothing to agree with


def _pairs(tmp_path, rows=None):
    rows = rows or [("1", "Q1", "a1", "b1", "A", "A"), ("2", "Q2", "a2", "b2", "B", "A")]
    return _write_csv(tmp_path / "pairs.csv", ["id", "q", "x", "y", "human", "verdict"], rows)


PAIR_MAPPING = "id=id,instruction=q,response_a=x,response_b=y,gold=human,order1=verdict"


@pytest.mark.parametrize("case, needles", [
    ("unknown verdict column", ("pairs.csv", "record 1", "field 'nope'", "missing")),
    ("unknown item column", ("pairs.csv", "record 1", "field 'question'", "missing")),
    ("unmapped gold label", ("pairs.csv", "record 2", "field 'human'", "'C'")),
    ("duplicate ids", ("pairs.csv", "record 2", "field 'id'", "duplicate id 'pairs/1'")),
    ("not a number", ("s.csv", "record 1", "field 'j'", "'high' is not a number")),
    ("no judge column", ("--mapping", "order1=COLUMN")),
    ("a judge key of another kind", ("--mapping", "judge", "classify")),
])
def test_mapping_errors_are_one_line_naming_file_record_and_column(case, needles, tmp_path, cli):
    labels = ("--labels", "A=a,B=b")
    if case == "unknown verdict column":
        args = (_pairs(tmp_path), "--mapping", PAIR_MAPPING.replace("order1=verdict", "order1=nope"), *labels)
    elif case == "unknown item column":
        args = (_pairs(tmp_path), "--mapping", PAIR_MAPPING.replace("instruction=q", "instruction=question"), *labels)
    elif case == "unmapped gold label":
        args = (_pairs(tmp_path, [("1", "Q1", "a1", "b1", "A", "A"), ("2", "Q2", "a2", "b2", "C", "A")]),
                "--mapping", PAIR_MAPPING, *labels)
    elif case == "duplicate ids":
        args = (_pairs(tmp_path, [("1", "Q1", "a1", "b1", "A", "A"), ("1", "Q2", "a2", "b2", "B", "A")]),
                "--mapping", PAIR_MAPPING, *labels)
    elif case == "not a number":
        args = (_write_csv(tmp_path / "s.csv", ["doc", "out", "h", "j"], [("d", "t", 3, "high")]), "--kind", "scored",
                "--mapping", "input=doc,response=out,score.q=h,judge.q=j")
    elif case == "no judge column":
        args = (_pairs(tmp_path), "--mapping", PAIR_MAPPING.replace(",order1=verdict", ""), *labels)
    else:
        args = (_pairs(tmp_path), "--mapping", PAIR_MAPPING + ",judge=verdict", *labels)
    one_line(cli("import", "verdicts", *args, "--out", tmp_path / "run"), *needles)
    assert not (tmp_path / "run").exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("case, needles", [
    ("fewer records than items, by position", ("few.json", "998 records for the 999 items of pandalm",
                                              "item 'pandalm/998' has none")),
    ("fewer records than items, by id", ("few.json", "field 'idx'", "no record for item 'pandalm/998'")),
    ("duplicate id", ("dup.json", "record 3", "field 'idx'", "duplicate id '1' (first at record 2)")),
    ("unknown id", ("odd.json", "record 1", "field 'idx'", "'5000' is not an item of pandalm")),
    ("item columns beside a dataset", ("--mapping", "'instruction'", "--dataset pandalm")),
])
def test_verdicts_beside_a_dataset_must_match_its_items_one_to_one(case, needles, data_dir, tmp_path, cli):
    recorded = json.loads((data_dir / "pandalm" / "data" / "gpt-3.5-turbo-testset-v1.json").read_text())
    mapping = "id=idx,order1=gpt_result"
    if case.startswith("fewer"):
        file = tmp_path / "few.json"
        file.write_text(json.dumps(recorded[:-1]))
        if case.endswith("position"):
            mapping = "order1=gpt_result"
    elif case == "duplicate id":
        file = tmp_path / "dup.json"
        file.write_text(json.dumps(recorded[:2] + recorded[1:]))
    elif case == "unknown id":
        file = tmp_path / "odd.json"
        file.write_text(json.dumps([{**recorded[0], "idx": 5000}] + recorded[1:]))
    else:
        file = tmp_path / "odd.json"
        file.write_text(json.dumps(recorded))
        mapping += ",instruction=instruction"
    one_line(cli("import", "verdicts", file, "--dataset", "pandalm", "--mapping", mapping,
                 "--labels", "1=a,2=b,Tie=tie", "--out", tmp_path / "run"), *needles)
    assert not (tmp_path / "run").exists()


def test_options_that_do_not_apply_and_an_existing_out_are_refused(tmp_path, cli):
    file = _pairs(tmp_path)
    one_line(cli("import", "verdicts", file, "--kind", "scored", "--mapping", "input=q,judge.x=verdict",
                 "--order-conflict", "mean", "--out", tmp_path / "run"), "--order-conflict", "pairwise")
    one_line(cli("import", "verdicts", file, "--mapping", PAIR_MAPPING, "--out-of-scale", "keep",
                 "--out", tmp_path / "run"), "--out-of-scale", "scored")
    one_line(cli("import", "verdicts", file, "--kind", "classify", "--mapping", PAIR_MAPPING,
                 "--out", tmp_path / "run"), "--mapping", "order1", "pairwise")
    (tmp_path / "taken").mkdir()
    one_line(cli("import", "verdicts", file, "--mapping", PAIR_MAPPING, "--out", tmp_path / "taken"),
             "already exists")


def test_arena_hard_style_labels_summed_over_both_orders(tmp_path, cli):
    """Five-level labels (A>>B ... B>>A, A=B a tie) in display slots, combined by the vote sum."""
    rows = [("1", "Q1", "x1", "y1", "a", "A>B", "B>A"),    # a; swapped: the second shown (x) wins -> a
            ("2", "Q2", "x2", "y2", "b", "A=B", "A>>B"),   # tie; swapped: the first shown (y) wins -> b
            ("3", "Q3", "x3", "y3", "a", "A>B", "A>B"),    # a; swapped: y wins -> b: opposite, a tie
            ("4", "Q4", "x4", "y4", "b", "", "A>B")]       # no verdict; swapped: y -> b
    file = _write_csv(tmp_path / "arena.csv", ["id", "q", "x", "y", "human", "game1", "game2"], rows)
    code, _, err = cli("import", "verdicts", file, "--out", tmp_path / "run", "--order-conflict", "mean",
                       "--mapping",
                       "id=id,instruction=q,response_a=x,response_b=y,gold=human,order1=game1,order2=game2",
                       "--labels", "A>>B=a,A>B=a,A=B=tie,B>A=b,B>>A=b,a=a,b=b")
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert [[o.winner for o in v.orders] for v in run.verdicts] == [["a", "a"], ["tie", "b"], ["a", "b"], [None, "b"]]
    assert [v.winner for v in run.verdicts] == ["a", "b", "tie", "b"]
    row = report([run])["runs"][0]
    assert row["headline"] == "accuracy_final" and row["accuracy_final"] == pytest.approx(3 / 4)
    assert row["accuracy"] == pytest.approx(5 / 8)  # per order: 2 of 4 as stored, 3 of 4 swapped
