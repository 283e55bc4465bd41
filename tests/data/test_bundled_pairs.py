"""The bundled offline pairs: well formed, balanced, and described truthfully by their README.

Read through importlib.resources so the test sees what the installed package
ships, not just what sits in the checkout.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from importlib.resources import files

import pytest

KINDS = {
    "ignores-constraint",
    "wrong-format",
    "wrong-length",
    "neighbor-question",
    "polished-off-task",
    "factually-wrong",
}
FIELDS = {"id", "instruction", "response_a", "response_b", "label", "deviation", "note"}
TEXT_FIELDS = ("instruction", "response_a", "response_b", "note")
BUNDLED = files("judgekit.meta_datasets") / "bundled"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    raw = (BUNDLED / "pairs.jsonl").read_bytes()
    text = raw.decode("utf-8")  # raises on invalid UTF-8
    lines = text.splitlines()
    assert all(line.strip() for line in lines), "blank line in pairs.jsonl"
    return [json.loads(line) for line in lines]


def test_size_and_unique_ids(rows):
    assert 40 <= len(rows) <= 60
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"bundled-\d{3}", i) for i in ids)


def test_every_record_has_exactly_the_expected_fields(rows):
    for row in rows:
        assert set(row) == FIELDS, row["id"]
        assert row["label"] in {"a", "b"}, row["id"]
        assert row["deviation"] in KINDS, row["id"]


def test_no_empty_text_and_responses_differ(rows):
    for row in rows:
        for field in TEXT_FIELDS:
            assert isinstance(row[field], str) and row[field].strip(), (row["id"], field)
        assert row["response_a"].strip() != row["response_b"].strip(), row["id"]
        assert "\n" not in row["note"], row["id"]


def test_responses_stay_short_enough_for_a_small_local_judge(rows):
    longest = max(len(row[f].split()) for row in rows for f in ("response_a", "response_b"))
    assert longest <= 150


def test_labels_balanced(rows):
    labels = Counter(row["label"] for row in rows)
    assert labels["a"] == labels["b"]


def test_every_kind_present_in_both_positions(rows):
    by_kind = Counter(row["deviation"] for row in rows)
    by_kind_label = Counter((row["deviation"], row["label"]) for row in rows)
    assert set(by_kind) == KINDS
    for kind in KINDS:
        assert by_kind[kind] >= 5, kind
        assert by_kind_label[kind, "a"] >= 1 and by_kind_label[kind, "b"] >= 1, kind


def _readme_counts() -> dict[str, tuple[int, int, int]]:
    """Rows of the README's counts table: name -> (label a, label b, total)."""
    readme = (BUNDLED / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\|\s*([a-z-]+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|$", readme, re.M)
    return {name: (int(a), int(b), int(t)) for name, a, b, t in table}


def test_readme_counts_match_the_file(rows):
    stated = _readme_counts()
    actual = {
        kind: (
            sum(r["deviation"] == kind and r["label"] == "a" for r in rows),
            sum(r["deviation"] == kind and r["label"] == "b" for r in rows),
            sum(r["deviation"] == kind for r in rows),
        )
        for kind in KINDS
    }
    labels = Counter(row["label"] for row in rows)
    actual["total"] = (labels["a"], labels["b"], len(rows))
    assert stated == actual
    for a, b, total in stated.values():
        assert a + b == total


def test_readme_headline_count_matches(rows):
    readme = (BUNDLED / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0]
    assert re.search(rf"\b{len(rows)}\b", title), title


def test_readme_claim_about_longer_deviating_responses(rows):
    readme = " ".join((BUNDLED / "README.md").read_text(encoding="utf-8").split())
    match = re.search(r"in (\d+) of the (\d+) pairs it is the longer response", readme)
    assert match, "README no longer states how often the deviating response is longer"

    def words(row, side):
        return len(row[f"response_{side}"].split())

    longer = sum(words(r, "b" if r["label"] == "a" else "a") > words(r, r["label"]) for r in rows)
    assert (int(match[1]), int(match[2])) == (longer, len(rows))
