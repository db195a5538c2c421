"""Each variant's exact geometry on ground truth, the manifest, and variant_paths errors."""

from __future__ import annotations

import csv
import hashlib
import io

import cv2
import numpy as np
import pytest
from _archives import portrait

from vbbench.cards import get_dataset
from vbbench.errors import VariantError
from vbbench.io import read_image, read_matte
from vbbench.prepared import Pair, PreparedDataset
from vbbench.trimaps import make_trimap
from vbbench.variants import (
    CALL_SIZE_PX,
    call16x9_crop,
    default_variants,
    make_variants,
    prepared_files,
    rot30_angle,
    transform,
)


def variant_paths(dataset, variant, data_dir):
    return prepared_files(PreparedDataset(dataset, data_dir), variant)


@pytest.fixture
def pair():
    image, alpha = portrait(3, width=60, height=80)
    return image, alpha


def test_original_is_unchanged(pair):
    image, alpha, _, params = transform(*pair, "original", "a")
    assert np.array_equal(image, pair[0]) and np.array_equal(alpha, pair[1]) and params == {}


@pytest.mark.parametrize("variant, k", [("rot90cw", -1), ("rot90ccw", 1)])
def test_rot90_equals_numpy(pair, variant, k):
    image, alpha, _, params = transform(*pair, variant, "a")
    assert np.array_equal(image, np.rot90(pair[0], k)) and np.array_equal(alpha, np.rot90(pair[1], k))
    assert params == {"k": k} and alpha.shape == (60, 80)


def test_rot90cw_turns_clockwise():
    alpha = np.zeros((4, 2), np.uint8)
    alpha[0, 0] = 255  # top-left goes to top-right when turned clockwise
    _, turned, _, _ = transform(np.zeros((4, 2, 3), np.uint8), alpha, "rot90cw", "a")
    assert turned.shape == (2, 4) and turned[0, 3] == 255 and turned.sum() == 255


