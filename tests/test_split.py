"""The 17:3 split: content/name-hash based, order-independent, group-aware, stable, persisted."""

from __future__ import annotations

import hashlib
import random

from vbbench.cards import get_dataset
from vbbench.prepared import Pair, PreparedDataset
from vbbench.split import assign_splits, group_is_test, summarize_split, write_split


def ais_pairs(groups=200, per_group=5):
    return [
        Pair(
            f"{1803000000 + g}/clip_00000000/{1803000000 + g}-{i:08d}",
            f"{1803000000 + g}/clip_00000000",
            "",
            "",
            "",
            hashlib.sha256(f"{g}-{i}".encode()).hexdigest(),
        )
        for g in range(groups)
        for i in range(per_group)
    ]


def test_group_hash_rule_matches_an_independent_computation():
    salt = get_dataset("aisegment").split.salt
    for group in ["1803201916/clip_00000000", "1803241125/clip_00000003", "x"]:
        digest = hashlib.sha256((salt + group).encode()).digest()
        expected = int.from_bytes(digest[:8], "big") < 0.15 * 2**64
        assert group_is_test(group, salt, 0.15) == expected


def test_split_ignores_input_order():
    card = get_dataset("aisegment")
    pairs = ais_pairs()
    shuffled = pairs[:]
    random.Random(1).shuffle(shuffled)
    assert assign_splits(card, shuffled) == assign_splits(card, pairs)


def test_no_group_straddles_and_the_ratio_is_near_17_to_3():
    card = get_dataset("aisegment")
    rows = assign_splits(card, ais_pairs(groups=400))
    sides = {}
    for row in rows:
        sides.setdefault(row.group, set()).add(row.split)
    assert all(len(s) == 1 for s in sides.values())
    summary = summarize_split(rows)
    assert summary.train + summary.test == 2000
    # 400 groups with p = 0.15: 3 standard deviations are 5.4 percentage points
    assert 0.10 < summary.test_fraction < 0.20


def test_adding_files_keeps_every_earlier_decision():
    card = get_dataset("aisegment")
    before = {row.id: row.split for row in assign_splits(card, ais_pairs(groups=100))}
    after = {row.id: row.split for row in assign_splits(card, ais_pairs(groups=150, per_group=6))}
    assert all(after[key] == side for key, side in before.items())


def test_shen_keeps_the_authors_folders():
    card = get_dataset("shen2016")
    pairs = [
        Pair(f"{folder}/{n:05d}", f"{folder}/{n:05d}", folder, "", "", "0")
        for folder, count in (("training", 1700), ("testing", 300))
        for n in range(1, count + 1)
    ]
    summary = summarize_split(assign_splits(card, pairs))
    assert (summary.train, summary.test, summary.test_fraction) == (1700, 300, 0.15)


def test_split_file_round_trip_and_hash(tmp_path):
    card = get_dataset("aisegment")
    rows = assign_splits(card, ais_pairs(groups=10, per_group=2))
    prepared = PreparedDataset(card, tmp_path)
    write_split(prepared, rows)
    path = prepared.split_csv
    assert path == tmp_path / "aisegment" / "split.csv"
    text = path.read_text()
    assert text.splitlines()[0] == "id,group,split,sha256" and len(text.splitlines()) == 21
    assert prepared.split_sha256() == hashlib.sha256(text.encode()).hexdigest()
    assert prepared.read_split() == rows


def test_committed_sample_split_follows_the_card():
    card = get_dataset("sample")
    path = PreparedDataset(card, "/unused").split_csv
    assert path == card.card_dir / "split.csv"
    rows = PreparedDataset(card, "/unused").read_split()
    assert [row.id for row in rows] == [f"sample_{i:04d}" for i in range(40)]
    assert all(row.split == ("test" if group_is_test(row.group, card.split.salt, 0.15) else "train") for row in rows)
