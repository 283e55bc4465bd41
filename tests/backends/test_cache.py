"""The response cache: what it keys on, what it leaves out, persistence, and keeping keys off disk."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from servers import Fault, Reply, scripted_server  # noqa: F401  (fixture)

from judgekit.backends.base import CallTag, Message, Request, SamplingParams
from judgekit.backends.cache import MIGRATIONS, ResponseCache, cache_key, default_cache_dir
from judgekit.backends.call_path import CallPath
from judgekit.backends.registry import create_backend
from judgekit.errors import JudgekitError

BASE = Request(
    (Message("system", "judge"), Message("user", "which?")),
    SamplingParams(temperature=0.0, max_tokens=64, top_logprobs=None, stop=("x",), extra=(("seed", 1),)),
    sample=0,
    continuation=None,
    tag=CallTag("ex-1", "compare", "original"),
)


def key(request: Request = BASE, provider: str = "openai", model: str = "m", endpoint: str = "http://h/v1") -> str:
    return cache_key(provider, model, endpoint, request)


def with_params(**changes) -> Request:
    return replace(BASE, params=replace(BASE.params, **changes))


KEYED = {
    "provider": key(provider="anthropic"),
    "model": key(model="m2"),
    "endpoint": key(endpoint="http://other/v1"),
    "message text": key(replace(BASE, messages=(BASE.messages[0], Message("user", "which? ")))),
    "message role": key(replace(BASE, messages=(Message("user", "judge"), BASE.messages[1]))),
    "message order": key(replace(BASE, messages=BASE.messages[::-1])),
    "temperature": key(with_params(temperature=0.5)),
    "max_tokens": key(with_params(max_tokens=65)),
    "top_logprobs": key(with_params(top_logprobs=5)),
    "stop": key(with_params(stop=("y",))),
    "extra": key(with_params(extra=(("seed", 2),))),
    "sample": key(replace(BASE, sample=1)),
    "continuation": key(replace(BASE, continuation="Output (")),
}


@pytest.mark.parametrize("field", list(KEYED))
def test_key_changes_with_each_keyed_field(field):
    assert KEYED[field] != key()
    assert KEYED[field].startswith("jk-cache-v1:")


def test_a_key_is_the_same_hash_across_versions():
    """Changing how a key is computed (not what goes in it) must not orphan every stored answer."""
    request = Request((Message("system", "Judge fairly."), Message("user", "Which is better? ü")),
                      SamplingParams(temperature=0.7, max_tokens=64, top_logprobs=5, stop=("\n\n",),
                                     extra=(("seed", 3), ("top_k", {"a": [1, 2]}))), sample=2, continuation="Output (")
    assert key(request, model="gpt-4o-mini", endpoint="http://127.0.0.1:9/v1") == (
        "jk-cache-v1:6c59fcd966d3e5adec2acdd9907a4f1d823b406ede13a5545b8fe73199ea9c42")
    assert key(Request((Message("user", "x"),)), provider="anthropic", model="claude",
               endpoint="https://api.anthropic.com") == (
        "jk-cache-v1:0649292c7ac3286ce4d07217749e33f4293ff1f81515109af77d081da40bc029")


def test_all_keyed_variants_are_distinct():
    assert len(set(KEYED.values())) == len(KEYED)


def test_the_call_tag_is_not_in_the_key():
    assert key(replace(BASE, tag=CallTag("ex-9", "compare", "swapped"))) == key() == key(replace(BASE, tag=None))


def server_path(server, cache, api="openai", **options) -> CallPath:
    url = server.openai_url if api == "openai" else server.anthropic_url
    return CallPath(create_backend(f"{api}:judge", base_url=url), cache=cache, backoff_base=0.01, **options)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
async def test_cached_repeat_makes_zero_calls(scripted_server, tmp_path, api):
    cache = ResponseCache(tmp_path)
    requests = [Request((Message("user", f"q{i}"),)) for i in range(5)]
    first = server_path(scripted_server, cache, api)
    fresh = [await first.complete(r) for r in requests]
    await first.aclose()
    assert scripted_server.requests == 5
    # different timeout, retries and concurrency: how we wait is not what we ask
    again = server_path(scripted_server, ResponseCache(tmp_path), api, timeout=3, max_retries=1, concurrency=2)
    repeat = await asyncio.gather(*(again.complete(replace(r, tag=CallTag("rerun", "compare"))) for r in requests))
    await again.aclose()
    assert scripted_server.requests == 5
    assert [c.text for c in repeat] == [c.text for c in fresh]
    assert all(c.cached and c.cost_usd == 0.0 for c in repeat)
    assert (again.usage.calls, again.usage.cache_hits, again.usage.tokens_in) == (5, 5, 0)


async def test_no_cache_always_calls(scripted_server, tmp_path):
    cache = ResponseCache(tmp_path)
    warm = server_path(scripted_server, cache)
    await warm.complete(BASE)
    bypass = server_path(scripted_server, None)
    completions = [await bypass.complete(BASE) for _ in range(2)]
    await warm.aclose(), await bypass.aclose()
    assert scripted_server.requests == 3 and not any(c.cached for c in completions)


async def test_logprobs_survive_the_cache(scripted_server, tmp_path):
    scripted_server.answer = lambda call: Reply("(a)", [{"(a)": -0.1, "(b)": -2.4}])
    request = Request((Message("user", "pick"),), SamplingParams(top_logprobs=2))
    path = server_path(scripted_server, ResponseCache(tmp_path))
    fresh = await path.complete(request)
    hit = await path.complete(request)
    await path.aclose()
    assert hit.cached and hit.top_logprobs == fresh.top_logprobs == ({"(a)": -0.1, "(b)": -2.4},)
    assert (hit.tokens_in, hit.tokens_out, hit.finish_reason) == (fresh.tokens_in, fresh.tokens_out, "stop")


async def test_errors_are_never_cached(scripted_server, tmp_path):
    cache = ResponseCache(tmp_path)
    scripted_server.inject(*[Fault.server_error()] * 2)
    path = server_path(scripted_server, cache, max_retries=1)
    with pytest.raises(JudgekitError):
        await path.complete(BASE)
    assert len(cache) == 0
    assert (await path.complete(BASE)).text == "echo: which?"
    await path.aclose()
    assert len(cache) == 1


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGEKIT_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    assert ResponseCache().path == tmp_path / "here" / "responses.sqlite"


def test_schema_uses_wal_and_records_each_migration_once(tmp_path):
    ResponseCache(tmp_path).close()
    ResponseCache(tmp_path).close()
    db = sqlite3.connect(tmp_path / "responses.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [row[0] for row in db.execute("SELECT name FROM _migrations")]
    assert names == [m.__name__.lstrip("_") for m in MIGRATIONS]


# 300 entries from argv[2] on; a script, not a function to spawn: a spawned child imports this test module (0.7 s)
FILLER = """
import sys
from judgekit.backends.base import Completion
from judgekit.backends.cache import ResponseCache
cache = ResponseCache(sys.argv[1])
for i in range(int(sys.argv[2]), int(sys.argv[2]) + 300):
    cache.put(f"k{i}", "openai", "m", Completion(text=f"t{i}", tokens_in=i))
