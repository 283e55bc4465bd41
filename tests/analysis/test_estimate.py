"""``judgekit estimate``, ``plan estimate`` and ``route --sample random``: the join, the targets, the JSON, the errors.

The arrays each test expects are built here from the records by hand, not
through ``analysis.estimate``, and the figures are checked against ppi-python
(the reference implementation) on synthetic runs and on real staged data.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import run_dirs
from conftest import run_judgekit
from ppi_py import classical_mean_ci, ppi_mean_ci, ppi_mean_pointestimate
from scipy.stats import norm

from judgekit.analysis.estimate import estimate_figures, plan_figures
from judgekit.records import Classification, Example, Manifest, RunInMemory, Verdict
from judgekit.runs.run_dir import read_run

TOLERANCE = 1e-9
CONTRACT = {"target", "n_labelled", "n_unlabelled", "alpha", "methods", "effective_labels"}


SIMULATED = {"judge": "sim:judge", "protocol": "sim"}
"""The manifest fields of a run a simulated judge made."""


def _classify_run(path: Path, truth: list[str], said: list[str | None], *, gold: bool = False) -> Path:
    wrong = [("pass" if t == "fail" else "fail") if gold else None for t in truth]  # wrong on purpose
    return run_dirs.classify_run(path, said, examples=run_dirs.outputs(wrong, prefix="o"), **SIMULATED)


def _simulated(n: int, *, rate: float, sens: float, spec: float, invalid: float = 0.0, seed: int = 0):
    """Truth (fail at ``rate``) and a judge that says fail with ``sens`` on fails and pass with ``spec`` on passes."""
    rng = np.random.default_rng(seed)
    truth = ["fail" if x < rate else "pass" for x in rng.random(n)]
    said: list[str | None] = []
    for t in truth:
        if rng.random() < invalid:
            said.append(None)
        elif t == "fail":
            said.append("fail" if rng.random() < sens else "pass")
        else:
            said.append("pass" if rng.random() < spec else "fail")
    return truth, said


def _write_labels(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _reference(y, f, u, alpha=0.05):
    """ppi-python's classical, PPI and PPI++ on the same arrays."""
    out = {"classical": (float(np.mean(y)), *map(float, classical_mean_ci(y, alpha=alpha)))}
    for name, lam in (("ppi", 1), ("ppi++", None)):
        low, high = ppi_mean_ci(y, f, u, alpha=alpha, lam=lam)
        out[name] = (float(np.ravel(ppi_mean_pointestimate(y, f, u, lam=lam))[0]), float(low[0]), float(high[0]))
    return out


def _assert_matches(figures, reference):
    for name, (estimate, low, high) in reference.items():
        got = figures["methods"][name]
        assert abs(got["estimate"] - estimate) <= TOLERANCE, name
        assert abs(got["ci"][0] - low) <= TOLERANCE and abs(got["ci"][1] - high) <= TOLERANCE, name


@pytest.fixture
def halueval_like(tmp_path):
    truth, said = _simulated(1500, rate=0.18, sens=0.8, spec=0.9, invalid=0.02, seed=4)
    run = _classify_run(tmp_path / "run", truth, said)
    rng = np.random.default_rng(5)
    picked = sorted(rng.choice(len(truth), 150, replace=False))
    labels = _write_labels(tmp_path / "human.csv", [{"item": f"o{i}", "verdict": "yes" if truth[i] == "fail" else "no"}
                                                    for i in picked])
    return run, labels, truth, said, picked


