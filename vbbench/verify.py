"""Verify a dataset: pair its files by the card's layout, check every file, lock the contents.

:func:`verify_dataset` pairs images with mattes (:func:`vbbench.layout.find_pairs`), decodes and
hashes every file on the process pool (:mod:`vbbench.parallel`), and writes the prepared
dataset's (:class:`vbbench.prepared.PreparedDataset`):

* ``defects.csv``: ``severity, kind, id, path, detail, known``; severity ``error`` (the item is
  excluded from the split, or the set is incomplete) or ``ignored`` (a file that is not data,
  e.g. macOS ``._*`` forks or the duplicate ``matting_human_half/`` tree; listed, never silently
  dropped); ``known`` marks the defects the card lists for every copy of the set;
* ``lock.csv``: ``path, size, sha256, width, height`` of every file walked (written on the first
  verification; a later one compares against it and raises :class:`DriftError` naming every
  changed, missing or added file);
* ``pairs.csv``: the usable pairs (:class:`vbbench.prepared.Pair` rows), read by the split and
  variant steps;
* ``dhash.csv``: each image's near-duplicate hashes (:mod:`vbbench.neardup`), keyed by the image's
  SHA-256, computed from the pixels verify decodes anyway.

Files are streamed: hashed in 1 MiB chunks, and only files within the card's
``limits.max_file_bytes`` are read whole to be decoded (a 1 GiB entry is hashed and reported, not
loaded). No image is kept after it has been checked. :func:`verify_variants` re-hashes the
prepared variants' files against the SHA-256s their manifests record.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vbbench.cards import DatasetCard
from vbbench.errors import DriftError, VerifyError
from vbbench.io import atomic_write_text, csv_text, file_sha256, integrity_problem, read_csv
from vbbench.layout import Defect, Listing, find_pairs
from vbbench.neardup import (
    HASH_VERSION,
    colour_thumbnail,
    format_hashes,
    format_thumbnail,
    hash_image,
    parse_hashes,
    parse_thumbnail,
)
from vbbench.parallel import process_map
from vbbench.prepared import Pair, PreparedDataset

__all__ = [
    "VerifyReport",
    "Completeness",
    "inspect_file",
    "verify_dataset",
    "verify_variants",
    "lock_is_current",
    "completeness",
    "read_hashes",
    "write_hashes",
    "DEFECT_FIELDS",
]

DEFECT_FIELDS = ["severity", "kind", "id", "path", "detail", "known"]
_LOCK_FIELDS = ["path", "size", "sha256", "width", "height"]
_HASH_FIELDS = ["image_sha256", "hash_version", "hashes", "thumbnail"]
_LISTED = 20  # files an error message lists before summarising


@dataclass(frozen=True)
class Completeness:
    """How many usable pairs a set has against its card, overall and per authors' folder."""

    usable: int
    expected: int | None
    folders: dict[str, tuple[int, int]]  # folder -> (usable, expected)
    notes: tuple[str, ...] = ()  # the card's words about a known incomplete copy

    @property
    def missing(self) -> int:
        """Pairs short of the card's counts (0 for a complete or larger set)."""
        overall = max(0, (self.expected or 0) - self.usable)
        per_folder = sum(max(0, want - have) for have, want in self.folders.values())
        return max(overall, per_folder)

    @property
    def partial(self) -> bool:
        return self.missing > 0

    def describe(self) -> str:
        """E.g. ``40 usable pairs, the card expects 2,000 (training 34 of 1,700, testing 6 of 300)``."""
        folders = ", ".join(f"{name} {have:,} of {want:,}" for name, (have, want) in self.folders.items())
        expected = f"{self.expected:,}" if self.expected is not None else "no fixed number"
        return f"{self.usable:,} usable pairs, the card expects {expected}" + (f" ({folders})" if folders else "")

    def record(self) -> dict[str, Any] | None:
        """What ``split.json`` records about a partial set (``None`` when complete)."""
        if not self.partial:
            return None
        return {
            "usable": self.usable,
            "expected": self.expected,
            "missing": self.missing,
            "folders": {name: {"usable": have, "expected": want} for name, (have, want) in self.folders.items()},
        }


@dataclass
class VerifyReport:
    name: str
    root: Path
    pairs: int
    usable: int
    errors: int  # defects of severity error, known ones included
    unknown_errors: int  # errors the card does not list as known
    ignored: int
    locked: bool  # True if this run wrote the lock, False if it checked an existing one
    defects_path: Path
    lock_path: Path
    pairs_path: Path
    form: str = ""
    completeness: Completeness | None = None
    notes: list[str] = field(default_factory=list)


