"""The README's main job: `vbbench demo` generates the sample, scores every simulated model, ranks."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from vbbench.cli import app
from vbbench.sample import SIMULATED_MODELS
from vbbench.summary import load_summary
from vbbench.units import NOTATION


def test_demo_scores_every_simulated_model_and_ranks_them(tmp_path):
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--count", "3", "--workers", "1"])
    assert result.exit_code == 0, result.output
    means = {}
    for model in SIMULATED_MODELS:
        summary = load_summary(out / "scores" / model / "summary.json")
        table = pd.read_csv(out / "scores" / model / "per_image.csv")
        assert sorted(table["image"].unique()) == ["sample_0000", "sample_0001", "sample_0002"]
        assert summary["scores"]["whole"]["mad"]["mean"] == table[table.region == "whole"]["mad [alpha]"].mean()
        means[model] = summary["scores"]["whole"]["mad"]["mean"]
    # the table lists models best first by MAD, in both regions
    whole = result.output.split("region: whole")[1].split("region: unknown")[0]
    lines = whole.strip().splitlines()
    assert lines[-1] == NOTATION  # the one sentence that says how to read the scaled numbers
    listed = [line.split()[0] for line in lines[2:-1]]
    assert listed == sorted(means, key=means.get)
    assert listed[0] == "sim-good"
    assert "region: unknown" in result.output
    assert json.loads((out / "sample.json").read_text())["count"] == 3
