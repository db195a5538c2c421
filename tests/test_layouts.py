"""Every real layout imports through `vbbench prepare`: both AISegment forms (the original download
and Kaggle's archive with its second copy), Shen's wrapper folders and its Kaggle copy; the EG 2016
segmentation set is refused; a partial set stops unless accepted, and is then marked partial in
its split record, its score summaries and its results."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile

import pytest
import yaml
from _archives import (
    aisegment_kaggle,
    aisegment_original,
    eg2016_entries,
    shen_entries,
    shen_kaggle,
    tar_bytes,
    write_tree,
    zip_bytes,
)
from typer.testing import CliRunner

from vbbench.cards import get_dataset
from vbbench.cli import app
from vbbench.errors import DatasetError
from vbbench.layout import NameTree, find_layout_root, find_pairs, locate

runner = CliRunner()


def prepare(*args):
    result = runner.invoke(app, ["prepare", *[str(a) for a in args], "--workers", "1", "-q"])
    return result.exit_code, result.output


def read(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


# ---- AISegment ---------------------------------------------------------------------------------


def test_the_original_download_is_the_data_not_a_duplicate(small_cards, tmp_path):
    """matting_human_half.zip (MEGA/Baidu) holds matting_human_half/{clip_img,matting} and nothing else."""
    archive = tmp_path / "matting_human_half.zip"
    archive.write_bytes(zip_bytes(aisegment_original(), folders=True))
    code, output = prepare("aisegment", "--from", archive, "--data-dir", tmp_path / "data")
    assert code == 0, output
    defects = read(tmp_path / "data" / "aisegment" / "verify" / "defects.csv")
    assert [(d["kind"], d["known"]) for d in defects] == [("macos_fork", "yes"), ("macos_fork", "yes"),
                                                          ("matte_without_image", "yes")]  # fmt: skip
    assert "duplicate_tree" not in {d["kind"] for d in defects} and "second copy" not in output
    assert len(read(tmp_path / "data" / "aisegment" / "split.csv")) == 14
    assert (
        find_layout_root(tmp_path / "data" / "aisegment" / "raw", get_dataset("aisegment")).name == "matting_human_half"
    )


def test_kaggles_archive_skips_its_second_copy_while_extracting(small_cards, tmp_path):
    """archive.zip: clip_img/, matting/ and the same tree again under matting_human_half/."""
    entries = aisegment_kaggle()
    archive = tmp_path / "archive.zip"
    archive.write_bytes(zip_bytes(entries, folders=True))
    code, output = prepare("aisegment", "--from", archive, "--data-dir", tmp_path / "data")
    assert code == 0, output
    raw = tmp_path / "data" / "aisegment" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == ["clip_img", "matting"]  # the copy never reached the disk
    copy = [name for name in zipfile.ZipFile(archive).namelist() if name.startswith("matting_human_half/")]
    assert f"skipped {len(copy)} entries of archive.zip: the second copy of the tree (matting_human_half/)" in output
    pairs = read(tmp_path / "data" / "aisegment" / "verify" / "pairs.csv")
    assert len(pairs) == 14 and not any("matting_human_half" in p["image"] for p in pairs)


def test_kaggles_tree_used_in_place_reports_the_copy_once_and_never_reads_it(small_cards, tmp_path):
    folder = write_tree(tmp_path / "aisegmentcom-matting-human-datasets", aisegment_kaggle())
    code, output = prepare("aisegment", "--from", folder, "--data-dir", tmp_path / "data")
    assert code == 0, output
    defects = read(tmp_path / "data" / "aisegment" / "verify" / "defects.csv")
    assert [(d["kind"], d["path"]) for d in defects if d["kind"] == "duplicate_tree"] == [
        ("duplicate_tree", "matting_human_half/")
    ]
    locked = read(tmp_path / "data" / "aisegment" / "verify" / "lock.csv")
    assert len(locked) == 31 and not any(row["path"].startswith("matting_human_half") for row in locked)


def test_a_kaggle_archive_inside_a_wrapper_and_the_copy_beside_it(small_cards, tmp_path):
    card = get_dataset("aisegment")
    found = locate(card.layout, NameTree(aisegment_kaggle(wrap="archive/")))
    assert (found.root, found.copies) == ("archive", ("archive/matting_human_half",))
    assert not found.keeps("archive/matting_human_half/clip_img/1803201916/clip_00000000/x.jpg")
    assert found.keeps("archive/clip_img/1803201916/clip_00000000/x.jpg") and not found.keeps("__MACOSX/archive/._x")


# ---- Shen 2016 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", ["Portrait-dataset-2000/", "Portrait-dataset-2000/dataset/", "HKdataset/HKdataset/"])
def test_shen_under_its_wrapper_folders(small_cards, tmp_path, wrap):
    archive = tmp_path / "shen.zip"
    archive.write_bytes(zip_bytes(shen_entries(wrap=wrap), folders=True))
    code, output = prepare("shen2016", "--from", archive, "--data-dir", tmp_path / "data")
    assert code == 0, output
    root = find_layout_root(tmp_path / "data" / "shen2016" / "raw", get_dataset("shen2016"))
    assert root == tmp_path / "data" / "shen2016" / "raw" / wrap.rstrip("/")


def test_shens_kaggle_copy_gives_the_same_ids_and_split_as_the_authors_zip(small_cards, tmp_path):
    authors = write_tree(tmp_path / "authors", shen_entries(wrap="Portrait-dataset-2000/"))
    kaggle = write_tree(tmp_path / "kaggle", shen_kaggle())
    splits = {}
    for name, folder in (("authors", authors), ("kaggle", kaggle)):
        code, output = prepare("shen2016", "--from", folder, "--data-dir", tmp_path / name)
        assert code == 0, output
        splits[name] = [(r["id"], r["split"], r["sha256"]) for r in read(tmp_path / name / "shen2016" / "split.csv")]
    assert splits["authors"] == splits["kaggle"]
    assert {(i, s) for i, s, _ in splits["kaggle"]} == {(f"training/{n:05d}", "train") for n in range(1, 7)} | {
        (f"testing/{n:05d}", "test") for n in range(1, 4)
    }
    listing = find_pairs(get_dataset("shen2016"), kaggle)
    assert listing.form.name == "kaggle" and listing.pairs[0].matte == "testing/mask/00001_matte.png"


@pytest.mark.parametrize("packed", ["folder", "zip", "tar.gz"])
def test_the_eg2016_segmentation_set_is_refused_as_a_different_dataset(small_cards, tmp_path, packed):
    entries = eg2016_entries(wrap="EG1800/")
    if packed == "folder":
        source = write_tree(tmp_path / "eg", entries)
    elif packed == "zip":
        source = tmp_path / "eg.zip"
        source.write_bytes(zip_bytes(entries))
    else:
        source = tmp_path / "eg.tar.gz"
        source.write_bytes(tar_bytes(entries))
    code, output = prepare("shen2016", "--from", source, "--data-dir", tmp_path / "data")
    assert code == 1
    assert "EG1800: this is the EG 2016 portrait *segmentation* set" in output
    assert "a different dataset from the ECCV 2016 matting set that vbbench calls shen2016" in output
    assert "http://www.cse.cuhk.edu.hk/leojia/projects/automatting/index.html" in " ".join(output.split())
    assert not (tmp_path / "data" / "shen2016" / "raw").exists()  # refused before anything was written


def test_a_refused_archive_does_not_cost_the_earlier_import(small_cards, tmp_path):
    good, wrong = tmp_path / "shen.zip", tmp_path / "eg.zip"
    good.write_bytes(zip_bytes(shen_entries()))
    wrong.write_bytes(zip_bytes(eg2016_entries()))
    assert prepare("shen2016", "--from", good, "--data-dir", tmp_path / "data")[0] == 0
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "data" / "shen2016" / "raw").rglob("*"))
    code, output = prepare("shen2016", "--from", wrong, "--data-dir", tmp_path / "data")
    assert code == 1 and "EG 2016 portrait *segmentation* set" in output
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "data" / "shen2016" / "raw").rglob("*")) == before


def test_two_whole_trees_are_ambiguous(small_cards, tmp_path):
    folder = write_tree(tmp_path / "both", {**shen_entries(wrap="a/"), **shen_entries(wrap="b/")})
    with pytest.raises(DatasetError, match=r"2 folders each hold a whole tree \(a/, b/\); point --from at the one"):
        find_layout_root(folder, get_dataset("shen2016"))


def test_a_folder_without_the_layout_says_what_it_expected_and_what_it_found(small_cards, tmp_path):
    folder = write_tree(tmp_path / "x", {"photos/a.jpg": b"x", "README.txt": b"x"})
    with pytest.raises(DatasetError) as caught:
        find_layout_root(folder, get_dataset("shen2016"))
    assert str(caught.value) == (
        f"{folder}: no folder holding the layout found within 4 levels (expected authors: training/ + testing/; "
        "kaggle: training/sample/ + testing/sample/); it holds: README.txt, photos"
    )


# ---- partial sets ------------------------------------------------------------------------------


@pytest.fixture
def full_size_shen(small_cards):
    """The Shen card with its real counts (1,700 + 300) at the fixtures' tiny frame size."""
    path = small_cards / "shen2016" / "card.yaml"
    card = yaml.safe_load(path.read_text())
    card.update(expected_pairs=2000, expected_folder_pairs={"training": 1700, "testing": 300})
    card["known_counts"] = [{"folder": "training", "pairs": 34, "note": "a copy with 34 training pairs is known"}]
    path.write_text(yaml.safe_dump(card, sort_keys=False))
    return small_cards


