"""Shared fixtures. The reference material in ../shared (metric spec, conformance cases) sits
beside the checkout, in CI too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"


@pytest.fixture(scope="session")
def conformance_cases():
    expected = CONFORMANCE / "expected.json"
    if not expected.exists():
        pytest.fail(f"{expected} is missing: the shared reference data must sit beside the checkout")
    return json.loads(expected.read_text())
