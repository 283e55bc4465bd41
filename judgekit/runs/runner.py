"""Run a judge over examples: concurrent, durable verdict by verdict, resumable.

Work is handed to a pool of workers (as many as the call path may have calls
in flight), so memory stays flat however many examples there are. Each
verdict is appended to the run dir the moment it is ready; the call path's
cache holds every finished call. A kill -9 therefore loses only the calls in
flight, and a rerun into the same dir skips every finished example.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import (
    Progress as RichProgress,
)
from rich.text import Text

from judgekit.backends.base import Completion, Refused, Request
from judgekit.backends.call_path import CallPath, LiveUsage
from judgekit.backends.prices import PriceTable
from judgekit.backends.registry import backend_class, parse_spec
from judgekit.errors import BadInput
from judgekit.judge.protocol import Protocol
from judgekit.judge.strategies import run_protocol
from judgekit.records import Example, Manifest, Rating, Usage, Verdict
from judgekit.runs.run_dir import Run, RunDir, checked_place, is_run_dir

MANIFEST_EVERY_S = 2.0
"""How often the manifest's counts are refreshed while a run is going."""
REFUSALS_BEFORE_STOP = 3
"""Refused items with no answered one among them: the requests themselves are
wrong for this server (not the items), so the run stops instead of going on."""
SILENT_AFTER_S = 10.0
"""Seconds without any reply, calls in flight, before the progress line says so."""

