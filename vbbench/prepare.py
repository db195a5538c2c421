"""``vbbench prepare``: acquire → verify → split → variants, idempotent and resumable.

Layout of one prepared dataset under ``data_dir``::

    <name>/raw/                      extracted archive (or generated sample)
    <name>/source.txt                the folder holding the layout when imported in place (--from DIR)
    <name>/imported.json             path, size, mtime of the archive extracted by --from ZIP (rerun skips it)
    <name>/verify/{defects,lock,pairs}.csv
    <name>/split.csv                 real sets (the sample's is committed in datasets/sample/)
    <name>/variants/<variant>/{images,alpha}/<id>.png, manifest.csv

Each step is skipped when its outputs are present and consistent: the raw folder exists (it
appears only after a complete extraction); the verify outputs exist and the files still have the
lock's paths and sizes (``vbbench verify`` re-hashes everything); the split file equals the one
computed from the verified pairs; each variant's manifest lists every test id and its files exist.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from vbbench.io import atomic_write_text
from vbbench.sources import (
    DatasetCard,
    DatasetError,
    acquire,
    cached_archive,
    find_layout_root,
    get_dataset,
    list_datasets,
    manual_instructions,
)
from vbbench.split import assign_splits, summarize_split, write_split
from vbbench.variants import VARIANTS, make_variants
from vbbench.verify import lock_is_current, read_pairs, verify_dataset, verify_dir

__all__ = ["PrepareResult", "prepare_dataset", "data_at_hand", "dataset_root", "run_verify"]


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


def _source_file(data_dir: Path, name: str) -> Path:
    return data_dir / name / "source.txt"


def dataset_root(card: DatasetCard, data_dir: str | os.PathLike) -> Path | None:
    """The folder holding the dataset's layout if it was acquired into ``data_dir``, else None."""
    data_dir = Path(data_dir)
    recorded = _source_file(data_dir, card.name)
    if recorded.is_file():
        return Path(recorded.read_text(encoding="utf-8").strip())
    raw = data_dir / card.name / "raw"
    if raw.is_dir():
        return find_layout_root(raw, card.layout)
    return None


def data_at_hand(card: DatasetCard, data_dir: str | os.PathLike) -> bool:
    """Whether ``prepare`` can run for ``card`` without a download or a manual step."""
    return card.layout == "sample" or dataset_root(card, data_dir) is not None or cached_archive(card) is not None


def _sample_is_complete(raw: Path, card: DatasetCard) -> bool:
    """The generated sample's manifest matches the card and lists files that all exist (their
    contents are checked by the verify step's lock)."""
    import json

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


def _acquire(card: DatasetCard, data_dir: Path, source, url, sha256, workers: int, progress: bool) -> tuple[Path, str]:
    raw = data_dir / card.name / "raw"
    if card.layout == "sample":
        from vbbench.sample import generate_sample

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
    recorded = _source_file(data_dir, card.name)
    imported = data_dir / card.name / "imported.json"
    if source is None:
        existing = dataset_root(card, data_dir)
        if existing is not None:
            return existing, "skipped (at hand)"
    elif Path(source).is_file() and raw.is_dir() and imported.is_file() and not recorded.is_file():
        if imported.read_text(encoding="utf-8") == _archive_identity(Path(source)):
            return find_layout_root(raw, card.layout), "skipped (archive already extracted)"
    root = acquire(card, raw, source, url, sha256, progress=progress)
    if source is not None and Path(source).is_dir():
        atomic_write_text(recorded, str(root.resolve()) + "\n")
        return root, f"using {root} in place"
    if recorded.is_file():
        recorded.unlink()
    if source is not None:
        atomic_write_text(imported, _archive_identity(Path(source)))
    return root, "extracted"


def _archive_identity(archive: Path) -> str:
    """Path, size and modification time of an imported archive: the same triple means the same
    extraction can be reused (the verify step's lock catches any change to the extracted files)."""
    import json

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
    variants: tuple[str, ...] = VARIANTS,
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
    variants : tuple of str
        Variants to make.

    Returns
    -------
    PrepareResult

    Raises
    ------
    vbbench.sources.ManualDownloadRequired
        When the data is not at hand (the message holds the manual steps).
    vbbench.sources.DatasetError
        For bad archives, checksum mismatches, verification failures and drift.
    """
    card = name_or_card if isinstance(name_or_card, DatasetCard) else get_dataset(name_or_card)
    data_dir = Path(data_dir)
    root, how = _acquire(card, data_dir, source, url, sha256, workers, progress)
    result = PrepareResult(card.name, root)
    result.steps["acquire"] = how

    if lock_is_current(card, root, data_dir):
        result.steps["verify"] = "skipped (lock current)"
    else:
        report = verify_dataset(card, root, data_dir, strict=strict, workers=workers, progress=progress)
        result.steps["verify"] = "locked" if report.locked else "checked against lock"
    import csv

    with open(verify_dir(data_dir, card.name) / "defects.csv", newline="", encoding="utf-8") as stream:
        severities = [row["severity"] for row in csv.DictReader(stream)]
    result.errors, result.ignored = severities.count("error"), severities.count("ignored")
    if strict and result.errors:
        from vbbench.verify import VerifyError

        raise VerifyError(
            f"{card.name}: {result.errors} defects with --strict; see {verify_dir(data_dir, card.name) / 'defects.csv'}"
        )

    pairs = read_pairs(data_dir, card.name)
    result.usable_pairs = len(pairs)
    rows = assign_splits(card, pairs)
    summary = summarize_split(rows)
    result.train, result.test = summary.train, summary.test
    result.split_text = summary.describe()
    result.split_path = write_split(card, rows, data_dir)
    result.steps["split"] = "written"
    if summary.test == 0:
        raise DatasetError(f"{card.name}: the split put no item in the test set ({summary.describe()})")

    test_ids = {row["id"] for row in rows if row["split"] == "test"}
    test_pairs = [pair for pair in pairs if pair["id"] in test_ids]
    make_variants(card, root, data_dir, test_pairs, variants, workers=workers, progress=progress)
    result.variants = tuple(variants)
    result.steps["variants"] = "done"
    return result


def run_verify(
    name: str, data_dir: str | os.PathLike, *, strict: bool = False, workers: int = 1, progress: bool = True
):
    """Re-verify a prepared dataset against its lock (``vbbench verify``).

    Raises
    ------
    FileNotFoundError
        If the dataset has not been acquired into ``data_dir``.
    """
    card = get_dataset(name)
    root = dataset_root(card, data_dir)
    if root is None:
        raise FileNotFoundError(
            f"{name} is not prepared in {data_dir}: run `vbbench prepare {name} --data-dir {data_dir}`"
        )
    return verify_dataset(card, root, data_dir, strict=strict, workers=workers, progress=progress)


def default_selection(data_dir: str | os.PathLike) -> tuple[list[str], list[DatasetCard]]:
    """Datasets ``prepare`` runs with none named (their data is at hand: the sample, archives in
    the cache, sets acquired before) and the cards of the others, whose manual steps it prints."""
    ready, missing = [], []
    for name in list_datasets():
        card = get_dataset(name)
        if data_at_hand(card, data_dir):
            ready.append(name)
        else:
            missing.append(card)
    return ready, missing


__all__ += ["default_selection", "manual_instructions"]
