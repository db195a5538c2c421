"""A prepared dataset on disk: the only place that knows its layout.

``vbbench prepare`` builds, under ``<data_dir>/<name>/``::

    raw/                              extracted archive (or the generated sample)
    source.txt                        the folder used in place (--from DIR)
    imported.json                     the archive extracted by --from ZIP (path, size, mtime)
    verify/defects.csv, lock.csv, pairs.csv, dhash.csv
    split.csv, split.json             real sets (a committed split sits beside its card instead)
    variants/<variant>/images/<id>.png, alpha/<id>.png, trimaps/<id>.png, manifest.csv

:class:`PreparedDataset` names every one of these paths; no other module joins dataset paths.
:class:`Pair` (one image and its matte, made by :mod:`vbbench.layout`) and :class:`SplitRow` are the typed rows that flow through
verify → split → variants → train / predict / score / browse.

Examples
--------
>>> from vbbench.cards import get_dataset
>>> prepared = PreparedDataset(get_dataset("shen2016"), "/data")
>>> prepared.pairs_csv.as_posix(), prepared.variant("rot30").alpha.as_posix()
('/data/shen2016/verify/pairs.csv', '/data/shen2016/variants/rot30/alpha')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from vbbench.cards import DatasetCard, get_dataset
from vbbench.errors import DatasetError
from vbbench.io import atomic_write_text, csv_text, read_csv
from vbbench.layout import Pair, find_layout_root
from vbbench.paths import default_data_dir

__all__ = ["Pair", "SplitRow", "VariantFiles", "PreparedDataset", "PAIR_FIELDS", "SPLIT_FIELDS"]

PAIR_FIELDS = ["id", "group", "folder", "image", "matte", "image_sha256", "matte_sha256", "width", "height"]
SPLIT_FIELDS = ["id", "group", "unit", "split", "sha256"]


@dataclass(frozen=True)
class SplitRow:
    """One line of ``split.csv``: an item, its folder group, its side (``train`` or ``test``), its
    image's SHA-256, and its unit (the group it is split with: its own, or the home group of its
    near-duplicate cluster; see :mod:`vbbench.split`)."""

    id: str
    group: str
    split: str
    sha256: str
    unit: str = ""

    def row(self) -> dict[str, str]:
        """The ``split.csv`` row."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class VariantFiles:
    """The folders and manifest of one variant of a prepared dataset's test split."""

    root: Path
    images: Path
    alpha: Path
    trimaps: Path
    manifest: Path
    journal: Path

    def files_of(self, item_id: str) -> tuple[Path, Path, Path]:
        """Image, matte and trimap of one item."""
        return (self.images / f"{item_id}.png", self.alpha / f"{item_id}.png", self.trimaps / f"{item_id}.png")


