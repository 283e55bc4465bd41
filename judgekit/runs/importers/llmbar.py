"""Import a recorded LLMBar evaluator run as a judgekit run dir.

LLMBar (Zeng et al., ICLR 2024, arXiv 2310.07641) ships its judges' outputs
as ``<subset>/evaluators/<LLM>/<strategy>/result.json``: one entry per item,
in the order of ``<subset>/dataset.json``, each with a ``results`` list whose
LAST element is the verdict (earlier elements are generated metrics, a
generated reference, or a first "swap" round that the last one overrides).
The verdict holds a ``"swap = False"`` and a ``"swap = True"`` dict, each with
a ``winner`` of ``"1"``, ``"2"`` or null (unparseable). Both winners are
already in the original numbering, so no mapping back is needed here; "1" is
our ``a`` and "2" our ``b``.

Rating strategies score each output once (``score_1``/``score_2``, each a
``[text, finish_reason]`` pair) and derive a winner per order; when the
scores are equal LLMBar breaks the tie by position (``"2"`` in the original
order, ``"1"`` in the swapped one). We keep LLMBar's per-order winners as
recorded, so the published figures come out, and keep the scores beside them.

How LLMBar counts unparseable verdicts (``LLMEvaluator/evaluate.py``,
REFERENCES B1): wrong in accuracy, and two unparseable orders count as
agreeing in positional agreement (``None == None``). That is judgekit's
``llmbar`` invalid policy, recorded in the manifest of every imported run.

The verdict's own (final) winner: the common winner when both orders agree;
``tie`` when both are valid but disagree (an inconsistent judge prefers
neither, as FastChat counts it); invalid when either order is unparseable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgekit.data import Card, Dataset, builtin_cards, load_dataset
from judgekit.errors import BadInput
from judgekit.records import CallText, Example, Label, Manifest, OrderResult, Verdict
from judgekit.runs.importers.recorded import recorded_manifest, staged, write_run
from judgekit.runs.run_dir import Run

INVALID_POLICY = "llmbar"

EVALUATOR_MODELS = {
    "GPT-4": "gpt-4",
    "ChatGPT": "gpt-3.5-turbo",
    "ChatGPT-0301": "gpt-3.5-turbo",
    "LLaMA2": "llama-2-70b-chat",
    "PaLM2": "palm-2",
    "Falcon": "falcon-180b-chat",
}
"""LLMBar's evaluator folder names and the base models behind them (the paper, section 4)."""

SUBSET_DATASETS = {
    ("LLMBar", "Natural"): "llmbar/natural",
    ("Adversarial", "Neighbor"): "llmbar/adversarial/neighbor",
    ("Adversarial", "GPTInst"): "llmbar/adversarial/gptinst",
    ("Adversarial", "GPTOut"): "llmbar/adversarial/gptout",
    ("Adversarial", "Manual"): "llmbar/adversarial/manual",
    ("Processed", "FairEval"): "llmbar/faireval",
    ("Processed", "LLMEval2"): "llmbar/llmeval2",
    ("Processed", "LLMEval^2"): "llmbar/llmeval2",
    ("Processed", "MT-Bench"): "llmbar/mtbench",
}
"""(parent folder, subset folder) of a LLMBar subset -> judgekit dataset id."""

_STAGE_NAMES = ("Metrics", "Reference")
"""Strategy name parts whose generated text comes before the verdict, in this order."""

_WINNERS: dict[Any, Label | None] = {"1": "a", "2": "b", None: None}
_ORDERS = (("swap = False", False), ("swap = True", True))


@dataclass(frozen=True)
class Imported:
    """A LLMBar evaluator run read into judgekit records, not yet written anywhere."""

    manifest: Manifest
    examples: tuple[Example, ...]
    verdicts: tuple[Verdict, ...]


def protocol_for(strategy: str) -> str:
    """judgekit protocol id of a LLMBar strategy folder name.

    LLMBar's ``Vanilla`` already carries its rules, so it is ``llmbar/rules``
    (and its few-shot forms ``llmbar/rules-1shot``/``-2shot``); ``Vanilla_NoRules``
    is the bare ``llmbar/vanilla``. The ids match the built-in protocol specs
    where one exists.
    """
    special = {"Vanilla": "llmbar/rules", "Vanilla_NoRules": "llmbar/vanilla",
               "Vanilla_1shot": "llmbar/rules-1shot", "Vanilla_2shot": "llmbar/rules-2shot",
               "Rating": "llmbar/rating", "Rating_NoRules": "llmbar/rating-norules"}
    if strategy in special:
        return special[strategy]
    return "llmbar/" + strategy.lower().replace("_", "-")


LAYOUT_PREFIX = "llmbar-layout/"
"""Dataset id prefix of a subset we do not ship, read from its own ``dataset.json``."""


