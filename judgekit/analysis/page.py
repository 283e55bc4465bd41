"""Everything the HTML page shows, computed before it is drawn: ``compare``'s data plus each run's page data.

The page renderer (``judgekit.report.html``) only lays these numbers and texts out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from judgekit.analysis.compare import compare, grouped_rows
from judgekit.analysis.kind import Options
from judgekit.analysis.kinds import KINDS
from judgekit.errors import BadInput
from judgekit.records import RunRecords


def page_data(runs: Sequence[RunRecords], options: Options = Options(), *, rank_by: str = "headline",
              by: str | None = None) -> dict[str, Any]:
    """``compare``'s result with ``pages``: run path -> the kind's page data for that run, and the options used.

    With ``by``, also ``by`` and ``groups``: run path -> group value -> the run's row on that group's items.
    """
    if not runs:
        raise BadInput("html report: no run dirs given")
    data = compare(runs, options, rank_by=rank_by)
    kind = KINDS[data["kind"]]
    data["pages"] = {str(run.path): kind.page(run, options) for run in runs}
    data["confidence"] = options.confidence
    data["target_accuracy"] = options.target_accuracy
    if by is not None:
        data["by"] = by
        data["groups"] = dict(zip((str(run.path) for run in runs), grouped_rows(runs, by, options), strict=True))
    return data
