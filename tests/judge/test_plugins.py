"""A strategy, its protocol spec and a backend from a package outside judgekit, found through entry points.

The plugin is written into a temporary folder with a ``.dist-info`` whose
``entry_points.txt`` declares it, and that folder is put on ``sys.path``: what
``pip install`` leaves behind, so ``importlib.metadata`` finds it as it finds
any installed distribution. Nothing inside judgekit names it.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import pytest

from judgekit.backends import registry
from judgekit.errors import BadInput
from judgekit.judge import spec
from judgekit.judge.strategies import base
from judgekit.protocols import load_protocol
from judgekit.runs.run_dir import read_run

PLUGIN = '''
"""A toy plugin: the judge states P(first output is better); both orders' odds are averaged."""

import math
import re

from judgekit.backends import Backend, Completion, Request
from judgekit.judge.strategies import Calls, PairwiseStrategy, Protocol, StrategyOptions, options_of
from judgekit.records import Example, OrderResult, Verdict


class OddsOptions(StrategyOptions):
    label: str = "P(first)"
    """What the answer line starts with."""


class ToyOdds(PairwiseStrategy):
    """A notes call, then per order the probability that the first output is better; the mean decides."""

    Options = OddsOptions
    combines_orders = True
    templates = ("notes", "compare")
    variables = frozenset({"instruction", "output_1", "output_2", "notes", "label"})
    confidence_source = "stated odds"

    def calls_per_item(self, protocol: Protocol) -> int:
        return 1 + len(protocol.swaps)

    async def run(self, protocol: Protocol, example: Example, calls: Calls[Example]) -> Verdict:
        label = options_of(protocol, OddsOptions).label
        notes = await calls.ask("notes", instruction=example.instruction)
        orders, odds = [], []
        for swapped in protocol.swaps:
            first, second = example.response_a, example.response_b
            if swapped:
                first, second = second, first
            reply = await calls.ask("compare", swapped=swapped, instruction=example.instruction, output_1=first,
                                    output_2=second, notes=notes.text, label=label)
            found = re.search(re.escape(label) + r" = ([0-9.]+)", reply.text)
            p_a = None if found is None else (1 - float(found[1]) if swapped else float(found[1]))
            orders.append(OrderResult(swapped=swapped, raw=reply.text, winner=None if p_a is None else
                                      "a" if p_a > 0.5 else "b" if p_a < 0.5 else "tie"))
            odds.append(p_a)
        if None in odds:
            return Verdict(example_id=example.id, winner=None, orders=tuple(orders), invalid_reason="unparseable",
                           usage=calls.usage())
        mean = sum(odds) / len(odds)
        winner = "a" if mean > 0.5 else "b" if mean < 0.5 else "tie"
        return Verdict(example_id=example.id, winner=winner, orders=tuple(orders), details={"p_a": mean},
                       usage=calls.usage())

    def confidence(self, results):
        return [max(v.details["p_a"], 1 - v.details["p_a"]) if "p_a" in v.details else None for v in results]


class LengthJudge(Backend):
    """Prefers the longer output, more or less surely; counts its calls."""

    calls = 0

    async def complete(self, request: Request) -> Completion:
        type(self).calls += 1
        prompt = request.messages[-1].content
        if "[FIRST]" not in prompt:
            return Completion(text="Longer answers cover more.", finish_reason="stop")
        first, second = prompt.split("[FIRST]")[1].split("[SECOND]")
        p = 0.5 + min(0.45, (len(first) - len(second)) / 400)
        return Completion(text=f"Thinking done.\\nP(first) = {p:.3f}", finish_reason="stop")
'''

SPEC = '''
description: The judge's stated probability that the first output is better, averaged over both orders.
citation: A toy for the plugin test.
strategy: toy_odds
params: {temperature: 0.0, max_tokens: 32}
templates:
  notes: "Notes on what a good answer to this needs: {{ instruction }}"
  compare: |-
    {{ notes }}
    {{ instruction }}
    [FIRST]{{ output_1 }}[SECOND]{{ output_2 }}
    Answer "{{ label }} = p".
'''

ENTRY_POINTS = '''
[judgekit.strategies]
toy_odds = judgekit_toy_plugin:ToyOdds

[judgekit.backends]
lengthy = judgekit_toy_plugin:LengthJudge