cache.close()
"""


def test_several_processes_share_one_cache(tmp_path):
    workers = [subprocess.Popen([sys.executable, "-c", FILLER, str(tmp_path), str(n * 300)]) for n in range(3)]
    assert [w.wait(60) for w in workers] == [0, 0, 0]
    cache = ResponseCache(tmp_path)
    assert len(cache) == 900 and cache.get("k777").text == "t777" and cache.get("k777").tokens_in == 777


async def test_api_key_never_reaches_disk_or_logs(scripted_server, tmp_path, monkeypatch, caplog):
    secret = "sk-judgekit-SECRET-7f3a9c"
    provider_secret = "sk-provider-SECRET-01b2"  # the providers' own keys never go to a loopback URL
    monkeypatch.setenv("JUDGEKIT_TEST_KEY", secret)
    monkeypatch.setenv("OPENAI_API_KEY", provider_secret)
    monkeypatch.setenv("ANTHROPIC_API_KEY", provider_secret)
    caplog.set_level(logging.DEBUG)
    cache_dir = Path(tmp_path / "cache")
    cache = ResponseCache(cache_dir)

    def keyed_path(api: str = "openai") -> CallPath:
        url = scripted_server.openai_url if api == "openai" else scripted_server.anthropic_url
        backend = create_backend(f"{api}:judge", base_url=url, api_key_env="JUDGEKIT_TEST_KEY")
        return CallPath(backend, cache=cache, backoff_base=0.01)

    scripted_server.inject(Fault.rate_limit(0.01), Fault.server_error(), Fault.garbled())
    for api in ("openai", "anthropic"):
        path = keyed_path(api)
        await asyncio.gather(*(path.complete(Request((Message("user", f"q{i}"),))) for i in range(4)))
        await path.aclose()
    scripted_server.api_key = "sk-something-else"  # a rejected key's error must not echo it either
    path = keyed_path()
    with pytest.raises(JudgekitError) as info:
        await path.complete(Request((Message("user", "rejected"),)))
    await path.aclose()
    cache.close()
    assert scripted_server.seen_keys == {secret}  # the named key was really sent, the provider's never
    assert secret not in str(info.value)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written, "the cache wrote nothing to scan"
    for key in (secret, provider_secret):
        assert key not in caplog.text
        assert not [p for p in written if key.encode() in p.read_bytes()]


WRITER = """
import sys
from judgekit.backends.base import Completion
from judgekit.backends.cache import ResponseCache
cache = ResponseCache(sys.argv[1])
i = 0
while True:
    cache.put(f"k{i}", "openai", "m", Completion(text=f"t{i}"))
    print(i, flush=True)
    i += 1
"""


def test_a_killed_writer_loses_nothing_it_stored(tmp_path):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    stored = [int(writer.stdout.readline()) for _ in range(200)]
    writer.kill()  # SIGKILL: no cleanup, mid-write
    writer.wait(10)
    cache = ResponseCache(tmp_path)
    assert all(cache.get(f"k{i}").text == f"t{i}" for i in stored)
    assert len(cache) >= 200
