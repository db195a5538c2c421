"""The examples in the core modules' docstrings run and print what they say."""

from __future__ import annotations

import doctest

import pytest

from vbbench import _memory, io, metrics, score


@pytest.mark.parametrize("module", [metrics, io, score, _memory], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
