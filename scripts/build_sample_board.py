"""Build the committed sample board through the commands a user runs, or check that it reproduces.

    python scripts/build_sample_board.py [--date YYYY-MM-DD] [--bench] [--workers 2]
    python scripts/build_sample_board.py --check [--models A,B] [--variants V,W] [--data DIR]

For every registered baseline and every variant of the prepared sample, exactly the three
commands of docs/leaderboard.md, run through vbbench's own command line (in this process, so the
imports are paid once):

    vbbench predict --model M --dataset sample --variant V --out preds/M/V
    vbbench score preds/M/V --dataset sample --variant V --out scores/M/V
    vbbench add-result scores/M/V/summary.json --model M --meta preds/M/V/model.json

after `vbbench prepare sample --variants all --clip-count N`, then `vbbench leaderboard`. Paths
are relative to a scratch folder, so the summaries do not depend on where it was built. Speeds are
not reproducible: `--bench` measures them anew (`vbbench bench --json` on the call frame, for the
baselines that run under a deployment runtime) and attaches them to the call16x9 results; without
it the speeds already committed are carried over, through the same `add-result --bench` path.

`--check` builds into a scratch folder and compares every fresh results file with the committed
one: simulated inputs give the same bits everywhere; the baselines' float kernels round their last
bit per CPU, so their numbers are compared to 1e-5 relative (measured 2e-7 between two CI
machines). Exit status 1 names every result that differs. `--models` and `--variants` restrict the
build (and the check) to some baselines and variants, which is what CI runs
(tests/test_leaderboard.py); `--data` reuses an already prepared data folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

from vbbench.models.registry import MODELS

REPO = Path(__file__).resolve().parents[1]
BOARD = REPO / "leaderboards"
RESULTS = BOARD / "results"
DATASET = "sample"
#: Every registered baseline (vbbench.models.registry.MODELS declares them).
BASELINES = tuple(MODELS.names())
#: Baselines timed by `--bench`: those that run under a deployment runtime (PyTorch and the Core ML
#: emulation are not deployment speeds).
TIMED = ("reference-onnx", "reference-onnx-int8", "mediapipe-general", "mediapipe-landscape")
#: Clips are the costliest variant: the board scores the first CLIP_COUNT test items' clips, as
#: many as the board needs before it calls a mean reliable (leaderboard.groups.MIN_RELIABLE_N).
CLIP_COUNT = 30
#: Where speeds are attached: the 16:9 call frame is what `vbbench bench` times.
SPEED_VARIANT = "call16x9"
#: Relative tolerance of the baselines' numbers in --check (simulated inputs must match exactly).
BASELINE_TOLERANCE = 1e-5


def vbbench(*args: object) -> None:
    """Run one vbbench command through its command line, in this process; raise on failure."""
    from vbbench.cli import app

    arguments = [str(arg) for arg in args]
    print("vbbench", " ".join(arguments), flush=True)
    try:
        app(arguments, standalone_mode=False)
    except SystemExit as stop:  # typer.Exit of an expected failure, after its message
        if stop.code:
            raise SystemExit(f"`vbbench {' '.join(arguments)}` failed with exit code {stop.code}") from None


def recorded_speeds(results: Path) -> dict[str, dict]:
    """The bench reports that produced the committed speeds, rebuilt from the results files."""
    reports = {}
    for path in sorted((results / DATASET).glob(f"{SPEED_VARIANT}/*.json")):
        model = json.loads(path.read_text(encoding="utf-8"))["model"]
        if model.get("speed"):
            reports[model["name"]] = {
                "model": {"input_size": model.get("speed_input")},
                "machine": model.get("speed_machine"),
                "frames": [{"size": size, "fps": fps} for size, fps in model["speed"].items()],
            }
    return reports


def build(
    scratch: Path,
    date: str,
    bench: bool,
    workers: int,
    speeds: dict[str, dict],
    models: tuple[str, ...] = BASELINES,
    variants: tuple[str, ...] | None = None,
    data: Path | None = None,
) -> Path:
    """Run every command in ``scratch`` (the data prepared in ``data``, default ``scratch/data``)
    for ``models`` on ``variants`` (default every variant); return the fresh results folder."""
    from vbbench.variants import VARIANTS

    if data is not None:  # linked, so the summaries name the same relative paths as a whole build
        (scratch / "data").symlink_to(data.resolve(), target_is_directory=True)
    data = Path("data")
    os.chdir(scratch)
    wanted = "all" if variants is None else ",".join(variants)
    clips = ["--clip-count", CLIP_COUNT] if variants is None or "clips" in variants else []
    vbbench("prepare", DATASET, "--data-dir", data, "--variants", wanted, *clips, "--workers", workers, "--quiet")
    if variants is None:
        variants = tuple(
            name for name in VARIANTS.names() if (data / DATASET / "variants" / name / "manifest.csv").is_file()
        )
    for model in models:
        report = None
        if bench and model in TIMED:
            report = Path("bench", f"{model}.json")
            vbbench("bench", "--model", model, "--json", report)
        elif model in speeds:
            report = Path("bench", f"{model}.json")
            report.parent.mkdir(exist_ok=True)
            report.write_text(json.dumps(speeds[model], indent=1) + "\n", encoding="utf-8")
        for variant in variants:
            preds, scores = Path("preds", model, variant), Path("scores", model, variant)
            vbbench("predict", "--model", model, "--dataset", DATASET, "--variant", variant, "--data-dir", data,
                    "--out", preds)  # fmt: skip
            vbbench("score", preds, "--dataset", DATASET, "--variant", variant, "--data-dir", data, "--out", scores,
                    "--workers", workers, "--quiet")  # fmt: skip
            extra = ["--bench", report] if report is not None and variant == SPEED_VARIANT else []
            vbbench("add-result", scores / "summary.json", "--model", model, "--meta", preds / "model.json",
                    "--results", "results", "--date", date, *extra)  # fmt: skip
    return scratch / "results"


def differences(fresh: Path, committed: Path, complete: bool = True) -> list[str]:
    """Every committed result the fresh build does not reproduce (or that is missing or extra);
    ``complete=False``: the build was restricted, so committed results it did not make are not
    missing."""
    problems = []
    new = {path.relative_to(fresh): path for path in fresh.rglob("*.json")}
    old = {path.relative_to(committed): path for path in committed.rglob("*.json")}
    if not complete:
        old = {name: path for name, path in old.items() if name in new}
    for name in sorted(old.keys() - new.keys()):
        problems.append(f"{committed / name}: not made by a fresh build")
    for name in sorted(new.keys() - old.keys()):
        problems.append(f"{committed / name}: missing (a fresh build makes it)")
    for name in sorted(old.keys() & new.keys()):
        a, b = json.loads(old[name].read_text()), json.loads(new[name].read_text())
        tolerance = 0.0 if a["model"]["simulated"] else BASELINE_TOLERANCE
        problem = _compare(a, b, tolerance, "")
        if problem:
            problems.append(f"{committed / name}: {problem}")
    return problems


def _compare(a, b, tolerance: float, where: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{where or 'the document'} has fields {sorted(a.keys() ^ b.keys())} on one side only"
        for key in a:
            if key in ("vbbench_version",) and where in ("", "summary."):
                continue
            found = _compare(a[key], b[key], tolerance, f"{where}{key}.")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where[:-1]} has {len(a)} entries, the fresh build {len(b)}"
        for index, (x, y) in enumerate(zip(a, b)):
            found = _compare(x, y, tolerance, f"{where}{index}.")
            if found:
                return found
        return None
    if isinstance(a, float) and isinstance(b, float):
        if not math.isclose(a, b, rel_tol=tolerance, abs_tol=1e-15 if tolerance else 0.0):
            return f"{where[:-1]} is {a!r}, a fresh build gives {b!r}"
        return None
    return None if a == b else f"{where[:-1]} is {a!r}, a fresh build gives {b!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--date", help="ISO date of the results (default: the one committed, else today)")
    parser.add_argument("--bench", action="store_true", help="measure the speeds anew with `vbbench bench`")
    parser.add_argument("--check", action="store_true", help="build in a scratch folder and compare, write nothing")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", help=f"comma-separated baselines (default all: {','.join(BASELINES)})")
    parser.add_argument("--variants", help="comma-separated variants (default every one)")
    parser.add_argument("--data", type=Path, help="an already prepared data folder to reuse")
    args = parser.parse_args(argv)
    models = tuple(args.models.split(",")) if args.models else BASELINES
    unknown = sorted(set(models) - set(BASELINES))
    if unknown:
        parser.error(f"not a board baseline: {', '.join(unknown)} (the baselines: {', '.join(BASELINES)})")
    variants = tuple(args.variants.split(",")) if args.variants else None
    restricted = args.models is not None or variants is not None
    if restricted and not args.check:
        parser.error("--models and --variants restrict a --check; the committed board is built whole")
    committed = sorted(RESULTS.rglob("*.json"))
    date = args.date or (json.loads(committed[0].read_text())["date"] if committed else None)
    if date is None:
        import datetime

        date = datetime.date.today().isoformat()
    speeds = recorded_speeds(RESULTS)
    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="vbbench-board-") as folder:
        os.environ.setdefault("VBBENCH_HOME", str(Path(folder) / "home"))
        fresh = build(Path(folder), date, args.bench, args.workers, speeds, models, variants, args.data)
        os.chdir(here)
        if args.check:
            problems = differences(fresh, RESULTS, complete=not restricted)
            for problem in problems:
                print(problem, file=sys.stderr)
            print(f"{len(list(fresh.rglob('*.json')))} results rebuilt; {len(problems)} differ from the committed ones")
            return 1 if problems else 0
        shutil.rmtree(RESULTS, ignore_errors=True)
        shutil.copytree(fresh, RESULTS)
    vbbench("leaderboard", "--results", RESULTS, "--out", BOARD)
    return 0


if __name__ == "__main__":
    sys.exit(main())
