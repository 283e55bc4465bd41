"""A judge that answers from a recorded run instead of a model: ``replay:RUN_DIR``.

The run dir may be an earlier judgekit run or an imported LLMBar evaluator
run; both keep each order's raw completion text in ``OrderResult.raw``.
Replaying them through a protocol re-parses that stored text, so a parser
change is re-scored, and notebooks rerun, with no network and no cost.

A request is matched by its ``purpose``, ``"<example id>/<original|swapped>/<stage>"``.
A run records one text per example and order (for multi-call protocols, the
deciding call's), so the stage is not part of the match and replay suits
single-call protocols; logprob verdicts also keep each order's next-token
distribution (``details["top_logprobs"]``), which replay hands back too.
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
        example_id, swapped = parse_purpose(request.purpose)
        if request.sample != 0:
            raise BadInput(
                f"replay:{self.path}: example {example_id!r}: a run records one answer per order, "
                f"so sample {request.sample} cannot be replayed"
            )
        recorded = self.recorded.get((example_id, swapped))
        if recorded is None:
            order = "swapped" if swapped else "original"
            raise BadInput(f"replay:{self.path}: no recorded answer for example {example_id!r}, {order} order")
        return recorded


def parse_purpose(purpose: str) -> tuple[str, bool]:
    """Split ``<example id>/<order>/<stage>`` (the id may itself contain '/')."""
    parts = purpose.rsplit("/", 2)
    if len(parts) != 3 or parts[1] not in ORDERS or not parts[0]:
        raise BadInput(
            f"replay: request purpose {purpose!r} does not name an example and order "
            "('<example id>/<original|swapped>/<stage>')"
        )
    return parts[0], ORDERS[parts[1]]
