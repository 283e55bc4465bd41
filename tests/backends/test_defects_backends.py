"""Replays, mocks, sweeps and the Judge handle: each answer comes from the right source, each client is closed.

Live calls go through the real OpenAI SDK client to scripted servers on
127.0.0.1 (tests/servers.py); replays read run dirs written here.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import sys
import threading

import pytest
import run_dirs
import yaml
from conftest import run_judgekit
from servers import Reply, ScriptedServer, client_closed, oracle_for
from stand_in import SCORED_MAPPING, scored_file, scored_quality

import judgekit
from judgekit.backends.base import CallTag, Message, Request
from judgekit.backends.registry import create_backend
from judgekit.data import load_dataset
from judgekit.errors import BadInput, JudgekitError
from judgekit.records import Example, OrderResult, Verdict
from judgekit.runs.run_dir import read_run
from judgekit.runs.sweep import cells, load_sweep, run_sweep

BUNDLED = load_dataset("judgekit/bundled").examples
TWINS = [Example(id=f"twin/{i}", instruction="Name a prime.", response_a="7", response_b="8", gold="a")
         for i in (1, 2)]
"""Two items whose prompts are the same word for word."""


def record(path, examples, raws):
    """A finished llmbar/vanilla run dir whose example i answered ``raws[i]`` in both orders."""
    return run_dirs.pairwise_run(path, [(None, None)] * len(raws), examples=examples, raws=lambda i, order: raws[i],
                                 judge="openai:old", protocol="llmbar/vanilla", dataset="twins")


def replayed_raws(path, examples, **options):
    judge = judgekit.load_judge(f"replay:{path}", "llmbar/vanilla", **options)
    try:
        return [[o.raw for o in v.orders] for v in judge.judge_many(examples)]
    finally:
        judge.close()


# --- D1: a replay answers each call from its own recording ---------------------------------


@pytest.mark.parametrize("cache", [True, False])
def test_items_with_the_same_prompt_replay_their_own_texts(tmp_path, cache):
    recorded = record(tmp_path / "run", TWINS, ["Output (a) first", "Output (b) second"])
    assert replayed_raws(recorded, TWINS, cache=cache) == [["Output (a) first"] * 2, ["Output (b) second"] * 2]


def test_a_run_dir_recorded_again_at_the_same_path_replays_its_new_text(tmp_path):
    path = tmp_path / "run"
    record(path, TWINS[:1], ["Output (a) old"])
    assert replayed_raws(path, TWINS[:1]) == [["Output (a) old"] * 2]
    shutil.rmtree(path)
    record(path, TWINS[:1], ["Output (b) new"])
    assert replayed_raws(path, TWINS[:1]) == [["Output (b) new"] * 2]


def test_a_replay_leaves_the_response_cache_empty(tmp_path):
    from judgekit.backends.cache import ResponseCache

    recorded = record(tmp_path / "run", TWINS, ["Output (a)", "Output (b)"])
    replayed_raws(recorded, TWINS, cache=tmp_path / "cache")
    assert len(ResponseCache(tmp_path / "cache")) == 0


def test_a_panel_of_two_models_replays_each_seats_own_text(tmp_path):
    """Both seats ask the same prompt of different models: each must get its own recorded answer back."""
    spec = tmp_path / "jury.yaml"
    with ScriptedServer(answer=lambda call: "Output (a)" if call.model == "m1" else "Output (b)") as server:
        seats = "".join(f"    - {{name: {m}, judge: 'openai:{m}', base_url: '{server.openai_url}', "
                        "protocol: llmbar/vanilla}\n" for m in ("m1", "m2"))
        spec.write_text("description: two models\ncitation: Verga et al. 2024\nstrategy: panel\n"
                        "options:\n  members:\n" + seats, encoding="utf-8")
        live = judgekit.load_judge("openai:run-judge", str(spec), base_url=server.openai_url, cache=False)
        try:
            judgekit.evaluate(live, TWINS[:1], out=tmp_path / "live")
        finally:
            live.close()
        served = server.total_answered()

        replay = judgekit.load_judge(f"replay:{tmp_path / 'live'}", str(spec), cache=False)
        try:
            replayed = judgekit.evaluate(replay, TWINS[:1], out=tmp_path / "replayed")
        finally:
            replay.close()
        assert server.total_answered() == served

    def seat_raws(run):
        return {m["name"]: [o["raw"] for o in m["orders"]] for m in run.verdicts[0].details["members"]}

    assert seat_raws(read_run(tmp_path / "live")) == {"m1": ["Output (a)"] * 2, "m2": ["Output (b)"] * 2}
    assert seat_raws(replayed) == seat_raws(read_run(tmp_path / "live"))


# --- D3: a pointwise run replays -----------------------------------------------------------


@pytest.mark.parametrize("protocol", ["pointwise/likert", "pointwise/geval"])
def test_a_pointwise_run_replays_to_the_same_scores_without_calls(tmp_path, monkeypatch, capsys, protocol):
    def answer(call):
        q, other = str(scored_quality(call)), "3" if scored_quality(call) != 3 else "2"
        return Reply(f"Fluent enough.\nScore: {q}", logprobs=[{q: math.log(0.6), other: math.log(0.4)}])

    def run(judge, out, *extra):
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", judge, "--protocol", protocol,
                                    "--dataset", data, "--mapping", SCORED_MAPPING, "--out", tmp_path / out,
                                    "--quiet", *extra)
        assert code == 0, err
        return [{c: (r.score, r.raw, r.invalid_reason) for c, r in v.criteria.items()}
                for v in read_run(tmp_path / out).verdicts]

    data = scored_file(tmp_path)
    with ScriptedServer(answer=answer) as server:
        live = run("openai:judge", "live", "--base-url", server.openai_url)
        assert server.total_answered() == 6
        replayed = run(f"replay:{tmp_path / 'live'}", "replayed")
        assert server.total_answered() == 6  # no call reached the model
    assert len({v["fluency"][0] for v in live}) == 3  # three distinct scores to reproduce
    assert replayed == pytest.approx(live)

    example = read_run(tmp_path / "live").verdicts[0].example_id
    unrated = Request(messages=(Message("user", "ignored"),), tag=CallTag(example, "coherence"))
    with pytest.raises(BadInput, match=f"no recorded answer for example '{example}', criterion 'coherence'"):
        asyncio.run(create_backend(f"replay:{tmp_path / 'live'}").complete(unrated))


# --- D9: sweep cells of one spec with other settings, and clients of failed cells ----------


def write_sweep(path, judges, **more):
    path.write_text(yaml.safe_dump({"root": str(path.parent / "sweep"), "concurrency": 2, "limit": 2,
                                    "judges": judges, "protocols": ["llmbar/vanilla"],
                                    "datasets": ["judgekit/bundled"], **more}))
    return path


def test_one_spec_at_two_servers_and_two_temperatures_gets_three_run_dirs(tmp_path, cli):
    with ScriptedServer(answer=oracle_for(BUNDLED)) as one, ScriptedServer(answer=oracle_for(BUNDLED)) as two:
        file = write_sweep(tmp_path / "sweep.yaml", [
            {"spec": "openai:judge", "base_url": one.openai_url},
            {"spec": "openai:judge", "base_url": two.openai_url},
            {"spec": "openai:judge", "base_url": one.openai_url, "temperature": 0.5},
        ])
        result = cli("sweep", file, "--quiet")
        assert result.code == 0, result.err
        runs = [read_run(p) for p in sorted((tmp_path / "sweep").iterdir())]
        assert len(runs) == 3 and all(r.manifest.complete and len(r.verdicts) == 2 for r in runs)
        settings = {(r.manifest.params["base_url"], r.manifest.params["temperature"]) for r in runs}
        assert settings == {(one.openai_url, 0.0), (two.openai_url, 0.0), (one.openai_url, 0.5)}
        assert (one.total_answered(), two.total_answered()) == (8, 4)  # 2 pairs x 2 orders per cell

        one.reset_counters(), two.reset_counters()
        assert cli("sweep", file, "--quiet").code == 0  # each cell found its own dir again
        assert one.requests == two.requests == 0


@pytest.mark.parametrize("change, message", [
    ({"judges": [{"spec": "openai:judge", "base_url": "http://127.0.0.1:9/v1"}, "openai:other",
                 {"spec": "openai:judge", "base_url": "http://127.0.0.1:9/v1", "timeout": 5}]},
     "judges.0 and judges.2 are the same judge; keep one"),
    ({"protocols": ["llmbar/vanilla", "llmbar/rules", "llmbar/vanilla"]},
     "protocols.0 and protocols.2 are the same protocol; keep one"),
    ({"datasets": ["judgekit/bundled", "judgekit_bundled"]},
     "the cells llmbar/vanilla on judgekit/bundled and llmbar/vanilla on judgekit_bundled would share the run dir"),
])
def test_a_sweep_that_names_one_cell_twice_is_bad_input(tmp_path, change, message):
    file = write_sweep(tmp_path / "sweep.yaml", **{"judges": ["openai:judge"], **change})
    with pytest.raises(BadInput, match=f"sweep.yaml: {message}"):
        load_sweep(file)


class NoBatches:
    """A provider batch API that cannot be set up (as when its key is missing)."""

    def __init__(self, backend):
        raise BadInput("openai batches: no key for the batch API")


@pytest.mark.parametrize("fails_in", ["open_run_dir", "use_batches"])
def test_a_cell_that_fails_before_judging_closes_its_clients(tmp_path, monkeypatch, fails_in):
    from judgekit.backends import batch
    from judgekit.judge import api

    judges = []

    def watched_load_judge(*args, **kwargs):
        judges.append(api_load_judge(*args, **kwargs))
        return judges[-1]

    api_load_judge = api.load_judge
    monkeypatch.setattr(api, "load_judge", watched_load_judge)
    with ScriptedServer(answer=oracle_for(BUNDLED)) as server:
        file = write_sweep(tmp_path / "sweep.yaml", [{"spec": "openai:judge", "base_url": server.openai_url}],
                           batch=fails_in == "use_batches")
        spec = load_sweep(file)
        root = tmp_path / "sweep"
        if fails_in == "open_run_dir":
            root.mkdir()
            (root / cells(spec)[0].name).write_text("not a run dir")
        else:
            monkeypatch.setitem(batch.BATCH_APIS, "openai", NoBatches)
        done, failed = asyncio.run(run_sweep(spec, root))
        assert done == [] and len(failed) == 1
        assert ("is a file" if fails_in == "open_run_dir" else "no key for the batch API") in failed[0]
        assert len(judges) == 1 and client_closed(judges[0].call_path.backend)

        if fails_in == "open_run_dir":
            (root / cells(spec)[0].name).unlink()
        done, failed = asyncio.run(run_sweep(spec.model_copy(update={"batch": False}), root))
        assert failed == [] and done == [root / cells(spec)[0].name]  # the failed cell runs again in this process
    assert len(judges) == 2 and client_closed(judges[1].call_path.backend)


# --- D10: a mock policy's cached answers belong to that policy -----------------------------


def test_a_python_policy_that_answers_otherwise_is_never_served_its_old_answers(tmp_path):
    """The same function object (so the same id()) answering differently: no answer of the first run comes back."""
    reply = {"text": "Output (a)"}

    def policy(prompt):
        return reply["text"]

    answers = []
    for text in ("Output (a)", "Output (b)"):
        reply["text"] = text
        judge = judgekit.load_judge("mock:", "llmbar/vanilla", cache=tmp_path / "cache", policy=policy)
        try:
            answers.append([o.raw for o in judge.judge("Name a prime.", "7", "8").orders])
        finally:
            judge.close()
    assert answers == [["Output (a)"] * 2, ["Output (b)"] * 2]


def test_rules_files_with_other_rules_in_two_processes_do_not_share_answers(tmp_path):
    script = ("import sys, judgekit\n"
              "judge = judgekit.load_judge('mock:' + sys.argv[1], 'llmbar/vanilla', cache=sys.argv[2])\n"
              "print(judge.judge('Name a prime.', '7', '8').orders[0].raw)\n"
              "judge.close()\n")
    rules = tmp_path / "rules.yaml"
    seen = []
    for reply in ("Output (a)", "Output (b)"):
        rules.write_text(f"- {{reply: '{reply}'}}\n", encoding="utf-8")
        done = subprocess.run([sys.executable, "-c", script, str(rules), str(tmp_path / "cache")],
                              capture_output=True, text=True, timeout=120, check=True)
        seen.append(done.stdout.strip())
    assert seen == ["Output (a)", "Output (b)"]


# --- the Judge handle closes what it opened ------------------------------------------------


def judge_threads():
    return sum(t.name == "judgekit-judge" and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("calls", [1, 0])
def test_a_judge_in_a_with_block_closes_its_connections_and_ends_its_thread(calls):
    before = judge_threads()
    with ScriptedServer(answer=oracle_for(BUNDLED)) as server:
        with judgekit.load_judge("openai:judge", "llmbar/vanilla", base_url=server.openai_url, cache=False) as judge:
            for e in BUNDLED[:calls]:
                assert judge.judge(e.instruction, e.response_a, e.response_b).winner == e.gold
            assert judge_threads() == before + calls
        assert client_closed(judge.call_path.backend)  # a judge never used has no client left open either
        assert judge_threads() == before
        assert server.total_answered() == 2 * calls
    with pytest.raises(JudgekitError, match="closed"):
        judge.judge("Name a prime.", "7", "8")


# --- one name per default protocol ---------------------------------------------------------


def test_the_api_and_the_cli_name_their_own_default_protocols(tmp_path, monkeypatch, capsys):
    from judgekit.cli.run import DEFAULT_RUN_PROTOCOL
    from judgekit.judge.api import DEFAULT_API_PROTOCOL

    with judgekit.load_judge("mock:first", cache=False) as judge:
        assert judge.protocol.id == DEFAULT_API_PROTOCOL == "llmbar/vanilla"
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:first", "--dataset", "judgekit/bundled",
                                "--limit", "2", "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    assert read_run(tmp_path / "run").manifest.protocol == DEFAULT_RUN_PROTOCOL == "logprob/pairwise"


# --- one majority for annotators' and judges' votes ----------------------------------------


def test_annotators_and_judges_votes_are_counted_by_one_majority():
    from judgekit.data.examples import majority
    from judgekit.judge.strategies import common

    assert common.majority is majority
    assert majority(("b", None, "a", "b")) == "b"  # a missing vote is skipped
    assert majority(["a", "b", None]) == "tie" and majority(iter(["tie", "a", "tie"])) == "tie"
    assert majority([None, None]) is None and majority(()) is None


# --- classify runs and refused items replay too --------------------------------------------

CLASSIFY_ROWS = "id,question,answer,hallucinated\n" + "".join(
    f"q{i},Question {i}?,{'WRONG' if i % 2 else 'right'} answer {i},{'yes' if i % 3 == 0 else 'no'}\n"
    for i in range(6))
REFUSED = "right answer 4"
"""The output the scripted server refuses to judge (HTTP 400)."""


@pytest.mark.parametrize("protocol", ["classify/binary", "logprob/classify"])
def test_a_classify_run_replays_to_the_same_labels_and_refusal_without_calls(tmp_path, monkeypatch, capsys, protocol):
    def answer(call):
        if REFUSED in call.prompt:
            raise ValueError("context length exceeded")
        wrong = "WRONG" in call.prompt
        if protocol == "logprob/classify":  # options are lettered in label order: (A) fail, (B) pass
            return Reply("A)" if wrong else "B)",
                         logprobs=[{"A": math.log(0.8 if wrong else 0.3), "B": math.log(0.2 if wrong else 0.7)}])
        return "It invents a fact.\nfail" if wrong else "Fine.\npass"

    data = tmp_path / "labels.csv"
    data.write_text(CLASSIFY_ROWS, encoding="utf-8")

    def run(judge, out, *extra):
        code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", judge, "--protocol", protocol,
                                    "--dataset", data, "--labels", "yes=fail,no=pass", "--out", tmp_path / out,
                                    "--mapping",
                                    "id=id,input=question,response=answer,label=hallucinated,positive=fail",
                                    "--quiet", *extra)
        assert code == 0, err
        return [v.model_dump(exclude={"usage"}) for v in read_run(tmp_path / out).verdicts]

    with ScriptedServer(answer=answer) as server:
        server.status_for_error = 400
        live = run("openai:judge", "live", "--base-url", server.openai_url)
        served = server.requests
        replayed = run(f"replay:{tmp_path / 'live'}", "replayed")
        assert server.requests == served
    assert [v["label"] for v in live] == ["pass", "fail", "pass", "fail", None, "fail"]
    assert live[4]["invalid_reason"] == "refused"
    assert replayed == pytest.approx(live)


def test_a_refused_pairwise_item_replays_as_refused(tmp_path):
    refused = Verdict(example_id="twin/1", winner=None, invalid_reason="refused",
                      details={"refused": "HTTP 400: context length exceeded"})
    agreed = Verdict(example_id="twin/2", winner="a", orders=(OrderResult(swapped=False, raw="Output (a)", winner="a"),
                                                              OrderResult(swapped=True, raw="Output (b)", winner="a")))
    run_dirs.write_run(tmp_path / "run", TWINS, [refused, agreed], judge="openai:old", dataset="twins")
    with judgekit.load_judge(f"replay:{tmp_path / 'run'}", "llmbar/vanilla") as judge:
        replayed = judgekit.evaluate(judge, TWINS, out=tmp_path / "replayed")
    assert [(v.winner, v.invalid_reason) for v in replayed.verdicts] == [(None, "refused"), ("a", None)]
    assert "context length exceeded" in replayed.verdicts[0].details["refused"]
