"""`vbbench browse`: FiftyOne datasets with saved worst-case views, and the app in a real browser.

FiftyOne reads its configuration at import, so every FiftyOne step runs in a subprocess whose
HOME and database folder are temporary: the tests never touch a user's FiftyOne data.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from vbbench.cli import app

pytest.importorskip("fiftyone", reason="needs the app extra: pip install 'vbbench[app]'")
pytestmark = pytest.mark.app

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
MODELS = ["sim-good", "sim-holes"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("browse")
    result = CliRunner().invoke(app, ["demo", "--out", str(root / "demo"), "--count", "4", "--workers", "1"])
    assert result.exit_code == 0, result.output
    home = root / "home"
    home.mkdir()
    env = dict(
        os.environ,
        HOME=str(home),
        FIFTYONE_DATABASE_DIR=str(home / "db"),
        FIFTYONE_DO_NOT_TRACK="true",
        FIFTYONE_DATABASE_VALIDATION="false",
    )
    return root / "demo", env


def fiftyone(env, code: str) -> dict:
    completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def expected_worst(demo_dir: Path, model: str) -> list[str]:
    table = pd.read_csv(demo_dir / "scores" / model / "per_image.csv")
    whole = table[table.region == "whole"].sort_values("mad [alpha]", ascending=False)
    return list(whole["image"])


def test_browse_builds_views_and_updates_in_place(demo):
    demo_dir, env = demo
    runs = [str(demo_dir / "scores" / model) for model in MODELS]
    manifest = demo_dir.parent / "manifest.csv"  # as a prepared variant writes it
    manifest.write_text(
        "id,source_id,split,group\n" + "".join(f"sample_{i:04d},sample_{i:04d},test,g{i // 2}\n" for i in range(4))
    )
    code = f"""
