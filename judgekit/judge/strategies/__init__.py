"""Strategies: the Python that runs a protocol spec, one module per kind of protocol.

The interface every strategy implements, and the registry its decorator
fills, are in ``judgekit.judge.strategies.base``; answer parsers are in
``judgekit.judge.strategies.parsing``.
"""

from judgekit.judge.strategies.base import (
    Calls,
    MemberSpec,
    Strategy,
    get_strategy,
    register,
    run_protocol,
    strategy_names,
)

__all__ = ["Calls", "MemberSpec", "Strategy", "get_strategy", "register", "run_protocol", "strategy_names"]
