"""A persistent response cache in SQLite, shared by every backend and process.

The same question asked of the same model with the same settings is answered
once; reruns, resumes and sweeps that overlap read the stored answer instead
of paying again. WAL mode plus a busy timeout lets several judgekit processes
share one cache file. Only successful completions are stored, never errors.

A cache that cannot be used is one line naming its path and the fix, never a
traceback: a file that is not a database, a ``JUDGEKIT_CACHE_DIR`` naming a
file. A folder we may not write is read from without storing (the run says
so once on stderr); an entry that does not decode is a miss, answered again
and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from platformdirs import user_cache_dir

from judgekit.backends.base import Completion, Request
from judgekit.errors import BadInput

SCHEME = "jk-cache-v1"
"""Prefix of every key; bump it when the key's contents change, so old
entries are simply never matched again."""

# What makes two calls "the same" (all in the key):
#   provider, model, endpoint  - a different server or model answers differently
#                                (query values hashed in: ?deployment=a and =b differ)
#   messages                   - the whole conversation, in order, with roles
#   sampling params            - temperature, max_tokens, top_logprobs, stop, extras
#   sample index               - the k-th draw at temperature > 0 is its own answer
#   continuation               - a forced answer prefix changes what follows
# Deliberately NOT in the key:
#   API key        - a secret, and it does not change the answer (never stored at all)
#   timeout, retries, concurrency - how we wait, not what we ask
#   call tag       - a label for logs and replay; two calls for different
#                    purposes asking the same question share one answer.
#                    A replay answers by tag, so it is never cached here
#                    (Backend.stores_answers) and its calls in flight are
#                    told apart by tag (Backend.answers_by_tag)


def cache_key(provider: str, model: str, endpoint: str, request: Request) -> str:
    """sha256 of the canonical JSON (sorted keys, compact) of what defines a call."""
    # the fields one level deep: asdict's deep copy was a fifth of the call path's own CPU per call
    params = {field.name: getattr(request.params, field.name) for field in fields(request.params)}
    params["stop"] = list(request.params.stop)
    params["extra"] = [list(kv) for kv in request.params.extra]
    identity = {
        "provider": provider,
        "model": model,
        "endpoint": endpoint,
        "messages": [[m.role, m.content] for m in request.messages],
        "params": params,
        "sample": request.sample,
        "continuation": request.continuation,
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return SCHEME + ":" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    """``JUDGEKIT_CACHE_DIR`` if set, else the user's cache dir for judgekit."""
    env = os.environ.get("JUDGEKIT_CACHE_DIR")
    return Path(env) if env else Path(user_cache_dir("judgekit"))


def cache_file(path: Path | str | None = None) -> Path:
    """The SQLite file a cache at ``path`` (a folder or a ``.sqlite`` file; default
    :func:`default_cache_dir`) lives in, found without creating anything."""
    path = Path(path) if path is not None else default_cache_dir()
    if path.suffix == ".sqlite":
        return path
    if path.exists() and not path.is_dir():
        raise BadInput(f"response cache {path}: is a file, not a folder; point JUDGEKIT_CACHE_DIR at a folder")
    return path / ResponseCache.FILENAME


def _m001_responses(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE responses (
            key TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            completion TEXT NOT NULL,  -- JSON: text, tokens, finish_reason, top_logprobs
            created_at REAL NOT NULL
        )"""
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m001_responses]
"""Applied in order, each once; their names are recorded in ``_migrations``.
Add new ones at the end, never edit a released one."""


def _migrate(db: sqlite3.Connection) -> None:
    with db:
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for migration in MIGRATIONS:
        name = migration.__name__.lstrip("_")
        if name in done:
            continue
        with db:  # one transaction per migration; a racing process may have won
            try:
                migration(db)
            except sqlite3.OperationalError:
                if name in {row[0] for row in db.execute("SELECT name FROM _migrations")}:
                    continue
                raise
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))


class ResponseCache:
    """Completions keyed by :func:`cache_key`, in ``<dir>/responses.sqlite``."""

    FILENAME = "responses.sqlite"

    def __init__(self, path: Path | str | None = None) -> None:
        """``path`` is a directory or a ``.sqlite`` file; default :func:`default_cache_dir`."""
        path = cache_file(path)
        self.path = path
        self.read_only = False
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open()
        except sqlite3.DatabaseError as e:
            raise BadInput(
                f"response cache {path}: unusable ({e}); delete the file to start an empty cache, "
                "or set JUDGEKIT_CACHE_DIR to another folder"
            ) from None
        except OSError as e:
            raise BadInput(f"response cache {path}: cannot create its folder ({e.strerror.lower()}); "
                           "set JUDGEKIT_CACHE_DIR to another folder or pass --no-cache") from None

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=NORMAL")
            _migrate(db)
            return db
        except sqlite3.OperationalError:
            if os.access(self.path.parent, os.W_OK) and (not self.path.exists() or os.access(self.path, os.W_OK)):
                raise
        # A folder or file we may not write: read what is there, store nothing.
        if not self.path.is_file():
            raise BadInput(f"response cache {self.path.parent}: read-only and holds no cache; "
                           "set JUDGEKIT_CACHE_DIR to a writable folder or pass --no-cache")
        self.read_only = True
        try:
            db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
            db.execute("SELECT count(*) FROM responses").fetchone()
        except sqlite3.OperationalError:  # WAL needs a writable -shm; nobody can write here anyway
            db = sqlite3.connect(f"{self.path.as_uri()}?immutable=1", uri=True, check_same_thread=False)
            db.execute("SELECT count(*) FROM responses").fetchone()
        return db

    def get(self, key: str) -> Completion | None:
        """The stored completion, marked ``cached``, or None (also for an entry that does not decode)."""
        with self._lock:
            row = self._db.execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            data = json.loads(row[0])
            logprobs = data.get("top_logprobs")
            return Completion(
                text=data["text"],
                tokens_in=data["tokens_in"],
                tokens_out=data["tokens_out"],
                finish_reason=data.get("finish_reason"),
                top_logprobs=tuple(logprobs) if logprobs is not None else None,
                cached=True,
            )
        except (TypeError, ValueError, KeyError, AttributeError):
            return None

    def put(self, key: str, provider: str, model: str, completion: Completion) -> None:
        """Store a successful completion (latency and cost are per call, not stored)."""
        data = {
            "text": completion.text,
            "tokens_in": completion.tokens_in,
            "tokens_out": completion.tokens_out,
            "finish_reason": completion.finish_reason,
            "top_logprobs": list(completion.top_logprobs) if completion.top_logprobs is not None else None,
        }
        if self.read_only:
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                (key, provider, model, json.dumps(data, ensure_ascii=False), time.time()),
            )

    def entries_by_model(self) -> list[tuple[str, str, int]]:
        """(provider, model, entries) for every model with stored answers, most entries first."""
        with self._lock:
            return self._db.execute(
                "SELECT provider, model, count(*) AS n FROM responses GROUP BY provider, model "
                "ORDER BY n DESC, provider, model"
            ).fetchall()

    def clear(self) -> int:
        """Delete every stored answer and give the space back to the file system; the number deleted."""
        if self.read_only:
            raise BadInput(f"response cache {self.path}: read-only; cannot clear it")
        with self._lock:
            deleted = self._db.execute("DELETE FROM responses").rowcount
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