import json
import fiftyone as fo
from vbbench import browse
runs = [browse.load_run(path) for path in {runs!r}]
browse.build("vbbench-test", runs[:1], {str(demo_dir / "images")!r}, "generated")
dataset = browse.build("vbbench-test", runs, {str(demo_dir / "images")!r}, "generated", {str(manifest)!r})
again = browse.build("vbbench-test", runs, {str(demo_dir / "images")!r}, "generated")
worst = dataset.load_saved_view("worst-mad-sim_holes")
sample = dataset.first()
print(json.dumps({{
    "count": len(again), "keys": len(set(again.values("key"))),
    "views": dataset.list_saved_views(),
    "worst_ids": worst.values("image_id"), "worst_mad": worst.values("sim_holes_mad"),
    "error_is_heatmap": type(sample["sim_holes_error"]).__name__,
    "gt_range": sample["gt_matte"].range,
    "active": dataset.app_config.active_fields.paths,
    "groups": dict(zip(dataset.values("image_id"), dataset.values("group"))),
    "splits": sorted(set(dataset.values("split"))),
}}))
"""
    result = fiftyone(env, code)
    assert result["count"] == 4 and result["keys"] == 4  # three builds, no duplicates
    assert {
        "worst-mad-sim_good",
        "worst-conn-sim_holes",
        "worst-grad-sim_good",
        "disagree-mad-sim_good-vs-sim_holes",
        "variant-generated",
    } <= set(result["views"])
    assert result["worst_ids"] == expected_worst(demo_dir, "sim-holes")
    assert result["worst_mad"] == sorted(result["worst_mad"], reverse=True)
    assert result["error_is_heatmap"] == "Heatmap" and result["gt_range"] == [0, 255]
    assert "gt_matte" in result["active"] and "sim_holes_error" in result["active"]
    assert result["groups"] == {"sample_0000": "g0", "sample_0001": "g0", "sample_0002": "g1", "sample_0003": "g1"}
    assert result["splits"] == ["test"]


def test_browse_without_images_for_gt_scored_runs_says_what_to_pass(demo):
    demo_dir, env = demo
    run = demo_dir / "scores" / "sim-good"
    summary = json.loads((run / "summary.json").read_text())
    summary["dataset"] = None
    gt_only = demo_dir.parent / "gt-only"
    shutil.copytree(run, gt_only, dirs_exist_ok=True)
    (gt_only / "summary.json").write_text(json.dumps(summary))
    completed = subprocess.run(
        [sys.executable, "-m", "vbbench.cli", "browse", "--runs", str(gt_only)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 1
    assert "the runs were scored with --gt: pass --images with the scored images" in completed.stderr


def test_browse_checks_dataset_and_variant_against_the_runs(demo):
    demo_dir, env = demo
    run = demo_dir / "scores" / "sim-good"
    scored = json.loads((run / "summary.json").read_text())["dataset"]

    def browse(*arguments):
        return subprocess.run(
            [sys.executable, "-m", "vbbench.cli", "browse", "--runs", str(run), *arguments],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    wrong = browse("--dataset", "shen2016")
    assert wrong.returncode == 1
    assert f"{run}: scored dataset {scored['name']!r}, not --dataset 'shen2016'" in wrong.stderr
    missing = browse("--variant", "rot90", "--images", str(demo_dir / "images"))
    assert missing.returncode == 1
    assert f"no run scored variant 'rot90' (runs have: {scored['variant']})" in missing.stderr


def session_processes(session: int) -> list[int]:
    """Processes whose session id is ``session`` (field 6 of /proc/PID/stat)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:
                found.append(int(stat.parent.name))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_app_shows_the_worst_cases_in_order_in_chromium(demo):
    playwright = pytest.importorskip("playwright.sync_api", reason="needs the app extra (playwright)")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium; scripts/install-test-deps.sh does)")
    demo_dir, env = demo
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "vbbench.cli",
        "browse",
        "--images",
        str(demo_dir / "images"),
        "--name",
        "vbbench-app-test",
        "--launch",
        "--port",
        str(port),
    ]
    for model in MODELS:
        command += ["--runs", str(demo_dir / "scores" / model)]
    # Its own session (process group): stopping the app must also stop the servers it started.
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        url = None
        deadline = time.monotonic() + 240
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            assert line or server.poll() is None, "vbbench browse --launch exited early"
            if line.startswith("worst cases: "):
                url = line.split("worst cases: ", 1)[1].strip()
        assert url == f"http://127.0.0.1:{port}/datasets/vbbench-app-test?view=worst-mad-sim-holes"
        expected = expected_worst(demo_dir, "sim-holes")
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url, wait_until="load", timeout=120_000)
            page.wait_for_selector('[data-cy="tag-sim_holes_mad"]', timeout=120_000)
            shown: list = []
            for _ in range(30):  # until every expected thumbnail is laid out
                cells = page.eval_on_selector_all(
                    '[data-cy="looker"]',
                    """els => els.map(e => {
                    const r = e.getBoundingClientRect(), tag = e.querySelector('[data-cy="tag-sim_holes_mad"]');
                    return [Math.round(r.top), Math.round(r.left), tag ? tag.title : null]; })""",
                )
                shown = [title for _, _, title in sorted(c for c in cells if c[2])]
                if len(shown) >= len(expected):
                    break
                time.sleep(1)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browse-worst-mad.png"))
            assert page.get_by_text("worst-mad-sim_holes").count() >= 1  # the saved view is the one shown
            browser.close()
        table = pd.read_csv(demo_dir / "scores" / "sim-holes" / "per_image.csv")
        mads = dict(zip(table[table.region == "whole"]["image"], table[table.region == "whole"]["mad [alpha]"]))
        assert shown == [f"sim_holes_mad: {mads[image_id]!r}" for image_id in expected]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    # FiftyOne starts its server wrapper in a process group of its own, inside our session: stop
    # every process of the session, then check that none is left (database included).
    deadline = time.monotonic() + 30
    while session_processes(server.pid) and time.monotonic() < deadline:
        for pid in session_processes(server.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        time.sleep(0.5)
    left = session_processes(server.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the app still running 30 s after it was stopped: {left}"
    with socket.socket() as sock:  # nothing listens on the port any more
        assert sock.connect_ex(("127.0.0.1", port)) != 0
