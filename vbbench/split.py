"""The 17:3 train/test split: deterministic, group-aware, persisted as ``split.csv``.

Two rules, chosen by the card's ``split.rule``:

* ``folders`` (Shen 2016): the authors' own split, ``training/`` → train and ``testing/`` → test
  (1,700/300, exactly 17:3);
* ``group-hash`` (AISegment, sample): a group goes to test when
  ``int(sha256(salt + group)[:16], 16) / 2**64 < test_fraction`` (0.15 = 3/20). The decision
  depends only on the group's name and the salt: not on file-system order or a random generator's
  state, and a group keeps its side when other files are added. All items of a group land on one
  side.

The split list (:class:`vbbench.prepared.SplitRow` rows ``id, group, split, sha256`` with the
image's SHA-256, sorted by id) is written where :attr:`vbbench.prepared.PreparedDataset.split_csv`
says: beside the card for the committed sample, under the data folder for the real sets (commit it
to share it). Results record its SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from vbbench.cards import DatasetCard
from vbbench.errors import SplitError
from vbbench.io import atomic_write_text, csv_text
from vbbench.prepared import SPLIT_FIELDS, Pair, PreparedDataset, SplitRow

__all__ = ["SplitSummary", "group_is_test", "assign_splits", "write_split", "summarize_split"]


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


def assign_splits(card: DatasetCard, pairs: Iterable[Pair]) -> list[SplitRow]:
    """Split rows for the verified ``pairs``, sorted by id.

    Examples
    --------
    >>> from vbbench.cards import get_dataset
    >>> card = get_dataset("shen2016")
    >>> assign_splits(card, [Pair("testing/00001", "testing/00001", "testing", "", "", "ab")])[0].split
    'test'
    """
    spec = card.split
    rows = []
    for pair in pairs:
        if spec.rule == "folders":
            if pair.folder == spec.test_folder:
                side = "test"
            elif pair.folder == spec.train_folder:
                side = "train"
            else:
                raise SplitError(f"{pair.id}: folder '{pair.folder}' is neither the train nor the test folder")
        else:
            side = "test" if group_is_test(pair.group, spec.salt, spec.test_fraction) else "train"
        rows.append(SplitRow(pair.id, pair.group, side, pair.image_sha256))
    return sorted(rows, key=lambda row: row.id)


def write_split(prepared: PreparedDataset, rows: list[SplitRow]) -> None:
    """Write the split list atomically unless it already holds exactly these rows.

    Raises
    ------
    SplitError
        For a committed split when the data gives a different list (the generator changed): the
        committed file is not overwritten silently.
    """
    path = prepared.split_csv
    text = csv_text((asdict(row) for row in rows), SPLIT_FIELDS)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    if path.is_file() and prepared.card.split.committed:
        raise SplitError(
            f"{path}: the committed split differs from the prepared data (generator changed?); "
            f"delete {path}, run `vbbench prepare {prepared.name}` and commit the new file"
        )
    atomic_write_text(path, text)


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
        """E.g. ``train 1700 / test 300 items (test 15.0 %, target 15 % = 17:3; 1700/300 groups)``."""
        return (
            f"train {self.train} / test {self.test} items (test {100 * self.test_fraction:.1f} %, "
            f"target 15 % = 17:3; {self.train_groups}/{self.test_groups} groups)"
        )


def summarize_split(rows: Iterable[SplitRow]) -> SplitSummary:
    """Counts of items and groups per side.

    Raises
    ------
    SplitError
        If a group sits on both sides.
    """
    rows = list(rows)
    groups = {side: {row.group for row in rows if row.split == side} for side in ("train", "test")}
    if groups["train"] & groups["test"]:
        raise SplitError(f"groups on both sides of the split: {sorted(groups['train'] & groups['test'])[:5]}")
    return SplitSummary(
        sum(row.split == "train" for row in rows),
        sum(row.split == "test" for row in rows),
        len(groups["train"]),
        len(groups["test"]),
    )
