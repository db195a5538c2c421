"""`vbbench prepare` and `vbbench verify` end to end through the CLI, then `vbbench score --dataset`."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil

import cv2
import numpy as np
import pytest
import yaml
from _archives import LocalServer, aisegment_entries, png, portrait, shen_entries, write_tree, zip_bytes
from typer.testing import CliRunner

from vbbench.cli import app
from vbbench.errors import MANUAL_EXIT_CODE
from vbbench.paths import datasets_dir
from vbbench.variants import default_variants

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


SAMPLE_COUNT = 80  # the real card makes 1,000 at 600×800 (minutes); the tests use 80 at 64×80


@pytest.fixture(scope="module")
def sample_cards(tmp_path_factory):
    """The cards with a small sample (its committed split is for the full one, so it is removed)."""
    cards = tmp_path_factory.mktemp("cards")
    shutil.copytree(datasets_dir(), cards, dirs_exist_ok=True)
    path = cards / "sample" / "card.yaml"
    card = yaml.safe_load(path.read_text())
    card.update(expected_pairs=SAMPLE_COUNT, expected_width_px=64, expected_height_px=80,
                generate={"count": SAMPLE_COUNT, "seed": 0})  # fmt: skip
    path.write_text(yaml.safe_dump(card))
    for name in ("split.csv", "split.json"):
        (cards / "sample" / name).unlink()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VBBENCH_DATASETS_DIR", str(cards))
        yield cards


@pytest.fixture(scope="module")
def prepared_sample(sample_cards, tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    result = invoke("prepare", "sample", "--data-dir", data, "--workers", "2", "--quiet")
    assert result.exit_code == 0, result.output
    return data, result.output


def test_prepare_sample_end_to_end(prepared_sample, sample_cards):
    data, output = prepared_sample
    split = list(csv.DictReader(open(sample_cards / "sample" / "split.csv")))
    test_ids = [row["id"] for row in split if row["split"] == "test"]
    assert len(split) == SAMPLE_COUNT and len(test_ids) == 12  # 15 % of 80
    assert f"sample: split written ({sample_cards / 'sample' / 'split.csv'})" in output
    assert "  train 68 / test 12 items: test 15.00 % (target 15 % ± 1: within); 80 units from 80 groups" in output
    assert (
        "sample   80     0        0        68     12    15.0    original, rot90cw, rot90ccw, rot30, call16x9, low_light, "
        "sensor_noise, motion_blur, jpeg, h264, backlight" in output
    )
    record = json.loads((sample_cards / "sample" / "split.json").read_text())
    assert record["partial"] is None and record["report"]["test"] == 12
    # the prepared sample carries no simulated predictions: models are scored on its variants
    assert not (data / "sample" / "raw" / "predictions").exists()
    for variant in default_variants():  # clips are made on request
        manifest = list(csv.DictReader(open(data / "sample" / "variants" / variant / "manifest.csv")))
        assert [row["id"] for row in manifest] == test_ids
        assert all((data / "sample" / "variants" / variant / "alpha" / f"{i}.png").is_file() for i in test_ids)


def test_second_prepare_skips_finished_steps(prepared_sample, sample_cards):
    data, _ = prepared_sample
    watched = [
        *(data / "sample").rglob("*"),
        sample_cards / "sample" / "split.csv",
        sample_cards / "sample" / "split.json",
    ]
    before = {p: p.stat().st_mtime_ns for p in watched if p.is_file()}
    result = invoke("prepare", "sample", "--data-dir", data, "--quiet")
    assert result.exit_code == 0, result.output
    assert "sample: split unchanged" in result.output
    assert (
        "against the previous split: 0 of 80 items moved (0 to test, 0 to train); 0 added, 0 removed" in result.output
    )
    assert before == {p: p.stat().st_mtime_ns for p in watched if p.is_file()}


@pytest.mark.parametrize("variant", ["original", "call16x9", "motion_blur", "h264"])
def test_score_a_prepared_variant(prepared_sample, tmp_path, variant):
    data, _ = prepared_sample
    predictions = tmp_path / "pred"
    shutil.copytree(data / "sample" / "variants" / variant / "alpha", predictions)
    result = invoke(
        "score",
        predictions,
        "--dataset",
        "sample",
        "--variant",
        variant,
        "--data-dir",
        data,
        "--quiet",
        "--workers",
        "1",
        "--out",
        tmp_path / "scores",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "scores" / "summary.json").read_text())
    split_csv = datasets_dir() / "sample" / "split.csv"
    split_hash = hashlib.sha256(split_csv.read_bytes()).hexdigest()
    assert summary["dataset"] == {
        "name": "sample", "variant": variant, "revision": "4", "split_sha256": split_hash, "partial": False,
    }  # fmt: skip
    with open(tmp_path / "scores" / "per_image.csv") as stream:
        per_image = list(csv.DictReader(stream))
    test_ids = {row["id"] for row in csv.DictReader(open(split_csv)) if row["split"] == "test"}
    # every test item, over every pixel and (the variant carries trimaps) over the unknown band
    assert sorted((row["image"], row["region"]) for row in per_image) == sorted(
        (item, region) for item in test_ids for region in ("whole", "unknown")
    )
    for row in per_image:
        for metric in ("mad", "mse", "sad", "grad", "conn"):
            if metric in row:
                assert float(row[metric]) == 0.0


def test_verify_command_detects_drift(prepared_sample, tmp_path):
    data = tmp_path / "copy"
    shutil.copytree(prepared_sample[0] / "sample", data / "sample")
    result = invoke("verify", "sample", "--data-dir", data, "--workers", "1", "--quiet")
    assert result.exit_code == 0, result.output
    assert f"{SAMPLE_COUNT} usable pairs of {SAMPLE_COUNT}, 0 defects" in result.output
    assert f"{12 * 3 * len(default_variants())} variant files match their manifests" in result.output
    (data / "sample" / "raw" / "alpha" / "sample_0003.png").write_bytes(png(portrait(1, 64, 80)[1]))
    result = invoke("verify", "sample", "--data-dir", data, "--workers", "1", "--quiet")
    assert result.exit_code == 1
    assert (
        "the files differ from the lock manifest" in result.output
        and "1 changed: alpha/sample_0003.png" in result.output
    )


def test_verify_command_detects_a_changed_variant_matte(prepared_sample, sample_cards, tmp_path):
    data = tmp_path / "copy"
    shutil.copytree(prepared_sample[0] / "sample", data / "sample")
    test_id = next(r["id"] for r in csv.DictReader(open(sample_cards / "sample" / "split.csv")) if r["split"] == "test")
    tampered = data / "sample" / "variants" / "original" / "alpha" / f"{test_id}.png"
    before = tampered.read_bytes()
    tampered.write_bytes(png(255 - cv2.imdecode(np.frombuffer(before, np.uint8), cv2.IMREAD_UNCHANGED)))
    (data / "sample" / "variants" / "rot30" / "trimaps" / "extra.png").write_bytes(before)
    result = invoke("verify", "sample", "--data-dir", data, "--workers", "1", "--quiet")
    assert result.exit_code == 1
    assert (
        "the variant files differ from their manifests: 1 changed: "
        f"variants/original/alpha/{test_id}.png; 1 added: variants/rot30/trimaps/extra.png" in result.output
    )


def test_unknown_dataset_and_variant_errors(tmp_path):
    result = invoke("prepare", "shen2061", "--data-dir", tmp_path)
    assert result.exit_code == 1 and "unknown dataset 'shen2061'; did you mean 'shen2016'?" in result.output
    result = invoke("score", tmp_path, "--dataset", "sample", "--variant", "rot30", "--data-dir", tmp_path / "none")
    assert result.exit_code == 1 and "run `vbbench prepare sample --data-dir" in result.output


def test_prepare_without_data_prints_the_steps_and_exits_3(small_cards, tmp_path):
    result = invoke("prepare", "aisegment", "--data-dir", tmp_path / "data")
    assert result.exit_code == MANUAL_EXIT_CODE == 3
    assert "kaggle datasets download" in result.output
    assert "vbbench prepare aisegment --from /path/to/" in result.output


def test_prepare_from_an_aisegment_zip(small_cards, tmp_path):
    archive = tmp_path / "ais.zip"
    archive.write_bytes(zip_bytes(aisegment_entries(half=True)))
    result = invoke("prepare", "aisegment", "--from", archive, "--data-dir", tmp_path / "data", "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    assert "aisegment  14     1 (1 known)  2" in result.output
    split = tmp_path / "data" / "aisegment" / "split.csv"
    assert f"aisegment: split written ({split})" in result.output
    assert f"commit {split.parent}/split.csv and split.json to datasets/aisegment/ to share the split" in result.output
    assert (
        "note: skipped 31 entries of ais.zip: the second copy of the tree (matting_human_datasets/matting_human_half/)"
        in result.output
    )
    rows = list(csv.DictReader(open(split)))
    assert len(rows) == 14 and {row["split"] for row in rows} == {"train", "test"}
    # --strict fails on defects beyond the card's known ones only
    result = invoke("prepare", "aisegment", "--data-dir", tmp_path / "data", "--workers", "1", "-q", "--strict")
    assert result.exit_code == 0, result.output


def test_prepare_downloads_shen_with_url_and_keeps_the_authors_split(small_cards, tmp_path):
    data = zip_bytes(shen_entries(train=6, test=3))
    with LocalServer() as server:
        server.state.files["/shen.zip"] = data
        server.state.drops = 1
        result = invoke(
            "prepare",
            "shen2016",
            "--url",
            server.url("/shen.zip"),
            "--sha256",
            hashlib.sha256(data).hexdigest(),
            "--data-dir",
            tmp_path / "data",
            "--workers",
            "1",
            "-q",
        )
    assert result.exit_code == 0, result.output
    assert "  train 6 / test 3 items: test 33.33 %" in result.output and "the authors' folders" in result.output
    assert "was not checked against a SHA-256" not in result.output  # --sha256 was given
    manifest = list(csv.DictReader(open(tmp_path / "data" / "shen2016" / "variants" / "rot90cw" / "manifest.csv")))
    assert [row["id"] for row in manifest] == ["testing/00001", "testing/00002", "testing/00003"]
    # with no name, prepare picks up the cached archive and the sample, and explains the rest
    assert (tmp_path / "home" / "archives" / "shen2016.zip").is_file()


def test_prepare_from_an_extracted_folder_uses_it_in_place(small_cards, tmp_path):
    folder = tmp_path / "shen"
    for name, content in shen_entries(train=6, test=3, wrap="").items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    result = invoke("prepare", "shen2016", "--from", folder, "--data-dir", tmp_path / "data", "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "data" / "shen2016" / "raw").exists()
    result = invoke("verify", "shen2016", "--data-dir", tmp_path / "data", "--workers", "1", "-q")
    assert result.exit_code == 0 and "9 usable pairs of 9" in result.output


def test_prepare_with_no_name_prepares_what_is_at_hand_and_explains_the_rest(small_cards, tmp_path):
    sample_card = small_cards / "sample" / "card.yaml"
    card = yaml.safe_load(sample_card.read_text())
    card.update(expected_pairs=28, expected_width_px=64, expected_height_px=80, generate={"count": 28, "seed": 0})
    sample_card.write_text(yaml.safe_dump(card))
    for name in ("split.csv", "split.json"):  # the committed split is for the full-size sample
        (small_cards / "sample" / name).unlink()
    archive = tmp_path / "home" / "archives" / "shen2016.zip"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(zip_bytes(shen_entries(train=6, test=3)))
    result = invoke("prepare", "--data-dir", tmp_path / "data", "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("sample  ") and " 28 " in line for line in lines)
    assert any(line.startswith("shen2016  9 ") for line in lines)
    assert "AISegment.com Matting Human Datasets (aisegment) is not at hand." in result.output
    assert not (tmp_path / "data" / "aisegment").exists()
    assert (small_cards / "sample" / "split.csv").is_file()


def test_rerun_with_the_same_archive_does_not_extract_again(small_cards, tmp_path):
    archive = tmp_path / "ais.zip"
    archive.write_bytes(zip_bytes(aisegment_entries()))
    for _ in range(2):
        result = invoke(
            "prepare", "aisegment", "--from", archive, "--data-dir", tmp_path / "data", "--workers", "1", "-q"
        )
        assert result.exit_code == 0, result.output
        marker = tmp_path / "data" / "aisegment" / "raw" / "matting_human_datasets" / "clip_img"
        if _ == 0:
            inode = marker.stat().st_ino
            extracted_at = marker.stat().st_mtime_ns
    assert (marker.stat().st_ino, marker.stat().st_mtime_ns) == (inode, extracted_at)


HOLD = """
import sys, time
from vbbench.locks import FolderLock
FolderLock(sys.argv[1], what="vbbench prepare shen2016").__enter__()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_prepare_of_the_same_data_says_who_is_running(small_cards, tmp_path):
    import os
    import subprocess
    import sys

    folder = write_tree(tmp_path / "shen", shen_entries(train=6, test=3, wrap=""))
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "data" / "shen2016")], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        result = invoke(
            "prepare", "shen2016", "--from", folder, "--data-dir", tmp_path / "data", "--workers", "1", "-q"
        )
        assert result.exit_code == 1
        assert (
            f"error: {tmp_path / 'data' / 'shen2016'} is in use by PID {holder.pid} (vbbench prepare shen2016"
            in result.output
        )
        result = invoke("verify", "shen2016", "--data-dir", tmp_path / "data", "--workers", "1", "-q")
        assert result.exit_code == 1 and f"in use by PID {holder.pid}" in result.output
    finally:
        holder.kill()
        holder.wait()
    result = invoke("prepare", "shen2016", "--from", folder, "--data-dir", tmp_path / "data", "--workers", "1", "-q")
    assert result.exit_code == 0, result.output


