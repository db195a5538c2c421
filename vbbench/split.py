"""The 17:3 train/test split: deterministic, group-aware, persisted as ``split.csv``.

Two rules, chosen by the card's ``split.rule``:

* ``folders`` (Shen 2016): the authors' own split, ``training/`` → train and ``testing/`` → test
  (1,700/300, exactly 17:3);
* ``group-hash`` (AISegment, sample): a group goes to test when
  ``int(sha256(salt + group)[:16], 16) / 2**64 < test_fraction`` (0.15 = 3/20). The decision
  depends only on the group's name and the salt: not on file-system order or a random generator's
  state, and a group keeps its side when other files are added. All items of a group (an
  AISegment session ``<group>/clip_<n>``, four consecutive sample images) land on one side, so no
  person straddles train and test.

``split.csv`` (``id, group, split, sha256`` with the image's SHA-256, sorted by id) is written to
``datasets/<name>/split.csv`` for the committed sample and to ``<data_dir>/<name>/split.csv`` for
the real sets (commit it to share it). Results record its SHA-256 (:func:`split_sha256`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vbbench.io import atomic_write_text
from vbbench.sources import DatasetCard, DatasetError, default_data_dir, get_dataset

__all__ = [
    "SPLIT_FIELDS",
    "SplitSummary",
    "group_is_test",
    "assign_splits",
    "split_path",
    "write_split",
    "read_split",
    "split_sha256",
    "summarize_split",
]

SPLIT_FIELDS = ["id", "group", "split", "sha256"]


def group_is_test(group: str, salt: str, test_fraction: float) -> bool:
    """Whether ``group`` belongs to the test split under the ``group-hash`` rule.

    Examples
    --------
    >>> import hashlib
    >>> value = int(hashlib.sha256(b"salt" + b"g1").hexdigest()[:16], 16) / 2**64
    >>> group_is_test("g1", "salt", 0.15) == (value < 0.15)
    True
    """
    value = int(hashlib.sha256((salt + group).encode("utf-8")).hexdigest()[:16], 16) / 2**64
    return value < test_fraction


def assign_splits(card: DatasetCard, pairs: Iterable[dict]) -> list[dict]:
    """Split rows for the verified ``pairs`` (dicts with ``id, group, folder, image_sha256``).

    Returns
    -------
    list of dict
        ``id, group, split, sha256`` sorted by id; ``split`` is ``"train"`` or ``"test"``.

    Examples
    --------
    >>> card = get_dataset("shen2016")
    >>> rows = assign_splits(card, [{"id": "testing/00001", "group": "testing/00001", "folder": "testing",
    ...                              "image_sha256": "ab"}])
    >>> rows[0]["split"]
    'test'
    """
    rule = card.split["rule"]
    rows = []
    for pair in pairs:
        if rule == "folders":
            folder = pair["folder"]
            if folder == card.split.get("test_folder", "testing"):
                side = "test"
            elif folder == card.split.get("train_folder", "training"):
                side = "train"
            else:
                raise DatasetError(f"{pair['id']}: folder '{folder}' is neither the train nor the test folder")
        else:
            side = (
                "test"
                if group_is_test(pair["group"], card.split["salt"], float(card.split["test_fraction"]))
                else "train"
            )
        rows.append({"id": pair["id"], "group": pair["group"], "split": side, "sha256": pair["image_sha256"]})
    return sorted(rows, key=lambda row: row["id"])


def split_path(dataset: str | DatasetCard, data_dir: str | os.PathLike | None = None) -> Path:
    """Where the split list of ``dataset`` lives: ``datasets/sample/split.csv`` for the committed
    sample, else ``<data_dir>/<name>/split.csv`` (``data_dir`` default ``$VBBENCH_HOME/data``)."""
    card = dataset if isinstance(dataset, DatasetCard) else get_dataset(dataset)
    if card.layout == "sample":
        return card.card_dir / "split.csv"
    return Path(data_dir if data_dir is not None else default_data_dir()) / card.name / "split.csv"


def _csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, SPLIT_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_split(card: DatasetCard, rows: list[dict], data_dir: str | os.PathLike | None = None) -> Path:
    """Write ``split.csv`` atomically unless it already holds exactly these rows.

    Raises
    ------
    DatasetError
        For the committed sample split when the generated data gives a different list (the
        generator changed): the committed file is not overwritten silently.
    """
    path = split_path(card, data_dir)
    text = _csv_text(rows)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return path
    if path.is_file() and card.layout == "sample":
        raise DatasetError(
            f"{path}: the committed sample split differs from the generated sample (generator changed?); "
            f"delete {path}, run `vbbench prepare sample` and commit the new file"
        )
    atomic_write_text(path, text)
    return path


def read_split(dataset: str | DatasetCard, data_dir: str | os.PathLike | None = None) -> list[dict]:
    """Rows of the dataset's ``split.csv``.

    Raises
    ------
    FileNotFoundError
        If there is none yet, with the command that makes it.
    """
    path = split_path(dataset, data_dir)
    name = dataset.name if isinstance(dataset, DatasetCard) else dataset
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `vbbench prepare {name}` first")
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def split_sha256(dataset: str | DatasetCard, data_dir: str | os.PathLike | None = None) -> str:
    """SHA-256 of the split file's bytes, recorded in results so scores name their test set.

    Examples
    --------
    >>> len(split_sha256("sample"))
    64
    """
    path = split_path(dataset, data_dir)
    if not path.is_file():
        name = dataset.name if isinstance(dataset, DatasetCard) else dataset
        raise FileNotFoundError(f"{path} is missing: run `vbbench prepare {name}` first")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class SplitSummary:
    train: int
    test: int
    train_groups: int
    test_groups: int

    @property
    def test_fraction(self) -> float:
        """Achieved share of test items (17:3 is 0.15)."""
        return self.test / max(self.train + self.test, 1)

    def describe(self) -> str:
        """E.g. ``train 1700 / test 300 (test 15.0 %, target 15 %)``."""
        return (
            f"train {self.train} / test {self.test} items (test {100 * self.test_fraction:.1f} %, "
            f"target 15 % = 17:3; {self.train_groups}/{self.test_groups} groups)"
        )


def summarize_split(rows: Iterable[dict]) -> SplitSummary:
    """Counts of items and groups per side."""
    rows = list(rows)
    groups = {side: {row["group"] for row in rows if row["split"] == side} for side in ("train", "test")}
    if groups["train"] & groups["test"]:
        raise DatasetError(f"groups on both sides of the split: {sorted(groups['train'] & groups['test'])[:5]}")
    return SplitSummary(
        sum(row["split"] == "train" for row in rows),
        sum(row["split"] == "test" for row in rows),
        len(groups["train"]),
        len(groups["test"]),
    )
