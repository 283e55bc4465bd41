"""A judge that answers from a recorded run instead of a model: ``replay:RUN_DIR``.

The run dir may be an earlier judgekit run or an imported LLMBar evaluator
run; both keep each order's raw completion text in ``OrderResult.raw``.
Replaying them through a protocol re-parses that stored text, so a parser
change is re-scored, and notebooks rerun, with no network and no cost.

A request is matched by its ``purpose``, ``"<example id>/<original|swapped>/<stage>"``.
A run keeps each order's deciding text in ``OrderResult.raw`` and the texts
of earlier stages (metrics, a reference answer, analyses) in
``Verdict.details``, under the stage's name, optionally suffixed with the
order or the response (``metrics``, ``differences_swapped``, ``analysis_a``).
So a stage found in the details is answered from there and any other stage
from the order's raw text: single-call and staged protocols replay; protocols
that sample several answers per order (self-consistency) cannot, since a run
keeps one. Logprob verdicts also keep each order's next-token distribution
(``details["top_logprobs"]``), which replay hands back too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judgekit.backends.base import Backend, Completion, Request
from judgekit.backends.registry import register_backend
from judgekit.errors import BadInput
from judgekit.rundir import read_run

ORDERS = {"original": False, "swapped": True}


@register_backend("replay")
class ReplayBackend(Backend):
    """Serves each order's recorded raw text; a missing recording is a clear error."""

    def __init__(self, model: str, **options: Any) -> None:
        if not model:
            raise BadInput("judge spec replay: give the recorded run dir, e.g. replay:runs/my-run")
        super().__init__(model, **options)
        self.path = Path(model).expanduser()
        run = read_run(self.path)
        self.recorded: dict[tuple[str, bool], Completion] = {}
        self.details = {v.example_id: v.details for v in run.verdicts}
        for verdict in run.verdicts:
            distributions = verdict.details.get("top_logprobs", {})
            for order in verdict.orders:
                dist = distributions.get("swapped" if order.swapped else "original")
                self.recorded[(verdict.example_id, order.swapped)] = Completion(
                    text=order.raw,
                    finish_reason="stop",
                    top_logprobs=(dist,) if dist is not None else None,
                )

    @property
    def endpoint(self) -> str:
        return str(self.path.resolve())

    async def complete(self, request: Request) -> Completion:
        example_id, swapped, stage = parse_purpose(request.purpose)
        if request.sample != 0:
            raise BadInput(
                f"replay:{self.path}: example {example_id!r}: a run records one answer per order, "
                f"so sample {request.sample} cannot be replayed"
            )
        order = "swapped" if swapped else "original"
        details = self.details.get(example_id, {})
        for key in (stage, f"{stage}_{order}", stage.replace("-", "_")):
            if isinstance(details.get(key), str):
                return Completion(text=details[key], finish_reason="stop")
        recorded = self.recorded.get((example_id, swapped))
        if recorded is None:
            raise BadInput(f"replay:{self.path}: no recorded answer for example {example_id!r}, {order} order")
        return recorded


def parse_purpose(purpose: str) -> tuple[str, bool, str]:
    """Split ``<example id>/<order>/<stage>`` at the last order name (ids may contain '/')."""
    parts = purpose.split("/")
    at = max((i for i, part in enumerate(parts) if part in ORDERS and i > 0), default=None)
    if at is None:
        raise BadInput(
            f"replay: request purpose {purpose!r} does not name an example and order "
            "('<example id>/<original|swapped>/<stage>')"
        )
    return "/".join(parts[:at]), ORDERS[parts[at]], "/".join(parts[at + 1 :])
