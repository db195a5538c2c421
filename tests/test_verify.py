"""Verification: pairing by each layout's rules, defects, lock manifest and drift, --strict."""

from __future__ import annotations

import csv
import hashlib

import cv2
import numpy as np
import pytest
from _archives import HEIGHT_PX, ORPHAN_MATTE, WIDTH_PX, aisegment_entries, png, portrait, shen_entries

from vbbench.cards import get_dataset
from vbbench.errors import DriftError, VerifyError
from vbbench.layout import find_pairs
from vbbench.prepared import PreparedDataset
from vbbench.verify import lock_is_current, verify_dataset


def write_tree(root, entries):
    for name, data in entries.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def rows(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def shen_card(pairs, folders=None):
    return get_dataset("shen2016").replace(
        expected_pairs=pairs,
        expected_width_px=WIDTH_PX,
        expected_height_px=HEIGHT_PX,
        expected_folder_pairs=folders or {},
    )


def ais_card(pairs):
    return get_dataset("aisegment").replace(
        expected_pairs=pairs, expected_width_px=WIDTH_PX, expected_height_px=HEIGHT_PX
    )


def test_shen_pairs_keep_the_folder_in_the_id(tmp_path):
    root = write_tree(tmp_path / "raw", shen_entries(train=3, test=2, wrap=""))
    report = verify_dataset(PreparedDataset(shen_card(5), tmp_path / "data"), root, progress=False)
    assert (report.pairs, report.usable, report.errors) == (5, 5, 0)
    pairs = rows(report.pairs_path)
    assert [p["id"] for p in pairs] == [
        "testing/00001",
        "testing/00002",
        "training/00001",
        "training/00002",
        "training/00003",
    ]
    assert pairs[0]["matte"] == "testing/00001_matte.png" and pairs[0]["folder"] == "testing"
    lock = rows(report.lock_path)
    assert len(lock) == 10
    first = lock[0]
    data = (root / first["path"]).read_bytes()
    assert (int(first["size"]), first["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert (first["width"], first["height"]) == (str(WIDTH_PX), str(HEIGHT_PX))
    assert rows(report.defects_path) == []


def test_aisegment_defects_are_reported_by_name_and_known_ones_are_not_fatal(tmp_path):
    root = write_tree(tmp_path / "raw", aisegment_entries(wrap="", half=True))
    report = verify_dataset(PreparedDataset(ais_card(14), tmp_path / "data"), root, progress=False, workers=2)
    defects = rows(report.defects_path)
    assert [(d["severity"], d["kind"], d["path"], d["known"]) for d in defects] == [
        ("ignored", "macos_fork", "clip_img/1803201916/clip_00000000/._1803201916-00000000.jpg", "yes"),
        ("ignored", "macos_fork", "matting/1803201916/._matting_00000000", "yes"),
        ("error", "matte_without_image", f"matting/1803201916/matting_00000000/{ORPHAN_MATTE}.png", "yes"),
        ("ignored", "duplicate_tree", "matting_human_half/", ""),
    ]
    assert "known defect: the matte 1803201916-00000117 has no image in any copy" in defects[2]["detail"]
    assert (report.errors, report.unknown_errors, report.form) == (1, 0, "matting_human_datasets")
    pairs = rows(report.pairs_path)
    assert len(pairs) == 14 and ORPHAN_MATTE not in {p["id"].split("/")[-1] for p in pairs}
    assert pairs[0]["id"] == "1803201916/clip_00000000/1803201916-00000000"
    assert pairs[0]["group"] == "1803201916/clip_00000000/run_0"  # numbers 0–499 of the block
    # the duplicate tree is neither paired nor locked
    assert not any("matting_human_half" in row["path"] for row in rows(report.lock_path))
    # --strict passes on the known defects and fails on one more
    verify_dataset(PreparedDataset(ais_card(14), tmp_path / "data2"), root, strict=True, progress=False)
    (root / pairs[3]["image"]).write_bytes(b"\xff\xd8 cut off")
    with pytest.raises(VerifyError, match=r"aisegment: 2 defects beyond the card's known ones with --strict "
                                          r"\(1 corrupt, 1 count\)"):  # fmt: skip
        verify_dataset(PreparedDataset(ais_card(14), tmp_path / "data3"), root, strict=True, progress=False)


def test_corrupt_constant_mislabelled_and_duplicate_files_are_excluded_and_listed(tmp_path):
    entries = shen_entries(train=5, test=1, wrap="")
    entries["training/00001.png"] = entries["training/00001.png"][:-30]  # truncated
    entries["training/00002_matte.png"] = png(np.full((HEIGHT_PX, WIDTH_PX), 255, np.uint8))  # constant
    image, alpha = portrait(50, width=WIDTH_PX + 2)
    entries["training/00003.png"], entries["training/00003_matte.png"] = png(image), png(alpha)  # wrong size
    entries["training/00005.png"] = entries["training/00004.png"]  # duplicate image
    root = write_tree(tmp_path / "raw", entries)
    report = verify_dataset(PreparedDataset(shen_card(6), tmp_path / "data"), root, progress=False)
    found = {(d["kind"], d["id"]): d["detail"] for d in rows(report.defects_path)}
    assert found == {
        ("corrupt", "training/00001"): "truncated PNG (no IEND chunk); excluded",
        ("bad_matte", "training/00002"): "constant matte (every pixel 255); excluded",
        (
            "resolution",
            "training/00003",
        ): f"{WIDTH_PX + 2}×{HEIGHT_PX} px, the card expects {WIDTH_PX}×{HEIGHT_PX} px; excluded",
        ("duplicate", "training/00005"): "same bytes as the image of training/00004; excluded",
        ("count", ""): "2 usable pairs, the card expects 6",
    }
    assert [p["id"] for p in rows(report.pairs_path)] == ["testing/00001", "training/00004"]


def test_rgba_required_for_aisegment_mattes(tmp_path):
    entries = aisegment_entries(sessions={"1803201916": 2}, clips_per_group=1, defects=False, wrap="")
    name = "matting/1803201916/matting_00000000/1803201916-00000000.png"
    entries[name] = png(portrait(0)[1])  # grayscale, no alpha channel
    root = write_tree(tmp_path / "raw", entries)
    report = verify_dataset(PreparedDataset(ais_card(1), tmp_path / "data"), root, progress=False)
    assert [(d["kind"], d["path"]) for d in rows(report.defects_path)] == [("bad_matte", name)]


def test_a_later_verify_detects_drift_and_names_the_files(tmp_path):
    root = write_tree(tmp_path / "raw", shen_entries(train=3, test=1, wrap=""))
    card, data = shen_card(4), tmp_path / "data"
    first = verify_dataset(PreparedDataset(card, data), root, progress=False)
    assert first.locked
    again = verify_dataset(PreparedDataset(card, data), root, progress=False)
    assert not again.locked and lock_is_current(PreparedDataset(card, data), root)
    lock_before = first.lock_path.read_bytes()

    image = cv2.imread(str(root / "training/00002.png"))
    image[0, 0] ^= 1
    cv2.imwrite(str(root / "training/00002.png"), image)
    (root / "testing/00001_matte.png").unlink()
    (root / "training/00009.png").write_bytes(png(portrait(9)[0]))
    with pytest.raises(DriftError) as caught:
        verify_dataset(PreparedDataset(card, data), root, progress=False)
    message = str(caught.value)
    assert "1 changed: training/00002.png; 1 missing: testing/00001_matte.png; 1 added: training/00009.png" in message
    assert f"delete {first.lock_path} and verify again" in message
    assert first.lock_path.read_bytes() == lock_before
    assert not lock_is_current(PreparedDataset(card, data), root)


def test_a_file_beyond_the_cards_limit_is_hashed_in_chunks_not_loaded(tmp_path):
    """verify streams: a 64 MiB 'image' is hashed and reported, never read whole into memory."""
    import tracemalloc

    from vbbench.cards import SizeLimits

    entries = shen_entries(train=2, test=1, wrap="")
    root = write_tree(tmp_path / "raw", entries)
    huge = root / "training" / "00002.png"
    with open(huge, "wb") as stream:
        stream.write(entries["training/00002.png"])
        stream.write(b"\0" * (64 << 20))
    card = shen_card(3).replace(limits=SizeLimits(max_file_bytes=1 << 20))
    tracemalloc.start()
    report = verify_dataset(PreparedDataset(card, tmp_path / "data"), root, progress=False, workers=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20, f"peak {peak / 2**20:.0f} MiB"
    found = {(d["kind"], d["id"]): d["detail"] for d in rows(report.defects_path)}
    size = huge.stat().st_size
    assert found[("too_large", "training/00002")] == (
        f"{size:,} bytes, more than the 1,048,576 the card allows for one file; excluded"
    )
    lock = {row["path"]: row for row in rows(report.lock_path)}
    assert lock["training/00002.png"]["sha256"] == hashlib.sha256(huge.read_bytes()).hexdigest()


def test_binary_mattes_are_pointed_out_and_counts_are_reported_per_folder(tmp_path):
    entries = shen_entries(train=3, test=2, wrap="")
    for name in list(entries):
        if name.endswith("_matte.png"):
            alpha = cv2.imdecode(np.frombuffer(entries[name], np.uint8), cv2.IMREAD_UNCHANGED)
            entries[name] = png(np.where(alpha > 127, 255, 0).astype(np.uint8))
    root = write_tree(tmp_path / "raw", entries)
    card = shen_card(5, {"training": 4, "testing": 2})
    report = verify_dataset(PreparedDataset(card, tmp_path / "data"), root, progress=False)
    assert report.notes == [
        "5 of 5 mattes are binary (only 0 and full scale): this copy holds segmentation masks, not soft mattes, "
        "so scores on it say little about hair and edges"
    ]
    found = [(d["kind"], d["path"], d["detail"]) for d in rows(report.defects_path)]
    assert found == [("folder_count", "training/", "training/: 3 usable pairs, the set has 4 (-1)")]
    assert report.completeness.missing == 1 and report.completeness.partial


def test_find_pairs_ignores_file_order(tmp_path):
    root = write_tree(tmp_path / "raw", aisegment_entries(wrap=""))
    listing = find_pairs(get_dataset("aisegment"), root)
    assert [p.id for p in listing.pairs] == sorted(p.id for p in listing.pairs)
