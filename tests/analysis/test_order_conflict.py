"""order_conflict: tie | invalid | mean, by hand, in a judged run and in an imported one (REFERENCES F3).

The mean rule sums the orders' votes (a = +1, tie = 0, b = -1, an
unparseable order 0) and takes the sign. A protocol or an import that
declares any rule is headlined by its final verdict, and says so in the manifest.
"""

from __future__ import annotations

import csv
import re

import pytest
from conftest import run_judgekit

import judgekit
from judgekit.analysis.compare import compare, report
from judgekit.judge.orders import final_winner
from judgekit.records import Example
from judgekit.resources import protocols_root
from judgekit.runs.run_dir import read_run


@pytest.mark.parametrize("winners, tie, invalid, mean", [
    (("tie", "a"), ("tie", None), (None, "order_conflict"), ("a", None)),      # a tie yields to a decisive order
    (("b", "tie"), ("tie", None), (None, "order_conflict"), ("b", None)),
    (("a", "b"), ("tie", None), (None, "order_conflict"), ("tie", None)),      # opposite verdicts: a zero sum
    (("tie", "tie"), ("tie", None), ("tie", None), ("tie", None)),
    (("a", "a"), ("a", None), ("a", None), ("a", None)),
    ((None, "a"), (None, "unparseable"), (None, "unparseable"), ("a", None)),  # an unparseable order abstains
    (("b", None), (None, "unparseable"), (None, "unparseable"), ("b", None)),
    ((None, "tie"), (None, "unparseable"), (None, "unparseable"), ("tie", None)),
    ((None, None), (None, "unparseable"), (None, "unparseable"), (None, "unparseable")),  # nothing to sum
    (("b",), ("b", None), ("b", None), ("b", None)),                           # one order is its own verdict
])
def test_the_three_rules_by_hand(winners, tie, invalid, mean):
    assert tuple(final_winner(winners, "tie")) == tie
    assert tuple(final_winner(winners, None)) == tie  # no rule declared: disagreeing orders tie
    assert tuple(final_winner(winners, "invalid")) == invalid
    assert tuple(final_winner(winners, "mean")) == mean


# Four pairs and what the judge says in each order; the display slot of the swapped order is
# the one shown first (response_b). Gold, then (original order, swapped order) as replies.
SCRIPT = {
    "one": ("a", "[[C]]", "[[B]]"),        # tie, then a (second shown) -> mean a; tie rule: tie
    "two": ("b", "[[A]]", "[[A]]"),        # a, then b (first shown)   -> opposite: tie
    "three": ("tie", "[[C]]", "[[C]]"),    # tie, tie                  -> tie
    "four": ("b", "no idea", "[[A]]"),     # unparseable, then b       -> mean b; tie rule: invalid
}
FINAL_MEAN = ["a", "tie", "tie", "b"]
DISPLAY = {"[[A]]": "a", "[[B]]": "b", "[[C]]": "tie", "no idea": ""}


def _examples() -> list[Example]:
    return [Example(id=name, instruction=f"Question {name}?", response_a=f"{name} answer A",
                    response_b=f"{name} answer B", gold=gold) for name, (gold, *_) in SCRIPT.items()]


def _policy(prompt: str) -> str:
    first = re.search(r"\[Assistant A's answer\]\n(\w+) answer (A|B)", prompt)
    _, original, swapped = SCRIPT[first[1]]
    return original if first[2] == "A" else swapped


def _spec(tmp_path, rule: str | None):
    """mtbench/pairwise (ties allowed), with the rule declared or not."""
    body = protocols_root().joinpath("mtbench", "pairwise.yaml").read_text(encoding="utf-8")
    path = tmp_path / f"rule-{rule}.yaml"
    path.write_text(body + (f"order_conflict: {rule}\n" if rule else ""), encoding="utf-8")
    return path


@pytest.fixture
def judged(tmp_path):
    """The scripted judge under mtbench/pairwise with no rule declared and with order_conflict: mean."""
    runs = {}
    for rule in (None, "mean"):
        judge = judgekit.load_judge("mock:", protocol=str(_spec(tmp_path, rule)), policy=_policy, cache=False)
        with judge:
            runs[rule] = judgekit.evaluate(judge, _examples(), out=tmp_path / f"run-{rule}")
    return runs


def test_a_spec_with_the_mean_rule_decides_and_is_headlined_by_its_final_verdict(judged):
    plain, mean = judged[None], judged["mean"]
    assert [v.winner for v in mean.verdicts] == FINAL_MEAN
    assert [v.winner for v in plain.verdicts] == ["tie", "tie", "tie", None]
    assert [[o.winner for o in v.orders] for v in mean.verdicts] == [
        ["tie", "a"], ["a", "b"], ["tie", "tie"], [None, "b"]]
    assert (mean.manifest.order_conflict, mean.manifest.headline) == ("mean", "accuracy_final")
    assert (plain.manifest.order_conflict, plain.manifest.headline) == (None, "accuracy")
    rows = {row["run"]: row for row in compare([plain, mean])["leaderboard"]}
    row = rows[str(mean.path)]
    assert row["ranked_by"] == "accuracy_final" and row["headline"] == "accuracy_final"
    assert row["accuracy_final"] == pytest.approx(3 / 4)
    assert row["accuracy"] == pytest.approx(5 / 8)  # per order: 1 of 4 right shown as stored, 4 of 4 swapped
    assert rows[str(plain.path)]["ranked_by"] == "accuracy"


def test_an_import_with_the_same_rule_gives_the_judged_runs_verdicts_and_figures(judged, tmp_path, monkeypatch,
                                                                                  capsys):
    file = tmp_path / "recorded.csv"
    with file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "q", "first", "second", "human", "shown_first", "swapped"])
        for e in _examples():
            _, original, swapped = SCRIPT[e.id]
            writer.writerow([e.id, e.instruction, e.response_a, e.response_b, e.gold, DISPLAY[original],
                             DISPLAY[swapped]])
    code, _, err = run_judgekit(
        monkeypatch, capsys, "import", "verdicts", file, "--out", tmp_path / "imported",
        "--mapping", "id=id,instruction=q,response_a=first,response_b=second,gold=human,order1=shown_first,"
                     "order2=swapped,judge_model=scripted", "--order-conflict", "mean")
    assert code == 0, err
    imported = read_run(tmp_path / "imported")
    assert [v.winner for v in imported.verdicts] == FINAL_MEAN
    judged_orders = [[o.winner for o in v.orders] for v in judged["mean"].verdicts]
    assert [[o.winner for o in v.orders] for v in imported.verdicts] == judged_orders
    assert imported.manifest.order_conflict == "mean" and imported.manifest.headline == "accuracy_final"
    assert imported.manifest.params["order2_in"] == "display"
    figures = ("accuracy_final", "accuracy", "positional_agreement", "final_invalid_rate", "invalid_rate",
               "final_tie_rate", "tie_rate", "cohen_kappa", "accuracy_final_ci")
    ours, theirs = (report([run])["runs"][0] for run in (imported, judged["mean"]))
    assert {f: ours[f] for f in figures} == {f: theirs[f] for f in figures}