def test_a_partial_set_stops_and_says_how_many_pairs_are_missing(full_size_shen, tmp_path):
    folder = write_tree(tmp_path / "shen", shen_entries(train=34, test=6, wrap=""))
    code, output = prepare("shen2016", "--from", folder, "--data-dir", tmp_path / "data")
    assert code == 1
    text = " ".join(output.split())
    assert (
        "error: shen2016: 40 usable pairs, the card expects 2,000 (training 34 of 1,700, testing 6 of 300): 1,960 "
        "pairs are missing beyond the card's known defects; a copy with 34 training pairs is known. This is a partial "
        "copy: get the full set (`vbbench prepare shen2016` without --from prints the steps), or add --allow-partial"
    ) in text
    assert not (tmp_path / "data" / "shen2016" / "split.csv").exists()  # nothing to benchmark on
    defects = read(tmp_path / "data" / "shen2016" / "verify" / "defects.csv")
    assert [(d["kind"], d["path"]) for d in defects] == [("count", ""), ("folder_count", "training/"),
                                                        ("folder_count", "testing/")]  # fmt: skip


def test_an_accepted_partial_set_is_marked_in_its_split_record_summaries_and_results(full_size_shen, tmp_path):
    from vbbench.leaderboard import render
    from vbbench.prepared import PreparedDataset
    from vbbench.results import load_result

    folder = write_tree(tmp_path / "shen", shen_entries(train=34, test=6, wrap=""))
    data = tmp_path / "data"
    code, output = prepare("shen2016", "--from", folder, "--data-dir", data, "--allow-partial")
    assert code == 0, output
    assert "shen2016 (partial)  40" in output
    record = json.loads((data / "shen2016" / "split.json").read_text())
    assert record["partial"] == {
        "usable": 40,
        "expected": 2000,
        "missing": 1960,
        "folders": {"training": {"usable": 34, "expected": 1700}, "testing": {"usable": 6, "expected": 300}},
    }
    assert PreparedDataset("shen2016", data).provenance("original")["partial"] is True
    predictions = tmp_path / "pred"
    shutil.copytree(data / "shen2016" / "variants" / "original" / "alpha", predictions)
    result = runner.invoke(app, ["score", str(predictions), "--dataset", "shen2016", "--variant", "original",
                                 "--data-dir", str(data), "--out", str(tmp_path / "scores"), "-q", "--workers", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "scores" / "summary.json").read_text())
    assert summary["dataset"]["partial"] is True
    result = runner.invoke(app, ["add-result", str(tmp_path / "scores" / "summary.json"), "--model", "gt",
                                 "--results", str(tmp_path / "results"), "--date", "2026-12-01"])  # fmt: skip
    assert result.exit_code == 0, result.output
    document = load_result(tmp_path / "results" / "shen2016" / "original" / "gt.json")
    assert document["dataset"]["partial"] is True
    assert "### shen2016 / original / whole (partial set)" in render(tmp_path / "results")["README.md"]
    # a complete set says partial: false
    complete = write_tree(tmp_path / "complete", shen_entries(train=6, test=3, wrap=""))
    small = full_size_shen / "shen2016" / "card.yaml"
    card = yaml.safe_load(small.read_text())
    card.update(expected_pairs=9, expected_folder_pairs={"training": 6, "testing": 3})
    small.write_text(yaml.safe_dump(card))
    code, output = prepare("shen2016", "--from", complete, "--data-dir", tmp_path / "data2")
    assert code == 0, output
    assert PreparedDataset("shen2016", tmp_path / "data2").provenance("original")["partial"] is False