# ---- per-file checks (run in workers) --------------------------------------------------------


def _empty_record(path: str) -> dict[str, Any]:
    return {
        "path": path, "size": "", "sha256": "", "width": "", "height": "", "problem": "", "min": "", "max": "",
        "soft": "", "hashes": "", "thumbnail": "",
    }  # fmt: skip


def inspect_file(root: str, path: str, role: str, max_bytes: int | None = None) -> dict:
    """Size, SHA-256 and, for images and mattes, decoded shape and matte value range.

    ``role`` is ``"image"`` (also hashed for near-duplicates), ``"matte"``, ``"rgba_matte"``
    (AISegment: the alpha channel is the matte, an RGBA file is required) or ``"other"`` (hashed
    only). A file above ``max_bytes`` is hashed in chunks and reported, not decoded. Returns a
    dict with ``path, size, sha256, width, height, problem`` (``problem`` is ``""`` when the file
    is fine), for mattes ``min``/``max``/``soft`` (whether any value lies strictly between 0 and
    full scale) and for images ``hashes`` and ``thumbnail``, the near-duplicate signature
    (:func:`vbbench.neardup.format_hashes`, :func:`vbbench.neardup.format_thumbnail`).
    """
    record = _empty_record(path)
    full = Path(root) / path
    size = full.stat().st_size
    if role == "other" or (max_bytes is not None and size > max_bytes):
        record.update(size=size, sha256=file_sha256(full))
        if role != "other":
            record["problem"] = f"{size:,} bytes, more than the {max_bytes:,} the card allows for one file"
        return record
    data = full.read_bytes()
    record.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    problem = integrity_problem(path, data)
    if problem is not None:
        record["problem"] = problem
        return record
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    del data
    if decoded is None:
        record["problem"] = "not a decodable image"
        return record
    record["height"], record["width"] = decoded.shape[:2]
    channels = 1 if decoded.ndim == 2 else decoded.shape[2]
    if role == "image":
        if channels not in (1, 3, 4):
            record["problem"] = f"image with {channels} channels"
        else:
            record["hashes"] = format_hashes(hash_image(decoded))
            record["thumbnail"] = format_thumbnail(colour_thumbnail(decoded))
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
    full_scale = np.iinfo(matte.dtype).max
    record["min"], record["max"] = low, high
    record["soft"] = int(bool(((matte > 0) & (matte < full_scale)).any()))
    if low == high:
        record["problem"] = f"constant matte (every pixel {low})"
    return record


def _inspect_task(task: tuple[str, str, str, int | None]) -> dict:
    try:
        return inspect_file(*task)
    except OSError as error:
        record = _empty_record(task[1])
        record["problem"] = f"cannot be read ({error.strerror or error})"
        return record


def _inspect_all(tasks: list[tuple], workers: int, progress: bool, label: str) -> Iterator[dict]:
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


def _drift(locked: dict[str, tuple[str, str]], current: dict[str, tuple[str, str]]) -> str:
    """``"1 changed: a; 1 missing: b"`` or ``""`` when the two agree."""
    missing = sorted(locked.keys() - current.keys())
    added = sorted(current.keys() - locked.keys())
    changed = sorted(path for path in locked.keys() & current.keys() if locked[path] != current[path])
    return "; ".join(
        _listing_text(items, what)
        for items, what in ((changed, "changed"), (missing, "missing"), (added, "added"))
        if items
    )


def _compare_with_lock(lock_rows: list[dict], records: dict[str, dict], lock_path: Path, root: Path) -> None:
    locked = {row["path"]: (row["size"], row["sha256"]) for row in lock_rows}
    current = {path: (str(record["size"]), record["sha256"]) for path, record in records.items()}
    difference = _drift(locked, current)
    if difference:
        raise DriftError(
            f"{root}: the files differ from the lock manifest {lock_path}: {difference}. Restore the original "
            f"files, or if the change is intended delete {lock_path} and verify again"
        )


def lock_is_current(prepared: PreparedDataset, root: Path) -> bool:
    """Cheap check used to skip re-verification: the verify outputs exist and the files under
    ``root`` have the same paths and sizes as the lock (contents are re-hashed by ``vbbench
    verify``, not here)."""
    needed = (prepared.lock_csv, prepared.pairs_csv, prepared.defects_csv, prepared.dhash_csv)
    if not all(path.is_file() for path in needed):
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