def test_an_interrupted_run_leaves_nothing_the_next_run_does_not_clean(small_cards, tmp_path):
    archive = tmp_path / "shen.zip"
    archive.write_bytes(zip_bytes(shen_entries(train=6, test=3)))
    data = tmp_path / "data"
    result = invoke("prepare", "shen2016", "--from", archive, "--data-dir", data, "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    # what a killed run leaves: an extraction's staging folder, atomic writes' temporary files
    staging = data / "shen2016" / ".raw.k2j4.extracting" / "PortraitMatting"
    staging.mkdir(parents=True)
    (staging / "00001.png").write_bytes(b"half")
    temporary = data / "shen2016" / "variants" / "rot30" / "alpha" / "testing" / ".00002.png.x81.part"
    temporary.write_bytes(b"half")
    (data / "shen2016" / "verify" / ".pairs.csv.a.part").write_bytes(b"half")
    result = invoke("prepare", "shen2016", "--from", archive, "--data-dir", data, "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    assert (
        f"note: removed 1 staging folder(s) and 2 temporary file(s) left in {data / 'shen2016'} by an interrupted run"
        in result.output
    )
    assert not staging.parent.exists() and not temporary.exists()
    assert not list((data / "shen2016").rglob("*.part")) and not (data / "shen2016" / ".vbbench.lock").exists()
