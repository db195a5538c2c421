"""Helpers of the trust tests (issue 11): small scoring sets, hashes of whole trees, the CLI run
in-process (a bug's exception is re-raised with its traceback) or as an unprivileged process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import naive_metrics as naive
import numpy as np
from typer.testing import CliRunner

from vbbench.cli import app
from vbbench.io import file_sha256, write_png

REPO = Path(__file__).resolve().parents[1]
_runner = CliRunner()


def make_pairs(
    root: Path, count: int = 3, shape=(40, 32), seed: int = 0, trimaps: bool = False, nested: bool = False
) -> dict:
    """``root/pred`` and ``root/gt`` (and ``root/trimap``) with ids 00, 01, … (``nested``: every odd
    one in a subfolder, ``sub/01``); returns ``{id: (pred, gt)}`` as uint8 arrays."""
    rng = np.random.default_rng(seed)
    pairs = {}
    for index in range(count):
        gt = naive.random_soft_matte(rng, shape, 255, 4.0)
        pred = naive.random_soft_matte(rng, shape, 255, 4.0)
        image_id = f"sub/{index:02d}" if nested and index % 2 else f"{index:02d}"
        write_png(root / "gt" / f"{image_id}.png", gt)
        write_png(root / "pred" / f"{image_id}.png", pred)
        if trimaps:
            trimap = np.where(gt == 255, 255, np.where(gt == 0, 0, 128)).astype(np.uint8)
            write_png(root / "trimap" / f"{image_id}.png", trimap)
        pairs[image_id] = (pred, gt)
    return pairs


def tree_hashes(*paths: Path) -> dict[str, str]:
    """SHA-256 of every file under each path (or of the path itself if it is a file)."""
    hashes = {}
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(path for path in root.rglob("*") if path.is_file())
        hashes.update({str(path): file_sha256(path) for path in files})
    return hashes


def cli(*args):
    """``vbbench ARGS`` in this process; an exception other than the exit is a bug and is raised."""
    result = _runner.invoke(app, [str(arg) for arg in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3
_PR_CAPBSET_DROP = 24


def _without_overrides() -> None:
    """In the child, before exec: drop the capabilities that let root write where the mode says
    no (the exec'd process then has them neither), so a read-only folder is read-only to it."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_restricted(args: list, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m vbbench.cli ARGS`` as a process that folder modes bind: this user, or, when
    the suite runs as root (which writes everywhere), root without its override capabilities."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "vbbench.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_without_overrides if os.geteuid() == 0 else None,
    )


def write_score_run(folder: Path, document: dict) -> Path:
    """A score run's ``summary.json`` and ``per_image.csv`` as `vbbench score` writes them, made from a
    results document's summary and per-image scores; returns the summary's path."""
    from vbbench.io import csv_text
    from vbbench.metrics import METRICS
    from vbbench.score import per_image_columns

    per_unit, names = document["per_unit"], document["summary"]["options"]["metrics"]
    rows = [
        {"image": image, "region": region, **{METRICS[n].raw_column: repr(by_metric[n][index]) for n in names}}
        for region, by_metric in per_unit["scores"].items()
        for index, image in enumerate(per_unit["ids"])
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "per_image.csv").write_text(csv_text(rows, per_image_columns(names)))
    (folder / "summary.json").write_text(json.dumps(document["summary"]))
    return folder / "summary.json"