def test_rot30_matches_warp_affine_and_sign_comes_from_the_id(pair):
    image, alpha = pair
    for item_id in ["a", "b", "c", "d"]:
        expected_sign = 1 if hashlib.sha256(item_id.encode()).digest()[0] % 2 == 0 else -1
        assert rot30_angle(item_id) == 30.0 * expected_sign
        centre = (29.5, 39.5)
        matrix = cv2.getRotationMatrix2D(centre, 30.0 * expected_sign, 1.0)
        out_image, out_alpha, _, params = transform(image, alpha, "rot30", item_id)
        assert np.array_equal(
            out_alpha,
            cv2.warpAffine(
                alpha, matrix, (60, 80), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
            ),
        )
        assert np.array_equal(
            out_image, cv2.warpAffine(image, matrix, (60, 80), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        )
        assert params["angle_deg"] == 30.0 * expected_sign and params["centre_px"] == [29.5, 39.5]
    assert {rot30_angle(i) for i in map(str, range(20))} == {30.0, -30.0}


def test_rot30_corners_come_from_outside_and_are_background():
    alpha = np.full((800, 600), 255, np.uint8)
    _, out, trimap, _ = transform(np.zeros((800, 600, 3), np.uint8), alpha, "rot30", "a")
    assert out[0, 0] == 0 and out[-1, -1] == 0 and out[400, 300] == 255
    # the variant's trimap follows the rule on the variant's own matte: the rotated frame's soft
    # edge is unknown, the corners known background, the centre known foreground
    assert np.array_equal(trimap, make_trimap(out))
    assert trimap[0, 0] == 0 and trimap[400, 300] == 255 and (trimap[(out > 0) & (out < 255)] == 128).all()


def test_call16x9_crop_box_and_size():
    alpha = np.zeros((800, 600), np.uint8)
    alpha[200:260, 270:330] = 255  # head
    alpha[260:, 150:450] = 255  # body
    x0, y0, x1, y1 = call16x9_crop(alpha)
    # crop height round(600 * 9 / 16) = 338; top = 200 - round(0.1 * 338) = 166
    assert (x0, y0, x1, y1) == (0, 166, 600, 504)
    image = np.dstack([alpha] * 3)
    out_image, out_alpha, _, params = transform(image, alpha, "call16x9", "a")
    assert out_alpha.shape == (360, 640) and out_image.shape == (360, 640, 3)
    assert params["crop_px"] == [0, 166, 600, 504]
    expected = cv2.resize(alpha[166:504], (640, 360), interpolation=cv2.INTER_AREA)
    assert np.array_equal(out_alpha, expected)
    # the whole head is inside the frame, with headroom above it
    head_rows = np.flatnonzero(out_alpha[:, 320] > 0)
    assert head_rows[0] > 0 and round((200 - 166) * 360 / 338) - 1 <= head_rows[0] <= round((200 - 166) * 360 / 338) + 1


def test_call16x9_clamps_at_the_image_top_and_centres_without_subject():
    alpha = np.zeros((800, 600), np.uint8)
    alpha[10:, 100:500] = 255
    assert call16x9_crop(alpha) == (0, 0, 600, 338)
    assert call16x9_crop(np.zeros((800, 600), np.uint8)) == (0, 231, 600, 569)


def raw_sample_set(root):
    """Three small sample portraits in the raw layout, and their pair records."""
    pairs = []
    for folder in ("images", "alpha"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for index in range(3):
        image, alpha = portrait(index, width=60, height=80)
        cv2.imwrite(str(root / "images" / f"sample_{index:04d}.png"), image)
        cv2.imwrite(str(root / "alpha" / f"sample_{index:04d}.png"), alpha)
        name = f"sample_{index:04d}"
        pairs.append(Pair(name, "group_0000", "", f"images/{name}.png", f"alpha/{name}.png"))
    return root, pairs


def test_make_variants_writes_files_and_manifest_then_skips(tmp_path):
    card = get_dataset("sample")
    root, pairs = raw_sample_set(tmp_path / "raw")
    data = tmp_path / "data"
    make_variants(PreparedDataset(card, data), root, pairs, progress=False)
    for variant in default_variants():  # every variant but the clips, made on request
        paths = variant_paths("sample", variant, data)
        manifest = paths.manifest.read_text().splitlines()
        header = "id,source_id,split,group,transform,params,width,height,image_sha256,alpha_sha256,trimap_sha256"
        assert manifest[0] == header and len(manifest) == 4
        # the manifest is the variant's lock: each row holds the SHA-256 of the three files written
        for row in csv.DictReader(io.StringIO("\n".join(manifest))):
            for kind, path in zip(("image", "alpha", "trimap"), paths.files_of(row["id"])):
                assert row[f"{kind}_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        for index in range(3):
            image = read_image(root / "images" / f"sample_{index:04d}.png")
            alpha = read_matte(root / "alpha" / f"sample_{index:04d}.png")
            expected_image, expected_alpha, expected_trimap, _ = transform(image, alpha, variant, f"sample_{index:04d}")
            assert np.array_equal(read_matte(paths.alpha / f"sample_{index:04d}.png"), expected_alpha)
            assert np.array_equal(read_matte(paths.trimaps / f"sample_{index:04d}.png"), expected_trimap)
            assert np.array_equal(read_image(paths.images / f"sample_{index:04d}.png"), expected_image)
    call_rows = variant_paths("sample", "call16x9", data).manifest.read_text().splitlines()[1:]
    assert all(f",{CALL_SIZE_PX[0]},{CALL_SIZE_PX[1]}," in row for row in call_rows)
    # a second run finds every variant complete and rewrites nothing
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*.png")}
    make_variants(PreparedDataset(card, data), root, pairs, progress=False)
    assert before == {p: p.stat().st_mtime_ns for p in data.rglob("*.png")}
    # a lost file is remade
    lost = variant_paths("sample", "rot30", data).alpha / "sample_0001.png"
    lost.unlink()
    make_variants(PreparedDataset(card, data), root, pairs, progress=False)
    assert lost.is_file()


def test_variant_paths_errors(tmp_path):
    with pytest.raises(
        VariantError, match=r"variant 'rot30' of 'sample' is not prepared .*run `vbbench prepare sample --data-dir"
    ):
        variant_paths("sample", "rot30", tmp_path)
    with pytest.raises(ValueError, match=r"unknown variant 'rot90'; did you mean 'rot90cw'\?"):
        variant_paths("sample", "rot90", tmp_path)
    with pytest.raises(ValueError, match=r"unknown dataset 'sampel'; did you mean 'sample'\?"):
        variant_paths("sampel", "rot30", tmp_path)


def test_an_interrupted_run_resumes_from_the_journal(tmp_path, monkeypatch):
    import vbbench.variants as variants_module

    card = get_dataset("sample")
    root, pairs = raw_sample_set(tmp_path / "raw")
    data = tmp_path / "data"
    real_make_item = variants_module._make_item
    calls = []

    def crash_on_third(task):
        calls.append(task[1].id)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is killed while writing the third item
        return real_make_item(task)

    monkeypatch.setattr(variants_module, "_make_item", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        make_variants(PreparedDataset(card, data), root, pairs, ("original", "rot30"), progress=False)
    journal = data / "sample" / "variants" / "rot30" / "manifest.partial.csv"
    assert len(journal.read_text().splitlines()) == 3  # header + two finished items
    assert not (data / "sample" / "variants" / "rot30" / "manifest.csv").exists()
    calls.clear()
    monkeypatch.setattr(variants_module, "_make_item", lambda task: calls.append(task[1].id) or real_make_item(task))
    make_variants(PreparedDataset(card, data), root, pairs, ("original", "rot30"), progress=False)
    assert calls == ["sample_0002"]
    manifest = (data / "sample" / "variants" / "rot30" / "manifest.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in manifest[1:]] == ["sample_0000", "sample_0001", "sample_0002"]
    assert not journal.exists()
