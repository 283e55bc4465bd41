"""``judgekit split``: clusters whole, label shares kept, sizes and content hashes recorded, files frozen;
``judgekit run --split DIR --on SIDE`` judges one side and refuses an edited one."""

from __future__ import annotations

import csv
import json
import os
import stat
from collections import Counter

import numpy as np
import pytest
from conftest import run_judgekit
from stand_in import LABELS, MAPPING, write_labelled_csv

from judgekit.data import load_dataset
from judgekit.data.split import assign_test, cluster_key, stratum
from judgekit.data.split_dir import read_split
from judgekit.records import content_hash
from judgekit.runs.ledger import LEDGER
from judgekit.runs.run_dir import read_run

STAGED = ["halueval", "judge-bench/dices-350", "judge-bench/dices-990", "judge-bench/inferential-strategies",
          "hanna/explanations/guidelines", "llmbar/natural", "llmbar/adversarial", "llmbar/mtbench", "pandalm", "hanna"]
"""Every kind (classify, pairwise, pointwise), singletons and clusters of up to 20 items, 2 to 5 strata."""


def _split(monkeypatch, capsys, *args):
    code, out, err = run_judgekit(monkeypatch, capsys, "split", *args, "--format", "json")
    return code, (json.loads(out) if code == 0 else None), err


@pytest.mark.parametrize("dataset", STAGED)
def test_a_staged_set_splits_with_clusters_whole_and_every_label_share_within_3_points(
        dataset, data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "split"
    code, info, err = _split(monkeypatch, capsys, dataset, "--test", "0.3", "--seed", "11", "--out", out)
    assert code == 0, err
    loaded = load_dataset(dataset)
    whole = loaded.examples
    split = read_split(out)
    dev, test = split.dev.examples, split.test.examples
    assert sorted(e.id for e in dev + test) == sorted(e.id for e in whole)
    assert not {e.id for e in dev} & {e.id for e in test}
    assert not {cluster_key(e) for e in dev} & {cluster_key(e) for e in test}  # no cluster on both sides
    largest = max(Counter(cluster_key(e) for e in whole).values())
    assert abs(len(test) - 0.3 * len(whole)) <= largest
    shares = Counter(stratum(e) for e in whole)
    for side in (dev, test):
        counts = Counter(stratum(e) for e in side)
        for name, n in shares.items():
            assert abs(counts[name] / len(side) - n / len(whole)) <= 0.03, (name, counts, shares)
    assert info["test"]["n"] == len(test) and info["dev"]["n"] == len(dev)
    assert info["test"]["labels"] == dict(Counter(stratum(e) for e in test))
    assert info["test"]["clusters"] == len({cluster_key(e) for e in test})
    assert info["test"]["content_hash"] == content_hash(test) and info["dev"]["content_hash"] == content_hash(dev)
    assert info["source_hash"] == loaded.content_hash


def test_the_same_seed_gives_the_same_split_and_another_seed_another(tmp_path, monkeypatch, capsys):
    data = write_labelled_csv(tmp_path / "labels.csv")
    hashes = []
    for seed, name in ((3, "a"), (3, "b"), (4, "c")):
        code, info, err = _split(monkeypatch, capsys, data, "--mapping", MAPPING, "--labels", LABELS, "--seed", seed,
                                 "--out", tmp_path / name)
        assert code == 0, err
        hashes.append(info["test"]["content_hash"])
    assert hashes[0] == hashes[1] != hashes[2]


def test_the_split_files_are_read_only_and_a_split_is_made_once(tmp_path, monkeypatch, capsys):
    data = write_labelled_csv(tmp_path / "labels.csv")
    out = tmp_path / "nested" / "split"  # parent folders are made
    code, info, err = _split(monkeypatch, capsys, data, "--mapping", MAPPING, "--labels", LABELS, "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["dev.jsonl", "split.json", "test.jsonl"]
    for path in out.iterdir():
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), path
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = _split(monkeypatch, capsys, data, "--mapping", MAPPING, "--labels", LABELS, "--out", out)
    assert code == 2 and err.strip() == f"error: {out}: already exists; a split is made once (choose another --out)"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("args, message", [
    (("--test", "1.5"), "--test: the test share must be between 0 and 1, got 1.5"),
    (("--test", "0"), "--test: the test share must be between 0 and 1, got 0"),
    (("--limit", "2"), "labels: 2 items in 1 clusters cannot be split so that both sides hold some at --test 0.3"),
])
def test_a_split_that_cannot_be_made_writes_nothing(tmp_path, monkeypatch, capsys, args, message):
    data = write_labelled_csv(tmp_path / "labels.csv")
    out = tmp_path / "split"
    code, _, err = _split(monkeypatch, capsys, data, "--mapping", MAPPING, "--labels", LABELS, *args, "--out", out)
    assert code == 2 and err.strip() == f"error: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv"]