def dataset_for(evaluator_dir: Path) -> str:
    """The dataset id of an evaluator dir ``<subset>/evaluators/<LLM>/<strategy>``.

    A LLMBar subset we ship maps to its id; any other subset folder (a user's
    own LLMBar-style evaluations) that has ``dataset.json`` beside ``evaluators/``
    becomes ``llmbar-layout/<subset>``.
    """
    parts = evaluator_dir.resolve().parts
    if len(parts) < 4 or parts[-3] != "evaluators":
        raise BadInput(f"{evaluator_dir}: not a LLMBar evaluator dir (expected <subset>/evaluators/<LLM>/<strategy>)")
    key = (parts[-5] if len(parts) >= 5 else "", parts[-4])
    if key in SUBSET_DATASETS:
        return SUBSET_DATASETS[key]
    if not (evaluator_dir.resolve().parents[2] / "dataset.json").is_file():
        known = ", ".join(f"{p}/{s}" for p, s in SUBSET_DATASETS)
        raise BadInput(f"{evaluator_dir}: subset {key[1]} is not one we ship ({known}) and has no dataset.json "
                       "beside its evaluators/ folder")
    return LAYOUT_PREFIX + key[1]


def load_subset(evaluator_dir: Path, dataset_id: str) -> Dataset:
    """The subset's examples through the dataset loader, so ids and generators match it.

    Reads the ``dataset.json`` beside ``evaluators/`` when present (from its
    staged-layout root when the path allows, so generator joins are found),
    otherwise wherever the loader finds the dataset (JUDGEKIT_DATA_DIR, hub).
    A subset we do not ship is read in LLMBar Natural's format.
    """
    subset_file = evaluator_dir.resolve().parents[2] / "dataset.json"
    if dataset_id.startswith(LAYOUT_PREFIX):
        natural = builtin_cards()["llmbar/natural"]
        card = Card(id=dataset_id, description=f"a subset in LLMBar's layout ({subset_file})", local=str(subset_file),
                    format="json", fields=natural.fields, labels=natural.labels, license="unknown", citation="")
        return load_dataset(card)
    if not subset_file.is_file():
        return load_dataset(dataset_id)
    local = builtin_cards()[dataset_id].local
    root = Path(str(subset_file)[: -len(local)]) if local and str(subset_file).endswith(local) else None
    return load_dataset(dataset_id, path=root if root is not None else subset_file)


def read_evaluator_dir(
    evaluator_dir: str | Path, *, judge_model: str | None = None, dataset: Dataset | None = None
) -> Imported:
    """Read ``result.json`` of one evaluator dir into a manifest, examples and verdicts.

    ``dataset`` (the subset as loaded) may be passed to skip loading it again.
    Every item is checked against the dataset (same count, texts and labels).
    """
    evaluator_dir = Path(evaluator_dir)
    if not evaluator_dir.is_dir():
        raise BadInput(f"{evaluator_dir}: no such directory")
    items = _read_results(evaluator_dir / "result.json")
    dataset_id = dataset_for(evaluator_dir)
    evaluator, strategy = evaluator_dir.resolve().parts[-2:]
    model = judge_model or EVALUATOR_MODELS.get(evaluator)
    if model is None:
        raise BadInput(f"{evaluator_dir}: unknown LLMBar evaluator {evaluator!r}; pass --judge-model")
    if dataset is None:
        dataset = load_subset(evaluator_dir, dataset_id)
    _check_items(evaluator_dir / "result.json", items, dataset)
    stages = [name for name in _STAGE_NAMES if name in strategy.split("_")]
    verdicts = tuple(
        _verdict(evaluator_dir / "result.json", i, item, example, stages)
        for i, (item, example) in enumerate(zip(items, dataset.examples, strict=True))
    )
    manifest = recorded_manifest(
        dataset, dataset_id=dataset_id, n_verdicts=len(verdicts), judge=f"llmbar:{evaluator}", judge_model=model,
        protocol=protocol_for(strategy), invalid_policy=INVALID_POLICY,
        params={"llmbar_evaluator": evaluator, "llmbar_strategy": strategy}, source=str(evaluator_dir.resolve()),
    )
    return Imported(manifest, dataset.examples, verdicts)


def import_llmbar(
    evaluator_dir: str | Path, out: str | Path, *, judge_model: str | None = None, dataset: Dataset | None = None
) -> Run:
    """Import one evaluator dir into a new run dir ``out``; nothing is left behind on failure."""
    out = Path(out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise BadInput(f"{out}: already exists; choose another --out (or an empty folder)")
    imported = read_evaluator_dir(evaluator_dir, judge_model=judge_model, dataset=dataset)
    with staged(out) as staging:
        write_run(staging, imported.manifest, imported.examples, imported.verdicts)
    return Run(out, imported.manifest, list(imported.examples), list(imported.verdicts))


def _read_results(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: missing (an evaluator dir holds result.json)") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a folder; an evaluator dir holds result.json as a file") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read it ({e.strerror.lower()})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, list):
        raise BadInput(f"{path}: expected a JSON array of items, got {type(data).__name__}")
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise BadInput(f"{path}: item {i}: expected an object, got {type(item).__name__}")
        for field in ("input", "output_1", "output_2", "label", "results"):
            if field not in item:
                raise BadInput(f"{path}: item {i}: field '{field}' is missing")
        if not isinstance(item["results"], list) or not item["results"]:
            raise BadInput(f"{path}: item {i}: field 'results' must be a non-empty list")
    return data


