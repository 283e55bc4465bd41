"""Pairwise winner labels as small integer codes, so metrics stay vectorised.

Winners arrive as ``"a"``, ``"b"``, ``"tie"`` or a missing value (None/NaN)
for an invalid, unparseable verdict. Every metric turns them into int8 codes
once, rejecting anything else with an error that names the array and position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from judgekit.errors import BadInput

Winners = Sequence[object] | np.ndarray | pd.Series
"""Per-item winners: "a", "b", "tie", or None/NaN for an invalid verdict."""

LABELS: tuple[str, ...] = ("a", "b", "tie")
A, B, TIE = 0, 1, 2
INVALID = 3
"""Code of an invalid verdict; it is also the fourth category of a confusion table."""
N_CODES = 4


def encode(values: Winners, *, name: str = "labels") -> np.ndarray:
    """Map winners to int8 codes (a=0, b=1, tie=2, invalid=3).

    Raises BadInput naming ``name[position]`` for a value that is neither a
    label nor missing.
    """
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise BadInput(f"{name}: expected a 1-D array of winners, got shape {arr.shape}")
    found, uniques = pd.factorize(arr)  # missing values (None/NaN) get -1
    lookup = np.full(len(uniques) + 1, INVALID, dtype=np.int8)  # index -1: missing -> invalid
    for u, value in enumerate(uniques):
        if value not in LABELS:
            position = int(np.flatnonzero(found == u)[0])
            raise BadInput(
                f"{name}[{position}]: winner {arr[position]!r} is not one of a, b, tie (or missing for invalid)"
            )
        lookup[u] = LABELS.index(value)
    return lookup[found]


def check_same_length(**arrays: np.ndarray) -> int:
    """The common length of the named arrays; BadInput naming the odd one out."""
    lengths = {name: len(arr) for name, arr in arrays.items()}
    first_name, n = next(iter(lengths.items()))
    for name, length in lengths.items():
        if length != n:
            raise BadInput(f"{name}: has {length} items but {first_name} has {n}")
    return n
