"""`vbbench browse`: pictures drawn from the scored arrays, model names, the grouped FiftyOne
dataset, process cleanup, and the app in a real browser.

FiftyOne reads its configuration at import and, left alone, attaches to any FiftyOne database
service the user already runs. So no test imports FiftyOne in the pytest process: the FiftyOne
steps run in one subprocess (:func:`fiftyone_results`) with a temporary HOME and database folder
and a database of its own (``vbbench.browse_app``), which it stops before it returns.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np
import pytest

from vbbench import browse_media as media
from vbbench.browse_app import Services, free_port
from vbbench.browse_names import check_names, load_run, pair_names
from vbbench.errors import BrowseError, UsageError
from vbbench.io import write_png
from vbbench.score import read_per_image, score_directories, write_outputs

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("VBBENCH_BROWSE_SCREENSHOTS", REPO / "test-artifacts"))
HAS_FIFTYONE = importlib.util.find_spec("fiftyone") is not None
needs_fiftyone = pytest.mark.skipif(not HAS_FIFTYONE, reason="needs the app extra: pip install 'vbbench[app]'")


def score(root: Path, pred: str, gt: str, out: str, trimaps: str | None = None, resize: bool = False) -> None:
    result = score_directories(
        root / pred, root / gt, root / trimaps if trimaps else None, workers=1, resize=resize, progress=False
    )
    write_outputs(result, root / out)


def _disc(shape, centre, radius, soft=6.0) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.clip((radius - np.hypot(yy - centre[0], xx - centre[1])) / soft + 0.5, 0.0, 1.0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A 6-image sample scored for three models; two runs whose prediction folders are both
    ``preds``; and odd mattes: 16-bit ground truth, RGBA cut-outs whose colours are not their
    alpha, 8-bit predictions at half size (scored with --resize)."""
    from vbbench.sample import generate_sample

    root = tmp_path_factory.mktemp("browse")
    models = ("sim-good", "sim-holes", "sim-blurred")
    generate_sample(root / "s", count=6, width=240, height=320, models=models, workers=1, progress=False)
    for model in models[:2]:
        score(root, f"s/predictions/{model}", "s/alpha", f"runs/{model}", trimaps="s/trimaps")
    for name, model in (("modnet", "sim-blurred"), ("rvm", "sim-holes")):
        shutil.copytree(root / "s" / "predictions" / model, root / "exp" / name / "preds")
        score(root, f"exp/{name}/preds", "s/alpha", f"runs/{name}")
    shape, rng = (96, 80), np.random.default_rng(0)
    for i in range(3):
        write_png(
            root / "odd/gt" / f"p{i}.png", np.round(_disc(shape, (48 + i, 40), 28 + 2 * i) * 65535).astype(np.uint16)
        )
        write_png(root / "odd/images" / f"p{i}.png", rng.integers(0, 256, shape + (3,), dtype=np.uint8))
        colours = rng.integers(0, 256, shape + (3,), dtype=np.uint8)  # rembg keeps the photo's colours
        alpha = np.round(_disc(shape, (50, 38), 26) * 255).astype(np.uint8)
        write_png(root / "odd/rgba" / f"p{i}.png", np.dstack([colours, alpha]))
        small = cv2.resize(_disc(shape, (45, 42), 30), (shape[1] // 2, shape[0] // 2), interpolation=cv2.INTER_AREA)
        write_png(root / "odd/small" / f"p{i}.png", np.round(small * 255).astype(np.uint8))
    score(root, "odd/rgba", "odd/gt", "odd/runs/rgba")
    score(root, "odd/small", "odd/gt", "odd/runs/small", resize=True)
    home = root / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FIFTYONE_")}
    env.update(
        HOME=str(home),
        FIFTYONE_DATABASE_DIR=str(home / "db"),
        FIFTYONE_DO_NOT_TRACK="true",
        FIFTYONE_DATABASE_VALIDATION="false",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
    )
    return root, env


def mads(root: Path, run: str) -> dict[str, float]:
    """Whole-image MAD per image, read from the run's per_image.csv."""
    return {
        row["image"]: row["mad"] for row in read_per_image(root / run / "per_image.csv") if row["region"] == "whole"
    }


def worst_order(root: Path, run: str) -> list[str]:
    values = mads(root, run)
    return sorted(values, key=lambda image: -values[image])


# ---- drawing exactly what was scored (no FiftyOne) -----------------------------------------------


def test_stored_uint16_is_exact_for_8_and_16_bits():
    codes8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    codes16 = np.arange(0, 65536, 17, dtype=np.uint16)[:3840].reshape(-1, 16)
    assert np.array_equal(media.to_uint16(codes8) / 65535.0, codes8 / 255.0)
    assert np.array_equal(media.to_uint16(codes16), codes16)
    gt, pred = codes16[:16], codes16[16:32]
    expected = np.abs(pred.astype(np.float64) / 65535 - gt.astype(np.float64) / 65535)
    assert np.abs(media.error_uint16(gt, pred) / 65535.0 - expected).max() < 1e-15
    mixed = media.error_uint16(codes8, codes16[:16])
    assert np.abs(mixed / 65535.0 - np.abs(codes16[:16] / 65535.0 - codes8 / 255.0)).max() < 1e-15


def test_16bit_gt_rgba_cutout_and_resized_prediction_are_drawn_as_scored(data, tmp_path):
    root, _ = data
    for run, resize in (("rgba", False), ("small", True)):
        table = mads(root, f"odd/runs/{run}")
        for i in range(3):
            files = (f"{run}/prediction/p{i}.png", f"{run}/error-map/p{i}.png", f"{run}/error/p{i}.png")
            gt_path, pred_path = root / "odd/gt" / f"p{i}.png", root / "odd" / run / f"p{i}.png"
            model = media.ModelDrawing(run, pred_path, gt_path, resize, True, *files)
            task = media.GroupDrawing(tmp_path, f"p{i}", root / "odd/images" / f"p{i}.png", gt_path,
                                      f"gt/p{i}.png", True, (model,), f"sbs/p{i}.png")  # fmt: skip
            assert sorted(media.draw_group(task)) == sorted([*files, f"gt/p{i}.png", f"sbs/p{i}.png"])
            stored_gt = cv2.imread(str(tmp_path / f"gt/p{i}.png"), cv2.IMREAD_UNCHANGED)
            stored = cv2.imread(str(tmp_path / files[0]), cv2.IMREAD_UNCHANGED)
            error = cv2.imread(str(tmp_path / files[1]), cv2.IMREAD_UNCHANGED)
            gt = cv2.imread(str(gt_path), cv2.IMREAD_UNCHANGED).astype(np.float64) / 65535  # read here, not by vbbench
            assert stored_gt.dtype == stored.dtype == error.dtype == np.uint16 and stored.shape == (96, 80)
            assert np.array_equal(stored_gt / 65535.0, gt)
            if run == "rgba":  # the alpha channel, not the colours; 8-bit alpha against a 16-bit GT: exact
                alpha = cv2.imread(str(pred_path), cv2.IMREAD_UNCHANGED)[..., 3].astype(np.float64) / 255
                assert np.abs(stored / 65535.0 - alpha).max() < 1e-15
                assert np.abs(error / 65535.0 - np.abs(alpha - gt)).max() < 1e-15
                assert (error / 65535.0).mean() == pytest.approx(table[f"p{i}"], rel=1e-12)
            else:  # resized bilinearly in float alpha: 16-bit storage rounds by at most 1/131070
                small = cv2.imread(str(pred_path), cv2.IMREAD_UNCHANGED).astype(np.float64) / 255
                alpha = cv2.resize(small, (80, 96), interpolation=cv2.INTER_LINEAR)
                assert np.abs(stored / 65535.0 - alpha).max() <= 0.5 / 65535 + 1e-12
                assert np.abs(error / 65535.0 - np.abs(alpha - gt)).max() <= 0.5 / 65535 + 1e-12
                assert (error / 65535.0).mean() == pytest.approx(table[f"p{i}"], abs=0.5 / 65535)


def test_a_prediction_of_another_size_without_resize_is_refused(data):
    root, _ = data
    with pytest.raises(
        BrowseError, match=r"p0.png: size 40×48 differs from the ground truth .* not scored with --resize"
    ):
        media.scored_mattes(root / "odd/gt/p0.png", root / "odd/small/p0.png", resize=False)


def test_error_colours_are_sequential_and_zero_and_sub_percent_errors_are_not_drawn():
    lightness = cv2.cvtColor(media.COLOR_TABLE[None, :, ::-1].copy(), cv2.COLOR_BGR2LAB)[0, :, 0].astype(int)
    assert (np.diff(lightness) <= 0).all() and lightness[0] - lightness[-1] > 150  # darker as the error grows
    # The painter's index, by hand: round((v − 656) / (65535 − 656) · 255); below 656 (1 %) nothing.
    error = np.array([[0, 1, 655, 656, 3000, 33096, 65535]], dtype=np.uint16)
    assert media.error_index(error).tolist() == [[-1, -1, -1, 0, 9, 128, 255]]
    image = np.full((1, 7, 3), (10, 200, 30), np.uint8)
    drawn = media.overlay(image, error)
    assert (drawn[0, :3] == image[0, :3]).all()  # 0 and < 1 %: the image as it is
    top = media.COLOR_TABLE[255][::-1].astype(float)
    assert drawn[0, 6].tolist() == np.round(image[0, 6] * (1 - media.OPACITY) + top * media.OPACITY).tolist()
    picture = media.error_picture(image, error)
    grey = round(30 + 0.3 * (0.114 * 10 + 0.587 * 200 + 0.299 * 30))
    assert picture[0, 0].tolist() == [grey] * 3  # zero error: plain dimmed grey
    assert picture[0, 1].tolist() != [grey] * 3 and picture[0, 6].tolist() == media.COLOR_TABLE[255][::-1].tolist()


def test_side_by_side_puts_image_and_ground_truth_first_then_each_model_in_its_row():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    gt = rng.integers(0, 65536, (40, 30), dtype=np.uint16)
    rows = [(f"m{i}", rng.integers(0, 65536, (40, 30), dtype=np.uint16), rng.integers(0, 256, (40, 30, 3), dtype=np.uint8))
            for i in range(2)]  # fmt: skip
    picture = media.side_by_side(image, gt, rows)
    band, gap = 24, 4
    assert picture.shape == (2 * (band + 40 + gap), 3 * (30 + gap) - gap, 3)  # 2 rows: one model per row

    def tile(row, column):
        top, left = row * (band + 40 + gap) + band, column * (30 + gap)
        return picture[top : top + 40, left : left + 30]

    grey = np.repeat(np.round(gt / 257.0).astype(np.uint8)[..., None], 3, axis=-1)
    assert np.array_equal(tile(0, 0), image) and np.array_equal(tile(1, 0), grey)
    for row, (_, pred, error) in enumerate(rows):
        assert np.array_equal(tile(row, 1), np.repeat(np.round(pred / 257.0).astype(np.uint8)[..., None], 3, axis=-1))
        assert np.array_equal(tile(row, 2), error)


def test_pictures_are_redrawn_only_when_an_input_changes(data, tmp_path):
    root, _ = data
    record = media.DrawnRecord(tmp_path)
    pred, gt = root / "odd/rgba/p0.png", root / "odd/gt/p0.png"
    signed = media.signature(pred, gt)
    write_png(tmp_path / "x.png", np.zeros((2, 2), np.uint8))
    record.entries["x.png"] = signed
    record.save()
    again = media.DrawnRecord(tmp_path)
    assert again.fresh("x.png", media.signature(pred, gt))
    assert not again.fresh("x.png", media.signature(pred, gt, extra="resize=True"))
    os.utime(pred, ns=(time.time_ns(), time.time_ns() + 10**9))  # the same bytes, written again
    assert not again.fresh("x.png", media.signature(pred, gt))
    (tmp_path / "x.png").unlink()
    assert not again.fresh("x.png", signed)


# ---- names (no FiftyOne) ---------------------------------------------------------------------


def test_same_named_prediction_folders_are_an_error_that_says_how_to_name_them(data):
    root, _ = data
    runs = [load_run(root / "runs/modnet"), load_run(root / "runs/rvm")]
    assert [(run.model, run.name_source) for run in runs] == [("preds", "folder name")] * 2
    with pytest.raises(BrowseError) as problem:
        check_names(runs)
    assert str(problem.value) == (
        f"runs {root}/runs/modnet and {root}/runs/rvm are both named 'preds' (from folder name and folder name): "
        f"they would become one model. Name them apart with --name after each run, e.g. --runs {root}/runs/modnet "
        f'--name modnet --runs {root}/runs/rvm --name rvm, or set "name" in the model.json beside each run\'s '
        "predictions"
    )
    named = [load_run(root / "runs/modnet", "modnet"), load_run(root / "runs/rvm", "rvm")]
    check_names(named)  # named apart: accepted
    with pytest.raises(BrowseError, match=r"'a-b' \(--name of .*\) and 'a_b' \(--name of .*\) share the field prefix"):
        check_names([load_run(root / "runs/modnet", "a-b"), load_run(root / "runs/rvm", "a_b")])
    known = {"rvm": {"original": {"run": str((root / "runs/rvm").resolve())}}}
    check_names([load_run(root / "runs/rvm", "rvm")], known)  # the same run again
    with pytest.raises(BrowseError, match=r"already has model 'rvm' on variant 'original' from .*--replace"):
        check_names([load_run(root / "runs/sim-holes", "rvm")], known)
    check_names([load_run(root / "runs/sim-holes", "rvm")], known, replace=True)


def test_model_name_comes_from_model_json_then_the_folder(data, tmp_path):
    root, _ = data
    shutil.copytree(root / "exp/modnet/preds", tmp_path / "preds")
    (tmp_path / "preds/model.json").write_text(json.dumps({"name": "modnet-v2", "runtime": "onnx"}))
    score(tmp_path, "preds", str(root / "s/alpha"), "run")
    run = load_run(tmp_path / "run")
    assert (run.model, run.name_source) == ("modnet-v2", "model.json")
    assert (load_run(tmp_path / "run", "mine").model, load_run(tmp_path / "run", "mine").name_source) == (
        "mine",
        "--name",
    )


def test_each_name_pairs_with_the_runs_before_it():
    typed = ["--runs", "a", "--images", "x", "--name", "first", "--runs=b", "--runs", "c", "--name=third"]
    assert pair_names(typed) == [(Path("a"), "first"), (Path("b"), None), (Path("c"), "third")]
    with pytest.raises(UsageError, match=r"^--name y: put it right after the --runs it names$"):
        pair_names(["--runs", "a", "--name", "x", "--name", "y"])


@needs_fiftyone
def test_cli_refuses_merging_runs_before_touching_fiftyone(data):
    """The CLI in a subprocess: it imports FiftyOne."""
    root, env = data
    home = root / "home-refused"
    env = dict(env, HOME=str(home), FIFTYONE_DATABASE_DIR=str(home / "db"))
    command = [sys.executable, "-m", "vbbench.cli", "browse", "--runs", "runs/modnet", "--runs", "runs/rvm",
               "--images", "s/images", "--dataset-name", "merged"]  # fmt: skip
    completed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr.startswith("error: runs runs/modnet and runs/rvm are both named 'preds'")
    assert "--runs runs/modnet --name modnet --runs runs/rvm --name rvm" in completed.stderr
    assert not (home / "db").exists()  # refused before any database was started
    misplaced = subprocess.run([*command[:4], "--name", "x", *command[4:]], cwd=root, env=env, capture_output=True,
                               text=True, timeout=300)  # fmt: skip
    assert misplaced.returncode == 1 and "error: --name x: put it right after the --runs it names" in misplaced.stderr


# ---- stopping what was started (no FiftyOne) -----------------------------------------------------

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"]
FORKER = [sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
          "'import time; time.sleep(120)']); time.sleep(120)"]  # fmt: skip


def _members(column: int, value: int) -> list[int]:
    """Live processes whose /proc/PID/stat field ``column`` (after the name) equals ``value``:
    column 2 is the process group, 3 the session."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[column]) == value and fields[0] != "Z":
                found.append(int(stat.parent.name))
    return found


def test_services_stop_their_whole_group_and_wait():
    services = Services(grace=1.0)
    with services:
        children = [services.start(command) for command in (SLEEPER, STUBBORN, FORKER)]
        pgid = services.pgid
        assert pgid == children[0].pid and all(os.getpgid(c.pid) == pgid for c in children)
        assert os.getpgid(os.getpid()) != pgid  # not ours: a Ctrl-C in the terminal does not reach them
        deadline = time.monotonic() + 10
        while len(_members(2, pgid)) < 4 and time.monotonic() < deadline:  # the forker's child too
            time.sleep(0.05)
        assert len(_members(2, pgid)) == 4
    count, seconds = services.stopped
    assert count == 3 and 1.0 <= seconds < 5  # the stubborn one took its 1 s grace, then SIGKILL
    assert all(child.returncode is not None for child in children)
    assert _members(2, pgid) == []  # the grandchild too


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_forever_stops_everything_on_ctrl_c_and_sigterm(tmp_path, signum):
    pids = tmp_path / "pids.json"
    code = textwrap.dedent(
        f"""
        import json, sys
        from vbbench.browse_app import Services
        with Services(grace=2.0) as services:
            children = [services.start(command) for command in {[SLEEPER, STUBBORN]!r}]
            open({str(pids)!r}, "w").write(json.dumps([services.pgid] + [c.pid for c in children]))
            signum = services.serve_forever()
        sys.exit(128 + signum)
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    parent = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pgid, *children = json.loads(pids.read_text())
    assert pgid != parent.pid and all(_members(2, pgid).count(pid) for pid in children)  # a group of their own
    started = time.monotonic()
    os.kill(parent.pid, signum)  # Ctrl-C reaches only vbbench's own group: it must pass it on
    assert parent.wait(15) == 128 + signum
    assert time.monotonic() - started < 6
    assert _members(2, pgid) == []


# ---- the FiftyOne dataset ------------------------------------------------------------------------

SCENARIOS = r"""
import json, os, shutil, sys, time, traceback
from pathlib import Path
import cv2, numpy as np
from vbbench import browse, browse_media as media
from vbbench.browse_app import Services, database
from vbbench.browse_names import error_field, metric_field, score_field, prediction_slice, error_slice

def run(name, images="s/images", manifest=None, media_dir=None, **options):
    runs = [browse.load_run(folder, model) for folder, model in name]
    return browse.build(options.pop("dataset"), runs, images, manifest, media_dir=media_dir, **options)

def views():
    dataset, report = run([("runs/sim-good", None), ("runs/sim-holes", None)], dataset="views", media_dir="m-views")
    again, second = run([("runs/sim-good", None), ("runs/sim-holes", None)], dataset="views", media_dir="m-views")
    mad = metric_field("sim-holes", "mad")
    worst = dataset.load_saved_view("worst-mad-sim-holes")
    disagree = dataset.load_saved_view("disagree-mad-sim-good-vs-sim-holes")
    a, b = (metric_field(m, "mad") for m in ("sim-good", "sim-holes"))
    first = worst.first()
    scheme = dataset.app_config.color_scheme
    return {
        "groups": len(again), "samples": len(again.select_group_slices()), "slices": again.group_slices,
        "reports": [report["drawn"], report["up_to_date"], second["drawn"], second["up_to_date"]],
        "worst": worst.values("image_id"), "worst_mad": worst.values(mad),
        "worst_shows": sorted(set(worst.select_group_slices().values("shows"))),
        "gaps": [abs(x - y) for x, y in zip(disagree.values(a), disagree.values(b))],
        "description": dataset.get_field(mad).description,
        "unknown": dataset.get_field(metric_field("sim-holes", "mad", "unknown")).description,
        "badge": first[score_field("sim-holes")],
        "heatmap": [type(first[error_field("sim-holes")]).__name__, first[error_field("sim-holes")].range],
        "active": dataset.app_config.active_fields.paths, "default_slice": dataset.default_group_slice,
        "color_by": scheme.color_by, "opacity": scheme.opacity,
        "scales": {s["path"]: [s["list"], s["rgb"]] for s in scheme.colorscales},
        "fiftyone_rgb": __import__("fiftyone.core.plots.plotly", fromlist=["x"]).get_colormap(
            [[stop["value"], stop["color"]] for stop in media.colorscale()]),
        "views": dataset.list_saved_views(),
    }

def odd():
    dataset, _ = run([("odd/runs/rgba", "rembg"), ("odd/runs/small", "tiny")], images="odd/images", dataset="odd",
                     media_dir="m-odd")
    out = {}
    images = dataset.select_group_slices("image")
    for model in ("rembg", "tiny"):
        preds = dataset.select_group_slices(prediction_slice(model))
        for image_id, path in zip(*preds.values(["image_id", "filepath"])):
            label = images.match({"image_id": image_id}).first()[error_field(model)]
            out[f"{model}/{image_id}"] = {"prediction": path, "error": label.map_path, "range": label.range}
    return out

def names():
    out = {}
    first, report = run([("runs/modnet-meta", None), ("runs/rvm", "rvm")], dataset="names", media_dir="m-names")
    out["slices"] = first.group_slices
    before = {s: first.select_group_slices(s).values("id") for s in first.group_slices}
    field = metric_field("rvm", "mad")
    rvm_before = first.select_group_slices("image").values(field)
    added, added_report = run([("runs/sim-good", None)], dataset="names", media_dir="m-names")
    out["slices_after"] = added.group_slices
    out["untouched"] = all(added.select_group_slices(s).values("id") == ids for s, ids in before.items())
    out["rvm_same"] = added.select_group_slices("image").values(field) == rvm_before
    out["groups"], out["models"], out["views"] = len(added), sorted(added.info["vbbench_models"]), added.list_saved_views()
    touched = Path("exp/rvm/preds/sample_0003.png")
    os.utime(touched, ns=(time.time_ns(), time.time_ns() + 10**9))  # rewritten with the same bytes
    _, touched_report = run([("runs/rvm", "rvm")], dataset="names", media_dir="m-names")
    out["drawn"] = [report["drawn"], added_report["drawn"], added_report["up_to_date"], touched_report["drawn"]]
    try:
        run([("runs/sim-holes", "rvm")], dataset="names", media_dir="m-names")
    except browse.BrowseError as problem:
        out["replace_error"] = str(problem)
    return out

def variants():
    out = {}
    original, _ = run([("runs/sim-good", None)], dataset="variants", media_dir="m-variants")
    rotated, report = run([("runs/sim-good-rot90", None)], dataset="variants", media_dir="m-variants")
    out["groups"], out["report"] = len(rotated), [report["drawn"], report["up_to_date"]]
    out["runs"] = {variant: Path(r["run"]).name for variant, r in rotated.info["vbbench_models"]["sim-good"].items()}
    out["views"] = rotated.list_saved_views()
    worst = rotated.load_saved_view("worst-mad-sim-good")
    out["worst"] = worst.values("key")
    out["worst_mad"] = worst.values(metric_field("sim-good", "mad"))
    out["rotated"] = rotated.load_saved_view("variant-rot90").values("key")
    try:
        run([("runs/sim-good", None)], dataset="variants", media_dir="m-variants", show="sim-god")
    except browse.UsageError as problem:
        out["show_error"] = str(problem)
    return out

results = {}
with Services() as services, database(services):
    for scenario in sys.argv[1:]:
        try:
            results[scenario] = globals()[scenario]()
        except Exception:
            results[scenario] = {"traceback": traceback.format_exc()}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def fiftyone_results(data):
    """Every FiftyOne scenario above, in one subprocess with a database of its own."""
    if not HAS_FIFTYONE:
        pytest.skip("needs the app extra: pip install 'vbbench[app]'")
    root, env = data
    shutil.copytree(root / "runs/modnet", root / "runs/modnet-meta")
    shutil.copytree(root / "exp/modnet", root / "exp/modnet-meta")
    (root / "exp/modnet-meta/preds/model.json").write_text(json.dumps({"name": "modnet-v2"}))
    summary = json.loads((root / "runs/modnet-meta/summary.json").read_text())
    summary["options"]["pred_dir"] = "exp/modnet-meta/preds"  # relative, as `score` run from root records it
    (root / "runs/modnet-meta/summary.json").write_text(json.dumps(summary))
    shutil.copytree(root / "runs/sim-good", root / "runs/sim-good-rot90")
    summary = json.loads((root / "runs/sim-good-rot90/summary.json").read_text())
    summary["dataset"] = {"name": "sample", "variant": "rot90", "revision": None, "split_sha256": None}
    (root / "runs/sim-good-rot90/summary.json").write_text(json.dumps(summary))
    command = [sys.executable, "-c", SCENARIOS, "views", "odd", "names", "variants"]
    completed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def scenario(results: dict, name: str) -> dict:
    result = results[name]
    assert "traceback" not in result, result.get("traceback")
    return result


@needs_fiftyone
def test_grouped_dataset_views_and_display_units(data, fiftyone_results):
    root, _ = data
    result = scenario(fiftyone_results, "views")
    assert result["slices"] == ["image", "side-by-side", "ground-truth", "sim-good-prediction", "sim-good-error",
                                "sim-holes-prediction", "sim-holes-error"]  # fmt: skip
    assert result["groups"] == 6 and result["samples"] == 42  # seven slices per image; the re-run added none
    assert result["reports"] == [6 * 8, 0, 0, 6 * 8]  # gt, side by side, 3 per model; then all up to date
    assert result["worst"] == worst_order(root, "runs/sim-holes")
    values = mads(root, "runs/sim-holes")
    assert result["worst_mad"] == pytest.approx([values[i] * 1e3 for i in result["worst"]], rel=1e-12)
    assert result["worst_shows"] == ["ground truth", "image", "side by side", "sim-good prediction",
                                     "sim-good |p − g|", "sim-holes prediction", "sim-holes |p − g|"]  # fmt: skip
    assert result["gaps"] == sorted(result["gaps"], reverse=True)
    assert result["description"] == "sim-holes MAD (×10⁻³)"
    assert result["unknown"] == "sim-holes MAD, unknown band (×10⁻³)"
    assert result["badge"] == f"MAD (×10⁻³) {values[result['worst'][0]] * 1e3:.4g} · sim-holes"
    assert result["heatmap"] == ["Heatmap", [media.DRAWN_FROM_CODE, 65535]]
    assert result["active"] == ["shows", "sim_holes_error", "sim_holes_score", "sim_good_score"]
    assert result["default_slice"] == "image" and result["color_by"] == "value"
    assert result["opacity"] == media.OPACITY
    for path in ("sim_good_error", "sim_holes_error"):
        stops, rgb = result["scales"][path]
        assert stops == media.colorscale() and rgb == media.COLOR_TABLE.tolist()
    # FiftyOne's own sampling of the same colour scale (what its server sends: server/color.py) agrees.
    assert np.abs(np.array(result["fiftyone_rgb"]) - media.COLOR_TABLE.astype(int)).max() <= 1
    for name in result["views"]:  # every saved view opens as typed in ?view=
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name), name
    assert {"worst-mad-sim-good", "worst-conn-sim-holes", "worst-grad-sim-good",
            "disagree-mad-sim-good-vs-sim-holes", "variant-original"} <= set(result["views"])  # fmt: skip


@needs_fiftyone
def test_stored_labels_read_back_are_the_scored_arrays(data, fiftyone_results):
    root, _ = data
    result = scenario(fiftyone_results, "odd")
    assert len(result) == 6
    for key, item in result.items():
        model, image_id = key.split("/")
        gt = cv2.imread(str(root / "odd/gt" / f"{image_id}.png"), cv2.IMREAD_UNCHANGED).astype(np.float64) / 65535
        if model == "rembg":
            alpha = cv2.imread(str(root / "odd/rgba" / f"{image_id}.png"), cv2.IMREAD_UNCHANGED)[..., 3] / 255.0
            tolerance = 1e-15
        else:
            small = cv2.imread(str(root / "odd/small" / f"{image_id}.png"), cv2.IMREAD_UNCHANGED) / 255.0
            alpha, tolerance = cv2.resize(small, (80, 96), interpolation=cv2.INTER_LINEAR), 0.5 / 65535 + 1e-12
        stored = cv2.imread(item["prediction"], cv2.IMREAD_UNCHANGED)
        error = cv2.imread(item["error"], cv2.IMREAD_UNCHANGED)
        assert stored.dtype == error.dtype == np.uint16 and stored.shape == error.shape == (96, 80), key
        assert np.abs(stored / 65535.0 - alpha).max() <= tolerance, key
        assert np.abs(error / 65535.0 - np.abs(alpha - gt)).max() <= tolerance, key
        assert item["range"] == [media.DRAWN_FROM_CODE, 65535]


@needs_fiftyone
def test_names_from_model_json_and_name_and_adding_a_model_leaves_the_others(fiftyone_results):
    result = scenario(fiftyone_results, "names")
    assert result["slices"] == ["image", "side-by-side", "ground-truth", "modnet-v2-prediction", "modnet-v2-error",
                                "rvm-prediction", "rvm-error"]  # fmt: skip
    assert result["slices_after"] == [*result["slices"], "sim-good-prediction", "sim-good-error"]
    assert result["untouched"] and result["rvm_same"] and result["groups"] == 6
    assert result["models"] == ["modnet-v2", "rvm", "sim-good"]
    # 8 files per image; adding a model draws its 3 and the side-by-side picture, the 6 × 4 others
    # stay; a rewritten prediction redraws that model's 3 files of that image and its side by side.
    assert result["drawn"] == [48, 24, 6 * 4 + 6 * 3, 4]
    assert "already has model 'rvm' on variant 'original'" in result["replace_error"]
    assert "--replace" in result["replace_error"]
    assert {"worst-mad-modnet-v2", "disagree-mad-modnet-v2-vs-rvm", "disagree-mad-rvm-vs-sim-good"} <= set(
        result["views"]
    )


# ---- the app in a real browser -------------------------------------------------------------------

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
LOOKERS = """(els, tag) => els.map(e => {
    const r = e.getBoundingClientRect(), t = e.querySelector(`[data-cy="${tag}"]`);
    return [Math.round(r.top), Math.round(r.left), Math.round(r.width), Math.round(r.height), t ? t.title : null]; })"""


def screenshot(page, name: str) -> np.ndarray:
    """Save a screenshot as a small palette PNG under SCREENSHOTS; return it as RGB."""
    import io

    from PIL import Image

    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        SCREENSHOTS / name, optimize=True
    )
    return np.asarray(shot)


def wait_for(probe, done, tries=120):
    """``probe()`` every 0.5 s until ``done(value)`` (at most ``tries`` times); the last value."""
    value = probe()
    for _ in range(tries):
        if done(value):
            break
        time.sleep(0.5)
        value = probe()
    return value


def lookers(page, within: str, tag: str) -> list:
    """(top, left, width, height, title of its ``tag`` badge) of every thumbnail, top-left first."""
    return sorted(page.eval_on_selector_all(f'{within} [data-cy="looker"]', LOOKERS, tag))


def sidebar_entry(page, path: str) -> str:
    """The text of a field's entry in the sample modal's sidebar."""
    return page.locator(f'[data-cy="modal"] [data-cy="sidebar-entry-{path}"]').first.inner_text()


@needs_fiftyone
@pytest.mark.app
@pytest.mark.slow
def test_app_shows_worst_cases_in_order_and_each_sample_side_by_side(data, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="needs the app extra (playwright)")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium; scripts/install-test-deps.sh does)")
    root, env = data
    port, pictures = free_port(), root / "media-app" / "original"
    command = [sys.executable, "-m", "vbbench.cli", "browse", "--runs", "runs/sim-good", "--runs", "runs/sim-holes",
               "--images", "s/images", "--dataset-name", "vbbench-app-test", "--media-dir", "media-app",
               "--workers", "1", "--launch", "--port", str(port)]  # fmt: skip
    launcher = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    output: list[str] = []
    try:
        with playwright.sync_playwright() as driver:
            context = driver.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path="/usr/bin/chromium",
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1500, "height": 950},
            )  # fmt: skip  (started while vbbench builds and serves)
            while not (output and output[-1].startswith("worst cases: ")):
                line = launcher.stdout.readline()
                assert line, "vbbench browse --launch exited early:\n" + "".join(output)
                output.append(line)
            url = output[-1].split("worst cases: ", 1)[1].strip()
            assert url == f"http://127.0.0.1:{port}/datasets/vbbench-app-test?view=worst-mad-sim-holes"
            expected = worst_order(root, "runs/sim-holes")
            values = mads(root, "runs/sim-holes")
            requested: list[str] = []
            page = context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(url, wait_until="load", timeout=120_000)
            page.wait_for_selector('[data-cy="tag-sim_holes_score"]', timeout=120_000)
            tiles = wait_for(
                lambda: lookers(page, "body", "tag-sim_holes_score"), lambda c: sum(1 for x in c if x[4]) >= 6
            )
            cells = [cell for cell in tiles if cell[4]]
            # The grid's order is per_image.csv's, worst first, with the badge in the tables' notation.
            assert [cell[4] for cell in cells] == [
                f"sim_holes_score: MAD (×10⁻³) {values[i] * 1e3:.4g} · sim-holes" for i in expected
            ]
            assert page.get_by_text("worst-mad-sim-holes").count() >= 1  # the saved view is the one shown
            dismiss = page.get_by_text("Dismiss", exact=True)  # the app's Enterprise pop-up
            if dismiss.count():
                dismiss.first.click()
            # Where the worst image's error is large (its holes), the grid paints the error colour
            # scale over the image as browse_media.overlay draws it: dark red to purple. FiftyOne's
            # default viridis would paint these pixels yellow-green (G > 180).
            top, left, width, height, _ = cells[0]
            error = cv2.imread(str(pictures / "sim-holes/error-map" / f"{expected[0]}.png"), cv2.IMREAD_UNCHANGED)
            image = cv2.imread(str(root / "s/images" / f"{expected[0]}.png"))
            scale = width / error.shape[1]
            holes = cv2.erode((error >= 0.5 * 65535).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
            ys, xs = np.nonzero(holes[: int((height - 75) / scale)])  # above the badges
            assert len(ys) > 50
            ours = media.overlay(image, error)[ys, xs][:, ::-1].astype(int)
            at = (top + np.round(ys * scale).astype(int), left + np.round(xs * scale).astype(int))

            def painted():  # the overlays are painted by workers after the layout
                return screenshot(page, "browse-worst-mad.png")[at].astype(int)

            shown = wait_for(painted, lambda shown: np.median(np.abs(shown - ours)) < 20, tries=20)
            assert np.median(np.abs(shown - ours)) < 20 and np.median(shown[:, 1]) < 60

            # One sample: its group's slices side by side, then the side-by-side picture large.
            top, left, width, height, _ = cells[0]  # the worst image
            page.mouse.click(left + width / 2, top + height / 3)
            labels = ["image", "side by side", "ground truth", "sim-good prediction", "sim-good |p − g|",
                      "sim-holes prediction", "sim-holes |p − g|"]  # fmt: skip
            carousel = '[data-cy="group-carousel"]'
            slices = wait_for(lambda: lookers(page, carousel, "tag-shows"), lambda c: sum(1 for x in c if x[4]) >= 7)
            assert [cell[4] for cell in sorted(slices, key=lambda cell: cell[1])] == [f"shows: {x}" for x in labels]
            top, left, width, height, _ = next(cell for cell in slices if cell[4] == "shows: side by side")
            page.mouse.click(left + width / 2, top + height / 2)
            shown_slice = wait_for(lambda: sidebar_entry(page, "compare.name"), lambda name: name == "side-by-side")
            assert shown_slice == "side-by-side"
            # The modal's sidebar holds the group's numbers in display units (the app rounds to 3 decimals).
            assert sidebar_entry(page, "sim_holes_mad_in_1e-3") == f"{values[expected[0]] * 1e3:.3f}"
            time.sleep(1.5)  # the large viewer draws the picture
            screenshot(page, "browse-sample.png")
            fetched = {
                os.path.realpath(parse_qs(urlparse(u).query)["filepath"][0])
                for u in requested
                if "/media?" in u and "filepath" in parse_qs(urlparse(u).query)
            }
            first = expected[0]
            files = {
                "image": root / "s/images" / f"{first}.png",
                "side by side": pictures / "side-by-side" / f"{first}.png",
                "ground truth": pictures / "ground-truth" / f"{first}.png",
                **{f"{m} {what}": pictures / m / folder / f"{first}.png" for m in ("sim-good", "sim-holes")
                   for what, folder in (("prediction", "prediction"), ("|p − g|", "error"))},
                "sim-holes error heatmap": pictures / "sim-holes/error-map" / f"{first}.png",
            }  # fmt: skip
            missing = [what for what, path in files.items() if os.path.realpath(path) not in fetched]
            assert not missing, f"the sample did not show {missing}"
            context.close()
    finally:
        started = time.monotonic()
        launcher.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
        try:
            code = launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            code = launcher.wait()
        stopped = time.monotonic() - started
        rest = launcher.stdout.read()
        left_over = _members(3, launcher.pid)
        for pid in left_over:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert code == 130, "".join(output) + rest
    assert re.search(r"stopped the app: 2 processes in \d+\.\d s", rest), rest
    assert not left_over, f"processes of the app still running after it stopped: {left_over}"
    assert stopped < 15, f"stopping took {stopped:.1f} s"
    with socket.socket() as sock:  # nothing listens on the port any more
        assert sock.connect_ex(("127.0.0.1", port)) != 0


@needs_fiftyone
def test_one_model_on_two_variants_shares_its_fields_and_views(data, fiftyone_results):
    root, _ = data
    result = scenario(fiftyone_results, "variants")
    assert result["groups"] == 12 and result["report"] == [6 * 5, 0]  # a variant of its own: all drawn
    assert result["runs"] == {"original": "sim-good", "rot90": "sim-good-rot90"}
    assert {"worst-mad-sim-good", "variant-original", "variant-rot90"} <= set(result["views"])
    assert len(result["worst"]) == 12 and result["worst_mad"] == sorted(result["worst_mad"], reverse=True)
    assert sorted(result["rotated"]) == sorted(f"rot90/sample_{i:04d}" for i in range(6))
    assert result["show_error"] == (
        "--show 'sim-god' is not a model of this dataset; did you mean 'sim-good'? (models: sim-good)"
    )


def test_services_die_with_a_killed_vbbench(tmp_path):
    pids = tmp_path / "pids.json"
    code = textwrap.dedent(
        f"""
        import json, time
        from vbbench.browse_app import Services
        services = Services()
        child = services.start({SLEEPER!r})
        open({str(pids)!r}, "w").write(json.dumps([services.pgid, child.pid]))
        time.sleep(120)
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    parent = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pgid, child = json.loads(pids.read_text())
    assert _members(2, pgid) == [child]
    parent.kill()  # SIGKILL: no handler runs, the kernel sends the child SIGTERM (PR_SET_PDEATHSIG)
    parent.wait()
    deadline = time.monotonic() + 10
    while _members(2, pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _members(2, pgid) == []
