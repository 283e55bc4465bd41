"""Runs, probes and score figures: refusals in pointwise runs, bounded probe templates,
any input id in bridged pairs, and systems without a valid rating.

Servers are the scripted loopback server reached through the real OpenAI SDK client.
"""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import run_judgekit
from scipy import stats
from servers import ScriptedServer

from judgekit.agreement.scores import METHODS, score_agreement, system_level
from judgekit.analysis.pointwise_pairs import pairs_from_scores, pointwise_as_pairwise
from judgekit.records import CriterionRating, CriterionScores, Manifest, Rating, ScoredExample
from judgekit.runs.run_dir import Run, read_run

SCIPY = {"pearson": stats.pearsonr, "spearman": stats.spearmanr, "kendall": stats.kendalltau}
MAPPING = "input=pid,instruction=prompt,response=text,system=model,score.fluency=f1,score.coherence=f2,scale=1-5"


class TooLong(Exception):
    """Raised by an answer function: the scripted server answers with ``status_for_error``."""


def _scored_file(tmp_path):
    """Six responses to two prompts by three systems, scored on fluency and coherence."""
    rows = []
    for prompt in ("p1", "p2"):
        for k, system in enumerate(("s1", "s2", "s3")):
            quality = k + 2 if prompt == "p1" else 4 - k
            rows.append({"prompt": f"Write about {prompt}", "pid": prompt, "model": system,
                         "text": f"response quality {quality}", "f1": quality, "f2": quality})
    path = tmp_path / "scored.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _pointwise_args(server, tmp_path, *extra):
    return ("run", "--judge", "openai:judge", "--base-url", server.openai_url, "--protocol", "pointwise/likert",
            "--dataset", _scored_file(tmp_path), "--mapping", MAPPING, "--out", tmp_path / "run", "--quiet", *extra)


def _quality(call) -> int:
    return int(re.search(r"response quality (\d)", call.prompt)[1])


def test_a_refused_pointwise_item_becomes_an_invalid_rating_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    too_long = "This model's maximum context length is 2048 tokens; the request has 9000"

    def answer(call):
        if "Write about p2" in call.prompt and "response quality 4" in call.prompt:
            raise TooLong(too_long)
        return f"Fine.\nScore: {_quality(call)}"

    with ScriptedServer(answer=answer) as server:
        server.status_for_error = 400
        code, _, err = run_judgekit(monkeypatch, capsys, *_pointwise_args(server, tmp_path))
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert run.manifest.complete and len(run.verdicts) == 6
    refused_id = next(e.id for e in run.examples if e.input_id == "p2" and e.system == "s1")
    by_id = {r.example_id: r for r in run.verdicts}
    refused = by_id.pop(refused_id)
    assert refused.refused and set(refused.criteria) == {"fluency", "coherence"}
    for rating in refused.criteria.values():
        assert rating.score is None and rating.invalid_reason == "refused"
        assert too_long in rating.raw and "HTTP 400" in rating.raw
    assert too_long in refused.details["refused"] and "HTTP 400" in refused.details["refused"]
    assert all(not r.refused and r.criteria["fluency"].score is not None for r in by_id.values())
    assert f"refused by the server: {refused_id}: HTTP 400" in err


def test_a_server_refusing_every_pointwise_item_stops_the_run(tmp_path, monkeypatch, capsys):
    def answer(call):
        raise TooLong("unknown field logprobs")

    with ScriptedServer(answer=answer) as server:
        server.status_for_error = 400
        code, _, err = run_judgekit(monkeypatch, capsys, *_pointwise_args(server, tmp_path, "--concurrency", 1))
    assert code == 1 and "unknown field logprobs" in err and "requests rather than the items" in err
    run = read_run(tmp_path / "run")
    assert not run.manifest.complete and run.verdicts == []  # nothing answered: a resume asks them all again


@pytest.mark.parametrize("template", [
    "{{ response * 10**9 }}",
    "{% for i in range(100000) %}{{ response }}{% endfor %}",
])
def test_a_probe_template_that_renders_a_huge_response_is_refused_naming_the_file(tmp_path, monkeypatch, capsys,
                                                                                  template):
    spec = tmp_path / "huge.yaml"
    spec.write_text(yaml.safe_dump({"id": "huge", "description": "d", "citation": "c", "template": template}),
                    encoding="utf-8")
    tracemalloc.start()
    start = time.monotonic()
    try:
        code, _, err = run_judgekit(monkeypatch, capsys, "probe", "openai:judge", "--protocol", "llmbar/vanilla",
                                    "--dataset", "judgekit/bundled", "--limit", 2, "--probes", spec, "--dry-run")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2 and str(spec) in err and len(err.strip().splitlines()) == 1, err
    assert time.monotonic() - start < 10 and peak < 100_000_000


def test_ids_with_a_bar_keep_every_bridged_pair_and_never_collide():
    # "a|b"+"c" and "a"+"b|c" would both be "a|b|c" if ids were joined as they are
    ids, judge = ["a", "a|b", "b|c", "c"], [4.0, 2.0, 3.0, 1.0]
    examples = [ScoredExample(id=i, input_id="in|1", response=f"r{k}", system=f"s{k}",
                              criteria={"q": CriterionScores(scores=(float(k + 1),))}) for k, i in enumerate(ids)]
    ratings = [Rating(example_id=i, criteria={"q": CriterionRating(score=s)}) for i, s in zip(ids, judge)]
    manifest = Manifest(kind="pointwise", judge="x:y", protocol="pointwise/likert", dataset="d",
                        package_version="0", started_at="now", n_examples=4, complete=True)
    pairs = pairs_from_scores(examples, "q")
    assert len({p.id for p in pairs}) == len(pairs) == 6
    bridged = pointwise_as_pairwise(Run(Path("runs/p"), manifest, examples, ratings), "q")
    assert len(bridged.examples) == len(bridged.verdicts) == 6
    expected = {(a, b): "a" if judge[a] > judge[b] else "b" for a, b in combinations(range(4), 2)}
    got = {(ids.index(p.metadata["example_a"]), ids.index(p.metadata["example_b"])): v.winner
           for p, v in zip(bridged.examples, bridged.verdicts, strict=True)}
    assert got == expected
    assert all(p.id == v.example_id for p, v in zip(bridged.examples, bridged.verdicts, strict=True))


@pytest.mark.parametrize("method", METHODS)
def test_a_system_without_a_valid_rating_is_left_out_of_every_system_level_figure(method):
    rng = np.random.default_rng(5)
    inputs = np.array([f"i{c}" for c in range(15) for _ in range(5)])
    systems = np.array([f"s{s}" for _ in range(15) for s in range(5)])
    humans = [tuple(rng.integers(1, 6, size=2).astype(float)) for _ in inputs]
    mean = np.array([np.mean(h) for h in humans])
    judge = np.clip(np.round(mean + rng.normal(0, 1, len(mean))), 1, 5)
    judge[systems == "s3"] = np.nan  # every rating of s3 invalid
    kept = [s for s in dict.fromkeys(systems) if s != "s3"]
    expected = SCIPY[method]([judge[systems == s].mean() for s in kept], [mean[systems == s].mean() for s in kept])[0]
    figure = score_agreement(list(judge), humans, list(inputs), list(systems), n_resamples=200).figures
    assert system_level(judge, mean, systems, method) == pytest.approx(expected, abs=1e-12)
    assert figure[f"system_{method}"].estimate == pytest.approx(expected, abs=1e-12)
    assert np.isfinite(figure[f"system_{method}"].low) and np.isfinite(figure[f"system_{method}"].high)
