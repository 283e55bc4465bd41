"""A request to stop the process, for synchronous work that a signal cannot otherwise interrupt.

The CLI sets it on SIGTERM; template rendering (``judgekit.judge.sandbox``), which
runs on the event loop's thread and so holds off the loop's own cancellation,
checks it at every step and ends the rendering as Ctrl-C would.
"""

from __future__ import annotations

import threading

requested = threading.Event()
