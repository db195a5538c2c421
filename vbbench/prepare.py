"""``vbbench prepare``: acquire → verify → split → variants, idempotent and resumable.

Each step is skipped when its outputs are present and consistent: the raw folder exists (it
appears only after a complete extraction); the verify outputs exist and the files still have the
lock's paths and sizes (``vbbench verify`` re-hashes everything); the split file equals the one
computed from the verified pairs; each variant's manifest lists every test id and its files exist.
Where each output lives is :class:`vbbench.prepared.PreparedDataset`'s business.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from vbbench.cards import DatasetCard, get_dataset, list_datasets
from vbbench.download import acquire, cached_archive, find_layout_root, manual_instructions
from vbbench.errors import SplitError, VerifyError
from vbbench.io import atomic_write_text, read_csv
from vbbench.prepared import PreparedDataset
from vbbench.split import assign_splits, summarize_split, write_split
from vbbench.variants import VARIANTS, default_variants, make_variants
from vbbench.verify import VerifyReport, lock_is_current, verify_dataset

__all__ = ["PrepareResult", "prepare_dataset", "data_at_hand", "run_verify", "default_selection", "manual_instructions"]


@dataclass
class PrepareResult:
    """What one ``prepare`` run did for one dataset (a row of the summary table)."""

    name: str
    root: Path
    usable_pairs: int = 0
    errors: int = 0
    ignored: int = 0
    train: int = 0
    test: int = 0
    split_path: Path | None = None
    split_text: str = ""
    variants: tuple[str, ...] = ()
    steps: dict[str, str] = field(default_factory=dict)  # step -> "done" / "skipped (up to date)"


def data_at_hand(prepared: PreparedDataset) -> bool:
    """Whether ``prepare`` can run without a download or a manual step."""
    return prepared.card.generated or prepared.data_root() is not None or cached_archive(prepared.card) is not None


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
    # generate_sample checks and resumes an existing folder and refuses a different sample
    generate_sample(
        raw,
        count=int(card.generate.get("count", 40)),
        seed=int(card.generate.get("seed", 0)),
        width=card.expected_width_px or 600,
        height=card.expected_height_px or 800,
        workers=workers,
        progress=progress,
    )
    return raw, "checked" if done else "generated"


def _acquire(prepared: PreparedDataset, source, url, sha256, workers: int, progress: bool) -> tuple[Path, str]:
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
    root = acquire(prepared.card, prepared.raw_dir, source, url, sha256, progress=progress)
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


def prepare_dataset(
    name_or_card: str | DatasetCard,
    data_dir: str | os.PathLike,
    *,
    source=None,
    url=None,
    sha256=None,
    strict: bool = False,
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
        ``--from``: a zip archive or an extracted folder.
    url, sha256 : str, optional
        Direct download and its checksum (override the card and ``$VBBENCH_<NAME>_URL``).
    strict : bool
        Defects fail verification.
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
    vbbench.errors.DatasetError
        For bad archives, checksum mismatches, verification failures and drift.
    """
    card = name_or_card if isinstance(name_or_card, DatasetCard) else get_dataset(name_or_card)
    prepared = PreparedDataset(card, data_dir)
    root, how = _acquire(prepared, source, url, sha256, workers, progress)
    result = PrepareResult(card.name, root)
    result.steps["acquire"] = how

    if lock_is_current(prepared, root):
        result.steps["verify"] = "skipped (lock current)"
    else:
        report = verify_dataset(prepared, root, strict=strict, workers=workers, progress=progress)
        result.steps["verify"] = "locked" if report.locked else "checked against lock"
    severities = [row["severity"] for row in read_csv(prepared.defects_csv)]
    result.errors, result.ignored = severities.count("error"), severities.count("ignored")
    if strict and result.errors:
        raise VerifyError(f"{card.name}: {result.errors} defects with --strict; see {prepared.defects_csv}")

    pairs = prepared.read_pairs()
    result.usable_pairs = len(pairs)
    rows = assign_splits(card, pairs)
    summary = summarize_split(rows)
    result.train, result.test = summary.train, summary.test
    result.split_text = summary.describe()
    write_split(prepared, rows)
    result.split_path = prepared.split_csv
    result.steps["split"] = "written"
    if summary.test == 0:
        raise SplitError(f"{card.name}: the split put no item in the test set ({summary.describe()})")

    test_ids = {row.id for row in rows if row.split == "test"}
    wanted = tuple(VARIANTS.check(variants)) if variants is not None else default_variants()
    make_variants(
        prepared, root, [pair for pair in pairs if pair.id in test_ids], wanted, workers=workers, progress=progress,
        clip_spec=clip_spec,
    )  # fmt: skip
    result.variants = wanted
    result.steps["variants"] = "done"
    return result


def run_verify(
    name: str, data_dir: str | os.PathLike, *, strict: bool = False, workers: int = 1, progress: bool = True
) -> VerifyReport:
    """Re-verify a prepared dataset against its lock (``vbbench verify``).

    Raises
    ------
    vbbench.errors.DatasetError
        If the dataset has not been acquired into ``data_dir`` (with the command to run).
    """
    prepared = PreparedDataset(name, data_dir)
    return verify_dataset(prepared, prepared.require_data_root(), strict=strict, workers=workers, progress=progress)


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