@dataclass(frozen=True)
class PreparedDataset:
    """One dataset prepared (or to be prepared) under ``data_dir``.

    Parameters
    ----------
    card : DatasetCard or str
        The dataset's card, or its name.
    data_dir : path, optional
        Where prepared datasets live (default ``$VBBENCH_HOME/data``).
    """

    card: DatasetCard
    data_dir: Path

    def __init__(self, card: DatasetCard | str, data_dir: str | os.PathLike | None = None):
        object.__setattr__(self, "card", get_dataset(card) if isinstance(card, str) else card)
        object.__setattr__(self, "data_dir", Path(data_dir) if data_dir is not None else default_data_dir())

    @property
    def name(self) -> str:
        return self.card.name

    # ---- paths ---------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """``<data_dir>/<name>``."""
        return self.data_dir / self.name

    @property
    def raw_dir(self) -> Path:
        """Where an archive is extracted (or the sample generated)."""
        return self.root / "raw"

    @property
    def source_record(self) -> Path:
        """Records the folder used in place by ``--from DIR``."""
        return self.root / "source.txt"

    @property
    def import_record(self) -> Path:
        """Records the archive extracted by ``--from ZIP`` (a rerun with the same file skips it)."""
        return self.root / "imported.json"

    @property
    def verify_dir(self) -> Path:
        return self.root / "verify"

    @property
    def defects_csv(self) -> Path:
        return self.verify_dir / "defects.csv"

    @property
    def lock_csv(self) -> Path:
        return self.verify_dir / "lock.csv"

    @property
    def pairs_csv(self) -> Path:
        return self.verify_dir / "pairs.csv"

    @property
    def dhash_csv(self) -> Path:
        """Near-duplicate hashes of the images, keyed by image SHA-256 (written by verify)."""
        return self.verify_dir / "dhash.csv"

    @property
    def split_csv(self) -> Path:
        """``datasets/<name>/split.csv`` for a committed split (the sample), else ``<root>/split.csv``."""
        return self.card.card_dir / "split.csv" if self.card.split.committed else self.root / "split.csv"

    @property
    def split_record(self) -> Path:
        """``split.json`` beside ``split.csv``: the split's rule, parameters, report and partial mark."""
        return self.split_csv.with_name("split.json")

    @property
    def variants_dir(self) -> Path:
        return self.root / "variants"

    def variant(self, variant: str) -> VariantFiles:
        """Paths of one variant (whether or not it has been made)."""
        root = self.variants_dir / variant
        return VariantFiles(
            root,
            root / "images",
            root / "alpha",
            root / "trimaps",
            root / "manifest.csv",
            root / "manifest.partial.csv",
        )

    # ---- state ---------------------------------------------------------------------------------

    def data_root(self) -> Path | None:
        """The folder holding the layout, if the data was acquired into ``data_dir``, else None."""
        if self.source_record.is_file():
            return Path(self.source_record.read_text(encoding="utf-8").strip())
        if self.raw_dir.is_dir():
            return find_layout_root(self.raw_dir, self.card)
        return None

    def require_data_root(self) -> Path:
        """:meth:`data_root`, or an error with the command that acquires the data."""
        root = self.data_root()
        if root is None:
            raise DatasetError(
                f"{self.name} is not prepared in {self.data_dir}: run `vbbench prepare {self.name} "
                f"--data-dir {self.data_dir}`"
            )
        return root

    # ---- tables --------------------------------------------------------------------------------

    def read_pairs(self) -> list[Pair]:
        """The usable pairs of ``verify/pairs.csv``.

        Raises
        ------
        DatasetError
            If the dataset has not been verified, with the command to run.
        """
        if not self.pairs_csv.is_file():
            raise DatasetError(
                f"{self.pairs_csv} is missing: run `vbbench prepare {self.name} --data-dir {self.data_dir}` first"
            )
        return [Pair.from_row(row) for row in read_csv(self.pairs_csv)]

    def write_pairs(self, pairs: list[Pair]) -> None:
        atomic_write_text(self.pairs_csv, csv_text((pair.row() for pair in pairs), PAIR_FIELDS))

    def read_split(self) -> list[SplitRow]:
        """The rows of the split list.

        Raises
        ------
        DatasetError
            If there is none yet, with the command that makes it.
        """
        if not self.split_csv.is_file():
            raise DatasetError(f"{self.split_csv} is missing: run `vbbench prepare {self.name}` first")
        return [SplitRow(**row) for row in read_csv(self.split_csv)]

    def partial(self) -> dict | None:
        """How a partial set falls short (``usable``, ``expected``, ``missing``, per folder), as
        recorded in ``split.json`` when it was prepared with ``--allow-partial``; ``None`` for a
        complete set."""
        try:
            record = json.loads(self.split_record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record.get("partial") or None

    def split_sha256(self) -> str:
        """SHA-256 of the split file's bytes, recorded in results so scores name their test set."""
        if not self.split_csv.is_file():
            raise DatasetError(f"{self.split_csv} is missing: run `vbbench prepare {self.name}` first")
        return hashlib.sha256(self.split_csv.read_bytes()).hexdigest()

    def split_pairs(self, side: str) -> list[Pair]:
        """The verified pairs on one side of the split (``train`` or ``test``), in id order."""
        wanted = {row.id for row in self.read_split() if row.split == side}
        return [pair for pair in self.read_pairs() if pair.id in wanted]

    def provenance(self, variant: str) -> dict[str, str | bool | None]:
        """What a score summary records about the data it scored: name, variant, card revision,
        the split list's SHA-256 and ``partial`` (True when the set was prepared with
        ``--allow-partial``: its numbers are not comparable with the full set's)."""
        return {
            "name": self.name,
            "variant": variant,
            "revision": self.card.revision,
            "split_sha256": self.split_sha256(),
            "partial": self.partial() is not None,
        }
