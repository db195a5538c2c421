"""Verify a dataset: pair its files by the card's layout, check every file, lock the contents.

:func:`verify_dataset` pairs images with mattes (:func:`vbbench.layout.find_pairs`), decodes and
hashes every file on the process pool (:mod:`vbbench.parallel`), and writes the prepared
dataset's (:class:`vbbench.prepared.PreparedDataset`):

* ``defects.csv``: ``severity, kind, id, path, detail``; severity ``error`` (the item is excluded
  from the split, or the set is incomplete) or ``ignored`` (a file that is not data, e.g. macOS
  ``._*`` forks or the duplicate ``matting_human_half/`` tree; listed, never silently dropped);
* ``lock.csv``: ``path, size, sha256, width, height`` of every file walked (written on the first
  verification; a later one compares against it and raises :class:`DriftError` naming every
  changed, missing or added file);
* ``pairs.csv``: the usable pairs (:class:`vbbench.prepared.Pair` rows), read by the split and
  variant steps.

Results are streamed into the CSV rows; no image is kept after it has been checked.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from vbbench.errors import DriftError, VerifyError
from vbbench.io import atomic_write_text, csv_text, integrity_problem, read_csv
from vbbench.layout import Defect, Listing, find_pairs
from vbbench.parallel import process_map
from vbbench.prepared import Pair, PreparedDataset

__all__ = ["VerifyReport", "inspect_file", "verify_dataset", "lock_is_current", "DEFECT_FIELDS"]

DEFECT_FIELDS = ["severity", "kind", "id", "path", "detail"]
_LOCK_FIELDS = ["path", "size", "sha256", "width", "height"]
_LISTED = 20  # files an error message lists before summarising


@dataclass
class VerifyReport:
    name: str
    root: Path
    pairs: int
    usable: int
    errors: int
    ignored: int
    locked: bool  # True if this run wrote the lock, False if it checked an existing one
    defects_path: Path
    lock_path: Path
    pairs_path: Path


# ---- per-file checks (run in workers) --------------------------------------------------------


def inspect_file(root: str, path: str, role: str) -> dict:
    """Size, SHA-256 and, for images and mattes, decoded shape and matte value range.

    ``role`` is ``"image"``, ``"matte"``, ``"rgba_matte"`` (AISegment: the alpha channel is the
    matte, an RGBA file is required) or ``"other"`` (hashed only, streamed). Returns a dict with
    ``path, size, sha256, width, height, problem`` (``problem`` is ``""`` when the file is fine)
    and for mattes ``min``/``max``.
    """
    record: dict[str, str | int] = {
        "path": path, "size": "", "sha256": "", "width": "", "height": "", "problem": "", "min": "", "max": ""
    }  # fmt: skip
    if role == "other":
        from vbbench.io import file_sha256

        full = Path(root) / path
        record.update(size=full.stat().st_size, sha256=file_sha256(full))
        return record
    data = (Path(root) / path).read_bytes()
    record.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    problem = integrity_problem(path, data)
    if problem is not None:
        record["problem"] = problem
        return record
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
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


def _inspect_all(tasks: list[tuple[str, str, str]], workers: int, progress: bool, label: str) -> Iterator[dict]:
    from tqdm.auto import tqdm

    with tqdm(total=len(tasks), desc=label, unit="file", disable=not progress, leave=False) as bar:
        for record in process_map(_inspect_task, tasks, workers, chunksize=32):
            yield record
            bar.update()


# ---- lock ----------------------------------------------------------------------------------


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


def lock_is_current(prepared: PreparedDataset, root: Path) -> bool:
    """Cheap check used to skip re-verification: the verify outputs exist and the files under
    ``root`` have the same paths and sizes as the lock (contents are re-hashed by ``vbbench
    verify``, not here)."""
    if not (prepared.lock_csv.is_file() and prepared.pairs_csv.is_file() and prepared.defects_csv.is_file()):
        return False
    listing = find_pairs(prepared.card, root)
    locked = {row["path"]: int(row["size"]) for row in read_csv(prepared.lock_csv)}
    current = {}
    for path in listing.all_files():
        try:
            current[path] = (root / path).stat().st_size
        except OSError:
            return False
    return current == locked


# ---- the whole verification ------------------------------------------------------------------


def _defect_kind(problem: str, is_matte: bool) -> str:
    if any(word in problem for word in ("decod", "truncated", "empty", "read", "signature")):
        return "corrupt"
    return "bad_matte" if is_matte else "bad_image"


def verify_dataset(
    prepared: PreparedDataset, root: Path, *, strict: bool = False, workers: int = 1, progress: bool = True
) -> VerifyReport:
    """Pair, decode, hash and check every file; write defects, lock and pairs (see module doc).

    Checks per pair: both files decode (PNG/JPEG not truncated), the matte is grayscale or has an
    alpha channel (an RGBA file where the layout's ``matte_channel`` is ``alpha``) and is not
    constant, image and matte have the same size, and the size equals the card's
    ``expected_width_px`` × ``expected_height_px``. Images with the same SHA-256 as an earlier id
    (sorted order) are duplicates. The number of usable pairs is compared with
    ``expected_pairs``. Items with an ``error`` defect are excluded from ``pairs.csv``.

    Parameters
    ----------
    prepared : PreparedDataset
        Where the outputs go.
    root : path
        Folder holding the layout (e.g. ``training/`` and ``testing/``).
    strict : bool
        Raise :class:`VerifyError` if any ``error`` defect was found (outputs are still written).
    workers : int
        Decoding processes; 1 runs in this process.
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
    card = prepared.card
    root = Path(root)
    listing: Listing = find_pairs(card, root)
    matte_role = "rgba_matte" if card.layout.matte_channel == "alpha" else "matte"
    roles = {path: "other" for path in listing.other_files}
    for pair in listing.pairs:
        roles[pair.image], roles[pair.matte] = "image", matte_role
    tasks = [(str(root), path, roles[path]) for path in sorted(roles)]
    records: dict[str, dict] = {}
    for record in _inspect_all(tasks, workers, progress, f"verify {card.name}"):
        records[record["path"]] = {key: record[key] for key in ("size", "sha256", "width", "height", "problem")}

    locked = not prepared.lock_csv.is_file()
    if not locked:
        _compare_with_lock(read_csv(prepared.lock_csv), records, prepared.lock_csv, root)

    defects = list(listing.defects)
    usable: list[Pair] = []
    seen_images: dict[str, str] = {}
    expected = (card.expected_width_px, card.expected_height_px)
    for pair in listing.pairs:
        image, matte = records[pair.image], records[pair.matte]
        problems = [
            (path, rec["problem"]) for path, rec in ((pair.image, image), (pair.matte, matte)) if rec["problem"]
        ]
        for path, problem in problems:
            defects.append(
                Defect("error", _defect_kind(problem, path == pair.matte), pair.id, path, problem + "; excluded")
            )
        if problems:
            continue
        size_image, size_matte = (image["width"], image["height"]), (matte["width"], matte["height"])
        if size_image != size_matte:
            detail = f"matte is {size_matte[0]}×{size_matte[1]} px, image {size_image[0]}×{size_image[1]} px; excluded"
            defects.append(Defect("error", "size_mismatch", pair.id, pair.matte, detail))
            continue
        if None not in expected and size_image != expected:
            detail = f"{size_image[0]}×{size_image[1]} px, the card expects {expected[0]}×{expected[1]} px; excluded"
            defects.append(Defect("error", "resolution", pair.id, pair.image, detail))
            continue
        if image["sha256"] in seen_images:
            detail = f"same bytes as the image of {seen_images[image['sha256']]}; excluded"
            defects.append(Defect("error", "duplicate", pair.id, pair.image, detail))
            continue
        seen_images[image["sha256"]] = pair.id
        usable.append(
            Pair(
                pair.id,
                pair.group,
                pair.folder,
                pair.image,
                pair.matte,
                image["sha256"],
                matte["sha256"],
                int(image["width"]),
                int(image["height"]),
            )
        )
    if card.expected_pairs is not None and len(usable) != card.expected_pairs:
        detail = f"{len(usable)} usable pairs, the card expects {card.expected_pairs}"
        defects.append(Defect("error", "count", "", "", detail))

    atomic_write_text(prepared.defects_csv, csv_text((asdict(d) for d in defects), DEFECT_FIELDS))
    prepared.write_pairs(usable)
    if locked:
        rows = ({"path": path, **record} for path, record in sorted(records.items()))
        atomic_write_text(prepared.lock_csv, csv_text(rows, _LOCK_FIELDS))
    errors = sum(d.severity == "error" for d in defects)
    report = VerifyReport(
        card.name,
        root,
        len(listing.pairs),
        len(usable),
        errors,
        sum(d.severity == "ignored" for d in defects),
        locked,
        prepared.defects_csv,
        prepared.lock_csv,
        prepared.pairs_csv,
    )
    if not usable:
        raise VerifyError(f"{root}: no usable {card.name} pairs found (see {prepared.defects_csv})")
    if strict and errors:
        kinds: dict[str, int] = defaultdict(int)
        for defect in defects:
            if defect.severity == "error":
                kinds[defect.kind] += 1
        summary = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        raise VerifyError(f"{card.name}: {errors} defects with --strict ({summary}); see {prepared.defects_csv}")
    return report
