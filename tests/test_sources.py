"""Dataset cards and registry, resumable download against a local HTTP server, safe extraction."""

from __future__ import annotations

import hashlib
import os
import zipfile

import pytest
from _archives import LocalServer, shen_entries, zip_bytes

from vbbench import download as downloading
from vbbench.cards import SplitSpec, get_dataset, list_datasets, load_card
from vbbench.download import acquire, download, safe_extract
from vbbench.errors import ArchiveError, ChecksumError, DatasetError, DownloadError, ManualDownloadRequired


def test_registry_lists_the_three_cards_with_their_facts():
    assert list_datasets() == ["aisegment", "sample", "shen2016"]
    shen, ais = get_dataset("shen2016"), get_dataset("aisegment")
    assert (shen.expected_pairs, shen.expected_width_px, shen.expected_height_px) == (2000, 600, 800)
    assert shen.split == SplitSpec("folders", train_folder="training", test_folder="testing")
    assert ais.expected_pairs == 34425 and ais.split.test_fraction == 0.15
    assert ais.layout.matte_channel == "alpha" and ais.layout.duplicate_tree == "matting_human_half"
    assert "ECCV" in shen.citation and "research-only" in shen.licence
    # no public URL or checksum is known for the real sets: the cards say so with nulls
    assert (shen.url, shen.sha256, ais.url, ais.sha256) == (None, None, None, None)


def test_unknown_dataset_suggests_the_closest_name():
    with pytest.raises(DatasetError, match=r"unknown dataset 'aisegmnt'; did you mean 'aisegment'\?"):
        get_dataset("aisegmnt")


def test_card_loader_names_the_missing_field(tmp_path):
    card = tmp_path / "x" / "card.yaml"
    card.parent.mkdir()
    card.write_text("schema: vbbench-card/1\nname: x\n")
    with pytest.raises(DatasetError, match=r"card.yaml: the card lacks 'layout'"):
        load_card(card)
    card.write_text("name: x\n")
    with pytest.raises(DatasetError, match="not a dataset card"):
        load_card(card)


PAYLOAD = os.urandom(300_000)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_resumes_after_the_connection_drops(tmp_path):
    with LocalServer() as server:
        server.state.files["/set.zip"] = PAYLOAD
        server.state.drops = 1  # the first response stops after half the bytes
        path = download(server.url("/set.zip"), tmp_path / "set.zip", PAYLOAD_SHA, backoff_s=0.01, progress=False)
        assert path.read_bytes() == PAYLOAD
        # the second request asked only for the rest
        assert server.state.ranges == [None, f"bytes={len(PAYLOAD) // 2}-"]
    assert not (tmp_path / "set.zip.part").exists()


def test_download_continues_a_part_file_left_by_a_killed_run(tmp_path):
    (tmp_path / "set.zip.part").write_bytes(PAYLOAD[:1000])
    with LocalServer() as server:
        server.state.files["/set.zip"] = PAYLOAD
        download(server.url("/set.zip"), tmp_path / "set.zip", PAYLOAD_SHA, progress=False)
        assert server.state.ranges == ["bytes=1000-"]
    assert (tmp_path / "set.zip").read_bytes() == PAYLOAD


def test_a_flipped_byte_is_a_checksum_error_and_nothing_is_kept(tmp_path):
    corrupted = bytearray(PAYLOAD)
    corrupted[12345] ^= 0x01
    with LocalServer() as server:
        server.state.files["/set.zip"] = bytes(corrupted)
        url = server.url("/set.zip")
        with pytest.raises(ChecksumError) as caught:
            download(url, tmp_path / "set.zip", PAYLOAD_SHA, progress=False)
    actual = hashlib.sha256(bytes(corrupted)).hexdigest()
    assert str(caught.value) == (
        f"{url}: checksum mismatch: expected sha256 {PAYLOAD_SHA}, got {actual}; "
        "the download was deleted; check the URL and --sha256, then retry"
    )
    assert list(tmp_path.iterdir()) == []


