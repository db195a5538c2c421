"""Evaluation variants of the test split: what a video call really sees.

Each variant transforms image and matte with the same geometry and writes
``<data_dir>/<name>/variants/<variant>/images/<id>.png``, ``alpha/<id>.png`` and ``manifest.csv``
(``id, source_id, split, group, transform, params, width, height``; ``params`` is JSON), so any
prediction maps back to its source:

* ``original``: unchanged (image re-encoded as PNG);
* ``rot90cw`` / ``rot90ccw``: the phone turned, ``np.rot90`` (lossless);
* ``rot30``: rotation by ±30° about the frame centre, the seed model's training augmentation. The
  sign is chosen per id from ``sha256(id)`` (even first byte → +30°, counter-clockwise as in
  OpenCV). Same frame size; bilinear for image and matte; pixels from outside the source are
  background in the matte (alpha 0) and the replicated edge in the image (no black wedges a real
  camera never shows);
* ``call16x9``: a landscape call frame cut from the portrait at full width with a 16:9 aspect
  (height ``round(width · 9/16)``). Its top is placed ``10 %`` of the crop height above the subject's
  top (first row where the ground-truth matte reaches 10 %), clamped inside the image, so head
  and shoulders stay in frame; then resized to 640×360 px with ``INTER_AREA``.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vbbench.io import atomic_write_text, read_image, read_matte, write_png
from vbbench.sources import DatasetCard, default_data_dir, get_dataset

__all__ = [
    "VARIANTS",
    "CALL_SIZE_PX",
    "CALL_HEADROOM",
    "ROT30_DEGREES",
    "MANIFEST_FIELDS",
    "VariantPaths",
    "variant_paths",
    "transform",
    "rot30_angle",
    "call16x9_crop",
    "make_variants",
    "variant_is_complete",
    "variants_dir",
]

VARIANTS = ("original", "rot90cw", "rot90ccw", "rot30", "call16x9")
#: Output size of ``call16x9`` (width, height) in pixels.
CALL_SIZE_PX = (640, 360)
#: Space above the subject's top in ``call16x9``, as a fraction of the crop height.
CALL_HEADROOM = 0.10
#: Matte level (fraction of full scale) that marks the subject's top row in ``call16x9``.
SUBJECT_LEVEL = 0.10
ROT30_DEGREES = 30.0
MANIFEST_FIELDS = ["id", "source_id", "split", "group", "transform", "params", "width", "height"]
_PNG_COMPRESSION = 1  # fast; the files are re-creatable


@dataclass(frozen=True)
class VariantPaths:
    """Folders and manifest of one prepared variant."""

    images: Path
    alpha: Path
    manifest: Path


def variants_dir(data_dir: str | os.PathLike, name: str) -> Path:
    return Path(data_dir) / name / "variants"


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        close = difflib.get_close_matches(variant, VARIANTS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown variant '{variant}'{hint} (known: {', '.join(VARIANTS)})")


def variant_paths(dataset: str, variant: str, data_dir: str | os.PathLike | None = None) -> VariantPaths:
    """Paths of a prepared variant of ``dataset``'s test split.

    Raises
    ------
    ValueError
        For an unknown dataset or variant (with a did-you-mean hint).
    FileNotFoundError
        If the variant has not been prepared, with the ``vbbench prepare`` command to run.

    Examples
    --------
    >>> variant_paths("sample", "rot45", "/tmp")
    Traceback (most recent call last):
    ...
    ValueError: unknown variant 'rot45'; did you mean 'rot30'? (known: original, rot90cw, rot90ccw, rot30, call16x9)
    """
    get_dataset(dataset)
    _check_variant(variant)
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    root = variants_dir(data_dir, dataset) / variant
    paths = VariantPaths(root / "images", root / "alpha", root / "manifest.csv")
    if not paths.manifest.is_file():
        raise FileNotFoundError(
            f"variant '{variant}' of '{dataset}' is not prepared in {data_dir} ({paths.manifest} is missing): "
            f"run `vbbench prepare {dataset} --data-dir {data_dir}`"
        )
    return paths


# ---- geometry ------------------------------------------------------------------------------


def rot30_angle(item_id: str) -> float:
    """+30 or −30 degrees, from the first byte of ``sha256(id)`` (even → +30).

    Examples
    --------
    >>> rot30_angle("sample_0000") in (30.0, -30.0)
    True
    """
    return ROT30_DEGREES if hashlib.sha256(item_id.encode("utf-8")).digest()[0] % 2 == 0 else -ROT30_DEGREES


def rot30_matrix(width: int, height: int, angle_deg: float) -> np.ndarray:
    """The 2×3 affine matrix of a rotation by ``angle_deg`` about the frame centre
    ``((width − 1)/2, (height − 1)/2)`` (pixel-centre convention, so ±90° would be exact)."""
    return cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), angle_deg, 1.0)


def call16x9_crop(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """The full-width 16:9 crop box ``(x0, y0, x1, y1)`` (pixels, end exclusive) for a portrait.

    Crop height is ``round(width · 9 / 16)``, capped at the image height. The top sits
    ``round(CALL_HEADROOM · crop height)`` px above the first row where the matte reaches
    ``SUBJECT_LEVEL``, clamped to the image; with no subject the crop is centred.

    Examples
    --------
    >>> alpha = np.zeros((800, 600), np.uint8); alpha[300:, 200:400] = 255
    >>> call16x9_crop(alpha)
    (0, 266, 600, 604)
    """
    height, width = alpha.shape
    crop_height = min(int(round(width * 9 / 16)), height)
    full_scale = 65535 if alpha.dtype == np.uint16 else 255
    rows = np.flatnonzero((alpha >= SUBJECT_LEVEL * full_scale).any(axis=1))
    if rows.size:
        top = int(rows[0]) - int(round(CALL_HEADROOM * crop_height))
    else:
        top = (height - crop_height) // 2
    top = min(max(top, 0), height - crop_height)
    return 0, top, width, top + crop_height


def transform(image: np.ndarray, alpha: np.ndarray, variant: str, item_id: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Apply ``variant`` to an image (H, W, 3) and its matte (H, W) with the same geometry.

    Returns
    -------
    image, alpha : numpy.ndarray
        Transformed arrays (dtype kept).
    params : dict
        The transform's parameters, as recorded in the manifest.

    Examples
    --------
    >>> image = np.zeros((4, 2, 3), np.uint8); alpha = np.arange(8, dtype=np.uint8).reshape(4, 2)
    >>> _, rotated, params = transform(image, alpha, "rot90cw", "x")
    >>> rotated.tolist(), params
    ([[6, 4, 2, 0], [7, 5, 3, 1]], {'k': -1})
    """
    _check_variant(variant)
    height, width = alpha.shape
    if variant == "original":
        return image, alpha, {}
    if variant in ("rot90cw", "rot90ccw"):
        k = -1 if variant == "rot90cw" else 1  # np.rot90 turns counter-clockwise for k > 0
        return np.ascontiguousarray(np.rot90(image, k)), np.ascontiguousarray(np.rot90(alpha, k)), {"k": k}
    if variant == "rot30":
        angle = rot30_angle(item_id)
        matrix = rot30_matrix(width, height, angle)
        image_out = cv2.warpAffine(
            image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        alpha_out = cv2.warpAffine(
            alpha, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        return (
            image_out,
            alpha_out,
            {
                "angle_deg": angle,
                "centre_px": [(width - 1) / 2.0, (height - 1) / 2.0],
                "interpolation": "bilinear",
                "image_border": "replicate",
                "alpha_border": 0,
            },
        )
    x0, y0, x1, y1 = call16x9_crop(alpha)
    size = CALL_SIZE_PX
    image_out = cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    alpha_out = cv2.resize(alpha[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    return (
        image_out,
        alpha_out,
        {"crop_px": [x0, y0, x1, y1], "size_px": list(size), "interpolation": "area", "headroom": CALL_HEADROOM},
    )


# ---- writing -------------------------------------------------------------------------------


def _single_thread_opencv() -> None:
    cv2.setNumThreads(1)


def _make_item(task: tuple) -> list[dict]:
    """Read one test item and write it in every requested variant; returns manifest rows."""
    root, row, variants, out_root = task
    image = read_image(Path(root) / row["image"])
    alpha = read_matte(Path(root) / row["matte"])
    rows = []
    for variant in variants:
        image_out, alpha_out, params = transform(image, alpha, variant, row["id"])
        folder = Path(out_root) / variant
        write_png(folder / "images" / f"{row['id']}.png", image_out, _PNG_COMPRESSION)
        write_png(folder / "alpha" / f"{row['id']}.png", alpha_out, _PNG_COMPRESSION)
        rows.append(
            {
                "variant": variant,
                "id": row["id"],
                "source_id": row["id"],
                "split": "test",
                "group": row["group"],
                "transform": variant,
                "params": json.dumps(params, sort_keys=True),
                "width": alpha_out.shape[1],
                "height": alpha_out.shape[0],
            }
        )
    return rows


def _manifest_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, MANIFEST_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda row: row["id"]))
    return buffer.getvalue()


def _read_manifest(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def variant_is_complete(data_dir: str | os.PathLike, name: str, variant: str, test_ids: list[str]) -> bool:
    """The variant's manifest lists exactly ``test_ids`` and each item's two files exist."""
    root = variants_dir(data_dir, name) / variant
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        return False
    rows = _read_manifest(manifest)
    if sorted(row["id"] for row in rows) != sorted(test_ids):
        return False
    return all((root / "images" / f"{i}.png").is_file() and (root / "alpha" / f"{i}.png").is_file() for i in test_ids)


def make_variants(
    card: DatasetCard,
    root: str | os.PathLike,
    data_dir: str | os.PathLike,
    test_pairs: list[dict],
    variants: tuple[str, ...] = VARIANTS,
    *,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Path]:
    """Write the requested variants of ``test_pairs`` (rows of ``verify/pairs.csv``).

    Variants already complete (:func:`variant_is_complete`) are skipped. Items are processed in
    worker processes (forkserver); each item is read once and written in every missing variant.
    Progress is journalled in ``variants/<variant>/manifest.partial.csv`` so an interrupted run
    only redoes the items it had not finished; ``manifest.csv`` is written last.

    Returns
    -------
    dict of str to Path
        Variant → manifest path.
    """
    out_root = variants_dir(data_dir, card.name)
    test_ids = [row["id"] for row in test_pairs]
    todo = tuple(v for v in variants if not variant_is_complete(data_dir, card.name, v, test_ids))
    manifests = {v: out_root / v / "manifest.csv" for v in variants}
    if not todo:
        return manifests
    journals = {v: out_root / v / "manifest.partial.csv" for v in todo}
    done_rows: dict[str, dict[str, dict]] = {v: {} for v in todo}
    for variant, journal in journals.items():
        if journal.is_file():
            for row in _read_manifest(journal):
                folder = out_root / variant
                if (folder / "images" / f"{row['id']}.png").is_file() and (
                    folder / "alpha" / f"{row['id']}.png"
                ).is_file():
                    done_rows[variant][row["id"]] = row
        else:
            journal.parent.mkdir(parents=True, exist_ok=True)
            journal.write_text(",".join(MANIFEST_FIELDS) + "\n", encoding="utf-8")
    tasks = []
    for row in test_pairs:
        missing = tuple(v for v in todo if row["id"] not in done_rows[v])
        if missing:
            tasks.append((str(root), row, missing, str(out_root)))
    from tqdm.auto import tqdm

    handles = {v: open(journals[v], "a", newline="", encoding="utf-8") for v in todo}
    try:
        writers = {
            v: csv.DictWriter(handles[v], MANIFEST_FIELDS, extrasaction="ignore", lineterminator="\n") for v in todo
        }
        with tqdm(
            total=len(tasks), desc=f"variants {card.name}", unit="item", disable=not progress, leave=False
        ) as bar:
            for rows in _run(tasks, workers):
                for row in rows:
                    writers[row["variant"]].writerow(row)
                    handles[row["variant"]].flush()
                    done_rows[row["variant"]][row["id"]] = row
                bar.update()
    finally:
        for handle in handles.values():
            handle.close()
    for variant in todo:
        atomic_write_text(manifests[variant], _manifest_text(list(done_rows[variant].values())))
        journals[variant].unlink()
    return manifests


def _run(tasks: list[tuple], workers: int) -> Iterator[list[dict]]:
    if workers <= 1 or len(tasks) < 2:
        for task in tasks:
            yield _make_item(task)
        return
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_single_thread_opencv) as pool:
        yield from pool.map(_make_item, tasks, chunksize=8)
