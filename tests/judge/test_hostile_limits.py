"""Issue 28, hangs, memory and tracebacks from templates: what a hostile spec, probe or data file
must not do to the machine running judgekit.

A spec that would loop for minutes or allocate gigabytes runs in a child process capped at
1.5 GB of address space and waited for with a wall-clock bound, so the test fails (instead of
hanging or swapping the machine) on code that lets it through.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import JUDGEKIT, KILLS_PROCESSES, run_judgekit
from servers import ScriptedServer

from judgekit.runs.run_dir import read_run

MEMORY_CAP = 1_500_000_000


def _spec(tmp_path: Path, compare: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({"description": "hostile", "citation": "none", "strategy": "pairwise",
                                "templates": {"compare": compare}}), encoding="utf-8")
    return path


def _run(protocol: Path, out: Path, *extra: str) -> tuple[str, ...]:
    return ("run", "--judge", "mock:first", "--protocol", str(protocol), "--dataset", "judgekit/bundled",
            "--limit", "2", "--out", str(out), "--quiet", *extra)


def bounded_judgekit(*args: str, seconds: float = 60, render_seconds: float | None = None) -> tuple[int, str]:
    """``judgekit ARGS`` in a child capped at MEMORY_CAP: its exit code and stderr, or a failed test after
    ``seconds``. ``render_seconds`` shortens the child's template deadline (sandbox.MAX_RENDER_SECONDS), so
    a template stopped by the clock costs a fraction of a second here rather than the product's 5 s."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    command = [JUDGEKIT, *args]
    if render_seconds is not None:
        command = [sys.executable, "-c", "import sys; from judgekit.judge import sandbox; "
                   f"sandbox.MAX_RENDER_SECONDS = {render_seconds!r}; from judgekit.cli import main; "
                   "sys.argv[0] = 'judgekit'; main()", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds, preexec_fn=cap)
    except subprocess.TimeoutExpired:
        pytest.fail(f"judgekit {' '.join(args[:1])} still running after {seconds:g} s")
    return done.returncode, done.stderr


BOMBS = {
    "nested loops without output": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "lipsum": "{{ lipsum(10**8) }}",
    "nested powers": "{{ ((9**64)**64)**64 }}",
    "doubling in a namespace": "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
                               "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "a repeated list joined": "{% set s = 'x' * 1000000 %}{{ ([s, s, s] * 2000)|join }}",
    "a format width": "{{ '%2000000000s'|format('x') }}",
    "a method's width": "{{ 'x'.center(2000000000) }}",
    "a macro calling itself twice": "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
                                    "{% endmacro %}{{ f(60) }}",
}


@pytest.mark.parametrize("bomb", BOMBS.values(), ids=BOMBS.keys())
def test_a_template_that_would_hang_or_take_gigabytes_is_one_line_naming_file_and_template(tmp_path, bomb):
    code, err = bounded_judgekit(*_run(_spec(tmp_path, bomb + "{{ output_1 }}{{ output_2 }}"), tmp_path / "run"),
                                 render_seconds=0.5)
    assert code == 2 and len(err.strip().splitlines()) == 1, err[-2000:]
    assert "spec.yaml: templates.compare: " in err and "(rendering example 'judgekit/bundled/" in err


def test_a_template_out_of_time_once_is_refused_at_once_after(monkeypatch):
    """Concurrent items all start rendering a looping template: the run must end after one deadline, not one each."""
    from jinja2.exceptions import SecurityError

    from judgekit.judge import sandbox

    monkeypatch.setattr(sandbox, "MAX_RENDER_SECONDS", 0.05)
    loops = "{% for i in range(99999) %}{% for j in range(99999) %}{{ step() }}{% endfor %}{% endfor %}"
    template = sandbox.BoundedSandbox().from_string(loops)
    steps = []
    taken = []
    for _ in range(2):
        with pytest.raises(SecurityError, match="rendering took longer than 0.05 s"):
            sandbox.render(template, {"step": lambda: steps.append(1) or ""})
        taken.append(len(steps))
    assert taken[0] > 0 and taken[1] == taken[0]  # the second rendering never started its loop
    fresh = sandbox.BoundedSandbox().from_string("{% for i in range(3) %}{{ step() }}{% endfor %}")
    assert sandbox.render(fresh, {"step": lambda: "x"}) == "xxx"


TRACEBACKS = {
    "import": ("{% import 'other.j2' as o %}", "{% import %} is not allowed"),
    "include": ("{% include 'other.j2' %}", "{% include %} is not allowed"),
    "extends": ("{% extends 'base.j2' %}", "{% extends %} is not allowed"),
    "a recursive macro": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
    "a number too long to print": ("{{ 7 ** 9000 }}", "ValueError: Exceeds the limit"),
    "division by zero": ("{{ 1 / 0 }}", "ZeroDivisionError"),
}


@pytest.mark.parametrize("body,message", TRACEBACKS.values(), ids=TRACEBACKS.keys())
def test_template_errors_are_one_line_not_a_traceback(tmp_path, monkeypatch, capsys, body, message):
    code, _, err = run_judgekit(monkeypatch, capsys, *_run(_spec(tmp_path, body + "{{ output_1 }}{{ output_2 }}"),
                                                          tmp_path / "run"))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "spec.yaml: templates.compare: " in err and message in err
    assert "Traceback" not in err