def read_hashes(prepared: PreparedDataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{image SHA-256: (hashes, thumbnail)}`` from ``dhash.csv`` (rows of another signature
    version are ignored)."""
    if not prepared.dhash_csv.is_file():
        return {}
    return {
        row["image_sha256"]: (parse_hashes(row["hashes"]), parse_thumbnail(row["thumbnail"]))
        for row in read_csv(prepared.dhash_csv)
        if row.get("hash_version") == HASH_VERSION
    }


def write_hashes(prepared: PreparedDataset, signatures: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Write ``dhash.csv``: one row per image SHA-256 with its hashes and colour thumbnail."""
    rows = (
        {
            "image_sha256": digest,
            "hash_version": HASH_VERSION,
            "hashes": format_hashes(hashes),
            "thumbnail": format_thumbnail(thumbnail),
        }
        for digest, (hashes, thumbnail) in sorted(signatures.items())
    )
    atomic_write_text(prepared.dhash_csv, csv_text(rows, _HASH_FIELDS))


# ---- counts ----------------------------------------------------------------------------------


def completeness(card: DatasetCard, pairs: list[Pair]) -> Completeness:
    """Usable pairs against the card's ``expected_pairs`` and ``expected_folder_pairs``.

    Examples
    --------
    >>> from vbbench.cards import get_dataset
    >>> pairs = [Pair(f"training/{k:05d}", "", "training", "", "") for k in range(1662)]
    >>> found = completeness(get_dataset("shen2016"), pairs)
    >>> found.missing, found.notes[0][:40]
    (338, 'a redistributed copy with 1,662 training')
    """
    have = Counter(pair.folder for pair in pairs)
    folders = {name: (have.get(name, 0), want) for name, want in card.expected_folder_pairs.items()}
    notes = tuple(
        known.note for known in card.known_counts if known.folder in folders and folders[known.folder][0] == known.pairs
    )
    return Completeness(len(pairs), card.expected_pairs, folders, notes)


# ---- the whole verification ------------------------------------------------------------------


def _defect_kind(problem: str, is_matte: bool) -> str:
    if "more than the" in problem:
        return "too_large"
    if any(word in problem for word in ("decod", "truncated", "empty", "read", "signature")):
        return "corrupt"
    return "bad_matte" if is_matte else "bad_image"


def _count_defects(card: DatasetCard, found: Completeness) -> list[Defect]:
    defects = []
    if found.expected is not None and found.usable != found.expected:
        defects.append(
            Defect("error", "count", "", "", f"{found.usable:,} usable pairs, the card expects {found.expected:,}")
        )
    for name, (have, want) in found.folders.items():
        if have != want:
            note = "".join(f"; {text}" for text in found.notes)
            detail = f"{name}/: {have:,} usable pairs, the set has {want:,} ({have - want:+,}){note}"
            defects.append(Defect("error", "folder_count", "", f"{name}/", detail))
    return defects


def verify_dataset(
    prepared: PreparedDataset, root: Path, *, strict: bool = False, workers: int = 1, progress: bool = True
) -> VerifyReport:
    """Pair, decode, hash and check every file; write defects, lock, pairs and hashes (module doc).

    Checks per pair: both files decode (PNG/JPEG not truncated) and are within the card's
    ``limits.max_file_bytes``, the matte is grayscale or has an alpha channel (an RGBA file where
    the form's ``matte_channel`` is ``alpha``) and is not constant, image and matte have the same
    size, and the size equals the card's ``expected_width_px`` × ``expected_height_px``. Images
    with the same SHA-256 as an earlier id (sorted order) are duplicates. The number of usable
    pairs is compared with ``expected_pairs`` and, per authors' folder, with
    ``expected_folder_pairs``. Items with an ``error`` defect are excluded from ``pairs.csv``.

    Parameters
    ----------
    prepared : PreparedDataset
        Where the outputs go.
    root : path
        Folder holding the layout (e.g. ``training/`` and ``testing/``).
    strict : bool
        Raise :class:`VerifyError` if any ``error`` defect the card does not list as known was
        found (outputs are still written).
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
    assert listing.form is not None
    matte_role = "rgba_matte" if listing.form.matte_channel == "alpha" else "matte"
    roles = {path: "other" for path in listing.other_files}
    for pair in listing.pairs:
        roles[pair.image], roles[pair.matte] = "image", matte_role
    limit = card.limits.max_file_bytes
    tasks = [(str(root), path, roles[path], limit) for path in sorted(roles)]
    records: dict[str, dict] = {}
    for record in _inspect_all(tasks, workers, progress, f"verify {card.name}"):
        records[record["path"]] = record

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
    found = completeness(card, usable)
    defects += _count_defects(card, found)
    defects = [
        d
        if d.known
        else Defect(d.severity, d.kind, d.id, d.path, d.detail, card.known_defect(d.kind, d.path) is not None)
        for d in defects
    ]
    notes = []
    binary = sum(records[pair.matte]["soft"] == 0 for pair in usable)
    if usable and binary > len(usable) // 2:
        notes.append(
            f"{binary:,} of {len(usable):,} mattes are binary (only 0 and full scale): this copy holds segmentation "
            "masks, not soft mattes, so scores on it say little about hair and edges"
        )

    atomic_write_text(prepared.defects_csv, csv_text((_defect_row(d) for d in defects), DEFECT_FIELDS))
    prepared.write_pairs(usable)
    write_hashes(
        prepared,
        {
            pair.image_sha256: (
                parse_hashes(records[pair.image]["hashes"]),
                parse_thumbnail(records[pair.image]["thumbnail"]),
            )
            for pair in usable
        },
    )
    if locked:
        rows = ({"path": path, **record} for path, record in sorted(records.items()))
        atomic_write_text(prepared.lock_csv, csv_text(rows, _LOCK_FIELDS))
    errors = [d for d in defects if d.severity == "error"]
    report = VerifyReport(
        card.name,
        root,
        len(listing.pairs),
        len(usable),
        len(errors),
        sum(not d.known for d in errors),
        sum(d.severity == "ignored" for d in defects),
        locked,
        prepared.defects_csv,
        prepared.lock_csv,
        prepared.pairs_csv,
        form=listing.form.name,
        completeness=found,
        notes=notes,
    )
    if not usable:
        raise VerifyError(f"{root}: no usable {card.name} pairs found (see {prepared.defects_csv})")
    if strict and report.unknown_errors:
        raise VerifyError(strict_message(card.name, errors, prepared.defects_csv))
    return report


def _defect_row(defect: Defect) -> dict[str, str]:
    row = asdict(defect)
    row["known"] = "yes" if defect.known else ""
    return row


def strict_message(name: str, errors: list[Defect], where: Path) -> str:
    """The ``--strict`` failure: the error defects beyond the card's known ones, by kind."""
    kinds: dict[str, int] = defaultdict(int)
    for defect in errors:
        if not defect.known:
            kinds[defect.kind] += 1
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    return f"{name}: {sum(kinds.values())} defects beyond the card's known ones with --strict ({summary}); see {where}"


# ---- variants --------------------------------------------------------------------------------


def verify_variants(prepared: PreparedDataset, workers: int = 1, progress: bool = True) -> int:
    """Re-hash every prepared variant's files against the SHA-256s their manifests record.

    Returns
    -------
    int
        Files checked (0 when no variant is prepared).

    Raises
    ------
    DriftError
        Naming every changed, missing or unlisted file of every variant.
    """
    if not prepared.variants_dir.is_dir():
        return 0
    locked: dict[str, tuple[str, str]] = {}
    found: list[str] = []
    for folder in sorted(p for p in prepared.variants_dir.iterdir() if p.is_dir()):
        files = prepared.variant(folder.name)
        if not files.manifest.is_file():
            continue
        for row in read_csv(files.manifest):
            for kind, path in zip(("image", "alpha", "trimap"), files.files_of(row["id"])):
                digest = row.get(f"{kind}_sha256", "")
                if digest:
                    locked[path.relative_to(prepared.root).as_posix()] = ("", digest)
        found += [
            path.relative_to(prepared.root).as_posix()
            for sub in (files.images, files.alpha, files.trimaps)
            if sub.is_dir()
            for path in sub.rglob("*.png")
        ]
    tasks = [(str(prepared.root), path, "other", None) for path in sorted(set(found) & locked.keys())]
    current = {path: ("", "") for path in set(found) - locked.keys()}  # files no manifest lists
    for record in _inspect_all(tasks, workers, progress, f"verify {prepared.name} variants"):
        current[record["path"]] = ("", record["sha256"])
    difference = _drift(locked, current)
    if difference:
        raise DriftError(
            f"{prepared.variants_dir}: the variant files differ from their manifests: {difference}. Delete the "
            f"variant's folder and run `vbbench prepare {prepared.name} --data-dir {prepared.data_dir}` to make it again"
        )
    return len(tasks)
