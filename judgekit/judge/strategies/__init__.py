"""Strategies: the Python that runs a protocol spec, one module per kind of protocol.

What a strategy author needs is here: the base class of each kind, the
options model to subclass, :class:`Calls`, and :func:`register` (or the
``judgekit.strategies`` entry point, for a strategy in another package).
The interface is documented in ``judgekit.judge.strategies.base``; answer
parsers are in ``judgekit.judge.strategies.parsing``.
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

__all__ = [
    "Calls",
    "ClassifyStrategy",
    "MemberSpec",
    "PairwiseStrategy",
    "PointwiseStrategy",
    "Protocol",
    "Strategy",
    "StrategyOptions",
    "get_strategy",
    "options_of",
    "register",
    "run_protocol",
    "strategy_names",
]