def test_an_item_whose_prompt_passes_the_cap_is_an_invalid_verdict_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    rows = [{"id": f"p{i}", "instruction": "Pick one.", "response_a": "x" * (3_000_000 if i == 1 else 10),
             "response_b": "y", "gold": "a"} for i in range(4)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, _, err = run_judgekit(monkeypatch, capsys, "run", "--judge", "mock:first", "--protocol", "llmbar/vanilla",
                                "--dataset", data, "--out", tmp_path / "run", "--quiet")
    assert code == 0, err
    run = read_run(tmp_path / "run")
    assert run.manifest.complete and [v.invalid_reason for v in run.verdicts] == [None, "refused", None, None]
    assert "templates.compare renders more than 2,000,000 characters" in run.verdicts[1].details["refused"]
    assert f"{run.verdicts[1].example_id}: " in err


PROBE_BOMBS = {
    "undefined": ("{{ nope }}", "unknown variable 'nope'"),
    "include": ("{% include 'x' %}", "{% include %} is not allowed"),
}


@pytest.mark.parametrize("template,message", PROBE_BOMBS.values(), ids=PROBE_BOMBS.keys())
def test_a_probe_template_is_checked_when_loaded(tmp_path, template, message):
    from judgekit.errors import BadInput
    from judgekit.runs.probes import load_probe

    path = tmp_path / "mine.yaml"
    path.write_text(json.dumps({"id": "mine", "description": "d", "citation": "c", "template": template}))
    with pytest.raises(BadInput, match=f"mine.yaml: key 'template': .*{message}"):
        load_probe(path)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {seconds:g} s")
        time.sleep(0.02)


@KILLS_PROCESSES
def test_sigterm_stops_a_run_in_the_middle_of_rendering_a_prompt(tmp_path):
    slow = ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
            "{{ output_1 }}{{ output_2 }}")
    out = tmp_path / "run"
    process = subprocess.Popen([JUDGEKIT, *_run(_spec(tmp_path, slow), out)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (out / "manifest.json").exists(), 60, "run dir")
        rendering = _cpu_ticks(process.pid)
        _wait_for(lambda: _cpu_ticks(process.pid) > rendering + 50, 10, "half a second of rendering")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=3)  # well inside the 5 s a rendering may take
    finally:
        process.kill()
    assert process.returncode == 143 and err.strip() == "terminated", err
    assert not read_run(out).manifest.complete


@KILLS_PROCESSES
def test_sigterm_stops_a_run_whose_process_ignores_ctrl_c(tmp_path):
    """A script's background job (``cmd &``) or nohup starts with SIGINT ignored; SIGTERM must still stop it."""
    out = tmp_path / "run"
    with ScriptedServer(answer=lambda call: "Output (a)", latency=0.2) as server:
        args = ("run", "--judge", "openai:judge", "--base-url", server.openai_url, "--protocol", "llmbar/vanilla",
                "--dataset", "judgekit/bundled", "--concurrency", "1", "--out", str(out), "--quiet")
        process = subprocess.Popen([JUDGEKIT, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        try:
            verdicts = out / "verdicts.jsonl"
            _wait_for(lambda: verdicts.exists() and len(verdicts.read_text().splitlines()) >= 2, 60, "verdicts")
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 143 and err.strip() == "terminated", err
    run = read_run(out)
    assert not run.manifest.complete and run.manifest.n_verdicts == len(run.verdicts) < 48


def _alias_bomb(depth: int = 10) -> str:
    """A list of ten lists of ten lists ... deep: under 1 KB of YAML that expands to 10**depth strings."""
    anchors = ['&a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    anchors += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, depth)]
    return "[" + ", ".join(anchors) + "]"


def test_a_yaml_alias_bomb_is_one_line_not_a_hang(tmp_path):
    spec = tmp_path / "bomb.yaml"
    spec.write_text("description: d\ncitation: c\nstrategy: pairwise\n"
                    "templates: {compare: '{{ output_1 }}{{ output_2 }}'}\n"
                    f"params:\n  stop: {_alias_bomb()}\n", encoding="utf-8")
    assert len(spec.read_bytes()) < 1400
    code, err = bounded_judgekit("protocols", "show", str(spec))
    assert code == 2 and len(err.strip().splitlines()) == 1, err[-2000:]
    assert "bomb.yaml: not valid YAML (aliases expand to more than 1,000,000 values" in err


@pytest.mark.parametrize("stop,message", [("[1, {a: b}]", "params.stop: must be text or a list of texts"),
                                          ("[]", None), ("'###'", None), ("['a', 'b']", None)])
def test_stop_sequences_are_texts(tmp_path, stop, message):
    from judgekit.errors import BadInput
    from judgekit.protocols import load_protocol

    spec = tmp_path / "stop.yaml"
    spec.write_text("description: d\ncitation: c\nstrategy: pairwise\n"
                    f"templates: {{compare: '{{{{ output_1 }}}}{{{{ output_2 }}}}'}}\nparams: {{stop: {stop}}}\n")
    if message is not None:
        with pytest.raises(BadInput, match=f"stop.yaml: {message}"):
            load_protocol(spec)
    else:
        expected = {"[]": (), "'###'": ("###",), "['a', 'b']": ("a", "b")}[stop]
        assert load_protocol(spec).params.stop == expected