Progress = Callable[[int], None]
"""Called with the number of verdicts finished so far (including resumed ones)."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def open_run_dir(out: str | Path, manifest: Manifest, examples: Sequence[Example], *, wait: bool = False) -> RunDir:
    """A fresh run dir at ``out``, or the existing one there reopened to resume; locked either way.

    Another run writing ``out`` is a BadInput, or with ``wait`` a wait for it to end.
    """
    out = checked_place(out)
    if is_run_dir(out):
        return RunDir.resume(out, manifest, examples, wait=wait)
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: is a file, not a run directory; choose another --out")
    if out.exists():  # an empty folder, a mount point or a symbolic link to a folder: the run goes inside
        return RunDir.create_inside(out, manifest, examples)
    return RunDir.create(out, manifest, examples)


async def judge_run(
    judge_one: Callable[[Example], Awaitable[Verdict]],
    run_dir: RunDir,
    *,
    workers: int,
    on_progress: Progress | None = None,
    live: Sequence[LiveUsage] = (),
) -> Run:
    """Judge every example of ``run_dir`` without a verdict yet; mark the run complete.

    ``judge_one`` turns an example into a verdict (e.g. ``Judge.verdict``);
    ``workers`` examples are in progress at once (the call path's concurrency);
    ``live`` holds the running usage of every call path the run owns (its
    judge's and each panel seat's, ``Judge.live_usages()``), whose retries and
    timeouts go into the manifest, added to those of earlier sessions of a
    resumed run.

    An item the server refuses (:class:`Refused`) becomes an invalid record
    with the server's reason in ``details["refused"]`` (``record.refused``),
    and the run goes on: a pairwise verdict is made here; a pointwise strategy
    makes the Rating itself, since only it knows which criteria it rates.
    Refused items with none answered among them stop the run
    (:data:`REFUSALS_BEFORE_STOP`), whatever the kind; until this session has
    an answered item its refusals are held back, not written, so a run stopped
    for refusals asks them again when resumed (the server may be fixed by then).
    On any other failure
    (or cancellation) the manifest is left saying incomplete, with the counts
    so far, and the error propagates. Either way the run dir's lock is
    released at the end.
    """
    kind = run_dir.manifest.kind

    async def judge_todo(todo: list[Example], record: Callable[[Verdict | Rating], None]) -> None:
        await judge_all(judge_one, todo, record, workers=workers, kind=kind)

    return await record_run(run_dir, judge_todo, on_progress=on_progress, live=live)


async def judge_all(
    judge_one: Callable[[Example], Awaitable[Verdict]],
    examples: Sequence[Example],
    record: Callable[[Verdict | Rating], None],
    *,
    workers: int,
    kind: str,
) -> None:
    """Judge ``examples``, ``workers`` at once, handing each verdict to ``record`` as it is ready.

    A refused item of a pairwise run becomes an invalid verdict; of another kind, the error propagates.
    """
    queue = iter(examples)

    async def worker() -> None:
        for example in queue:
            try:
                verdict = await judge_one(example)
            except Refused as refusal:
                if kind != "pairwise":
                    raise  # a pairwise invalid verdict has no place in a run of another kind
                verdict = Verdict(example_id=example.id, winner=None, invalid_reason="refused",
                                  details={"refused": refusal.reason})
            record(verdict)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(workers, len(examples)))):
            group.create_task(worker())


JudgeTodo = Callable[[list[Example], Callable[[Verdict | Rating], None]], Awaitable[None]]
"""Judges the examples it is given, handing each verdict to the callback as it comes (in this process or others)."""


async def record_run(run_dir: RunDir, judge_todo: JudgeTodo, *, on_progress: Progress | None = None,
                     live: Sequence[LiveUsage] = ()) -> Run:
    """Have ``judge_todo`` judge every example of ``run_dir`` without a verdict yet, recording each verdict
    as it arrives; mark the run complete. Everything :func:`judge_run` promises about the run dir is kept here."""
    done = run_dir.done_ids()
    todo = [e for e in run_dir.examples if e.id not in done]
    earlier = run_dir.manifest.usage
    usage = sum((v.usage for v in run_dir.verdicts), Usage(
        retries=earlier.retries, timeouts=earlier.timeouts, prefix_restarts=earlier.prefix_restarts))
    run_dir.update(complete=False, finished_at=None, n_verdicts=len(run_dir.verdicts), usage=usage)
    state = _State(run_dir, usage, live)
    if on_progress is not None:
        on_progress(len(run_dir.verdicts))

    def record(verdict: Verdict | Rating) -> None:
        state.record(verdict)
        if on_progress is not None:
            on_progress(len(run_dir.verdicts))

    try:
        await judge_todo(todo, record)
        state.release_held()
        run_dir.update(complete=True, finished_at=now(), n_verdicts=len(run_dir.verdicts), usage=state.total())
    except BaseExceptionGroup as group_error:
        state.flush()
        raise _first_error(group_error) from None
    except BaseException:
        state.flush()
        raise
    finally:
        run_dir.close()
    return run_dir.run()


class _State:
    """Appends verdicts and refreshes the manifest now and then (not every verdict)."""

    def __init__(self, run_dir: RunDir, usage: Usage, live: Sequence[LiveUsage]) -> None:
        self.run_dir = run_dir
        self.usage = usage
        self.live = live
        self.live_start = _counters(live)
        self.last_flush = time.monotonic()
        self.answered = 0
        self.refusals = 0
        self.held: list[Verdict | Rating] = []
        """Refusals not yet written: none of this session's items has been answered so far."""

    def record(self, verdict: Verdict | Rating) -> None:
        """Append a verdict; stop the run instead when nothing but refusals has come back."""
        if verdict.refused and self.answered == 0:
            self.refusals += 1
            if self.refusals >= REFUSALS_BEFORE_STOP:
                raise Refused(self.run_dir.manifest.judge, f"{verdict.details['refused']}; the first "
                              f"{self.refusals} items were all refused, so the requests rather than the items "
                              "are wrong for this server")
            self.held.append(verdict)
            return
        if not verdict.refused:
            self.answered += 1
            self.release_held()
        self._append(verdict)

    def release_held(self) -> None:
        """Write the refusals held back: an answered item (or the run's end) shows they are the items'."""
        for verdict in self.held:
            self._append(verdict)
        self.held.clear()

    def _append(self, verdict: Verdict | Rating) -> None:
        self.run_dir.append(verdict)
        self.usage = self.usage + verdict.usage
        if time.monotonic() - self.last_flush > MANIFEST_EVERY_S:
            self.flush()

    def total(self) -> Usage:
        """The verdicts' usage plus this session's retries, timeouts and prefix restarts."""
        now = _counters(self.live)
        retries, timeouts, restarts = (n - s for n, s in zip(now, self.live_start, strict=True))
        return self.usage + Usage(retries=retries, timeouts=timeouts, prefix_restarts=restarts)

    def flush(self) -> None:
        self.run_dir.update(n_verdicts=len(self.run_dir.verdicts), usage=self.total())
        self.last_flush = time.monotonic()


def _counters(live: Sequence[LiveUsage]) -> tuple[int, int, int]:
    return (sum(u.retries for u in live), sum(u.timeouts for u in live), sum(u.prefix_restarts for u in live))


def _first_error(group_error: BaseExceptionGroup) -> BaseException:
    """The error that stopped the run: the first a worker raised (one clear line for the CLI)."""
    for error in group_error.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_error(error)
        return error
    return group_error


@dataclass(frozen=True)
class Estimate:
    """What a run would ask for, found by rendering every prompt without sending any."""

    items: int
    calls: int
    tokens_in: int
    """Prompt characters / 4 (a common rule of thumb for English text)."""
    max_tokens_out: int
    """Upper bound: every call using its whole max_tokens."""
    max_cost_usd: float | None
    """Upper bound from the price table; None when the model has no price."""
    max_batch_cost_usd: float | None = None
    """The same bound at the table's batch rates (``--batch``); None without a batch price."""


class _DryCallPath:
    """Stands in for a call path: notes each request and answers with an empty reply."""

    def __init__(self) -> None:
        self.calls = 0
        self.chars = 0
        self.max_out = 0

    async def complete(self, request: Request) -> Completion:
        self.calls += 1
        self.chars += sum(len(m.content) for m in request.messages)
        self.max_out += request.params.max_tokens
        return Completion(text="")


def estimate(protocol: Protocol, examples: Sequence[Example], judge_spec: str) -> Estimate:
    """Calls and tokens a run would spend (an empty reply stands in for every answer,
    so protocols whose later calls depend on earlier answers may need more). An unknown provider is
    BadInput here too: a plan for a run that cannot start is no plan."""
    provider, model = parse_spec(judge_spec)
    backend_class(provider)
    dry = _DryCallPath()  # serves every seat of a panel too

    async def render_all() -> None:
        for example in examples:
            await run_protocol(protocol, example, dry)

    asyncio.run(render_all())
    tokens_in = dry.chars // 4
    prices = PriceTable.load()
    cost = prices.cost(provider, model, tokens_in, dry.max_out)
    batch_cost = prices.at_batch_rates().cost(provider, model, tokens_in, dry.max_out)
    return Estimate(len(examples), dry.calls, tokens_in, dry.max_out, cost, batch_cost)


class LiveProgress:
    """Rich progress lines on stderr: items, calls, cache hits, tokens, cost, ETA.

    One line per tracked run (a sweep tracks several). Shows nothing unless
    enabled and stderr is a terminal, so logs and pipes stay clean.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        console = Console(stderr=True)
        self.progress = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("calls {task.fields[calls]} (cached {task.fields[hits]})"),
            TextColumn("tokens {task.fields[tokens]}"),
            TextColumn("${task.fields[cost]:.4f}"),
            ServerColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not (enabled and console.is_terminal),
        )

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def track(self, label: str, call_path: CallPath, total: int, usages: Sequence[LiveUsage] = ()) -> Progress:
        """A progress callback for one run, shown as its own line.

        Calls, tokens and cost add up ``usages`` (every call path the run owns,
        panel seats included; default: ``call_path``'s); the server column
        watches ``call_path``.
        """
        usages = usages or [call_path.usage]
        task = self.progress.add_task(label, total=total, calls=0, hits=0, tokens=0, cost=0.0, call_path=call_path)

        def update(done: int) -> None:
            self.progress.update(
                task, completed=done, calls=sum(u.calls for u in usages), hits=sum(u.cache_hits for u in usages),
                tokens=sum(u.tokens_in + u.tokens_out for u in usages), cost=sum(u.cost_usd for u in usages),
            )

        return update


class ServerColumn(ProgressColumn):
    """Retries, timeouts, a lowered concurrency limit and a silent server, read at every
    refresh: the line says what is wrong while no verdict arrives, instead of freezing."""

    def __init__(self, silent_after_s: float = SILENT_AFTER_S) -> None:
        super().__init__()
        self.silent_after_s = silent_after_s

    def render(self, task: Task) -> Text:
        call_path = task.fields.get("call_path")
        if call_path is None:
            return Text("")
        usage, slots = call_path.usage, call_path.slots
        parts = []
        if usage.retries:
            parts.append(f"retries {usage.retries} (timeouts {usage.timeouts})")
        if slots.limit < slots.ceiling:
            parts.append(f"in flight <= {slots.limit} of {slots.ceiling}")
        if (silent := usage.silent_for()) >= self.silent_after_s:
            parts.append(f"server silent for {silent:.0f} s")
        return Text(" · ".join(parts), style="yellow")
