"""Verify a dataset: pair files by the dataset's rules, check every file, lock the contents.

:func:`verify_dataset` walks the data, pairs images with mattes (:func:`find_pairs`), decodes and
hashes every file on a process pool, and writes under ``<data_dir>/<name>/verify/``:

* ``defects.csv``: ``severity, kind, id, path, detail``; severity ``error`` (the item is excluded
  from the split, or the set is incomplete) or ``ignored`` (a file that is not data, e.g. macOS
  ``._*`` forks or the duplicate ``matting_human_half/`` tree; listed, never silently dropped);
* ``lock.csv``: ``path, size, sha256, width, height`` of every file walked (written on the first
  verification; a later one compares against it and raises :class:`DriftError` naming every
  changed, missing or added file);
* ``pairs.csv``: the usable pairs, ``id, group, folder, image, matte, image_sha256,
  matte_sha256, width, height``, read by the split and variant steps.

Workers are started with "forkserver" (forked children hang on OpenCV's thread-pool lock). Results
are streamed into the CSV rows; no image is kept after it has been checked.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vbbench.io import atomic_write_text
from vbbench.sources import DatasetCard, DatasetError

__all__ = [
    "Pair",
    "Defect",
    "Listing",
    "VerifyReport",
    "VerifyError",
    "DriftError",
    "find_pairs",
    "inspect_file",
    "verify_dataset",
    "read_pairs",
    "lock_is_current",
    "verify_dir",
]

_DEFECT_FIELDS = ["severity", "kind", "id", "path", "detail"]
_LOCK_FIELDS = ["path", "size", "sha256", "width", "height"]
_PAIR_FIELDS = ["id", "group", "folder", "image", "matte", "image_sha256", "matte_sha256", "width", "height"]
_LISTED = 20  # files an error message lists before summarising


class VerifyError(DatasetError):
    """Verification failed (``--strict`` with defects, or nothing usable)."""


class DriftError(VerifyError):
    """The files differ from the lock manifest written by an earlier verification."""


@dataclass(frozen=True)
class Pair:
    """One image and its matte, as paths relative to the data root."""

    id: str
    group: str
    folder: str  # the authors' split folder for Shen ("training"/"testing"), else ""
    image: str
    matte: str


@dataclass(frozen=True)
class Defect:
    severity: str  # "error" or "ignored"
    kind: str
    id: str
    path: str
    detail: str


@dataclass
class Listing:
    """What :func:`find_pairs` found: pairs, other files to hash, and defects of the layout."""

    pairs: list[Pair] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)


@dataclass
class VerifyReport:
    name: str
    root: Path
    out_dir: Path
    pairs: int
    usable: int
    errors: int
    ignored: int
    locked: bool  # True if this run wrote the lock, False if it checked an existing one
    defects_path: Path
    lock_path: Path
    pairs_path: Path


def verify_dir(data_dir: str | os.PathLike, name: str) -> Path:
    """``<data_dir>/<name>/verify``."""
    return Path(data_dir) / name / "verify"


# ---- pairing -------------------------------------------------------------------------------


def _walk(root: Path, top: str) -> Iterator[str]:
    """Relative POSIX paths of the files under ``root/top``, sorted."""
    base = root / top
    for directory, folders, files in os.walk(base):
        folders.sort()
        for name in sorted(files):
            yield (Path(directory) / name).relative_to(root).as_posix()


def _is_fork(path: str) -> bool:
    return Path(path).name.startswith("._") or Path(path).name == ".DS_Store"


_SHEN_IMAGE = re.compile(r"^(\d+)\.png$")
_SHEN_MATTE = re.compile(r"^(\d+)_matte\.png$")


def _pairs_shen(root: Path, card: DatasetCard, listing: Listing) -> None:
    folders = (card.split.get("train_folder", "training"), card.split.get("test_folder", "testing"))
    for folder in folders:
        images, mattes = {}, {}
        for path in _walk(root, folder):
            name = Path(path).name
            if _is_fork(path):
                listing.defects.append(Defect("ignored", "macos_fork", "", path, "macOS metadata file, not data"))
                listing.other_files.append(path)
            elif match := _SHEN_MATTE.match(name):
                mattes[f"{folder}/{match[1]}"] = path
            elif match := _SHEN_IMAGE.match(name):
                images[f"{folder}/{match[1]}"] = path
            else:
                listing.defects.append(
                    Defect("ignored", "unexpected_file", "", path, "not NNNNN.png or NNNNN_matte.png")
                )
                listing.other_files.append(path)
        _join(images, mattes, lambda key: key, lambda key: folder, listing)


_AIS_IMAGE = re.compile(r"^clip_img/([^/]+)/clip_(\d+)/([^/]+)\.jpg$", re.IGNORECASE)
_AIS_MATTE = re.compile(r"^matting/([^/]+)/matting_(\d+)/([^/]+)\.png$", re.IGNORECASE)


def _pairs_aisegment(root: Path, card: DatasetCard, listing: Listing) -> None:
    images, mattes = {}, {}
    for top, pattern, found in (("clip_img", _AIS_IMAGE, images), ("matting", _AIS_MATTE, mattes)):
        for path in _walk(root, top):
            if _is_fork(path):
                listing.defects.append(Defect("ignored", "macos_fork", "", path, "macOS metadata file, not data"))
                listing.other_files.append(path)
            elif match := pattern.match(path):
                found[f"{match[1]}/clip_{match[2]}/{match[3]}"] = path
            else:
                listing.defects.append(
                    Defect("ignored", "unexpected_file", "", path, f"does not follow the {top}/ naming rule")
                )
                listing.other_files.append(path)
    _join(images, mattes, lambda key: key.rsplit("/", 1)[0], lambda key: "", listing)
    # Kaggle's copy holds the tree twice, beside the layout's folders or beside its wrapping folder
    for half, shown in (
        (root / "matting_human_half", "matting_human_half"),
        (root.parent / "matting_human_half", "../matting_human_half"),
    ):
        if half.is_dir():
            listing.defects.append(
                Defect(
                    "ignored",
                    "duplicate_tree",
                    "",
                    shown,
                    "second copy of the data set (Kaggle's matting_human_half/); skipped, not verified",
                )
            )


_SAMPLE_ID = re.compile(r"^sample_(\d+)$")


def _pairs_sample(root: Path, card: DatasetCard, listing: Listing) -> None:
    images = {Path(p).stem: p for p in _walk(root, "images") if not _is_fork(p)}
    mattes = {Path(p).stem: p for p in _walk(root, "alpha") if not _is_fork(p)}

    def group(key: str) -> str:
        match = _SAMPLE_ID.match(key)
        return f"group_{int(match[1]) // 4:04d}" if match else key

    _join(images, mattes, group, lambda key: "", listing)


def _join(images: dict, mattes: dict, group, folder, listing: Listing) -> None:
    for key in sorted(images.keys() | mattes.keys()):
        if key in images and key in mattes:
            listing.pairs.append(Pair(key, group(key), folder(key), images[key], mattes[key]))
        elif key in images:
            listing.defects.append(
                Defect("error", "image_without_matte", key, images[key], "no matte pairs with this image; excluded")
            )
            listing.other_files.append(images[key])
        else:
            listing.defects.append(
                Defect("error", "matte_without_image", key, mattes[key], "no image pairs with this matte; excluded")
            )
            listing.other_files.append(mattes[key])


_PAIRERS = {"shen2016": _pairs_shen, "aisegment": _pairs_aisegment, "sample": _pairs_sample}


def find_pairs(card: DatasetCard, root: str | os.PathLike) -> Listing:
    """Pair images and mattes under ``root`` by the card's layout rules.

    Parameters
    ----------
    card : DatasetCard
    root : path
        The folder holding the layout's top folders (see :func:`vbbench.sources.find_layout_root`).

    Returns
    -------
    Listing
        Pairs sorted by id; unpaired and ignored files in ``other_files`` and ``defects``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from vbbench.sources import get_dataset
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["training/00001.png", "training/00001_matte.png", "testing/00001.png"]:
    ...     (root / name).parent.mkdir(parents=True, exist_ok=True); _ = (root / name).write_bytes(b"")
    >>> listing = find_pairs(get_dataset("shen2016"), root)
    >>> [pair.id for pair in listing.pairs], [d.kind for d in listing.defects]
    (['training/00001'], ['image_without_matte'])
    """
    listing = Listing()
    _PAIRERS[card.layout](Path(root), card, listing)
    listing.pairs.sort(key=lambda pair: pair.id)
    return listing


# ---- per-file checks (run in workers) --------------------------------------------------------


def _single_thread_opencv() -> None:
    cv2.setNumThreads(1)


def inspect_file(root: str, path: str, role: str) -> dict:
    """Size, SHA-256 and, for images and mattes, decoded shape and matte value range.

    ``role`` is ``"image"``, ``"matte"``, ``"rgba_matte"`` (AISegment: the alpha channel is the
    matte, an RGBA file is required) or ``"other"`` (hashed only). Returns a dict with ``path,
    size, sha256, width, height, problem`` (``problem`` is ``""`` when the file is fine) and for
    mattes ``min``/``max``.
    """
    data = (Path(root) / path).read_bytes()
    record = {
        "path": path,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "width": "",
        "height": "",
        "problem": "",
        "min": "",
        "max": "",
    }
    if role == "other":
        return record
    if not data:
        record["problem"] = "empty file"
        return record
    if path.lower().endswith(".png") and not data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"):
        record["problem"] = "truncated PNG (no IEND chunk)"
        return record
    if path.lower().endswith((".jpg", ".jpeg")) and not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        record["problem"] = "truncated JPEG (no end-of-image marker)"
        return record
    buffer = np.frombuffer(data, np.uint8)
    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        record["problem"] = "not a decodable image"
        return record
    record["height"], record["width"] = decoded.shape[:2]
    channels = 1 if decoded.ndim == 2 else decoded.shape[2]
    if role == "image":
        if channels not in (1, 3, 4):
            record["problem"] = f"image with {channels} channels"
        return record
    if role == "rgba_matte":
        if channels != 4:
            record["problem"] = f"matte has no alpha channel ({channels} channels; an RGBA cut-out is expected)"
            return record
        matte = decoded[:, :, 3]
    elif channels == 1:
        matte = decoded
    elif channels == 4:
        matte = decoded[:, :, 3]
    elif (
        channels == 3
        and np.array_equal(decoded[:, :, 0], decoded[:, :, 1])
        and np.array_equal(decoded[:, :, 1], decoded[:, :, 2])
    ):
        matte = decoded[:, :, 0]  # grayscale saved as three equal channels
    else:
        record["problem"] = f"matte is a colour image ({channels} channels with different values)"
        return record
    low, high = int(matte.min()), int(matte.max())
    record["min"], record["max"] = low, high
    if low == high:
        record["problem"] = f"constant matte (every pixel {low})"
    return record


def _inspect_task(task: tuple[str, str, str]) -> dict:
    try:
        return inspect_file(*task)
    except OSError as error:
        return {
            "path": task[1],
            "size": "",
            "sha256": "",
            "width": "",
            "height": "",
            "min": "",
            "max": "",
            "problem": f"cannot be read ({error.strerror or error})",
        }


def _inspect_all(
    root: Path, tasks: list[tuple[str, str, str]], workers: int, progress: bool, label: str
) -> Iterator[dict]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc=label, unit="file", disable=not progress, leave=False)
    try:
        if workers <= 1:
            for task in tasks:
                yield _inspect_task(task)
                bar.update()
            return
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_single_thread_opencv) as pool:
            for record in pool.map(_inspect_task, tasks, chunksize=32):
                yield record
                bar.update()
    finally:
        bar.close()


# ---- lock ----------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def _csv_text(rows: Iterable[dict], fields: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _listing_text(items: list[str], what: str) -> str:
    shown = ", ".join(items[:_LISTED])
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return f"{len(items)} {what}: {shown}{more}"


def _compare_with_lock(lock_rows: list[dict], records: dict[str, dict], lock_path: Path, root: Path) -> None:
    locked = {row["path"]: row for row in lock_rows}
    missing = sorted(locked.keys() - records.keys())
    added = sorted(records.keys() - locked.keys())
    changed = sorted(
        path
        for path in locked.keys() & records.keys()
        if (str(records[path]["size"]), records[path]["sha256"]) != (locked[path]["size"], locked[path]["sha256"])
    )
    if missing or added or changed:
        parts = [
            _listing_text(items, what)
            for items, what in ((changed, "changed"), (missing, "missing"), (added, "added"))
            if items
        ]
        raise DriftError(
            f"{root}: the files differ from the lock manifest {lock_path}: "
            + "; ".join(parts)
            + f". Restore the original files, or if the change is intended delete {lock_path} and verify again"
        )


def _all_files(listing: Listing) -> list[str]:
    return sorted({path for pair in listing.pairs for path in (pair.image, pair.matte)} | set(listing.other_files))


def lock_is_current(card: DatasetCard, root: str | os.PathLike, data_dir: str | os.PathLike) -> bool:
    """Cheap check used to skip re-verification: the verify outputs exist and the files under
    ``root`` have the same paths and sizes as the lock (contents are re-hashed by ``vbbench
    verify``, not here)."""
    out_dir = verify_dir(data_dir, card.name)
    lock_path, pairs_path, defects_path = out_dir / "lock.csv", out_dir / "pairs.csv", out_dir / "defects.csv"
    if not (lock_path.is_file() and pairs_path.is_file() and defects_path.is_file()):
        return False
    root = Path(root)
    listing = find_pairs(card, root)
    locked = {row["path"]: int(row["size"]) for row in _read_csv(lock_path)}
    current = {}
    for path in _all_files(listing):
        try:
            current[path] = (root / path).stat().st_size
        except OSError:
            return False
    return current == locked


def read_pairs(data_dir: str | os.PathLike, name: str) -> list[dict]:
    """Rows of ``verify/pairs.csv`` (the usable pairs) as dicts of strings.

    Raises
    ------
    FileNotFoundError
        If the dataset has not been verified, with the command to run.
    """
    path = verify_dir(data_dir, name) / "pairs.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `vbbench prepare {name} --data-dir {data_dir}` first")
    return _read_csv(path)


# ---- the whole verification ------------------------------------------------------------------


def verify_dataset(
    card: DatasetCard,
    root: str | os.PathLike,
    data_dir: str | os.PathLike,
    *,
    strict: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> VerifyReport:
    """Pair, decode, hash and check every file; write defects, lock and pairs (see module doc).

    Checks per pair: both files decode (PNG/JPEG not truncated), the matte is grayscale or has an
    alpha channel (AISegment: RGBA required) and is not constant, image and matte have the same
    size, and the size equals the card's ``expected_width_px`` × ``expected_height_px``. Images
    with the same SHA-256 as an earlier id (sorted order) are duplicates. The number of usable
    pairs is compared with ``expected_pairs``. Items with an ``error`` defect are excluded from
    ``pairs.csv``.

    Parameters
    ----------
    card : DatasetCard
    root : path
        Folder holding the layout (e.g. ``training/`` and ``testing/``).
    data_dir : path
        Outputs go to ``data_dir/<card.name>/verify/``.
    strict : bool
        Raise :class:`VerifyError` if any ``error`` defect was found (outputs are still written).
    workers : int
        Decoding processes (forkserver); 1 runs in this process.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    VerifyReport

    Raises
    ------
    DriftError
        If a lock manifest exists and the files differ from it (the lock is left unchanged).
    VerifyError
        With ``strict`` and defects, or when no pair is usable.
    """
    root = Path(root)
    out_dir = verify_dir(data_dir, card.name)
    lock_path, defects_path, pairs_path = out_dir / "lock.csv", out_dir / "defects.csv", out_dir / "pairs.csv"
    listing = find_pairs(card, root)
    matte_role = "rgba_matte" if card.layout == "aisegment" else "matte"
    roles = {path: "other" for path in listing.other_files}
    for pair in listing.pairs:
        roles[pair.image], roles[pair.matte] = "image", matte_role
    tasks = [(str(root), path, roles[path]) for path in sorted(roles)]
    records: dict[str, dict] = {}
    for record in _inspect_all(root, tasks, workers, progress, f"verify {card.name}"):
        records[record["path"]] = {
            key: record[key] for key in ("size", "sha256", "width", "height", "problem", "min", "max")
        }

    if lock_path.is_file():
        _compare_with_lock(_read_csv(lock_path), records, lock_path, root)
        locked = False
    else:
        locked = True

    defects = list(listing.defects)
    usable: list[dict] = []
    seen_images: dict[str, str] = {}
    expected = (card.expected_width_px, card.expected_height_px)
    for pair in listing.pairs:
        image, matte = records[pair.image], records[pair.matte]
        problems = [
            (path, record["problem"])
            for path, record in ((pair.image, image), (pair.matte, matte))
            if record["problem"]
        ]
        for path, problem in problems:
            defects.append(
                Defect(
                    "error",
                    "corrupt"
                    if "decod" in problem or "truncated" in problem or "empty" in problem or "read" in problem
                    else "bad_matte"
                    if path == pair.matte
                    else "bad_image",
                    pair.id,
                    path,
                    problem + "; excluded",
                )
            )
        if problems:
            continue
        size_image, size_matte = (image["width"], image["height"]), (matte["width"], matte["height"])
        if size_image != size_matte:
            defects.append(
                Defect(
                    "error",
                    "size_mismatch",
                    pair.id,
                    pair.matte,
                    f"matte is {size_matte[0]}×{size_matte[1]} px, image {size_image[0]}×{size_image[1]} px; excluded",
                )
            )
            continue
        if None not in expected and size_image != expected:
            defects.append(
                Defect(
                    "error",
                    "resolution",
                    pair.id,
                    pair.image,
                    f"{size_image[0]}×{size_image[1]} px, the card expects {expected[0]}×{expected[1]} px; excluded",
                )
            )
            continue
        if image["sha256"] in seen_images:
            defects.append(
                Defect(
                    "error",
                    "duplicate",
                    pair.id,
                    pair.image,
                    f"same bytes as the image of {seen_images[image['sha256']]}; excluded",
                )
            )
            continue
        seen_images[image["sha256"]] = pair.id
        usable.append(
            {
                "id": pair.id,
                "group": pair.group,
                "folder": pair.folder,
                "image": pair.image,
                "matte": pair.matte,
                "image_sha256": image["sha256"],
                "matte_sha256": matte["sha256"],
                "width": image["width"],
                "height": image["height"],
            }
        )
    if card.expected_pairs is not None and len(usable) != card.expected_pairs:
        defects.append(
            Defect("error", "count", "", "", f"{len(usable)} usable pairs, the card expects {card.expected_pairs}")
        )

    atomic_write_text(defects_path, _csv_text((d.__dict__ for d in defects), _DEFECT_FIELDS))
    atomic_write_text(pairs_path, _csv_text(usable, _PAIR_FIELDS))
    if locked:
        atomic_write_text(
            lock_path, _csv_text(({"path": path, **record} for path, record in sorted(records.items())), _LOCK_FIELDS)
        )
    errors = sum(d.severity == "error" for d in defects)
    report = VerifyReport(
        card.name,
        root,
        out_dir,
        len(listing.pairs),
        len(usable),
        errors,
        sum(d.severity == "ignored" for d in defects),
        locked,
        defects_path,
        lock_path,
        pairs_path,
    )
    if not usable:
        raise VerifyError(f"{root}: no usable {card.name} pairs found (see {defects_path})")
    if strict and errors:
        kinds = defaultdict(int)
        for defect in defects:
            if defect.severity == "error":
                kinds[defect.kind] += 1
        summary = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        raise VerifyError(f"{card.name}: {errors} defects with --strict ({summary}); see {defects_path}")
    return report
