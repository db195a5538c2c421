"""The 17:3 train/test split: leak-free, deterministic, and truly 15 % test.

Two rules, chosen by the card's ``split.rule``:

* ``folders`` (Shen 2016): the authors' own split, ``training/`` → train and ``testing/`` → test
  (1,700/300, exactly 17:3). Near-duplicates across the two folders are only reported.
* ``units`` (AISegment, the sample), in four steps:

  1. **Near-duplicate clusters.** Every image's difference hash, probes and colour thumbnail
     (:mod:`vbbench.neardup`); two images within ``split.dhash_threshold`` bits whose thumbnails
     agree within ``split.colour_threshold`` levels are near-duplicates; clusters are the
     connected components.
  2. **Units.** Each item belongs to its folder group (the layout's ``group``: an AISegment
     storage block), except that a cluster spanning several groups goes *whole* to its home
     group, the member group holding most of it (ties: the smaller order key). Groups are never
     merged with each other: a transitive union of clusters and groups turned 34,425 rendered
     portraits in 37 blocks into a single unit, because a 9×8 hash cannot tell two people in the
     same centred pose apart; homing moves one image per false match, not a block.
  3. **Order.** Units are sorted by ``int(sha256(salt + unit)[:16 hex], 16)``: a unit's place
     depends on its name and the salt only, not on file order, a random state or the machine.
  4. **Choice.** Walking that order, a unit goes to test while the middle of its items lies below
     the item-weighted 15 % quantile; a unit that would overshoot 15 % + tolerance is passed
     over (it stays in train), and so is a unit holding more than ``max_unit_share`` of the items
     when the smaller ones can fill the test set. The walk stops at the first unit that fits and
     crosses the quantile. The share never exceeds 15 % + tolerance; when the walk stops there it
     lies within ±tolerance, and it always does when the units of at most 2 × tolerance of the
     items hold at least 15 % − tolerance of them (proof in ``docs/datasets.md``), which 50 or
     more units without a dominant few do; otherwise it lands within one unit's size. Adding
     data moves only units near the quantile.

The split list (:class:`vbbench.prepared.SplitRow` rows ``id, group, unit, split, sha256``,
sorted by id) and its record ``split.json`` (the rule and parameters, the report below, and
whether the set is partial) are written where :class:`vbbench.prepared.PreparedDataset` says:
beside the card for the committed sample, under the data folder for the real sets. The report
counts clusters, the largest one, the achieved share, and the items moved against the split file
it replaces.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vbbench.cards import DatasetCard
from vbbench.errors import SplitError
from vbbench.io import atomic_write_text, csv_text
from vbbench.neardup import HASH_VERSION, clusters, near_pairs
from vbbench.prepared import SPLIT_FIELDS, Pair, PreparedDataset, SplitRow

__all__ = [
    "SPLIT_SCHEMA",
    "SplitReport",
    "Selection",
    "unit_key",
    "home_units",
    "select_test_units",
    "make_split",
    "compare_splits",
    "write_split",
]

SPLIT_SCHEMA = "vbbench-split/2"
#: The report warns when the largest near-duplicate cluster holds more than this share of the items.
_CLUSTER_WARNING_SHARE = 0.02


def unit_key(unit: str, salt: str) -> int:
    """The order key of a unit: ``int(sha256(salt + unit)[:16 hex], 16)``.

    Examples
    --------
    >>> unit_key("g1", "salt") == int(hashlib.sha256(b"saltg1").hexdigest()[:16], 16)
    True
    """
    return int(hashlib.sha256((salt + unit).encode("utf-8")).hexdigest()[:16], 16)


def home_units(groups: Sequence[str], labels: np.ndarray, salt: str) -> list[str]:
    """The unit of each item: its folder group, or for a cluster spanning several groups the home
    group holding most of the cluster (ties: the smaller :func:`unit_key`, then the name).

    Examples
    --------
    >>> home_units(["a", "a", "b", "b", "b"], np.array([0, 1, 1, 1, 2]), "s")
    ['a', 'b', 'b', 'b', 'b']
    """
    votes: dict[int, Counter] = defaultdict(Counter)
    for group, label in zip(groups, labels):
        votes[int(label)][group] += 1
    home = {label: min(counter, key=lambda g: (-counter[g], unit_key(g, salt), g)) for label, counter in votes.items()}
    return [home[int(label)] for label in labels]


@dataclass(frozen=True)
class Selection:
    """The units chosen for test by :func:`select_test_units`."""

    test: np.ndarray  # bool per unit
    passed_over: tuple[int, ...]  # units skipped because they would overshoot or are too large
    stopped: bool  # the walk stopped at the quantile (False: it ran out of units)
    share: float


def select_test_units(
    weights: Sequence[int] | np.ndarray,
    keys: Sequence[Any],
    fraction: float = 0.15,
    tolerance: float = 0.01,
    max_unit_share: float = 0.05,
) -> Selection:
    """Choose test units: key order, item-weighted quantile, overshoot guard (module docstring).

    Parameters
    ----------
    weights : sequence of int
        Items per unit.
    keys : sequence
        Order keys, one per unit (ties broken by position).
    fraction, tolerance : float
        Target test share and its allowed deviation.
    max_unit_share : float
        Units above this share of the items stay in train, when the smaller ones can fill test.

    Examples
    --------
    >>> chosen = select_test_units([10] * 20, list(range(20)))   # 200 items: 30 ± 2 in test
    >>> chosen.test[:4].tolist(), chosen.share
    ([True, True, True, False], 0.15)
    """
    sizes = np.asarray(weights, np.int64)
    total = int(sizes.sum())
    order = sorted(range(len(sizes)), key=lambda unit: (keys[unit], unit))
    target, slack = fraction * total, tolerance * total
    cap = max_unit_share * total
    if sizes[sizes <= cap].sum() < target + slack:
        cap = float("inf")  # the cap only applies when the units under it can fill the test set
    test = np.zeros(len(sizes), bool)
    passed_over, cum, stopped = [], 0, False
    for unit in order:
        weight = int(sizes[unit])
        if cum + weight > target + slack or weight > cap:
            passed_over.append(unit)
            continue
        if cum + weight / 2 < target:
            test[unit] = True
            cum += weight
            continue
        stopped = True
        break
    return Selection(test, tuple(passed_over), stopped, cum / total if total else 0.0)


@dataclass
class SplitReport:
    """What a split achieved, printed by ``prepare`` and recorded in ``split.json``."""

    rule: str
    items: int
    train: int
    test: int
    share: float
    target: float
    tolerance: float
    within_tolerance: bool
    groups: int
    units: int
    largest_unit: int
    clusters: int  # near-duplicate clusters of two or more images
    clustered_items: int
    largest_cluster: int
    cross_group_clusters: int  # clusters spanning folder groups: leaks a pure group rule would have
    cross_split_clusters: int  # clusters with items on both sides ('folders' rule only)
    pulled_items: int  # items whose unit is not their own folder group (they follow their cluster)
    passed_over_units: int
    threshold: int
    colour_threshold: float
    hash_version: str
    previous: dict[str, Any] | None = None  # against the split file this one replaces
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """Lines for the prepare output.

        Examples
        --------
        >>> print(SplitReport("units", 20, 17, 3, 0.15, 0.15, 0.01, True, 20, 20, 1, 0, 0, 1, 0, 0, 0, 0, 8,
        ...     12.0, "h").describe())
        train 17 / test 3 items: test 15.00 % (target 15 % ± 1: within); 20 units from 20 groups, largest 1
        near-duplicates (dHash ≤ 8 bits, colour ≤ 12 levels): 0 clusters of 2 or more images, largest 1
        """
        lines = [
            f"train {self.train:,} / test {self.test:,} items: test {100 * self.share:.2f} % (target "
            f"{100 * self.target:.0f} % ± {100 * self.tolerance:.0f}: {'within' if self.within_tolerance else 'OUTSIDE'})"
            + (
                f"; {self.units:,} units from {self.groups:,} groups, largest {self.largest_unit:,}"
                if self.rule == "units"
                else "; the authors' folders"
            ),
            f"near-duplicates (dHash ≤ {self.threshold} bits, colour ≤ {self.colour_threshold:g} levels): "
            f"{self.clusters:,} clusters of 2 or more images"
            + (f" ({self.clustered_items:,} images)" if self.clusters else "")
            + f", largest {self.largest_cluster:,}"
            + (f"; {self.cross_group_clusters:,} span folder groups" if self.cross_group_clusters else "")
            + (f", {self.pulled_items:,} images follow their cluster out of their group" if self.pulled_items else "")
            + (f"; {self.cross_split_clusters:,} straddle train/test" if self.rule == "folders" else ""),
        ]
        if self.previous is not None:
            p = self.previous
            lines.append(
                f"against the previous split: {p['moved']:,} of {p['compared']:,} items moved ({p['to_test']:,} to "
                f"test, {p['to_train']:,} to train); {p['added']:,} added, {p['removed']:,} removed"
            )
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def _cluster_stats(labels: np.ndarray, groups: list[str]) -> tuple[np.ndarray, dict[int, set[str]]]:
    sizes = np.bincount(labels) if len(labels) else np.zeros(0, np.int64)
    spans: dict[int, set[str]] = defaultdict(set)
    for index in np.flatnonzero(sizes[labels] >= 2):
        spans[int(labels[index])].add(groups[index])
    return sizes, spans


def make_split(
    card: DatasetCard,
    pairs: Sequence[Pair],
    hashes: np.ndarray,
    thumbnails: np.ndarray,
    previous: Sequence[SplitRow] | None = None,
) -> tuple[list[SplitRow], SplitReport]:
    """Split rows (sorted by id) and the report, by the card's rule.

    Parameters
    ----------
    card : DatasetCard
    pairs : sequence of Pair
        The verified pairs (any order).
    hashes, thumbnails : numpy.ndarray
        ``(len(pairs), 11)`` hashes of :func:`vbbench.neardup.hash_image` and ``(len(pairs), 144)``
        thumbnails of :func:`vbbench.neardup.colour_thumbnail`, in the order of ``pairs``.
    previous : sequence of SplitRow, optional
        An earlier split file's rows, to count moved items.

    Raises
    ------
    SplitError
        A pair whose folder is neither split folder (``folders`` rule), or repeated ids.

    Examples
    --------
    >>> from vbbench.cards import get_dataset
    >>> pairs = [Pair(f"{k:03d}", f"{k:03d}", "", "", "", f"{k}") for k in range(40)]
    >>> hashes = np.arange(40 * 11, dtype=np.uint64).reshape(40, 11) * np.uint64(0x9E3779B97F4A7C15)
    >>> rows, report = make_split(get_dataset("sample"), pairs, hashes, np.zeros((40, 144), np.uint8))
    >>> report.test, report.units, report.within_tolerance
    (6, 40, True)
    """
    spec = card.split
    if len(pairs) != len(hashes):
        raise ValueError(f"{len(pairs)} pairs but {len(hashes)} hash rows")
    order = sorted(range(len(pairs)), key=lambda k: pairs[k].id)
    pairs = [pairs[k] for k in order]
    hashes = np.asarray(hashes, np.uint64).reshape(len(order), -1)[order]
    thumbnails = np.asarray(thumbnails, np.uint8).reshape(len(order), -1)[order]
    ids = [pair.id for pair in pairs]
    repeated = [item for item, count in Counter(ids).items() if count > 1]
    if repeated:
        raise SplitError(f"{card.name}: ids repeat in the verified pairs: {', '.join(repeated[:5])}")
    n = len(pairs)
    groups = [pair.group or pair.id for pair in pairs]
    labels = clusters(n, near_pairs(hashes, spec.dhash_threshold, thumbnails, spec.colour_threshold))
    sizes, spans = _cluster_stats(labels, groups)
    warnings: list[str] = []
    passed_over = 0
    if spec.rule == "folders":
        sides = []
        for pair in pairs:
            if pair.folder == spec.test_folder:
                sides.append("test")
            elif pair.folder == spec.train_folder:
                sides.append("train")
            else:
                raise SplitError(f"{pair.id}: folder '{pair.folder}' is neither the train nor the test folder")
        first: dict[int, str] = {}
        for index in range(n):  # ids are sorted: a cluster is named after its smallest id
            first.setdefault(int(labels[index]), ids[index])
        units = [first[int(label)] for label in labels]
    else:
        units = home_units(groups, labels, spec.salt)
        names = sorted(set(units))
        position = {name: k for k, name in enumerate(names)}
        weights = np.bincount([position[u] for u in units], minlength=len(names))
        keys = [(unit_key(name, spec.salt), name) for name in names]
        selection = select_test_units(weights, keys, spec.test_fraction, spec.tolerance, spec.max_unit_share)
        sides = ["test" if selection.test[position[u]] else "train" for u in units]
        passed_over = len(selection.passed_over)
    rows = [SplitRow(ids[k], groups[k], sides[k], pairs[k].image_sha256, units[k]) for k in range(n)]
    cluster_sides: dict[int, set[str]] = defaultdict(set)
    for member in (np.flatnonzero(sizes[labels] >= 2) if n else np.zeros(0, np.int64)).tolist():
        cluster_sides[int(labels[member])].add(sides[member])
    cross_split = sum(len(s) > 1 for s in cluster_sides.values())
    if spec.rule == "units" and cross_split:
        raise AssertionError("a near-duplicate cluster straddles the split")  # impossible by construction
    if spec.rule == "folders" and cross_split:
        warnings.append(
            f"{cross_split} near-duplicate clusters have images in both {spec.train_folder}/ and {spec.test_folder}/ "
            "(the authors' split is kept; their ids share a 'unit' in the split file)"
        )
    test_count = sides.count("test")
    share = test_count / n if n else 0.0
    within = abs(share - spec.test_fraction) <= spec.tolerance + 1e-12
    unit_sizes = Counter(units)
    largest_cluster = int(sizes.max()) if n else 0
    if n and largest_cluster > max(50, _CLUSTER_WARNING_SHARE * n):
        warnings.append(
            f"the largest near-duplicate cluster holds {largest_cluster:,} images ({100 * largest_cluster / n:.1f} %): "
            "the hash may be chaining distinct images on this data; look at it, or lower split.dhash_threshold"
        )
    if spec.rule == "units" and not within:
        warnings.append(
            f"the test share {100 * share:.2f} % is outside {100 * spec.test_fraction:.0f} ± "
            f"{100 * spec.tolerance:.0f} %: the units are too coarse ({len(unit_sizes):,} units, largest "
            f"{max(unit_sizes.values()):,} items)"
        )
    report = SplitReport(
        rule=spec.rule,
        items=n,
        train=n - test_count,
        test=test_count,
        share=share,
        target=spec.test_fraction,
        tolerance=spec.tolerance,
        within_tolerance=within,
        groups=len(set(groups)),
        units=len(unit_sizes),
        largest_unit=max(unit_sizes.values()) if n else 0,
        clusters=int((sizes >= 2).sum()),
        clustered_items=int(sizes[sizes >= 2].sum()),
        largest_cluster=largest_cluster,
        cross_group_clusters=sum(len(g) > 1 for g in spans.values()),
        cross_split_clusters=cross_split if spec.rule == "folders" else 0,
        pulled_items=sum(u != g for u, g in zip(units, groups)) if spec.rule == "units" else 0,
        passed_over_units=passed_over,
        threshold=spec.dhash_threshold,
        colour_threshold=spec.colour_threshold,
        hash_version=HASH_VERSION,
        warnings=warnings,
    )
    if previous is not None:
        report.previous = compare_splits(rows, previous)
    return rows, report


def compare_splits(rows: Sequence[SplitRow], previous: Sequence[SplitRow]) -> dict[str, int]:
    """Items moved between two split lists, and items added or removed.

    Examples
    --------
    >>> old = [SplitRow("a", "a", "train", ""), SplitRow("b", "b", "test", "")]
    >>> new = [SplitRow("a", "a", "test", ""), SplitRow("c", "c", "train", "")]
    >>> compare_splits(new, old)
    {'compared': 1, 'moved': 1, 'to_test': 1, 'to_train': 0, 'added': 1, 'removed': 1}
    """
    now = {row.id: row.split for row in rows}
    before = {row.id: row.split for row in previous}
    common = now.keys() & before.keys()
    moved = [item for item in common if now[item] != before[item]]
    return {
        "compared": len(common),
        "moved": len(moved),
        "to_test": sum(now[item] == "test" for item in moved),
        "to_train": sum(now[item] == "train" for item in moved),
        "added": len(now.keys() - before.keys()),
        "removed": len(before.keys() - now.keys()),
    }


def _record(card: DatasetCard, report: SplitReport, split_text: str, partial: dict[str, Any] | None) -> dict:
    spec = card.split
    return {
        "schema": SPLIT_SCHEMA,
        "dataset": card.name,
        "revision": card.revision,
        "rule": spec.rule,
        "parameters": {
            "salt": spec.salt,
            "test_fraction": spec.test_fraction,
            "tolerance": spec.tolerance,
            "dhash_threshold": spec.dhash_threshold,
            "colour_threshold": spec.colour_threshold,
            "max_unit_share": spec.max_unit_share,
            "hash_version": report.hash_version,
        },
        "split_sha256": hashlib.sha256(split_text.encode("utf-8")).hexdigest(),
        "partial": partial,
        "report": asdict(report),
    }


def _json(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_split(
    prepared: PreparedDataset,
    rows: list[SplitRow],
    report: SplitReport,
    *,
    partial: dict[str, Any] | None = None,
    resplit: bool = False,
) -> str:
    """Write ``split.csv`` and its record ``split.json`` atomically; return what happened.

    The list is rewritten only when its rows change; the record keeps the comparison with the file
    the current list replaced (so re-running ``prepare`` changes no byte). ``partial`` (``None``
    for a complete set) records how many pairs a partial set lacks.

    Returns
    -------
    str
        ``"unchanged"``, ``"written"`` or ``"replaced"`` (an earlier, different list).

    Raises
    ------
    SplitError
        For a committed split (the sample) when the data gives a different list and ``resplit``
        is not set: the committed file is not replaced silently.
    """
    path, record_path = prepared.split_csv, prepared.split_record
    text = csv_text((row.row() for row in rows), SPLIT_FIELDS)
    old_text = path.read_text(encoding="utf-8") if path.is_file() else None
    old_record: dict = {}
    if record_path.is_file():
        try:
            old_record = json.loads(record_path.read_text(encoding="utf-8"))
        except ValueError:
            old_record = {}
    recorded = report
    if old_text == text:
        # the record keeps the comparison with the list this one replaced, not with itself
        recorded = dataclasses.replace(report, previous=(old_record.get("report") or {}).get("previous"))
        status = "unchanged"
    else:
        if old_text is not None and prepared.card.split.committed and not resplit:
            moved = report.previous or {}
            raise SplitError(
                f"{path}: the committed split differs from the one the prepared data gives "
                f"({moved.get('moved', '?')} of {moved.get('compared', '?')} items would move, "
                f"{moved.get('added', '?')} added, {moved.get('removed', '?')} removed); if the sample or the split "
                f"rule changed on purpose, run `vbbench prepare {prepared.name} --resplit` and commit {path} and "
                f"{record_path}"
            )
        status = "written" if old_text is None else "replaced"
    record = _json(_record(prepared.card, recorded, text, partial))
    if old_text != text:
        atomic_write_text(path, text)
    if not record_path.is_file() or record_path.read_text(encoding="utf-8") != record:
        atomic_write_text(record_path, record)
    return status