[judgekit.protocols]
toyplug = judgekit_toy_plugin.protocols
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The plugin installed on sys.path; judgekit's registries restored afterwards."""
    root = tmp_path / "site"
    package = root / "judgekit_toy_plugin"
    (package / "protocols").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (package / "protocols" / "__init__.py").write_text("", encoding="utf-8")
    (package / "protocols" / "odds.yaml").write_text(SPEC, encoding="utf-8")
    info = root / "judgekit_toy_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: judgekit-toy-plugin\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    base._load_all.cache_clear()
    spec._plugin_roots.cache_clear()
    yield root
    base._REGISTRY.pop("toy_odds", None)
    registry._CLASSES.pop("lengthy", None)
    sys.modules.pop("judgekit_toy_plugin", None)
    sys.modules.pop("judgekit_toy_plugin.protocols", None)
    base._load_all.cache_clear()
    spec._plugin_roots.cache_clear()


def test_a_plugin_strategy_is_listed_runs_replays_and_reports_its_confidence(plugin, tmp_path, cli):
    code, out, err = cli("protocols", "list", "--format", "json")
    assert code == 0, err
    listed = {p["id"]: p for p in json.loads(out)["protocols"]}
    assert listed["toyplug/odds"]["strategy"] == "toy_odds" and listed["toyplug/odds"]["calls_per_item"] == 3
    assert "llmbar/vanilla" in listed  # the built-in ones are still there

    run = ("--protocol", "toyplug/odds", "--dataset", "judgekit/bundled", "--quiet", "--no-cache")
    code, _, err = cli("run", "--judge", "lengthy:v1", *run, "--out", tmp_path / "live")
    assert code == 0, err
    judge = sys.modules["judgekit_toy_plugin"].LengthJudge
    live = read_run(tmp_path / "live")
    assert live.manifest.strategy == "toy_odds" and live.manifest.headline == "accuracy_final"
    assert judge.calls == 3 * len(live.examples)
    assert all([c.stage for c in v.transcript] == ["notes"] for v in live.verdicts)  # kept by the call path

    calls_before = judge.calls
    code, _, err = cli("run", "--judge", f"replay:{tmp_path / 'live'}", *run,
                                "--out", tmp_path / "replayed")
    assert code == 0, err
    assert judge.calls == calls_before  # answered from the recording alone
    replayed = read_run(tmp_path / "replayed")
    same = ("winner", "orders", "details", "transcript")
    assert [v.model_dump(include=set(same)) for v in replayed.verdicts] == \
        [v.model_dump(include=set(same)) for v in live.verdicts]

    code, out, err = cli("trust", tmp_path / "live", "--format", "json")
    assert code == 0, err
    trust = json.loads(out)["runs"][0]
    decided = [v for v in live.verdicts if v.winner is not None]
    assert trust["confidence_source"] == "stated odds" and trust["calibration"]["n"] == len(decided)

    code, out, err = cli("report", tmp_path / "live", "--format", "json")
    assert code == 0, err
    row = json.loads(out)["runs"][0]
    gold = {e.id: e.gold for e in live.examples}
    assert row["headline"] == "accuracy_final"
    assert row["accuracy_final"] == pytest.approx(sum(v.winner == gold[v.example_id] for v in live.verdicts)
                                                  / len(live.verdicts))


def test_a_plugin_specs_unknown_option_is_refused_at_load_naming_file_and_key(plugin, tmp_path, cli):
    mine = tmp_path / "mine.yaml"
    mine.write_text(SPEC.replace("strategy: toy_odds", "strategy: toy_odds\noptions: {lable: odds}"), encoding="utf-8")
    with pytest.raises(BadInput) as error:
        load_protocol(mine)
    assert str(error.value) == f"{mine}: unknown key 'options.lable' for strategy toy_odds (allowed: label)"
    code, out, err = cli("run", "--judge", "lengthy:v1", "--protocol", mine, "--dataset", "judgekit/bundled",
                         "--out", tmp_path / "run")
    assert code == 2 and err.strip().splitlines() == [f"error: {error.value}"]
    assert not (tmp_path / "run").exists()  # refused before anything is written
    mine.write_text(SPEC.replace("strategy: toy_odds", "strategy: toy_odds\noptions: {label: 3}"), encoding="utf-8")
    with pytest.raises(BadInput, match=rf"^{mine}: options.label: Input should be a valid string$"):
        load_protocol(mine)


def test_an_unknown_provider_lists_the_plugin_ones(plugin):
    with pytest.raises(BadInput, match="unknown provider 'lengthyy'; known providers: anthropic, lengthy, local"):
        registry.backend_class("lengthyy")