def test_download_gives_up_after_the_retries_and_says_how_to_resume(tmp_path):
    with LocalServer() as server:
        server.state.files["/set.zip"] = PAYLOAD
        server.state.drops = 10
        with pytest.raises(DownloadError, match=r"failed after 2 attempts: .*run the command again to resume"):
            download(
                server.url("/set.zip"), tmp_path / "set.zip", PAYLOAD_SHA, retries=1, backoff_s=0.01, progress=False
            )
        assert len(server.state.ranges) == 2
    assert (tmp_path / "set.zip.part").stat().st_size == len(PAYLOAD) // 2 + (len(PAYLOAD) - len(PAYLOAD) // 2) // 2


def test_safe_extract_round_trip(tmp_path):
    entries = shen_entries(train=2, test=1)
    (tmp_path / "a.zip").write_bytes(zip_bytes(entries))
    target = safe_extract(tmp_path / "a.zip", tmp_path / "raw", progress=False)
    for name, data in entries.items():
        assert (target / name).read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "raw"]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("../evil.png", "climbs out of the target with '..'"),
        ("training/../../evil.png", "climbs out of the target with '..'"),
        ("/etc/evil.png", "absolute path"),
    ],
)
def test_zip_slip_entries_are_refused_before_anything_is_written(tmp_path, name, reason):
    (tmp_path / "a.zip").write_bytes(zip_bytes({"training/00001.png": b"x", name: b"evil"}))
    with pytest.raises(ArchiveError, match=reason):
        safe_extract(tmp_path / "a.zip", tmp_path / "out" / "raw", progress=False)
    assert not (tmp_path / "evil.png").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_symlink_entries_are_refused(tmp_path):
    (tmp_path / "a.zip").write_bytes(zip_bytes({"a.png": b"x"}, symlinks={"link": "/etc/passwd"}))
    with pytest.raises(ArchiveError, match="refusing symbolic link entry 'link'"):
        safe_extract(tmp_path / "a.zip", tmp_path / "raw", progress=False)
    assert not (tmp_path / "raw").exists()


def test_truncated_zip_is_a_clear_error_and_leaves_nothing(tmp_path):
    data = zip_bytes(shen_entries(train=2, test=1))
    (tmp_path / "a.zip").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ArchiveError, match=r"a.zip: not a readable zip archive .*truncated or corrupt"):
        safe_extract(tmp_path / "a.zip", tmp_path / "raw", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_corrupt_member_is_caught_by_crc_and_leaves_nothing(tmp_path):
    data = bytearray(zip_bytes({"training/00001.png": b"A" * 5000}))
    offset = bytes(data).index(b"A" * 100)
    data[offset + 10] ^= 0xFF
    (tmp_path / "a.zip").write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"corrupt or truncated archive \(Bad CRC-32"):
        safe_extract(tmp_path / "a.zip", tmp_path / "raw", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_acquire_without_data_gives_the_manual_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VBBENCH_AISEGMENT_URL", raising=False)
    with pytest.raises(ManualDownloadRequired) as caught:
        acquire(get_dataset("aisegment"), tmp_path / "raw")
    message = str(caught.value)
    assert "vbbench prepare aisegment --from /path/to/" in message
    assert str(tmp_path / "home" / "archives" / "aisegment.zip") in message


def test_acquire_downloads_from_the_environment_url_into_the_cache(tmp_path, monkeypatch):
    data = zip_bytes(shen_entries(train=2, test=1))
    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path / "home"))
    with LocalServer() as server:
        server.state.files["/shen.zip"] = data
        monkeypatch.setenv("VBBENCH_SHEN2016_URL", server.url("/shen.zip"))
        monkeypatch.setenv("VBBENCH_SHEN2016_SHA256", hashlib.sha256(data).hexdigest())
        root = acquire(get_dataset("shen2016"), tmp_path / "raw", progress=False)
    assert root == tmp_path / "raw" / "PortraitMatting"
    assert (tmp_path / "home" / "archives" / "shen2016.zip").read_bytes() == data
    assert downloading.cached_archive(get_dataset("shen2016")) == tmp_path / "home" / "archives" / "shen2016.zip"
    assert zipfile.is_zipfile(tmp_path / "home" / "archives" / "shen2016.zip")
