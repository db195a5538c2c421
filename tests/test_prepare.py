"""`vbbench prepare` and `vbbench verify` end to end through the CLI, then `vbbench score --dataset`."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil

import pytest
import yaml
from _archives import LocalServer, aisegment_entries, png, portrait, shen_entries, zip_bytes
from typer.testing import CliRunner

from vbbench.cli import app
from vbbench.errors import MANUAL_EXIT_CODE
from vbbench.paths import datasets_dir
from vbbench.variants import default_variants

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def prepared_sample(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    result = invoke("prepare", "sample", "--data-dir", data, "--workers", "2", "--quiet")
    assert result.exit_code == 0, result.output
    return data, result.output


def test_prepare_sample_end_to_end(prepared_sample):
    data, output = prepared_sample
    assert "sample: train 30 / test 10 items (test 25.0 %" in output
    assert (
        "sample   40     0        0        30     10    25.0    original, rot90cw, rot90ccw, rot30, call16x9, low_light, "
        "sensor_noise, motion_blur, jpeg, h264, backlight" in output
    )
    test_ids = [
        row["id"] for row in csv.DictReader(open(datasets_dir() / "sample" / "split.csv")) if row["split"] == "test"
    ]
    for variant in default_variants():  # clips are made on request
        manifest = list(csv.DictReader(open(data / "sample" / "variants" / variant / "manifest.csv")))
        assert [row["id"] for row in manifest] == test_ids
        assert all((data / "sample" / "variants" / variant / "alpha" / f"{i}.png").is_file() for i in test_ids)


def test_second_prepare_skips_finished_steps(prepared_sample):
    data, _ = prepared_sample
    before = {p: p.stat().st_mtime_ns for p in (data / "sample").rglob("*") if p.is_file()}
    result = invoke("prepare", "sample", "--data-dir", data, "--quiet")
    assert result.exit_code == 0, result.output
    assert before == {p: p.stat().st_mtime_ns for p in (data / "sample").rglob("*") if p.is_file()}


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
    split_hash = hashlib.sha256((datasets_dir() / "sample" / "split.csv").read_bytes()).hexdigest()
    assert summary["dataset"] == {"name": "sample", "variant": variant, "revision": "3", "split_sha256": split_hash}
    with open(tmp_path / "scores" / "per_image.csv") as stream:
        per_image = list(csv.DictReader(stream))
    test_ids = {
        row["id"] for row in csv.DictReader(open(datasets_dir() / "sample" / "split.csv")) if row["split"] == "test"
    }
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
    assert "40 usable pairs of 40, 0 defects" in result.output
    (data / "sample" / "raw" / "alpha" / "sample_0003.png").write_bytes(png(portrait(1, 600, 800)[1]))
    result = invoke("verify", "sample", "--data-dir", data, "--workers", "1", "--quiet")
    assert result.exit_code == 1
    assert (
        "the files differ from the lock manifest" in result.output
        and "1 changed: alpha/sample_0003.png" in result.output
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
    assert "aisegment  14     1        2" in result.output
    split = tmp_path / "data" / "aisegment" / "split.csv"
    assert f"split list: {split}" in result.output
    rows = list(csv.DictReader(open(split)))
    assert len(rows) == 14 and {row["split"] for row in rows} <= {"train", "test"}
    result = invoke("prepare", "aisegment", "--data-dir", tmp_path / "data", "--workers", "1", "-q", "--strict")
    assert result.exit_code == 1 and "1 defects with --strict" in result.output


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
    assert "shen2016: train 6 / test 3 items" in result.output
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
    (small_cards / "sample" / "split.csv").unlink()  # the committed list is for the full-size sample
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
