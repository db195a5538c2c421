"""Shared fixtures. The public conformance cases (reference values of the metrics) are vendored in
tests/data/conformance, so the suite runs from a bare clone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from _archives import HEIGHT_PX, WIDTH_PX

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE = Path(__file__).resolve().parent / "data" / "conformance"


@pytest.fixture(scope="session")
def conformance_cases():
    expected = CONFORMANCE / "expected.json"
    if not expected.exists():
        pytest.fail(f"{expected} is missing: the vendored conformance cases belong in tests/data/conformance")
    return json.loads(expected.read_text())


@pytest.fixture
def small_cards(tmp_path, monkeypatch):
    """Cards for tiny test images (the real layouts, expected sizes of the `_archives` builders), and
    an empty $VBBENCH_HOME."""
    from vbbench.paths import datasets_dir

    cards = tmp_path / "cards"
    shutil.copytree(datasets_dir(), cards)
    for name, pairs in (("shen2016", 9), ("aisegment", 14)):
        path = cards / name / "card.yaml"
        card = yaml.safe_load(path.read_text())
        card.update(expected_pairs=pairs, expected_width_px=WIDTH_PX, expected_height_px=HEIGHT_PX)
        if name == "shen2016":  # shen_entries() makes 6 training and 3 testing pairs
            card["expected_folder_pairs"] = {"training": 6, "testing": 3}
        path.write_text(yaml.safe_dump(card))
    monkeypatch.setenv("VBBENCH_DATASETS_DIR", str(cards))
    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path / "home"))
    for name in ("SHEN2016", "AISEGMENT"):
        monkeypatch.delenv(f"VBBENCH_{name}_URL", raising=False)
    return cards


@pytest.fixture(scope="session")
def prepared_clips(tmp_path_factory):
    """The embedded sample prepared with only its clips variant: 3 clips of 6 frames (the last 2
    static), made by the command line. Returns the data folder and the prepare arguments."""
    from typer.testing import CliRunner

    from vbbench.cli import app

    data = tmp_path_factory.mktemp("clips-data")
    args = ["prepare", "sample", "--data-dir", str(data), "--workers", "2", "--quiet"]
    result = CliRunner().invoke(app, [*args, "--variants", "clips", "--clip-frames", "6", "--clip-count", "3"])
    assert result.exit_code == 0, result.output
    return data, args
