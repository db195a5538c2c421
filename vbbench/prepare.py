"""``vbbench prepare``: acquire → verify → split → variants, idempotent, resumable, one at a time.

A run holds a :class:`vbbench.locks.FolderLock` on the dataset's folder under the data folder, so
a second ``prepare`` (or ``verify``) of the same data stops at once and names the PID of the
first. Under the lock it first removes what an interrupted run left: staging folders of an
extraction and the temporary ``.*.part`` files of atomic writes (an interrupted download's
``.part`` in the archive cache is resumed instead).

Each step is skipped when its outputs are present and consistent: the raw folder exists (it
appears only after a complete extraction); the verify outputs exist and the files still have the
lock's paths and sizes (``vbbench verify`` re-hashes everything); the split file equals the one
computed from the verified pairs; each variant's manifest lists every test id and its files exist.

A set with fewer usable pairs than its card expects stops with
:class:`vbbench.errors.PartialDatasetError` unless ``allow_partial`` is given; it is then marked
partial in its split record, and so in every score summary and results file. Where each output
lives is :class:`vbbench.prepared.PreparedDataset`'s business.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vbbench.archives import STAGING
from vbbench.cards import DatasetCard, get_dataset, list_datasets
from vbbench.download import acquire, cached_archive, manual_instructions
from vbbench.errors import PartialDatasetError, SplitError, VerifyError
from vbbench.io import atomic_write_text, read_csv
from vbbench.layout import Defect, find_layout_root
from vbbench.locks import FolderLock
from vbbench.neardup import colour_thumbnail, hash_image
from vbbench.parallel import process_map
from vbbench.prepared import Pair, PreparedDataset
from vbbench.split import SplitReport, make_split, write_split
from vbbench.variants import VARIANTS, default_variants, make_variants
from vbbench.verify import (
    VerifyReport,
    completeness,
    lock_is_current,
    read_hashes,
    verify_dataset,
    verify_variants,
    write_hashes,
)

__all__ = [
    "PrepareResult",
    "prepare_dataset",
    "data_at_hand",
    "run_verify",
    "default_selection",
    "manual_instructions",
    "clean_leftovers",
]


@dataclass
class PrepareResult:
    """What one ``prepare`` run did for one dataset (a row of the summary table)."""

    name: str
    root: Path
    usable_pairs: int = 0
    errors: int = 0
    known_errors: int = 0
    ignored: int = 0
    train: int = 0
    test: int = 0
    split_path: Path | None = None
    split_text: str = ""
    split_status: str = ""
    report: SplitReport | None = None
    partial: dict[str, Any] | None = None
    form: str = ""
    variants: tuple[str, ...] = ()
    steps: dict[str, str] = field(default_factory=dict)  # step -> "done" / "skipped (up to date)"
    notes: list[str] = field(default_factory=list)  # what the user should know (printed)


def data_at_hand(prepared: PreparedDataset) -> bool:
    """Whether ``prepare`` can run without a download or a manual step."""
    return prepared.card.generated or prepared.data_root() is not None or cached_archive(prepared.card) is not None


def clean_leftovers(prepared: PreparedDataset) -> list[str]:
    """Remove what an interrupted run left under the dataset's folder; say what was removed.

    Staging folders of an extraction (``.raw.*.extracting``) and the temporary files of atomic
    writes (``.<name>.*.part``) are only ever half-written; the caller holds the folder's lock, so
    no other run is writing them. An imported folder used in place is never touched; the
    extracted ``raw/`` of a real set is not searched (archives hold no such files, and the lock
    manifest would report anything added).
    """
    removed_folders, removed_files = 0, 0
    if not prepared.root.is_dir():
        return []
    for staging in prepared.root.glob(f".{prepared.raw_dir.name}.*{STAGING}"):
        shutil.rmtree(staging, ignore_errors=True)
        removed_folders += 1
    searched = [prepared.verify_dir, prepared.variants_dir]
    if prepared.card.generated:
        searched.append(prepared.raw_dir)
    for folder in searched:
        for part in folder.rglob(".*.part") if folder.is_dir() else ():
            part.unlink(missing_ok=True)
            removed_files += 1
    for part in prepared.root.glob(".*.part"):
        part.unlink(missing_ok=True)
        removed_files += 1
    if not (removed_folders or removed_files):
        return []
    return [
        f"removed {removed_folders} staging folder(s) and {removed_files} temporary file(s) left in {prepared.root} "
        "by an interrupted run"
    ]


def _sample_is_complete(raw: Path, card: DatasetCard) -> bool:
    """The generated sample's manifest matches the card and lists files that all exist (their
    contents are checked by the verify step's lock)."""
    try:
        manifest = json.loads((raw / "sample.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    wanted = {
        "count": int(card.generate.get("count", 40)),
        "seed": int(card.generate.get("seed", 0)),
        "width": card.expected_width_px or 600,
        "height": card.expected_height_px or 800,
    }
    return all(manifest.get(key) == value for key, value in wanted.items()) and all(
        (raw / name).is_file() for name in manifest.get("files", {})
    )


def _generate(prepared: PreparedDataset, workers: int, progress: bool) -> tuple[Path, str]:
    from vbbench.sample import generate_sample

    card, raw = prepared.card, prepared.raw_dir
    if _sample_is_complete(raw, card):
        return raw, "skipped (generated)"
    done = (raw / "sample.json").is_file()
    # generate_sample checks and resumes an existing folder and refuses a different sample; a
    # prepared sample needs no simulated predictions (models score its variants instead)
    generate_sample(
        raw,
        count=int(card.generate.get("count", 40)),
        seed=int(card.generate.get("seed", 0)),
        width=card.expected_width_px or 600,
        height=card.expected_height_px or 800,
        models=(),
        workers=workers,
        progress=progress,
    )
    return raw, "checked" if done else "generated"


def _acquire(
    prepared: PreparedDataset, source, url, sha256, workers: int, progress: bool, notes: list[str]
) -> tuple[Path, str]:
    if prepared.card.generated:
        return _generate(prepared, workers, progress)
    if source is None:
        existing = prepared.data_root()
        if existing is not None:
            return existing, "skipped (at hand)"
    elif (
        Path(source).is_file()
        and prepared.raw_dir.is_dir()
        and prepared.import_record.is_file()
        and not prepared.source_record.is_file()
        and prepared.import_record.read_text(encoding="utf-8") == _archive_identity(Path(source))
    ):
        return find_layout_root(prepared.raw_dir, prepared.card), "skipped (archive already extracted)"
    root = acquire(prepared.card, prepared.raw_dir, source, url, sha256, progress=progress, notes=notes)
    if source is not None and Path(source).is_dir():
        atomic_write_text(prepared.source_record, str(root.resolve()) + "\n")
        return root, f"using {root} in place"
    prepared.source_record.unlink(missing_ok=True)
    if source is not None:
        atomic_write_text(prepared.import_record, _archive_identity(Path(source)))
    return root, "extracted"


def _archive_identity(archive: Path) -> str:
    """Path, size and modification time of an imported archive: the same triple means the same
    extraction can be reused (the verify step's lock catches any change to the extracted files)."""
    info = archive.stat()
    return json.dumps({"archive": str(archive.resolve()), "size": info.st_size, "mtime_ns": info.st_mtime_ns})


def _signature_of_file(path: str) -> tuple[np.ndarray, np.ndarray]:
    # decoded exactly as verify decodes (unchanged channels and depth), so either path gives the same
    import cv2

    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise VerifyError(f"{path}: not a decodable image any more; run `vbbench verify` to find what changed")
    return hash_image(image), colour_thumbnail(image)


def _signatures(
    prepared: PreparedDataset, root: Path, pairs: list[Pair], workers: int, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's near-duplicate hashes and colour thumbnail: from ``dhash.csv`` (written by
    verify), computed for any image it lacks (a dataset verified by an older vbbench)."""
    cached = read_hashes(prepared)
    todo = [pair for pair in pairs if pair.image_sha256 not in cached]
    if todo:
        from tqdm.auto import tqdm

        paths = [str(root / pair.image) for pair in todo]
        with tqdm(
            total=len(paths), desc=f"hash {prepared.name}", unit="image", disable=not progress, leave=False
        ) as bar:
            for pair, signature in zip(todo, process_map(_signature_of_file, paths, workers, chunksize=32)):
                cached[pair.image_sha256] = signature
                bar.update()
        write_hashes(prepared, {pair.image_sha256: cached[pair.image_sha256] for pair in pairs})
    if not pairs:
        return np.zeros((0, 11), np.uint64), np.zeros((0, 144), np.uint8)
    return (
        np.stack([cached[pair.image_sha256][0] for pair in pairs]),
        np.stack([cached[pair.image_sha256][1] for pair in pairs]),
    )


def _partial_message(card: DatasetCard, prepared: PreparedDataset, found) -> str:
    notes = "".join(f"; {note}" for note in found.notes)
    return (
        f"{card.name}: {found.describe()}: {found.missing:,} pairs are missing beyond the card's known defects"
        f"{notes}. This is a partial copy: get the full set (`vbbench prepare {card.name}` without --from prints the "
        f"steps), or add --allow-partial to benchmark on it anyway; it is then marked partial in "
        f"{prepared.split_record.name}, in every score summary and in every results file (see {prepared.defects_csv})"
    )


def prepare_dataset(
    name_or_card: str | DatasetCard,
    data_dir: str | os.PathLike,
    *,
    source=None,
    url=None,
    sha256=None,
    strict: bool = False,
    allow_partial: bool = False,
    resplit: bool = False,
    workers: int = 1,
    progress: bool = True,
    variants: tuple[str, ...] | None = None,
    clip_spec=None,
) -> PrepareResult:
    """Prepare one dataset: acquire, verify, split, make the test-split variants.

    Parameters
    ----------
    name_or_card : str or DatasetCard
        Registry name, or a card (tests pass cards with small expected sizes).
    data_dir : path
        Where prepared datasets live.
    source : path, optional
        ``--from``: a zip or tar archive, or an extracted folder.
    url, sha256 : str, optional
        Direct download and its checksum (override the card and ``$VBBENCH_<NAME>_URL``).
    strict : bool
        Defects beyond the card's known ones fail verification.
    allow_partial : bool
        Accept a set with fewer pairs than the card expects (it is marked partial).
    resplit : bool
        Replace a committed split list that differs from the one the data gives.
    workers : int
        Processes for generation, verification and variants.
    progress : bool
        tqdm bars.
    variants : tuple of str, optional
        Variants to make (default :func:`vbbench.variants.default_variants`: every one not made on
        request whose extra is installed).
    clip_spec : vbbench.clips.ClipSpec, optional
        How the ``clips`` variant's clips are made (default ``ClipSpec()``).

    Returns
    -------
    PrepareResult

    Raises
    ------
    vbbench.errors.ManualDownloadRequired
        When the data is not at hand (the message holds the manual steps).
    vbbench.errors.BusyError
        When another run holds the dataset's folder (its PID is named).
    vbbench.errors.PartialDatasetError
        When pairs are missing and ``allow_partial`` is not set.
    vbbench.errors.DatasetError
        For bad archives, checksum mismatches, verification failures and drift.
    """
    card = name_or_card if isinstance(name_or_card, DatasetCard) else get_dataset(name_or_card)
    prepared = PreparedDataset(card, data_dir)
    with FolderLock(prepared.root, what=f"vbbench prepare {card.name}"):
        notes = clean_leftovers(prepared)
        root, how = _acquire(prepared, source, url, sha256, workers, progress, notes)
        result = PrepareResult(card.name, root, notes=notes)
        result.steps["acquire"] = how

        if lock_is_current(prepared, root):
            result.steps["verify"] = "skipped (lock current)"
        else:
            report = verify_dataset(prepared, root, strict=strict, workers=workers, progress=progress)
            result.steps["verify"] = "locked" if report.locked else "checked against lock"
            result.form = report.form
            result.notes += report.notes
        defects = [
            Defect(row["severity"], row["kind"], row["id"], row["path"], row["detail"], row.get("known") == "yes")
            for row in read_csv(prepared.defects_csv)
        ]
        errors = [d for d in defects if d.severity == "error"]
        result.errors, result.ignored = len(errors), sum(d.severity == "ignored" for d in defects)
        result.known_errors = sum(d.known for d in errors)
        if strict and result.errors > result.known_errors:
            from vbbench.verify import strict_message

            raise VerifyError(strict_message(card.name, errors, prepared.defects_csv))

        pairs = prepared.read_pairs()
        result.usable_pairs = len(pairs)
        found = completeness(card, pairs)
        if found.partial and not allow_partial:
            raise PartialDatasetError(_partial_message(card, prepared, found))
        result.partial = found.record()
        if result.partial:
            result.notes.append(
                f"{card.name} is partial ({found.describe()}); it is marked so in {prepared.split_record}"
            )

        hashes, thumbnails = _signatures(prepared, root, pairs, workers, progress)
        previous = prepared.read_split() if prepared.split_csv.is_file() else None
        rows, split_report = make_split(card, pairs, hashes, thumbnails, previous)
        result.split_status = write_split(prepared, rows, split_report, partial=result.partial, resplit=resplit)
        result.train, result.test = split_report.train, split_report.test
        result.report, result.split_text = split_report, split_report.describe()
        result.split_path = prepared.split_csv
        result.steps["split"] = result.split_status
        if split_report.test == 0:
            raise SplitError(f"{card.name}: the split put no item in the test set ({split_report.describe()})")

        test_ids = {row.id for row in rows if row.split == "test"}
        wanted = tuple(VARIANTS.check(variants)) if variants is not None else default_variants()
        make_variants(
            prepared, root, [pair for pair in pairs if pair.id in test_ids], wanted, workers=workers,
            progress=progress, clip_spec=clip_spec,
        )  # fmt: skip
        result.variants = wanted
        result.steps["variants"] = "done"
    return result


def run_verify(
    name: str, data_dir: str | os.PathLike, *, strict: bool = False, workers: int = 1, progress: bool = True
) -> tuple[VerifyReport, int]:
    """Re-verify a prepared dataset against its lock, and its variants against their manifests
    (``vbbench verify``); returns the report and the number of variant files checked.

    Raises
    ------
    vbbench.errors.DatasetError
        If the dataset has not been acquired into ``data_dir`` (with the command to run).
    vbbench.errors.DriftError
        If a raw or variant file changed, went missing or was added.
    """
    prepared = PreparedDataset(name, data_dir)
    with FolderLock(prepared.root, what=f"vbbench verify {name}"):
        root = prepared.require_data_root()
        report = verify_dataset(prepared, root, strict=strict, workers=workers, progress=progress)
        checked = verify_variants(prepared, workers=workers, progress=progress)
    return report, checked


def default_selection(data_dir: str | os.PathLike) -> tuple[list[str], list[DatasetCard]]:
    """Datasets ``prepare`` runs with none named (their data is at hand: the sample, archives in
    the cache, sets acquired before) and the cards of the others, whose manual steps it prints."""
    ready, missing = [], []
    for name in list_datasets():
        prepared = PreparedDataset(name, data_dir)
        if data_at_hand(prepared):
            ready.append(name)
        else:
            missing.append(prepared.card)
    return ready, missing
