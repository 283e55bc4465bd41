"""The Python API: one judge to call from your own code, and evaluate() over a dataset.

    judge = judgekit.load_judge("openai:gpt-4o-mini", protocol="llmbar/rules")
    verdict = judge.judge("Write a haiku.", response_a, response_b)
    run = judgekit.evaluate(judge, "llmbar/natural")
    run.summary()

A Judge keeps its own event loop in a worker thread and runs every call
there. That is why the synchronous methods also work inside a running loop
(Jupyter), and why ``ajudge`` may be awaited from any loop: the call path's
connections and limits always live on one loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import threading
from collections.abc import Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

from judgekit.backends.cache import ResponseCache
from judgekit.backends.call_path import CallPath, LiveUsage
from judgekit.backends.registry import create_backend, parse_spec
from judgekit.backends.seats import CallPaths, JudgeKey
from judgekit.errors import BadInput, JudgekitError
from judgekit.judge.protocol import LabelSet, Protocol
from judgekit.judge.spec import load_protocol
from judgekit.judge.strategies import get_strategy, run_protocol
from judgekit.judge.strategies.base import headline_of
from judgekit.judge.strategies.classify import bind_labels
from judgekit.records import Example, Manifest, Verdict, content_hash
from judgekit.runs.run_dir import Run
from judgekit.runs.runner import judge_run, now, open_run_dir
from judgekit.version import __version__

DEFAULT_API_PROTOCOL = "llmbar/vanilla"
"""The protocol of ``load_judge`` when none is named: a text verdict any chat model gives.
(``judgekit run`` defaults to another, ``judgekit.cli.run.DEFAULT_RUN_PROTOCOL``, for its embedded judge.)"""

T = TypeVar("T")
Pair = tuple[str, str, str] | Example
"""(instruction, response_a, response_b), or a whole Example."""


class Judge:
    """A base model behind a call path, plus the protocol that turns calls into verdicts.

    ``paths`` holds the call path of the judge (``call_path``) and of every
    other judge the protocol seats (panel members); the Judge owns and closes them.
    """

    def __init__(self, spec: str, protocol: Protocol, paths: CallPaths, *, judge_model: str | None = None,
                 params: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.protocol = protocol
        self.paths = paths
        self.call_path: CallPath = paths.default  # type: ignore[assignment]
        self.judge_model = judge_model
        self.params = params or {}
        """Settings that change the answers (sampling, base URL); recorded in manifests."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"Judge({self.spec!r}, protocol={self.protocol.id!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def live_usages(self) -> list[LiveUsage]:
        """The running usage of each call path the judge owns: its own, then its panel seats'."""
        owned = {id(p): p.usage for p in self.paths.all() if isinstance(p, CallPath)}
        return list(owned.values())

    async def verdict(self, example: Example) -> Verdict:
        """The verdict on one example; must run on the loop that owns the call path."""
        return await run_protocol(self.protocol, example, self.paths)

    async def ajudge(self, instruction: str, response_a: str, response_b: str) -> Verdict:
        """Which response better follows the instruction (awaitable from any loop)."""
        example = _to_example(0, (instruction, response_a, response_b))
        return await asyncio.wrap_future(self._submit(self.verdict(example)))

    def judge(self, instruction: str, response_a: str, response_b: str) -> Verdict:
        """Which response better follows the instruction (blocks; fine inside Jupyter)."""
        example = _to_example(0, (instruction, response_a, response_b))
        return self._run(self.verdict(example))

    def judge_many(self, pairs: Iterable[Pair]) -> list[Verdict]:
        """Verdicts for many pairs, in order, judged concurrently (up to the call path's limit)."""
        examples = [_to_example(i, pair) for i, pair in enumerate(pairs)]
        return self._run(self._judge_all(examples))

    async def _judge_all(self, examples: Sequence[Example]) -> list[Verdict]:
        return list(await asyncio.gather(*(self.verdict(e) for e in examples)))

    def manifest_for(self, dataset_id: str, dataset_hash: str | None, n_examples: int) -> Manifest:
        """A fresh manifest describing this judge on that dataset (a classify judge's: with its label set)."""
        strategy = get_strategy(self.protocol.strategy)
        labels = self.protocol.label_set
        return Manifest(
            kind=strategy.kind,
            strategy=strategy.name,
            headline=headline_of(strategy, self.protocol),
            order_conflict=self.protocol.order_conflict if strategy.kind == "pairwise" else None,
            judge=self.spec,
            judge_model=self.judge_model,
            protocol=self.protocol.id,
            protocol_hash=self.protocol.content_hash,
            dataset=dataset_id,
            dataset_hash=dataset_hash,
            package_version=__version__,
            started_at=now(),
            n_examples=n_examples,
            params=self.params,
            labels=labels.names if labels is not None else (),
            positive_label=labels.positive if labels is not None else None,
        )

    async def aclose(self) -> None:
        """Close every call path's connections; on the loop that used them."""
        await self.paths.aclose()

    def close(self) -> None:
        """Close connections and end the worker thread; the judge is unusable after.

        A judge that never made a call has clients open since ``load_judge``: they close too.
        """
        if self._closed:
            return
        self._run(self.aclose())
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._submit(coro).result()

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._closed:
                coro.close()
                raise JudgekitError(f"{self!r} is closed; load another judge")
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="judgekit-judge", daemon=True)
                self._thread.start()
            return asyncio.run_coroutine_threadsafe(coro, self._loop)


def load_judge(
    spec: str,
    protocol: str = DEFAULT_API_PROTOCOL,
    *,
    base_url: str | None = None,
    judge_model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    concurrency: int = 8,
    timeout: float | None = None,
    max_retries: int = 6,
    cache: bool | str | Path | ResponseCache = True,
    limiter: asyncio.Semaphore | None = None,
    labels: LabelSet | None = None,
    **backend_options: Any,
) -> Judge:
    """Build a judge from a spec like ``openai:gpt-4o-mini`` and a protocol id or spec path.

    ``temperature`` / ``max_tokens`` override the protocol's defaults, in every
    member of a composite protocol too; ``cache`` is True (the default cache
    dir), False, a directory, or a shared ResponseCache; ``limiter`` is a
    concurrency budget shared with other judges (sweeps); ``timeout`` is the
    seconds of server silence tolerated (None: the backend's default, longer
    for self-hosted servers).
    Other keyword arguments go to the backend (e.g. ``api_key_env``), and to
    the backends of panel members of the same provider at the same server
    (never to a seat elsewhere: the key named is that server's). ``labels`` is the
    label set a classify protocol judges with (``label_set_of(dataset)``).

    Every judge the protocol seats gets its call path here, with the same
    cache, timeout and retries; when there are several, they share one budget
    of ``concurrency`` calls (or ``limiter``), so the whole run stays within it.
    """
    loaded = load_protocol(protocol)
    overrides = {k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None}
    if overrides:
        loaded = loaded.with_params(**overrides)
    if labels is not None:
        loaded = bind_labels(loaded, labels)
    if isinstance(cache, ResponseCache):
        response_cache: ResponseCache | None = cache
    elif cache is False:
        response_cache = None
    else:
        response_cache = ResponseCache(None if cache is True else cache)
    provider = parse_spec(spec)[0]
    # a replay answers every seat from its recording; nothing else may be called
    seats = [] if provider == "replay" else seated_judges(loaded)
    if seats and limiter is None:
        limiter = asyncio.Semaphore(concurrency)

    def call_path(judge: str, url: str | None) -> CallPath:
        # The run's backend options (api_key_env above all) are for the run's own server: a seat a spec
        # puts at another server, or the provider's own host, must not be handed that server's key.
        same_server = parse_spec(judge)[0] == provider and (url or "").rstrip("/") == (base_url or "").rstrip("/")
        options = backend_options if same_server else {}
        return CallPath(create_backend(judge, base_url=url, **options), cache=response_cache,
                        concurrency=concurrency, limiter=limiter, timeout=timeout, max_retries=max_retries)

    main = call_path(spec, base_url)
    paths = CallPaths(main, {seat: call_path(*seat) for seat in seats})
    params: dict[str, Any] = {"temperature": loaded.params.temperature, "max_tokens": loaded.params.max_tokens}
    if base_url or not getattr(main.backend, "own_service", True):  # --base-url, or OPENAI_BASE_URL and the like
        params["base_url"] = main.backend.endpoint_id  # normalised; credentials refused, query values hashed
    name = spec if parse_spec(spec)[1] else f"{provider}:{main.backend.model}"  # a bare provider: name its model
    return Judge(name, loaded, paths, judge_model=judge_model, params=params)


def seated_judges(protocol: Protocol) -> list[JudgeKey]:
    """The distinct judges other than the run's that a protocol's members name, at any depth."""
    seats: dict[JudgeKey, None] = {}
    for member in protocol.members:
        if member.judge != "default":
            seats[(member.judge, member.base_url)] = None
        seats.update(dict.fromkeys(seated_judges(member.protocol)))
    return list(seats)


def label_set_of(dataset: Any) -> LabelSet | None:
    """The label set of a loaded classify Dataset (what a classify protocol is bound to); None for other kinds."""
    if getattr(dataset, "kind", None) != "classify":
        return None
    return LabelSet(names=dataset.labels, descriptions=dataset.label_descriptions, positive=dataset.positive_label)


def evaluate(judge: Judge, dataset: Any, *, out: str | Path | None = None, limit: int | None = None) -> Run:
    """Judge a dataset (an id, a loaded Dataset, or a list of Examples) into a run dir.

    ``out`` defaults to a fresh temporary directory; pass a path to keep the
    run (rerunning into it resumes). ``Run.summary()`` gives the agreement table.
    A classify dataset's label set is bound into the judge's protocol.
    """
    if isinstance(dataset, str):
        from judgekit.data import load_dataset

        dataset = load_dataset(dataset, limit=limit)
    if (labels := label_set_of(dataset)) is not None:
        judge.protocol = bind_labels(judge.protocol, labels)
    dataset_id, dataset_hash, examples = _dataset_parts(dataset, limit)
    manifest = judge.manifest_for(dataset_id, dataset_hash, len(examples))
    path = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="judgekit-run-")) / "run"
    run_dir = open_run_dir(path, manifest, examples)
    return judge._run(judge_run(judge.verdict, run_dir, workers=judge.call_path.concurrency,
                                live=judge.live_usages()))


def _dataset_parts(dataset: Any, limit: int | None) -> tuple[str, str, list[Example]]:
    """(id, content hash, examples): one hash function whatever form the dataset came in,
    so the API and ``judgekit run`` resume each other's run dirs."""
    if hasattr(dataset, "examples"):
        dataset_id, examples = dataset.id, list(dataset.examples)[:limit]
    else:
        dataset_id, examples = "examples", [_to_example(i, pair) for i, pair in enumerate(dataset)][:limit]
    return dataset_id, content_hash(examples), examples


def _to_example(index: int, pair: Pair) -> Example:
    if isinstance(pair, Example):
        return pair
    try:
        instruction, response_a, response_b = pair
    except (TypeError, ValueError):
        raise BadInput(f"pair {index}: expected (instruction, response_a, response_b) or an Example") from None
    return Example(id=f"pair-{index}", instruction=instruction, response_a=response_a, response_b=response_b)