def _check_items(path: Path, items: list[dict[str, Any]], dataset: Dataset) -> None:
    """The recorded items must be the dataset's, in its order (LLMBar keeps that order)."""
    if len(items) != len(dataset.examples):
        raise BadInput(f"{path}: holds {len(items)} items but {dataset.id} has {len(dataset.examples)}")
    for i, (item, example) in enumerate(zip(items, dataset.examples, strict=True)):
        pairs = (("output_1", item["output_1"], example.response_a), ("output_2", item["output_2"], example.response_b),
                 ("label", _WINNERS.get(str(item["label"])), example.gold))
        for field, recorded, expected in pairs:
            if recorded != expected:
                raise BadInput(f"{path}: item {i}: field '{field}' differs from {dataset.id} example {example.id}")


def _verdict(path: Path, i: int, item: dict[str, Any], example: Example, stages: Sequence[str]) -> Verdict:
    results = item["results"]
    last = _verdict_dict(path, i, len(results) - 1, results[-1])
    details: dict[str, Any] = {"llmbar_index": i}
    transcript: list[CallText] = []  # the stages' replies, by the stage names our protocols give those calls
    earlier = results[:-1]
    if len(earlier) == 1 and isinstance(earlier[0], dict):
        details["first_round"] = _round_details(path, i, _verdict_dict(path, i, 0, earlier[0]))
    elif len(earlier) == len(stages):
        for k, (name, stage) in enumerate(zip(stages, earlier, strict=True)):
            transcript.append(CallText(stage=name.lower(), text=_completion_text(path, i, stage, f"results[{k}]")))
    else:
        raise BadInput(f"{path}: item {i}: field 'results' has {len(results)} elements, "
                       f"expected {len(stages) + 1} for this strategy (or 2 for a swap round)")
    scores, raw_scores = _scores(path, i, last)
    orders = tuple(
        OrderResult(
            swapped=swapped,
            raw=raw_scores if raw_scores is not None else _completion_text(
                path, i, last[key].get("completion"), f"results[-1].{key}.completion"),
            winner=_winner(path, i, last[key]),
            scores=scores,
        )
        for key, swapped in _ORDERS
    )
    winner, reason = _final(orders)
    if raw_scores is not None and scores is not None and scores.get("a") == scores.get("b"):
        details["tie_broken_by_position"] = True
    return Verdict(example_id=example.id, winner=winner, orders=orders, invalid_reason=reason, details=details,
                   transcript=tuple(transcript))


def _verdict_dict(path: Path, i: int, index: int, element: Any) -> dict[str, Any]:
    where = f"{path}: item {i}: field 'results[{index}]'"
    if not isinstance(element, dict):
        raise BadInput(f"{where}: expected the verdict object, got {type(element).__name__}")
    for key, _ in _ORDERS:
        if not isinstance(element.get(key), dict):
            raise BadInput(f"{where}: '{key}' is missing or not an object")
        if "winner" not in element[key]:
            raise BadInput(f"{where}.{key}: field 'winner' is missing")
    return element


def _winner(path: Path, i: int, order: dict[str, Any]) -> Label | None:
    value = order["winner"]
    if value not in _WINNERS:
        raise BadInput(f"{path}: item {i}: field 'winner' is {value!r}, expected \"1\", \"2\" or null")
    return _WINNERS[value]


def _round_details(path: Path, i: int, element: dict[str, Any]) -> dict[str, Any]:
    """A first swap round, kept for audit (its prompt, LLMBar's own text, is left out)."""
    return {
        ("b_first" if swapped else "a_first"): {
            "winner": _winner(path, i, element[key]),
            "raw": _completion_text(path, i, element[key].get("completion"), f"results[0].{key}.completion"),
        }
        for key, swapped in _ORDERS
    }


def _completion_text(path: Path, i: int, value: Any, field: str) -> str:
    """The text of a ``[text, finish_reason]`` pair."""
    if not (isinstance(value, list) and value and isinstance(value[0], str)):
        raise BadInput(f"{path}: item {i}: field '{field}' must be a [text, finish_reason] list")
    return value[0]


_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def _scores(path: Path, i: int, last: dict[str, Any]) -> tuple[dict[str, float] | None, str | None]:
    """Rating strategies: parsed scores by canonical label, and their raw texts as one string."""
    if "score_1" not in last and "score_2" not in last:
        return None, None
    texts = {}
    for field in ("score_1", "score_2"):
        texts[field] = _completion_text(path, i, last.get(field), field)
    parsed = {label: float(texts[field]) for label, field in (("a", "score_1"), ("b", "score_2"))
              if _NUMBER.match(texts[field])}
    raw = f"score_1: {texts['score_1']}\nscore_2: {texts['score_2']}"
    return parsed or None, raw


def _final(orders: tuple[OrderResult, ...]) -> tuple[Label | None, str | None]:
    winners = [o.winner for o in orders]
    if any(w is None for w in winners):
        return None, "unparseable"
    return (winners[0], None) if len(set(winners)) == 1 else ("tie", None)