def test_pairs_and_scored_responses_split_and_their_sides_run(tmp_path, monkeypatch, capsys):
    pairs, scored = tmp_path / "pairs.csv", tmp_path / "scored.csv"
    with pairs.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["q", "x", "y", "best"])
        writer.writerows([[f"Task {i // 2}", f"first {i}", f"second {i}", "1" if i % 3 else "2"] for i in range(40)])
    with scored.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "text", "model", "s1", "s2"])
        writer.writerows([[f"p{i // 4}", f"story {i}", f"m{i % 4}", 1 + i % 5, 1 + (i * 3) % 5] for i in range(40)])
    code, info, err = _split(monkeypatch, capsys, pairs, "--mapping",
                             "instruction=q,response_a=x,response_b=y,gold=best",
                             "--labels", "1=a,2=b", "--out", tmp_path / "pairs-split")
    assert code == 0, err
    assert info["kind"] == "pairwise" and info["test"]["n"] == 12 and info["test"]["clusters"] == 6
    code, info, err = _split(monkeypatch, capsys, scored, "--mapping", "input=prompt,response=text,system=model,"
                             "score.quality=s1+s2,scale=1-5", "--out", tmp_path / "scored-split")
    assert code == 0, err
    assert info["kind"] == "pointwise" and set(info["test"]["labels"]) <= {f"score {i}" for i in range(1, 6)}

    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:first", "--protocol", "llmbar/vanilla",
                                  "--split", tmp_path / "pairs-split", "--on", "test", "--out", tmp_path / "run",
                                  "--quiet")
    assert code == 0, err
    run = read_run(tmp_path / "run")
    test = read_split(tmp_path / "pairs-split").test
    assert run.manifest.dataset == "pairs:test" and run.manifest.dataset_hash == info_hash(tmp_path / "pairs-split")
    assert run.examples == list(test.examples)
    code, out, err = run_judgekit(monkeypatch, capsys, "versions", tmp_path / "pairs-split", "--format", "json")
    assert code == 0, err
    shown = json.loads(out)["versions"][0]["test"]
    assert (shown["figure"], shown["value"], shown["n"]) == ("accuracy", 0.5, 12)  # first slot: right in one order


def info_hash(split_dir, side="test"):
    return json.loads((split_dir / "split.json").read_text())[side]["content_hash"]


@pytest.mark.parametrize("side", ["test", "dev"])
def test_an_edited_side_is_refused_by_its_hash_and_nothing_runs(tmp_path, monkeypatch, capsys, side):
    data = write_labelled_csv(tmp_path / "labels.csv")
    split_dir = tmp_path / "split"
    assert _split(monkeypatch, capsys, data, "--mapping", MAPPING, "--labels", LABELS, "--out", split_dir)[0] == 0
    edited = split_dir / f"{side}.jsonl"
    os.chmod(edited, 0o644)  # what a user editing it would do first
    lines = edited.read_text(encoding="utf-8").splitlines()
    item = json.loads(lines[0])
    item["gold"] = "pass" if item["gold"] == "fail" else "fail"  # still a valid record: only the hash tells
    edited.write_text("\n".join([json.dumps(item), *lines[1:]]) + "\n", encoding="utf-8")
    code, out, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:reply=pass", "--protocol",
                                  "classify/binary", "--split", split_dir, "--on", "test", "--out", tmp_path / "run")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {edited}: its content no longer matches the hash in split.json")
    assert f"the {side} side was edited after the split" in err
    assert not (tmp_path / "run").exists() and not (split_dir / LEDGER).exists()


@pytest.mark.parametrize("args, message", [
    (("--on", "test"), "--on: names a side of a split; give the split with --split DIR"),
    (("--split", "S"), "--split S: say which side to judge with --on dev or --on test"),
    (("--split", "S", "--on", "dev", "--dataset", "halueval"),
     "--split: the split holds the data; drop --dataset, --mapping and --labels"),
    (("--split", "S", "--on", "test", "--limit", "3"),
     "--limit: a test-side run judges the whole test side (its figure is the one reported)"),
    (("--split", "nowhere", "--on", "dev"),
     "nowhere: not a split dir (no such directory; make one with judgekit split)"),
    (("--split", "S", "--on", "dev", "--out", "S/runs/v1"),
     "--out S/runs/v1: is inside the split dir S, which judgekit never writes; put runs elsewhere"),
])
def test_run_options_that_do_not_go_with_a_split_are_refused(tmp_path, monkeypatch, capsys, args, message):
    data = write_labelled_csv(tmp_path / "labels.csv")
    assert _split(monkeypatch, capsys, data, "--mapping", MAPPING, "--labels", LABELS, "--out", tmp_path / "S")[0] == 0
    monkeypatch.chdir(tmp_path)
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:reply=pass", "--protocol",
                                "classify/binary", *args)
    assert code == 2 and err.strip() == f"error: {message}"


@pytest.mark.parametrize("seed", range(5))
def test_clusters_of_mixed_labels_and_sizes_split_within_one_cluster_and_3_points(seed):
    """Without staged data: 60 clusters of 1 to 12 items, three skewed labels mixed inside clusters."""
    rng = np.random.default_rng(100 + seed)
    keys, strata = [], []
    for c in range(60):
        for _ in range(int(rng.integers(1, 13))):
            keys.append(f"c{c}")
            strata.append(str(rng.choice(["a", "b", "tie"], p=[0.6, 0.3, 0.1])))
    in_test = assign_test(keys, strata, 0.3, seed)
    assert all(len({t for k, t in zip(keys, in_test) if k == key}) == 1 for key in set(keys))
    assert abs(sum(in_test) - 0.3 * len(keys)) <= max(Counter(keys).values())
    whole = Counter(strata)
    for side in (True, False):
        counts = Counter(s for s, t in zip(strata, in_test) if t == side)
        n = sum(counts.values())
        assert all(abs(counts[name] / n - whole[name] / len(keys)) <= 0.03 for name in whole), (counts, whole)
