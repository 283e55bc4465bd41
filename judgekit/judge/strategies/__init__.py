"""Strategies: the Python that runs a protocol spec, one module per kind of protocol.

This package's ``__all__`` is what a strategy author imports (public, as ``judgekit.judge.strategies``): the
base class of each kind, the options model, :class:`Calls`, :func:`register` (or the ``judgekit.strategies``
entry point, for a strategy in another package), and the pairwise and pointwise helpers the built-in
strategies use. The interface is documented in ``judgekit.judge.strategies.base`` and docs/protocols.md
("Writing a strategy"); answer parsers are in ``judgekit.judge.strategies.parsing``.
"""

from judgekit.judge.protocol import Protocol, StrategyOptions
from judgekit.judge.strategies.base import (
    Calls,
    ClassifyStrategy,
    MemberSpec,
    PairwiseStrategy,
    PointwiseStrategy,
    Strategy,
    get_strategy,
    options_of,
    register,
    run_protocol,
    strategy_names,
)
from judgekit.judge.strategies.common import (
    PAIR_VARIABLES,
    SINGLE_VARIABLES,
    combine_orders,
    judge_order,
    pair_values,
    parse_slot,
    read_score,
    verdict,
)
from judgekit.judge.strategies.pointwise import SCORED_VARIABLES, PerCriterion, strict_rating

__all__ = [
    "Calls", "ClassifyStrategy", "MemberSpec", "PairwiseStrategy", "PerCriterion", "PointwiseStrategy", "Protocol",
    "Strategy", "StrategyOptions", "get_strategy", "options_of", "register", "run_protocol", "strategy_names",
    "PAIR_VARIABLES", "SINGLE_VARIABLES", "SCORED_VARIABLES", "combine_orders", "judge_order", "pair_values",
    "parse_slot", "read_score", "strict_rating", "verdict",
]
