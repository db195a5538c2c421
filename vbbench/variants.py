"""Evaluation variants of the test split: what a video call really sees.

Every variant is one :class:`VariantSpec` in :data:`VARIANTS`: its name, what it shows, its exact
geometry and the function that applies it. Each transforms image and matte with the same
geometry and writes them with a manifest (``id, source_id, split, group, transform, params,
width, height`` and the SHA-256 of each written file, which ``vbbench verify`` checks; ``params``
is JSON) into the prepared dataset's variant folder
(:meth:`vbbench.prepared.PreparedDataset.variant`), so any prediction maps back to its source.
Every variant also carries a trimap, derived from *its own* ground truth by the one rule
(:func:`vbbench.trimaps.make_trimap`: the unknown band is every pixel with 0 < α < 1, and the
opaque region's boundary, dilated by 10 px). Deriving it after the transform, rather than moving
the source's trimap, keeps the rule true of the image that is scored: a rotation or a resize makes
new soft pixels (the rotated frame's edge, the area-averaged hair), and they belong to the band.

Adding a variant is one entry in :data:`VARIANTS` (see ``docs/architecture.md``).

Besides the geometric variants, the table holds the webcam degradations (:mod:`vbbench.degradations`:
low light, sensor noise, motion blur, JPEG, H.264, backlight; one entry each) and the ``clips``
family (:mod:`vbbench.clips`), whose entry makes a folder of call-like frames per item instead of
one image; clips are made on request (``vbbench prepare NAME --variants clips``).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vbbench.errors import VariantError
from vbbench.framing import CALL_HEADROOM, CALL_SIZE_PX, SUBJECT_LEVEL, call16x9_crop
from vbbench.io import atomic_write_bytes, atomic_write_text, csv_text, encode_png, read_csv, read_image, read_matte
from vbbench.parallel import process_map
from vbbench.prepared import Pair, PreparedDataset, VariantFiles
from vbbench.registry import Registry
from vbbench.trimaps import make_trimap

__all__ = [
    "prepared_files",
    "VariantSpec",
    "VARIANTS",
    "CALL_SIZE_PX",
    "CALL_HEADROOM",
    "SUBJECT_LEVEL",
    "ROT30_DEGREES",
    "MANIFEST_FIELDS",
    "transform",
    "rot30_angle",
    "rot30_matrix",
    "call16x9_crop",
    "make_variants",
    "variant_is_complete",
    "default_variants",
    "EXTRA_MODULES",
]

ROT30_DEGREES = 30.0
#: The manifest is also the variant's lock: ``vbbench verify`` re-hashes each file against its SHA-256.
MANIFEST_FIELDS = [
    "id", "source_id", "split", "group", "transform", "params", "width", "height",
    "image_sha256", "alpha_sha256", "trimap_sha256",
]  # fmt: skip
_PNG_COMPRESSION = 1  # fast; the files are re-creatable

Transform = Callable[[np.ndarray, np.ndarray, str], tuple[np.ndarray, np.ndarray, dict]]


@dataclass(frozen=True)
class VariantSpec:
    """One evaluation variant.

    Attributes
    ----------
    name : str
        Identifier (``--variant``, folder name, results path).
    title : str
        What a call sees, in a few words.
    geometry : str
        The exact rule, as the docs print it.
    apply : callable
        ``(image, alpha, item_id) → (image, alpha, params)``.
    landscape : bool
        Frames are 16:9, so models see them at their 16:9 input (256×144 for the reference).
    clips : bool
        A family of clips (:mod:`vbbench.clips`): each item becomes a folder of frames
        (``images/<clip>/<frame>.png``), made by :func:`vbbench.clips.make_clip_variant`, not ``apply``.
    on_request : bool
        Made only when asked for (``vbbench prepare NAME --variants V``), not by default.
    extra : str or None
        The pip extra ``apply`` needs (:data:`EXTRA_MODULES`); without it, ``prepare`` leaves the
        variant out of its default set with a warning.
    """

    name: str
    title: str
    geometry: str
    apply: Transform
    landscape: bool = False
    clips: bool = False
    on_request: bool = False
    extra: str | None = None


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


def _original(image, alpha, item_id):
    return image, alpha, {}


def _rot90(k: int) -> Transform:
    def apply(image, alpha, item_id):
        return np.ascontiguousarray(np.rot90(image, k)), np.ascontiguousarray(np.rot90(alpha, k)), {"k": k}

    return apply


def _rot30(image, alpha, item_id):
    height, width = alpha.shape
    angle = rot30_angle(item_id)
    matrix = rot30_matrix(width, height, angle)
    size = (width, height)
    image_out = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha_out = cv2.warpAffine(
        alpha, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    params = {
        "angle_deg": angle,
        "centre_px": [(width - 1) / 2.0, (height - 1) / 2.0],
        "interpolation": "bilinear",
        "image_border": "replicate",
        "alpha_border": 0,
    }
    return image_out, alpha_out, params


def _call16x9(image, alpha, item_id):
    x0, y0, x1, y1 = call16x9_crop(alpha)
    size = CALL_SIZE_PX
    image_out = cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    alpha_out = cv2.resize(alpha[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    params = {"crop_px": [x0, y0, x1, y1], "size_px": list(size), "interpolation": "area", "headroom": CALL_HEADROOM}
    return image_out, alpha_out, params


def _degradation_variants() -> list[VariantSpec]:
    from vbbench.degradations import DEGRADATIONS, variant_transform

    return [
        VariantSpec(
            spec.name,
            spec.title,
            spec.description + ("; matte untouched" if spec.photometric else ""),
            variant_transform(spec.name),
            extra=spec.extra,
        )
        for spec in DEGRADATIONS.values()
    ]


def _clip_family(image, alpha, item_id):
    raise VariantError("clips is a family of clips, made by vbbench.clips.make_clip_variant, not one image per item")


#: Module each extra provides, to tell whether a variant's extra is installed.
EXTRA_MODULES = {"video": "av", "clips": "pymatting"}

VARIANTS: Registry[VariantSpec] = Registry(
    "variant",
    [
        VariantSpec("original", "the portrait as it is", "unchanged (image re-encoded as PNG)", _original),
        VariantSpec(
            "rot90cw",
            "the phone turned clockwise",
            "`np.rot90(·, -1)`, lossless",
            _rot90(-1),
        ),
        VariantSpec(
            "rot90ccw",
            "the phone turned counter-clockwise",
            "`np.rot90(·, 1)`, lossless",
            _rot90(1),
        ),
        VariantSpec(
            "rot30",
            "±30°, the seed model's training augmentation",
            "about the centre ((W−1)/2, (H−1)/2), same frame size, bilinear for image and matte; +30° "
            "(counter-clockwise) when the first byte of sha256(id) is even, else −30°; out-of-frame matte 0, "
            "out-of-frame image the replicated edge",
            _rot30,
        ),
        VariantSpec(
            "call16x9",
            "a landscape call frame",
            "full-width crop of height round(W·9/16); top = first row where the matte reaches 10 % minus "
            "round(0.10 · crop height) of headroom, clamped (centred when the matte is empty); resized to "
            "640×360 px with INTER_AREA",
            _call16x9,
            landscape=True,
        ),
        *_degradation_variants(),
        VariantSpec(
            "clips",
            "a call is a video",
            "one clip per item, 30 frames at 30 fps in the call16x9 frame (640×360): camera shake, slow zoom or "
            "pan, the person swaying, leaning and turning against the background, lighting drift, sensor noise; "
            "the last third held still; exact matte per frame; made on request (--variants clips)",
            _clip_family,
            landscape=True,
            clips=True,
            on_request=True,
        ),
    ],
    error=VariantError,
)


def default_variants() -> tuple[str, ...]:
    """The variants ``prepare`` makes when none are named: every one not made on request whose extra
    is installed (a warning names each left out and the extra it needs).

    Examples
    --------
    >>> "original" in default_variants() and "clips" not in default_variants()
    True
    """
    names = []
    for spec in VARIANTS.values():
        if spec.on_request:
            continue
        if spec.extra is not None and importlib.util.find_spec(EXTRA_MODULES[spec.extra]) is None:
            warnings.warn(
                f"variant {spec.name} is not made: it needs the '{spec.extra}' extra (pip install 'vbbench[{spec.extra}]')",
                stacklevel=2,
            )
            continue
        names.append(spec.name)
    return tuple(names)


def transform(
    image: np.ndarray, alpha: np.ndarray, variant: str, item_id: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Apply ``variant`` to an image (H, W, 3) and its matte (H, W); derive the variant's trimap.

    Parameters
    ----------
    image, alpha : numpy.ndarray
        The source image and matte (uint8 or uint16).
    variant : str
        A name in :data:`VARIANTS`.
    item_id : str
        The item's id (some variants draw their parameters from it).

    Returns
    -------
    image, alpha : numpy.ndarray
        Transformed arrays (dtypes kept).
    trimap : numpy.ndarray
        :func:`vbbench.trimaps.make_trimap` of the transformed matte.
    params : dict
        The transform's parameters, as recorded in the manifest.

    Examples
    --------
    >>> image = np.zeros((4, 2, 3), np.uint8); alpha = np.arange(8, dtype=np.uint8).reshape(4, 2)
    >>> _, rotated, _, params = transform(image, alpha, "rot90cw", "x")
    >>> rotated.tolist(), params
    ([[6, 4, 2, 0], [7, 5, 3, 1]], {'k': -1})
    """
    spec = VARIANTS[variant]
    if spec.extra is not None and importlib.util.find_spec(EXTRA_MODULES[spec.extra]) is None:
        raise VariantError(f"variant {variant} needs the '{spec.extra}' extra: pip install 'vbbench[{spec.extra}]'")
    image_out, alpha_out, params = VARIANTS[variant].apply(image, alpha, item_id)
    return image_out, alpha_out, make_trimap(alpha_out), params


