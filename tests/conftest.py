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

#: How close vbbench's values are to a float64 computation of the same definition, per metric
#: (relative). MAD, MSE, SAD and Conn are the correctly rounded exact values for integer inputs
#: (float64 sums for float alpha), and so is Sobel L1 of 8-bit codes; Grad, Sobel L2 and the MMNet
#: gradient are float32 filters, measured within 3e-7 (docs/metrics.md) and held to 1e-6 here, ten
#: times inside the conformance tolerance of 1e-5.
FLOAT64_REL = {"mad": 1e-12, "mse": 1e-12, "sad": 1e-12, "conn": 1e-12, "sobel_l1": 1e-12}
FLOAT64_REL |= {"grad": 1e-6, "sobel_l2": 1e-6, "gauss_grad": 1e-6}


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
