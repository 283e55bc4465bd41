"""Pairwise winner labels as small integer codes, so metrics stay vectorised.

Winners arrive as ``"a"``, ``"b"``, ``"tie"`` or a missing value (None/NaN)
for an invalid, unparseable verdict. Every metric turns them into int8 codes
once, rejecting anything else with an error that names the array and position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import numpy as np

from judgekit.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

Winners = Union[Sequence[object], np.ndarray, "pd.Series"]
"""Per-item winners: "a", "b", "tie", or None/NaN for an invalid verdict."""

LABELS: tuple[str, ...] = ("a", "b", "tie")
A, B, TIE = 0, 1, 2
INVALID = 3
"""Code of an invalid verdict; it is also the fourth category of a confusion table."""
N_CODES = 4
_CODES = {label: code for code, label in enumerate(LABELS)}


def encode(values: Winners, *, name: str = "labels") -> np.ndarray:
    """Map winners to int8 codes (a=0, b=1, tie=2, invalid=3).

    Raises BadInput naming ``name[position]`` for a value that is neither a
    label nor missing.
    """
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise BadInput(f"{name}: expected a 1-D array of winners, got shape {arr.shape}")
    codes = np.array([_CODES.get(v, INVALID) if isinstance(v, str) else INVALID for v in arr], dtype=np.int8)
    for position in np.flatnonzero(codes == INVALID).tolist():
        if not _missing(arr[position]):
            raise BadInput(
                f"{name}[{position}]: winner {arr[position]!r} is not one of a, b, tie (or missing for invalid)"
            )
    return codes


def _missing(value: object) -> bool:
    """None or NaN, as pandas counts them (pandas itself is asked only about other values: pd.NA, NaT)."""
    if value is None or (isinstance(value, float) and value != value):
        return True
    if isinstance(value, str):
        return False
    import pandas as pd  # heavy, and a run's winners are labels, None or NaN

    found = pd.isna(value)
    return np.ndim(found) == 0 and bool(found)  # a list holds values, it is not one missing value


def check_same_length(**arrays: np.ndarray) -> int:
    """The common length of the named arrays; BadInput naming the odd one out."""
    lengths = {name: len(arr) for name, arr in arrays.items()}
    first_name, n = next(iter(lengths.items()))
    for name, length in lengths.items():
        if length != n:
            raise BadInput(f"{name}: has {length} items but {first_name} has {n}")
    return n