def prepared_files(prepared: PreparedDataset, variant: str) -> VariantFiles:
    """The files of a variant that ``vbbench prepare`` has made.

    Raises
    ------
    VariantError
        For an unknown variant (did-you-mean) or one not prepared (with the command to run).
    """
    spec = VARIANTS[variant]
    files = prepared.variant(variant)
    if not files.manifest.is_file():
        named = f" --variants {variant}" if spec.on_request or spec.extra else ""
        raise VariantError(
            f"variant '{variant}' of '{prepared.name}' is not prepared in {prepared.data_dir} ({files.manifest} is "
            f"missing): run `vbbench prepare {prepared.name} --data-dir {prepared.data_dir}{named}`"
        )
    return files


# ---- writing -------------------------------------------------------------------------------


def _make_item(task: tuple[str, Pair, tuple[str, ...], dict[str, tuple[str, ...]]]) -> list[dict]:
    """Read one test item and write it in every requested variant; returns manifest rows."""
    root, pair, variants, targets = task
    image = read_image(Path(root) / pair.image)
    alpha = read_matte(Path(root) / pair.matte)
    rows = []
    for variant in variants:
        image_out, alpha_out, trimap_out, params = transform(image, alpha, variant, pair.id)
        digests = {}
        for kind, path, array in zip(
            ("image", "alpha", "trimap"), targets[variant], (image_out, alpha_out, trimap_out)
        ):
            data = encode_png(array, _PNG_COMPRESSION)
            atomic_write_bytes(path, data)
            digests[f"{kind}_sha256"] = hashlib.sha256(data).hexdigest()
        rows.append(
            {
                "variant": variant,
                "id": pair.id,
                "source_id": pair.id,
                "split": "test",
                "group": pair.group,
                "transform": variant,
                "params": json.dumps(params, sort_keys=True),
                "width": alpha_out.shape[1],
                "height": alpha_out.shape[0],
                **digests,
            }
        )
    return rows


