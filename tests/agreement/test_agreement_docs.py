"""The examples in the agreement modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest

import pytest

from judgekit.agreement import bias, pairwise


@pytest.mark.parametrize("module", [pairwise, bias])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
