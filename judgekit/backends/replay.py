"""A judge that answers from a recorded run instead of a model: ``replay:RUN_DIR``.

The run dir may be an earlier judgekit run or an imported LLMBar evaluator
run; both keep each order's raw completion text in ``OrderResult.raw``.
Replaying them through a protocol re-parses that stored text, so a parser
change is re-scored, and notebooks rerun, with no network and no cost.

A request is matched by its typed tag (``Request.tag``: example, member
path, order, stage). A record keeps the text of every call it does not keep
otherwise (an order's deciding call is its ``raw``) in its ``transcript``, by
stage and order, and a composite's members' verdicts under
``details["members"]`` by member name. So replay walks to the member's
recorded verdict, answers a call found in its transcript from there and any
other call from the order's raw text. Runs written before records had a
transcript kept those texts in ``details`` under the stage name (``metrics``,
``differences_swapped``), as LLMBar's imported runs do; replay reads them there. Every protocol
replays, self-consistency included (each sample is a member). Logprob
verdicts also keep each order's next-token distribution
(``details["top_logprobs"]``), which replay hands back too.

A pointwise run keeps a Rating per item instead: each criterion's reply is
``Rating.criteria[name].raw``, found by the tag's stage (the criterion's
name). G-Eval's score distribution (``probabilities``) comes back as one
token position's log-probabilities, from which the same score is read. A
classify run keeps its deciding reply in ``Classification.raw`` (and the
position its label was read at in ``details["top_logprobs"]``). An item the
server refused is refused again, so it is recorded as refused once more.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from judgekit.backends.base import Backend, CallTag, Completion, Refused, Request
from judgekit.backends.registry import register_backend
from judgekit.errors import BadInput
from judgekit.runs.run_dir import read_run


@register_backend("replay")
class ReplayBackend(Backend):
    """Serves each call's recorded text; a missing recording is a clear error."""

    answers_by_tag = True
    stores_answers = False  # free to read again, and the run dir at this path may be recorded anew

    def __init__(self, model: str, **options: Any) -> None:
        if not model:
            raise BadInput("judge spec replay: give the recorded run dir, e.g. replay:runs/my-run")
        super().__init__(model, **options)
        self.path = Path(model).expanduser()
        run = read_run(self.path)
        self.kind = run.manifest.kind
        self.recorded = {v.example_id: v.model_dump(mode="json") for v in run.verdicts}

    @property
    def endpoint(self) -> str:
        return str(self.path.resolve())

    async def complete(self, request: Request) -> Completion:
        tag = request.tag
        if tag is None:
            raise BadInput(f"replay:{self.path}: a request without a call tag cannot be matched to a recording")
        verdict = self._verdict(tag)
        details = verdict["details"]
        text = next((c["text"] for c in verdict.get("transcript", ())
                     if c["stage"] == tag.stage and c.get("order") == tag.order), None)
        if text is not None:
            return Completion(text=text, finish_reason="stop")
        if isinstance(details.get(tag.stage), str):  # a run written before transcripts, or an imported one
            return Completion(text=details[tag.stage], finish_reason="stop")
        if verdict.get("invalid_reason") == "refused":  # refused again, so the replay records it the same way
            raise Refused(f"replay:{self.path}", details.get("refused") or verdict.get("raw") or "refused")
        if self.kind == "pointwise":
            return self._rated(verdict["criteria"], tag)
        if self.kind == "classify":  # the deciding call's reply, and the position its label was read at
            position = details.get("top_logprobs")
            return Completion(text=verdict["raw"], finish_reason="stop",
                              top_logprobs=(position,) if position is not None else None)
        order = next((o for o in verdict["orders"] if tag.order and o["swapped"] == (tag.order == "swapped")), None)
        if order is None:
            where = f"{tag.order} order" if tag.order else f"stage {tag.stage!r}"
            raise BadInput(f"replay:{self.path}: no recorded answer for {_name(tag)}, {where}")
        distribution = (details.get("top_logprobs") or {}).get(tag.order)
        return Completion(text=order["raw"], finish_reason="stop",
                          top_logprobs=(distribution,) if distribution is not None else None)

    def _rated(self, criteria: dict[str, Any], tag: CallTag) -> Completion:
        """A pointwise call's recorded reply: the rating of the criterion its stage names."""
        rated = criteria.get(tag.stage)
        if rated is None:
            raise BadInput(f"replay:{self.path}: no recorded answer for {_name(tag)}, criterion {tag.stage!r}")
        probabilities = rated.get("probabilities")
        logprobs = ({point: math.log(p) for point, p in probabilities.items() if p > 0},) if probabilities else None
        return Completion(text=rated["raw"], finish_reason="stop", top_logprobs=logprobs)

    def _verdict(self, tag: CallTag) -> dict[str, Any]:
        """The recorded verdict of the tag's example, or of its member at the tag's member path."""
        verdict = self.recorded.get(tag.example)
        for depth, name in enumerate(tag.member):
            members = verdict["details"].get("members", []) if verdict is not None else []
            verdict = next((m for m in members if m.get("name") == name), None)
            if verdict is None:
                raise BadInput(f"replay:{self.path}: no recorded member {'/'.join(tag.member[:depth + 1])!r} "
                               f"for example {tag.example!r}")
        if verdict is None:
            raise BadInput(f"replay:{self.path}: no recorded answer for example {tag.example!r}")
        return verdict


def _name(tag: CallTag) -> str:
    member = f" (member {'/'.join(tag.member)})" if tag.member else ""
    return f"example {tag.example!r}{member}"