def test_estimate_json_is_the_contract_and_equals_ppi_python(halueval_like, monkeypatch, capsys):
    run, labels, truth, said, picked = halueval_like
    code, out, err = run_judgekit(monkeypatch, capsys, "estimate", run, "--human", labels, "--mapping",
                                  "id=item,label=verdict", "--labels", "yes=fail,no=pass", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert CONTRACT <= set(data)
    assert set(data["methods"]) == {"naive", "classical", "ppi", "ppi++", "rogan-gladen"}
    for name, m in data["methods"].items():
        assert {"estimate", "ci"} <= set(m), name
    assert "lambda" in data["methods"]["ppi++"] and data["methods"]["ppi"]["lambda"] == 1.0
    assert data["target"] == "pass_rate:pass" and data["alpha"] == 0.05
    assert (data["n_labelled"], data["n_unlabelled"]) == (150, 1350)
    assert data["n_invalid"] == said.count(None) > 0 and data["variance"] == "independent items"
    # by hand: Y = 1 for pass; f = 1 where the judge said pass, an invalid verdict the mean of the valid ones
    valid_mean = np.mean([s == "pass" for s in said if s is not None])
    f_all = np.array([valid_mean if s is None else float(s == "pass") for s in said])
    lab = np.zeros(len(truth), bool)
    lab[picked] = True
    y = np.array([float(truth[i] == "pass") for i in picked])
    _assert_matches(data, _reference(y, f_all[lab], f_all[~lab]))
    naive = data["methods"]["naive"]
    assert naive["valid"] is False and naive["estimate"] == pytest.approx(valid_mean, abs=1e-12)
    classical, tuned = data["methods"]["classical"], data["methods"]["ppi++"]

    def width(m):
        return m["ci"][1] - m["ci"][0]

    assert data["effective_labels"] == pytest.approx(150 * (width(classical) / width(tuned)) ** 2, rel=1e-9)
    assert data["effective_labels"] > 150  # an informative judge is worth more labels than were given


def test_rogan_gladen_in_the_command_counts_invalid_verdicts_as_not_saying_the_label(halueval_like):
    run, labels, truth, said, picked = halueval_like
    data = estimate_figures(read_run(run), labels, mapping="id=item,label=verdict", labels="yes=fail,no=pass",
                            positive="fail")
    rg = data["methods"]["rogan-gladen"]
    lab = set(picked)
    positives = [i for i in picked if truth[i] == "fail"]
    negatives = [i for i in picked if truth[i] == "pass"]
    assert rg["sensitivity"] == pytest.approx(np.mean([said[i] == "fail" for i in positives]))
    assert rg["specificity"] == pytest.approx(np.mean([said[i] != "fail" for i in negatives]))
    rate = np.mean([said[i] == "fail" for i in range(len(truth)) if i not in lab])
    assert rg["judge_rate"] == pytest.approx(rate)
    assert rg["estimate"] == pytest.approx((rate + rg["specificity"] - 1) / (rg["sensitivity"] + rg["specificity"] - 1))
    assert data["target"] == "pass_rate:fail" and rg["interval"] == "delta"
    boot = estimate_figures(read_run(run), labels, mapping="id=item,label=verdict", labels="yes=fail,no=pass",
                            positive="fail", rogan_gladen_interval="bootstrap", n_resamples=500, seed=2,
                            methods=("rogan-gladen",))
    assert list(boot["methods"]) == ["rogan-gladen"]
    shown = boot["methods"]["rogan-gladen"]
    assert shown["interval"] == "bootstrap" and shown["se"] is None and shown["estimate"] == rg["estimate"]
    assert shown["ci"][0] < rg["estimate"] < shown["ci"][1] and shown["ci"] != rg["ci"]


def test_a_join_by_content_gives_the_same_figures_as_by_id_and_the_runs_own_gold_is_ignored(tmp_path):
    truth, said = _simulated(400, rate=0.3, sens=0.85, spec=0.85, seed=8)
    run = read_run(_classify_run(tmp_path / "run", truth, said, gold=True))  # every run gold is wrong
    picked = range(0, 400, 7)
    by_id = _write_labels(tmp_path / "id.jsonl", [{"id": f"o{i}", "label": truth[i]} for i in picked])
    by_text = _write_labels(tmp_path / "text.jsonl", [{"q": f"question {i}", "a": f"answer {i}  ", "h": truth[i]}
                                                      for i in picked])
    one = estimate_figures(run, by_id)
    two = estimate_figures(run, by_text, mapping="input=q,response=a,label=h")
    assert one["methods"] == two["methods"]
    assert one["methods"]["classical"]["estimate"] == pytest.approx(np.mean([truth[i] == "pass" for i in picked]))


def test_pairwise_win_rate_counts_ties_as_half_and_takes_a_systems_side(tmp_path):
    rng = np.random.default_rng(9)
    labels = ["a", "b", "tie"]
    examples, verdicts, truth = [], [], {}
    for i in range(240):
        system_first = i % 2 == 0
        examples.append(Example(id=f"p{i}", instruction=f"task {i}", response_a=f"x{i}", response_b=f"y{i}",
                                generator_a="sys" if system_first else "base",
                                generator_b="base" if system_first else "sys"))
        human = labels[rng.choice(3, p=[0.5, 0.3, 0.2])]
        truth[f"p{i}"] = human
        judge = human if rng.random() < 0.7 else labels[rng.integers(3)]
        verdicts.append(Verdict(example_id=f"p{i}", winner=judge))
    examples.append(Example(id="other", instruction="t", response_a="u", response_b="v", generator_a="m1",
                            generator_b="m2"))
    verdicts.append(Verdict(example_id="other", winner="a"))
    run_dirs.write_run(tmp_path / "pairs", examples, verdicts, **SIMULATED)
    human = _write_labels(tmp_path / "h.csv", [{"id": k, "label": {"a": "1", "b": "2", "tie": "0"}[v]}
                                               for k, v in list(truth.items())[::4]] + [{"id": "other", "label": "1"}])
    run = read_run(tmp_path / "pairs")
    slot = estimate_figures(run, human, labels="1=a,2=b,0=tie")
    value = {"a": 1.0, "tie": 0.5, "b": 0.0}
    ids = [e.id for e in run.examples]
    labelled = set(list(truth)[::4]) | {"other"}
    y = np.array([value[truth[i]] if i != "other" else 1.0 for i in ids if i in labelled])
    f = {v.example_id: value[v.winner] for v in verdicts}
    ref = _reference(y, np.array([f[i] for i in ids if i in labelled]),
                     np.array([f[i] for i in ids if i not in labelled]))
    assert slot["target"] == "win_rate:a"
    _assert_matches(slot, ref)
    assert slot["methods"]["rogan-gladen"]["estimate"] is None  # not a binary target
    system = estimate_figures(run, human, labels="1=a,2=b,0=tie", target="win_rate:sys")
    flip = {e.id: e.generator_b == "sys" for e in run.examples}
    pop = [i for i in ids if i != "other"]

    def orient(i, x):
        return 1.0 - x if flip[i] else x

    y = np.array([orient(i, value[truth[i]]) for i in pop if i in labelled])
    ref = _reference(y, np.array([orient(i, f[i]) for i in pop if i in labelled]),
                     np.array([orient(i, f[i]) for i in pop if i not in labelled]))
    assert system["target"] == "win_rate:sys" and system["human_labels_outside_target"] == 1
    assert system["n_labelled"] + system["n_unlabelled"] == 240
    _assert_matches(system, ref)


def _pointwise_run(path: Path, *, shared_inputs: bool, seed: int = 10) -> tuple[Path, dict[str, float]]:
    rng = np.random.default_rng(seed)
    effects = rng.normal(0, 0.8, 300)  # an input's effect on every response to it
    inputs, scores, truth = [], [], {}
    for i in range(300):
        group = i // 6 if shared_inputs else i
        inputs.append(f"in{group}")
        quality = float(np.clip(3 + effects[group] + rng.normal(0, 0.6), 1, 5))
        truth[f"s{i}"] = quality
        scores.append(None if i == 5 else float(np.clip(round(0.5 + 0.9 * quality + rng.normal(0, 0.4)), 1, 5)))
    examples = run_dirs.scored([()] * 300, inputs=inputs, systems=[f"m{i % 6}" for i in range(300)], prefix="s",
                               response=lambda i: f"r{i}")
    return run_dirs.pointwise_run(path, scores, examples=examples, **SIMULATED), truth


def test_pointwise_mean_score_averages_annotators_and_uses_the_clustered_variance_when_inputs_are_shared(tmp_path):
    path, truth = _pointwise_run(tmp_path / "scores", shared_inputs=True)
    rows = [{"id": k, "h1": round(v), "h2": v} for k, v in list(truth.items())[::3]]
    human = _write_labels(tmp_path / "h.jsonl", rows)
    run = read_run(path)
    clustered = estimate_figures(run, human, mapping="id=id,label=h1+h2")
    assert clustered["target"] == "mean_score:fluency" and clustered["n_clusters"] == 50
    assert clustered["variance"].startswith("clustered")
    plain = estimate_figures(run, human, mapping="id=id,label=h1+h2", clusters=False)
    assert plain["variance"] == "independent items" and clustered["n_invalid"] == 1
    labelled = {r["id"]: (r["h1"] + r["h2"]) / 2 for r in rows}
    scores = {r.example_id: r.criteria["fluency"].score for r in run.verdicts}
    valid_mean = np.mean([s for s in scores.values() if s is not None])
    f = {k: valid_mean if s is None else s for k, s in scores.items()}
    ids = [e.id for e in run.examples]
    _assert_matches(plain, _reference(np.array([labelled[i] for i in ids if i in labelled]),
                                      np.array([f[i] for i in ids if i in labelled]),
                                      np.array([f[i] for i in ids if i not in labelled])))
    for name in ("classical", "ppi", "ppi++"):
        c, p = clustered["methods"][name], plain["methods"][name]
        assert c["estimate"] == pytest.approx(p["estimate"]) and c["se"] > p["se"], name


def test_a_score_off_the_scale_is_bad_input_and_route_draws_no_pointwise_tasks(tmp_path, monkeypatch, capsys):
    path, truth = _pointwise_run(tmp_path / "scores", shared_inputs=False)
    human = _write_labels(tmp_path / "h.csv", [{"id": k, "label": 3} for k in list(truth)[:20]]
                          + [{"id": "s20", "label": 7}])
    code, _, err = run_judgekit(monkeypatch, capsys, "estimate", path, "--human", human)
    assert code == 2 and err.count("\n") == 1
    assert "h.csv: record 21: field 'label': 7 is outside the scale 1-5 of 'fluency'" in err
    code, _, err = run_judgekit(monkeypatch, capsys, "route", path, "--sample", "random", "--n", "5", "--out",
                                tmp_path / "t.jsonl")
    assert code == 2 and "pairwise and classify runs" in err and not (tmp_path / "t.jsonl").exists()


def test_bad_joins_are_one_line_errors_naming_file_record_and_field(halueval_like, tmp_path, monkeypatch, capsys):
    run, labels = halueval_like[:2]

    def fails(human, *extra, needles):
        code, out, err = run_judgekit(monkeypatch, capsys, "estimate", run, "--human", human, *extra)
        lines = err.strip().splitlines()
        assert code == 2 and not out and len(lines) == 1 and lines[0].startswith("error: "), err
        for needle in needles:
            assert needle in lines[0], lines[0]

    stranger = _write_labels(tmp_path / "stranger.csv", [{"id": "o1", "label": "pass"}, {"id": "zz9", "label": "fail"}])
    fails(stranger, needles=("stranger.csv", "record 2", "field 'id'", "'zz9' is not an item of run"))
    odd = _write_labels(tmp_path / "odd.jsonl", [{"id": "o1", "label": "pass"}, {"id": "o2", "label": "maybe"}])
    fails(odd, needles=("odd.jsonl", "line 2", "field 'label'", "'maybe' is not a label", "--labels"))
    few = _write_labels(tmp_path / "few.csv", [{"id": f"o{i}", "label": "pass"} for i in range(9)])
    fails(few, needles=("few.csv", "field 'label'", "9 labelled items", "at least 10"))
    twice = _write_labels(tmp_path / "twice.csv", [{"id": "o1", "label": "pass"}, {"id": "o1", "label": "fail"}])
    fails(twice, needles=("twice.csv", "record 2", "labelled twice", "record 1"))
    fails(labels, "--mapping", "id=item,label=human", needles=("human.csv", "field 'human'", "no such column"))
    fails(labels, "--mapping", "id=item,label=verdict", "--labels", "yes=fail,no=pass", "--target", "win_rate",
          needles=("--target", "classify run", "pass_rate"))
    fails(labels, "--mapping", "id=item,label=verdict", "--labels", "yes=fail,no=pass", "--positive", "maybe",
          needles=("--positive", "'maybe'", "fail, pass"))
    fails(labels, "--mapping", "id=item,label=verdict", "--labels", "yes=fail,no=pass", "--method", "bayes",
          needles=("--method", "'bayes'"))
    fails(tmp_path / "absent.csv", needles=("absent.csv", "not found"))
    by_text = _write_labels(tmp_path / "text.csv", [{"q": "question 1", "a": "answer 999", "label": "pass"}])
    fails(by_text, "--mapping", "input=q,response=a,label=label",
          needles=("text.csv", "record 1", "field 'q+a'", "matches no item"))


def test_empty_label_cells_are_rows_not_yet_labelled_and_every_item_labelled_leaves_only_classical(tmp_path):
    truth, said = _simulated(30, rate=0.3, sens=0.9, spec=0.9, seed=12)
    run = read_run(_classify_run(tmp_path / "run", truth, said))
    rows = [{"id": f"o{i}", "label": truth[i] if i < 12 else ""} for i in range(30)]
    partial = estimate_figures(run, _write_labels(tmp_path / "partial.csv", rows))
    assert partial["n_labelled"] == 12 and partial["human_rows_without_label"] == 18
    full = estimate_figures(run, _write_labels(tmp_path / "all.csv", [{"id": f"o{i}", "label": truth[i]}
                                                                      for i in range(30)]))
    assert full["n_unlabelled"] == 0 and full["methods"]["ppi++"]["estimate"] is None
    assert "classical" in full["methods"]["ppi"]["note"] and full["effective_labels"] is None
    assert full["methods"]["classical"]["estimate"] == pytest.approx(truth.count("pass") / 30)


def test_table_output_names_the_methods_and_flags_naive(halueval_like, monkeypatch, capsys):
    run, labels, *_ = halueval_like
    code, out, err = run_judgekit(monkeypatch, capsys, "estimate", run, "--human", labels, "--mapping",
                                  "id=item,label=verdict", "--labels", "yes=fail,no=pass")
    assert code == 0, err
    for text in ("naive (judge only) *", "classical (humans only)", "ppi++ (tuned λ)", "rogan-gladen: sensitivity",
                 "not a valid interval", "effective labels"):
        assert text in out, text


# ---- plan estimate ------------------------------------------------------------------------------------------------


def test_plan_estimate_solves_the_half_width_with_and_without_the_judge(halueval_like, monkeypatch, capsys):
    run, labels, truth, said, picked = halueval_like
    code, out, err = run_judgekit(monkeypatch, capsys, "plan", "estimate", "--pilot", run, "--human", labels,
                                  "--mapping", "id=item,label=verdict", "--labels", "yes=fail,no=pass",
                                  "--half-width", "0.03", "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["method"] == "analytic" and plan["simulation"] is None and plan["pilot_labelled"] == 150
    z = norm.ppf(0.975)
    y = np.array([float(truth[i] == "pass") for i in picked])
    assert plan["needed"]["classical"] == math.ceil((z * y.std() / 0.03) ** 2)
    needed = plan["needed"]["ppi++"]
    assert needed < plan["needed"]["classical"]
    # the closed form at the answer and one below it, with λ tuned at each size
    valid_mean = np.mean([s == "pass" for s in said if s is not None])
    f_all = np.array([valid_mean if s is None else float(s == "pass") for s in said])
    f_lab = f_all[list(picked)]
    cov = np.mean((y - y.mean()) * (f_lab - f_lab.mean()))

    def half(n):
        lam = min(max(cov / ((1 + n / (1500 - n)) * f_all.var(ddof=1)), 0), 1)
        return z * math.sqrt(lam**2 * f_all.var(ddof=1) / (1500 - n) + np.var(y - lam * f_lab) / n)

    assert half(needed) <= 0.03 < half(needed - 1)


def test_plan_estimate_simulates_from_a_small_pilot(tmp_path):
    truth, said = _simulated(2000, rate=0.25, sens=0.9, spec=0.9, seed=13)
    run = read_run(_classify_run(tmp_path / "run", truth, said))
    human = _write_labels(tmp_path / "pilot.csv", [{"id": f"o{i}", "label": truth[i]} for i in range(0, 2000, 50)])
    plan = plan_figures(run, human, half_width=0.05, sizes=(50, 100, 200, 400, 800), simulations=400, seed=1)
    assert plan["pilot_labelled"] == 40 and plan["method"] == "simulation"
    rows = plan["simulation"]["rows"]
    assert [r["n"] for r in rows] == [50, 100, 200, 400, 800]
    assert all(0 <= r["ppi++"] <= 1 for r in rows) and rows[-1]["classical"] == 1.0 and rows[0]["classical"] < 0.05
    assert plan["needed"] == plan["simulation"]["needed"]
    assert plan["needed"]["ppi++"] <= plan["needed"]["classical"]


# ---- route --sample random ----------------------------------------------------------------------------------------


def test_route_sample_random_draws_n_items_uniformly_and_reproducibly(halueval_like, tmp_path, monkeypatch, capsys):
    run = halueval_like[0]
    drawn = []
    for seed in ("1", "1", "2"):
        out = tmp_path / f"tasks-{len(drawn)}.jsonl"
        code, _, err = run_judgekit(monkeypatch, capsys, "route", run, "--sample", "random", "--n", "200", "--seed",
                                    seed, "--out", out)
        assert code == 0, err
        tasks = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(tasks) == 200 and {t["reason"] for t in tasks} == {"random_sample"}
        assert all(t["label"] is None and "output" in t for t in tasks)
        drawn.append([t["id"] for t in tasks])
    assert drawn[0] == drawn[1] and drawn[0] != drawn[2]
    positions = np.array([int(i[1:]) for i in drawn[0]])
    assert positions.min() < 150 and positions.max() > 1350  # spread over the run, not its head
    code, _, err = run_judgekit(monkeypatch, capsys, "route", run, "--n", "5", "--out", tmp_path / "x.jsonl")
    assert code == 2 and "--n: only with --sample random" in err
    code, _, err = run_judgekit(monkeypatch, capsys, "route", run, "--sample", "random", "--n", "9999", "--out",
                                tmp_path / "y.jsonl")
    assert code == 2 and "--n: 9999" in err


def test_routed_random_tasks_labelled_back_feed_estimate(halueval_like, tmp_path, monkeypatch, capsys):
    run, _, truth, *_ = halueval_like
    tasks = tmp_path / "tasks.jsonl"
    code, _, err = run_judgekit(monkeypatch, capsys, "route", run, "--sample", "random", "--n", "60", "--out", tasks)
    assert code == 0, err
    filled = [json.loads(line) for line in tasks.read_text(encoding="utf-8").splitlines()]
    for t in filled:
        t["label"] = truth[int(t["id"][1:])]
    _write_labels(tasks, filled)
    data = estimate_figures(read_run(run), tasks)
    assert data["n_labelled"] == 60 and data["n_unlabelled"] == 1440


# ---- real data ----------------------------------------------------------------------------------------------------


def test_real_halueval_labels_with_a_simulated_judge_equal_ppi_python(data_dir, tmp_path):
    from judgekit.data.loader import load_dataset

    dataset = load_dataset("halueval")
    rng = np.random.default_rng(14)
    said = ["fail" if rng.random() < (0.75 if e.gold == "fail" else 0.12) else "pass" for e in dataset.examples]
    examples = [e.model_copy(update={"gold": None, "votes": ()}) for e in dataset.examples]
    manifest = Manifest(kind="classify", **SIMULATED, dataset="toy", package_version="0", started_at=run_dirs.STARTED,
                        n_examples=len(examples), complete=True, labels=dataset.labels, positive_label="fail")
    run = RunInMemory(path=tmp_path / "halueval", manifest=manifest,
                      examples=examples, verdicts=[Classification(example_id=e.id, label=s)
                                                   for e, s in zip(examples, said)])
    picked = sorted(rng.choice(len(examples), 400, replace=False))
    human = _write_labels(tmp_path / "h.jsonl", [{"id": examples[i].id, "h": "yes" if dataset.examples[i].gold == "fail"
                                                  else "no"} for i in picked])
    data = estimate_figures(run, human, mapping="id=id,label=h", labels="yes=fail,no=pass", positive="fail")
    f = np.array([float(s == "fail") for s in said])
    lab = np.zeros(len(f), bool)
    lab[picked] = True
    y = np.array([float(dataset.examples[i].gold == "fail") for i in picked])
    _assert_matches(data, _reference(y, f[lab], f[~lab]))
    true_rate = 815 / 4507
    assert not data["methods"]["naive"]["ci"][0] <= true_rate <= data["methods"]["naive"]["ci"][1]


def test_real_recorded_judges_equal_ppi_python(data_dir, tmp_path):
    """PandaLM's recorded gpt-3.5-turbo verdicts (win rate of response 1, ties half) and HANNA's recorded
    ChatGPT coherence scores (mean score), each against a random 30 % of its human labels."""
    from judgekit.runs.importers.hanna import read_hanna
    from judgekit.runs.importers.pandalm import import_pandalm

    pandalm = import_pandalm("gpt-3.5-turbo", tmp_path / "pandalm")
    hanna = read_hanna(llms=("ChatGPT",), prompts=(1,))[0]
    hanna_run = RunInMemory(path=tmp_path / "hanna", manifest=hanna.manifest, examples=list(hanna.examples),
                            verdicts=list(hanna.ratings))
    rng = np.random.default_rng(15)
    value = {"a": 1.0, "tie": 0.5, "b": 0.0}
    cases = [
        (pandalm, "win_rate", lambda e: e.gold, lambda v: None if v.winner is None else value[v.winner],
         lambda h: value[h]),
        (hanna_run, "mean_score:coherence", lambda e: e.criteria["coherence"].mean,
         lambda r: r.criteria["coherence"].score, lambda h: h),
    ]
    for run, target, human_of, judge_of, as_number in cases:
        examples = [e for e in run.examples if human_of(e) is not None]
        picked = {examples[i].id for i in rng.choice(len(examples), int(0.3 * len(examples)), replace=False)}
        human = _write_labels(tmp_path / f"{run.path.name}.jsonl",
                              [{"id": e.id, "label": human_of(e)} for e in examples if e.id in picked])
        data = estimate_figures(run, human, target=target, clusters=False)
        judged = {v.example_id: judge_of(v) for v in run.verdicts}
        valid = [x for x in judged.values() if x is not None]
        fill = float(np.mean(valid))
        ids = [e.id for e in run.examples]
        f = {i: fill if judged.get(i) is None else judged[i] for i in ids}
        truth = {e.id: as_number(human_of(e)) for e in examples}
        ref = _reference(np.array([truth[i] for i in ids if i in picked]), np.array([f[i] for i in ids if i in picked]),
                         np.array([f[i] for i in ids if i not in picked]))
        _assert_matches(data, ref)
        assert data["methods"]["ppi++"]["lambda"] > 0  # the recorded judge carries information