def variant_is_complete(prepared: PreparedDataset, variant: str, test_ids: list[str]) -> bool:
    """The variant's manifest lists exactly ``test_ids`` and each item's files exist (for clips:
    one complete clip per test id, :func:`vbbench.clips.clips_complete`)."""
    if VARIANTS[variant].clips:
        from vbbench.clips import clips_complete

        return clips_complete(prepared, variant, test_ids)
    files = prepared.variant(variant)
    if not files.manifest.is_file():
        return False
    rows = read_csv(files.manifest)
    if rows and "alpha_sha256" not in rows[0]:  # made before manifests recorded their files' digests
        return False
    if sorted(row["id"] for row in rows) != sorted(test_ids):
        return False
    return all(path.is_file() for item in test_ids for path in files.files_of(item))


def make_variants(
    prepared: PreparedDataset,
    root: str | Path,
    test_pairs: list[Pair],
    variants: tuple[str, ...] | None = None,
    *,
    workers: int = 1,
    progress: bool = True,
    clip_spec=None,
) -> dict[str, Path]:
    """Write the requested variants (default :func:`default_variants`) of ``test_pairs``.

    Variants already complete (:func:`variant_is_complete`) are skipped. Each item is read once
    and written in every missing variant, on the process pool. Progress is journalled in each
    variant's ``manifest.partial.csv`` so an interrupted run only redoes the items it had not
    finished; ``manifest.csv`` is written last.

    Clip families (``clips``) are made by :func:`vbbench.clips.make_clip_variant` with
    ``clip_spec`` (a :class:`vbbench.clips.ClipSpec`; default the spec of the clips already made,
    else ``ClipSpec()``).

    Returns
    -------
    dict of str to Path
        Variant → manifest path.
    """
    variants = tuple(VARIANTS.check(variants if variants is not None else default_variants()))
    manifests = {v: prepared.variant(v).manifest for v in variants}
    for variant in variants:
        if VARIANTS[variant].clips:
            from vbbench.clips import make_clip_variant

            make_clip_variant(
                prepared, root, test_pairs, variant, clip_spec, workers=workers, progress=progress
            )  # fmt: skip
        elif (extra := VARIANTS[variant].extra) is not None:
            if importlib.util.find_spec(EXTRA_MODULES[extra]) is None:
                raise VariantError(f"variant {variant} needs the '{extra}' extra: pip install 'vbbench[{extra}]'")
    variants = tuple(v for v in variants if not VARIANTS[v].clips)
    test_ids = [pair.id for pair in test_pairs]
    todo = tuple(v for v in variants if not variant_is_complete(prepared, v, test_ids))
    if not todo:
        return manifests
    files = {v: prepared.variant(v) for v in todo}
    done_rows: dict[str, dict[str, dict]] = {v: {} for v in todo}
    for variant, folder in files.items():
        if folder.journal.is_file():
            for row in read_csv(folder.journal):
                if all(path.is_file() for path in folder.files_of(row["id"])):
                    done_rows[variant][row["id"]] = row
        else:
            folder.journal.parent.mkdir(parents=True, exist_ok=True)
            folder.journal.write_text(",".join(MANIFEST_FIELDS) + "\n", encoding="utf-8")
    tasks = []
    for pair in test_pairs:
        missing = tuple(v for v in todo if pair.id not in done_rows[v])
        if missing:
            targets = {
                v: tuple(str(path) for path in files[v].files_of(pair.id)) for v in missing
            }  # image, alpha, trimap
            tasks.append((str(root), pair, missing, targets))
    from tqdm.auto import tqdm

    handles = {v: open(files[v].journal, "a", newline="", encoding="utf-8") for v in todo}
    try:
        writers = {
            v: csv.DictWriter(handles[v], MANIFEST_FIELDS, extrasaction="ignore", lineterminator="\n") for v in todo
        }
        with tqdm(
            total=len(tasks), desc=f"variants {prepared.name}", unit="item", disable=not progress, leave=False
        ) as bar:
            for rows in process_map(_make_item, tasks, workers, chunksize=8):
                for row in rows:
                    writers[row["variant"]].writerow(row)
                    handles[row["variant"]].flush()
                    done_rows[row["variant"]][row["id"]] = row
                bar.update()
    finally:
        for handle in handles.values():
            handle.close()
    for variant in todo:
        rows = sorted(done_rows[variant].values(), key=lambda row: row["id"])
        atomic_write_text(manifests[variant], csv_text(rows, MANIFEST_FIELDS))
        files[variant].journal.unlink()
    return manifests
