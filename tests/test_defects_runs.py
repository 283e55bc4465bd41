"""Runs, probes and score figures: refusals in pointwise runs, bounded probe templates,
any input id in bridged pairs, and systems without a valid rating.

Servers are the scripted loopback server reached through the real OpenAI SDK client.
"""

from __future__ import annotations

import json
import re
import time
import tracemalloc

import pytest
import yaml

from conftest import run_judgekit
from servers import ScriptedServer

from judgekit.runs.run_dir import read_run

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
    assert not run.manifest.complete and len(run.verdicts) == 2 and all(r.refused for r in run.verdicts)


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
