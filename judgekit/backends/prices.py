"""What a call costs: a per-model table of USD per million input/output tokens, live and batch.

The shipped table (``prices.yaml``) covers common OpenAI and Anthropic models.
Users extend or override it with a YAML or JSON file of the same shape named
by ``JUDGEKIT_PRICES``, or in code with :meth:`PriceTable.add`. A model with
no price costs nothing in the totals and is counted as unpriced, so a report
can say the cost is a lower bound rather than pretend it is known.

A line is ``[input, output]`` or ``[input, output, batch_input, batch_output]``:
the batch column is what the provider's batch API charges (``judgekit run
--batch``). A model without a batch price is unpriced at batch rates.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from judgekit.errors import BadInput
from judgekit.records import load_yaml

_DATED_SUFFIX = re.compile(r"-(\d|latest|preview)")
"""What may follow a listed name for the price to apply: a date or version tag."""


@dataclass(frozen=True)
class Price:
    input_per_m: float
    output_per_m: float
    batch: Price | None = None
    """The same model's price through the provider's batch API, when known."""

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_m + tokens_out * self.output_per_m) / 1_000_000


class PriceTable:
    """Prices by provider then model name."""

    def __init__(self, table: dict[str, dict[str, Price]] | None = None) -> None:
        self._table: dict[str, dict[str, Price]] = {p: dict(m) for p, m in (table or {}).items()}

    @classmethod
    def load(cls, override: Path | str | None = None) -> PriceTable:
        """The shipped table, then ``override`` (default: ``$JUDGEKIT_PRICES``) on top."""
        table = cls()
        shipped = files("judgekit.backends").joinpath("prices.yaml").read_text(encoding="utf-8")
        table.update(_parse(load_yaml(shipped), "prices.yaml"))
        override = override or os.environ.get("JUDGEKIT_PRICES")
        if override:
            path = Path(override)
            try:
                data = load_yaml(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as e:
                raise BadInput(f"{path}: cannot read price table: {e.__class__.__name__}") from e
            table.update(_parse(data, str(path)))
        return table

    def add(self, provider: str, model: str, input_per_m: float, output_per_m: float,
            batch: tuple[float, float] | None = None) -> None:
        rates = Price(float(batch[0]), float(batch[1])) if batch else None
        self._table.setdefault(provider, {})[model] = Price(float(input_per_m), float(output_per_m), rates)

    def at_batch_rates(self) -> PriceTable:
        """The table a batch run is charged by: each model's batch price (models without one drop out)."""
        return PriceTable({
            provider: {model: price.batch for model, price in models.items() if price.batch is not None}
            for provider, models in self._table.items()
        })

    def update(self, table: dict[str, dict[str, Price]]) -> None:
        for provider, models in table.items():
            self._table.setdefault(provider, {}).update(models)

    def lookup(self, provider: str, model: str) -> Price | None:
        """Exact name first, else the longest listed name that ``model`` extends with a date/tag."""
        models = self._table.get(provider, {})
        if model in models:
            return models[model]
        candidates = [
            name for name in models if model.startswith(name) and _DATED_SUFFIX.match(model, len(name))
        ]
        return models[max(candidates, key=len)] if candidates else None

    def cost(self, provider: str, model: str, tokens_in: int, tokens_out: int) -> float | None:
        """USD for one call, or None when the model has no price."""
        price = self.lookup(provider, model)
        return price.cost(tokens_in, tokens_out) if price else None


def _parse(data: Any, source: str) -> dict[str, dict[str, Price]]:
    if not isinstance(data, dict):
        raise BadInput(f"{source}: expected a mapping of provider -> model "
                       "-> [input, output(, batch_input, batch_output)]")
    table: dict[str, dict[str, Price]] = {}
    for provider, models in data.items():
        if not isinstance(models, dict):
            raise BadInput(f"{source}: {provider}: expected a mapping of model -> [input, output]")
        for model, rates in models.items():
            ok = isinstance(rates, list) and len(rates) in (2, 4)
            ok = ok and all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in rates)
            if not ok:
                raise BadInput(
                    f"{source}: {provider}.{model}: expected [input, output] or [input, output, batch_input, "
                    f"batch_output] USD per 1M tokens, got {rates!r}"
                )
            batch = Price(float(rates[2]), float(rates[3])) if len(rates) == 4 else None
            table.setdefault(str(provider), {})[str(model)] = Price(float(rates[0]), float(rates[1]), batch)
    return table
