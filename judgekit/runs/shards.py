"""One run over several processes (``judgekit run --workers N``): more client CPU than one core has.

One Python process spends 1-1.5 ms of CPU per call (the SDK's client alone
is most of it, bench/README.md), so it tops out at several hundred calls a
second; a wide, fast server can take more. Here the examples still to judge
are dealt round-robin to N worker processes. Each builds the judge again from
its :class:`JudgeRecipe` with its share of the concurrency, reads and writes
the same response cache (SQLite in WAL mode takes several processes), and
sends each verdict back through a pipe as it is ready.

The parent alone writes the run dir (:func:`judgekit.runs.runner.record_run`):
it holds the lock, appends the verdicts and keeps the manifest, so locking,
resuming and a kill -9 behave as in one process. Workers are forked from a
``forkserver`` that imported the judge once, so none inherits the lock; a
worker whose parent is gone exits at once, and a rerun finds every call that
finished in the cache. As with any multiprocessing, a script that runs
workers guards its main code with ``if __name__ == "__main__":`` (a worker
imports the script's module).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from typing import Any

from judgekit.backends.call_path import LiveUsage
from judgekit.errors import BadInput, JudgekitError
from judgekit.records import Example, Rating, Verdict
from judgekit.runs.run_dir import Run, RunDir
from judgekit.runs.runner import Progress, judge_all, record_run

COUNTERS = tuple(f.name for f in fields(LiveUsage) if f.name not in ("in_flight", "last_reply_at", "waiting_since"))
"""The running totals a worker reports with every verdict (for progress and the manifest's retries)."""


@dataclass(frozen=True)
class JudgeRecipe:
    """What :func:`judgekit.judge.api.load_judge` is called with: a worker builds its own judge from it."""

    spec: str
    protocol: str
    options: dict[str, Any]
    """load_judge's keyword arguments (``concurrency`` is replaced by each worker's share)."""


def shares(concurrency: int, processes: int) -> list[int]:
    """``concurrency`` split as evenly as it goes over at most ``processes`` processes, none given 0."""
    processes = max(1, min(processes, concurrency))
    return [concurrency // processes + (i < concurrency % processes) for i in range(processes)]


class Workers:
    """``processes`` worker processes judging with ``concurrency`` calls in flight across them all."""

    def __init__(self, recipe: JudgeRecipe, *, processes: int, concurrency: int) -> None:
        if processes < 1:
            raise BadInput(f"--workers: must be >= 1, got {processes}")
        self.recipe = recipe
        self.shares = shares(concurrency, processes)
        self.usages = [LiveUsage() for _ in self.shares]
        """Each worker's running usage, as it last reported it (for progress displays)."""

    async def judge_run(self, run_dir: RunDir, *, on_progress: Progress | None = None) -> Run:
        """:func:`judgekit.runs.runner.judge_run`, the examples judged by the workers."""
        kind = run_dir.manifest.kind

        async def judge_todo(todo: list[Example], record: Callable[[Verdict | Rating], None]) -> None:
            count = min(len(self.shares), len(todo))
            if count:
                await _in_workers(self.recipe, todo, record, self.usages[:count], shares(sum(self.shares), count),
                                  kind)

        return await record_run(run_dir, judge_todo, on_progress=on_progress, live=self.usages)


async def _in_workers(recipe: JudgeRecipe, todo: list[Example], record: Callable[[Verdict | Rating], None],
                      live: list[LiveUsage], concurrency: list[int], kind: str) -> None:
    """Start one worker per share of ``concurrency``, record what they send, stop them all on any failure."""
    context = _context(recipe)
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    running = len(live)

    def receive(index: int, connection: Connection) -> None:
        nonlocal running
        try:
            message = connection.recv()
        except (EOFError, OSError):
            loop.remove_reader(connection.fileno())
            process = workers[index][0]
            process.join(5)
            _fail(finished, JudgekitError(f"worker process {index + 1} of {len(workers)} ended unexpectedly "
                                          f"(exit code {process.exitcode}); rerun to resume"))
            return
        what, counters, payload = message
        for name, value in zip(COUNTERS, counters, strict=True):
            setattr(live[index], name, value)
        try:
            if what == "verdict":
                record(payload)
            elif what == "failed":
                raise payload
            elif what == "done":
                loop.remove_reader(connection.fileno())
                running -= 1
                if running == 0 and not finished.done():
                    finished.set_result(None)
        except BaseException as error:  # noqa: BLE001 - the run stops on it, in the parent's task
            _fail(finished, error)

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited: Ctrl-C stops the parent, which stops them
    try:
        for index, share in enumerate(concurrency):
            reader, writer = context.Pipe()  # two-way: the worker reads an end of file on it when we are gone
            process = context.Process(target=_work, args=(recipe, todo[index :: len(live)], share, kind, writer),
                                      name=f"judgekit-worker-{index + 1}", daemon=True)
            process.start()
            writer.close()
            workers.append((process, reader))
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        for index, (_, reader) in enumerate(workers):
            loop.add_reader(reader.fileno(), receive, index, reader)
        await finished
    finally:
        for process, reader in workers:
            loop.remove_reader(reader.fileno())
            if process.is_alive():
                process.terminate()
        for process, reader in workers:
            process.join()
            reader.close()


def _context(recipe: JudgeRecipe) -> multiprocessing.context.BaseContext:
    """Workers forked from a server process that has imported the judge and its SDK once, so each
    starts in milliseconds instead of paying the imports (about 1.5 s of CPU). Started without our
    open files, it does not hold the run dir's lock, as a plain fork of this process would."""
    context = multiprocessing.get_context("forkserver")
    sdk = {"openai": ["openai"], "anthropic": ["anthropic"]}.get(recipe.spec.partition(":")[0], [])
    context.set_forkserver_preload(["judgekit.runs.shards", "judgekit.judge.api", "aiohttp", *sdk])
    return context


def _fail(finished: asyncio.Future[None], error: BaseException) -> None:
    if not finished.done():
        finished.set_exception(error)


def _work(recipe: JudgeRecipe, examples: Sequence[Example], concurrency: int, kind: str, out: Connection) -> None:
    """A worker process: judge ``examples`` and send every verdict, then ``done`` (or the error) to the parent."""
    asyncio.run(_judge_shard(recipe, examples, concurrency, kind, out))


async def _judge_shard(recipe: JudgeRecipe, examples: Sequence[Example], concurrency: int, kind: str,
                       out: Connection) -> None:
    from judgekit.judge.api import load_judge

    # the parent never writes to us: the pipe reads as ready only at its end, once the parent is gone (kill -9
    # included) or has stopped listening
    asyncio.get_running_loop().add_reader(out.fileno(), os._exit, 1)
    judge = None
    usages: list[LiveUsage] = []

    def counters() -> tuple:
        return tuple(sum(getattr(u, name) for u in usages) for name in COUNTERS)

    try:
        judge = load_judge(recipe.spec, recipe.protocol, **{**recipe.options, "concurrency": concurrency})
        usages = judge.live_usages()
        await judge_all(judge.verdict, examples, lambda v: out.send(("verdict", counters(), v)),
                        workers=judge.call_path.concurrency, kind=kind)
        message = ("done", counters(), None)
    except BaseException as error:  # noqa: BLE001 - the parent decides; it gets the error itself
        message = ("failed", counters(), _sendable(_first(error)))
    finally:
        if judge is not None:
            await judge.aclose()
    out.send(message)
    out.close()


def _first(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _sendable(error: BaseException) -> BaseException:
    """``error`` if it survives pickling as itself, else a JudgekitError saying the same."""
    try:
        copy = pickle.loads(pickle.dumps(error))
        if type(copy) is type(error) and str(copy) == str(error):
            return error
    except Exception:  # noqa: BLE001 - any failure to pickle means: send the words instead
        pass
    return JudgekitError(f"{type(error).__name__}: {error}" if not isinstance(error, JudgekitError) else str(error))
