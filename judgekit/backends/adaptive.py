"""A concurrency limit that backs off when the server is overloaded and creeps back up.

Additive increase, multiplicative decrease, as TCP congestion control does
(Jacobson 1988; inspect_ai's adaptive connections apply the same idea to model
APIs): a timeout or a "too many requests" halves the limit; each run of
``limit`` answers without trouble raises it by one, never past the ceiling the
user set. Failures of calls that were in flight together count as one signal,
so eight simultaneous timeouts halve the limit once, not eight times.
"""

from __future__ import annotations

import asyncio
from collections import deque


class AdaptiveLimit:
    """Like a semaphore whose size moves between 1 and ``ceiling``; one event loop only."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.limit = ceiling
        self.active = 0
        self.lowest = ceiling
        """The smallest limit reached (for the give-up advice)."""
        self._successes = 0
        self._epoch = 0
        """Bumped at every decrease; a failure of a call started before it is old news."""
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a free slot; returns the epoch to hand to :meth:`overloaded`."""
        while self.active >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken for a slot this call will not take: hand it on
                raise
        self.active += 1
        return self._epoch

    def release(self) -> None:
        self.active -= 1
        self._wake()

    def succeeded(self) -> None:
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.ceiling:
            self.limit += 1
            self._successes = 0
            self._wake()

    def overloaded(self, epoch: int) -> None:
        """A call started in ``epoch`` timed out or was told to slow down: halve the limit."""
        if epoch != self._epoch:
            return  # the limit already dropped after that call started
        self._epoch += 1
        self._successes = 0
        self.limit = max(1, self.limit // 2)
        self.lowest = min(self.lowest, self.limit)

    def _wake(self) -> None:
        """Wake as many waiters as there are free slots, first come first served; each re-checks when it
        runs. Waking them all made every release cost as much as the queue is long: at concurrency 1,024
        a run spent more CPU on waking than on calls."""
        free = self.limit - self.active
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1
