"""Dataset cards, downloads against a local HTTP server, the archive cache, safe bounded extraction."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zipfile
from collections import namedtuple

import pytest
from _archives import LocalServer, aisegment_kaggle, png, portrait, shen_entries, tar_bytes, zip_bytes

from vbbench import download as downloading
from vbbench.archives import plan_extraction, safe_extract
from vbbench.cards import SizeLimits, get_dataset, list_datasets, load_card
from vbbench.download import acquire, download
from vbbench.errors import (
    ArchiveError,
    ChecksumError,
    CorruptArchiveError,
    DatasetError,
    DownloadError,
    ManualDownloadRequired,
)


def test_registry_lists_the_three_cards_with_their_facts():
    assert list_datasets() == ["aisegment", "sample", "shen2016"]
    shen, ais = get_dataset("shen2016"), get_dataset("aisegment")
    assert (shen.expected_pairs, shen.expected_width_px, shen.expected_height_px) == (2000, 600, 800)
    assert shen.expected_folder_pairs == {"training": 1700, "testing": 300}
    assert [(k.folder, k.pairs) for k in shen.known_counts] == [("training", 1662)]
    assert shen.split.rule == "folders" and (shen.split.train_folder, shen.split.test_folder) == ("training", "testing")
    assert shen.homepage == "http://www.cse.cuhk.edu.hk/leojia/projects/automatting/index.html"
    assert [form.name for form in shen.layout.forms] == ["authors", "kaggle"]
    assert {r.name for r in shen.layout.refuse} == {"EG 2016 segmentation set"}
    assert "1drv.ms/u/s!ApwdOxIIFBH19Ts5EuFd9gVJrKTo" in shen.manual and "tommzzhou/human-img-seg" in shen.manual
    assert "ndg8" in shen.manual and "ECCV" in shen.citation and "no redistribution" in shen.licence
    assert ais.expected_pairs == 34425 and ais.split.test_fraction == 0.15 and ais.split.rule == "units"
    assert ais.layout.forms[0].matte_channel == "alpha" and ais.layout.duplicate_tree == "matting_human_half"
    assert (ais.limits.tree_bytes, ais.limits.archive_bytes, ais.limits.archive_entries) == (
        14_000_000_000,
        28_700_000_000,
        137_706,
    )
    assert "MIT LICENSE" in ais.licence and "unclear" in ais.licence
    assert {k.kind for k in ais.known_defects} == {"macos_fork", "matte_without_image"}
    # no public URL or checksum is known for the real sets: the cards say so with nulls
    assert (shen.url, shen.sha256, ais.url, ais.sha256) == (None, None, None, None)


def test_an_aisegment_group_is_a_run_of_500_numbers_in_a_block(tmp_path):
    from vbbench.layout import find_pairs

    names = [f"1803151818-{n:08d}" for n in (1000, 1499, 1500, 1999)]
    for stem in names:
        for top, suffix in (("clip_img", "jpg"), ("matting", "png")):
            folder = "clip" if top == "clip_img" else "matting"
            path = tmp_path / top / "1803151818" / f"{folder}_00000001" / f"{stem}.{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    listing = find_pairs(get_dataset("aisegment"), tmp_path)
    assert [(p.id, p.group) for p in listing.pairs] == [
        ("1803151818/clip_00000001/1803151818-00001000", "1803151818/clip_00000001/run_2"),
        ("1803151818/clip_00000001/1803151818-00001499", "1803151818/clip_00000001/run_2"),
        ("1803151818/clip_00000001/1803151818-00001500", "1803151818/clip_00000001/run_3"),
        ("1803151818/clip_00000001/1803151818-00001999", "1803151818/clip_00000001/run_3"),
    ]


def test_unknown_dataset_suggests_the_closest_name():
    with pytest.raises(DatasetError, match=r"unknown dataset 'aisegmnt'; did you mean 'aisegment'\?"):
        get_dataset("aisegmnt")


def test_card_loader_names_the_missing_or_wrong_field(tmp_path):
    card = tmp_path / "x" / "card.yaml"
    card.parent.mkdir()
    card.write_text("schema: vbbench-card/1\nname: x\n")
    with pytest.raises(DatasetError, match=r"card.yaml: the card lacks 'layout'"):
        load_card(card)
    card.write_text("name: x\n")
    with pytest.raises(DatasetError, match="not a dataset card"):
        load_card(card)
    text = (get_dataset("shen2016").card_dir / "card.yaml").read_text()
    card.write_text(text.replace('id: "{folder}/{number}"', 'id: "{folder}/{nummer}"'))
    with pytest.raises(
        DatasetError, match=r"'layout.id' uses nummer, not a field of the image pattern of form 'authors'"
    ):
        load_card(card)
    card.write_text(text.replace('group: "{folder}/{number}"', 'group: "{folder//2}"'))
    with pytest.raises(DatasetError, match=r"'layout.group' divides 'folder', which the image pattern of form 'authors' "
                                           r"does not declare as \{folder:digits\}"):  # fmt: skip
        load_card(card)
    card.write_text(text.replace("  dhash_threshold: 8", "  dhash_threshold: 64"))
    with pytest.raises(DatasetError, match=r"'split.dhash_threshold' must be 0 to 63 bits, not 64"):
        load_card(card)


# ---- downloads ---------------------------------------------------------------------------------

PAYLOAD = zip_bytes({"training/00001.png": os.urandom(300_000)})  # an archive: downloads must be one
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_resumes_after_the_connection_drops(tmp_path):
    with LocalServer() as server:
        server.state.files["/set.zip"] = PAYLOAD
        server.state.drops = 1  # the first response stops after half the bytes
        path = download(server.url("/set.zip"), tmp_path / "set.zip", PAYLOAD_SHA, backoff_s=0.01, progress=False)
        assert path.read_bytes() == PAYLOAD
        # the second request asked only for the rest
        assert server.state.ranges == [None, f"bytes={len(PAYLOAD) // 2}-"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.zip"]  # no .part, no lock file


def test_a_garbled_status_line_is_retried_like_a_dropped_connection(tmp_path):
    with LocalServer() as server:
        server.state.files["/set.zip"] = PAYLOAD
        server.state.garbled = 2  # http.client.BadStatusLine twice, then a good answer
        download(server.url("/set.zip"), tmp_path / "set.zip", PAYLOAD_SHA, backoff_s=0.01, progress=False)
        assert len(server.state.ranges) == 3
    assert (tmp_path / "set.zip").read_bytes() == PAYLOAD


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
        with pytest.raises(
            DownloadError, match=r"failed after 2 attempts \(IncompleteRead: .*\); run the command again to resume"
        ):
            download(
                server.url("/set.zip"), tmp_path / "set.zip", PAYLOAD_SHA, retries=1, backoff_s=0.01, progress=False
            )
        assert len(server.state.ranges) == 2
    assert (tmp_path / "set.zip.part").stat().st_size == len(PAYLOAD) // 2 + (len(PAYLOAD) - len(PAYLOAD) // 2) // 2


@pytest.mark.parametrize("answer", ["404", "html page", "html bytes"])
def test_an_error_page_is_never_kept_as_the_archive(tmp_path, answer):
    page = b"<!DOCTYPE html><html>Sign in to continue</html>"
    with LocalServer() as server:
        if answer == "html page":
            server.state.files["/shen.zip"] = page
            server.state.html.add("/shen.zip")  # Content-Type: text/html
        elif answer == "html bytes":
            server.state.files["/shen.zip"] = page  # served as a file, no content type
        with pytest.raises(DownloadError) as caught:
            download(server.url("/shen.zip"), tmp_path / "shen2016.zip", None, backoff_s=0.01, progress=False)
        assert len(server.state.ranges) == 1  # final at once: retrying cannot fix a wrong URL
    expected = {
        "404": "the server answered 404 Not Found; check the URL",
        "html page": "the server sent a web page (text/html; charset=utf-8), not the archive",
        "html bytes": f"gave {len(page)} bytes that are not a zip or tar archive (they begin b'<!DOCTYPE html><html>Sig'",
    }[answer]
    assert expected in str(caught.value) and "nothing was kept" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_leaves_no_archive_so_the_next_run_downloads_again(small_cards, tmp_path):
    data = zip_bytes(shen_entries(train=2, test=1))
    with LocalServer() as server:
        url = server.url("/shen.zip")
        server.state.files["/shen.zip"] = b"<html>503</html>"
        server.state.html.add("/shen.zip")
        with pytest.raises(DownloadError):
            acquire(get_dataset("shen2016"), tmp_path / "raw", url=url, progress=False)
        assert downloading.cached_archive(get_dataset("shen2016")) is None
        server.state.html.clear()
        server.state.files["/shen.zip"] = data
        notes: list[str] = []
        root = acquire(get_dataset("shen2016"), tmp_path / "raw", url=url, progress=False, notes=notes)
    assert root == tmp_path / "raw" / "PortraitMatting"
    digest = hashlib.sha256(data).hexdigest()
    assert notes == [
        f"the download of {url} was not checked against a SHA-256 (none given): its SHA-256 is {digest}; "
        f"pass --sha256 {digest} to check it next time"
    ]


def test_a_cached_archive_is_checked_against_the_sha256_every_time(small_cards, tmp_path):
    data = zip_bytes(shen_entries(train=2, test=1))
    cache = tmp_path / "home" / "archives" / "shen2016.zip"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(data)
    card = get_dataset("shen2016")
    with pytest.raises(ChecksumError) as caught:
        acquire(card, tmp_path / "raw", sha256="0" * 64, progress=False)
    assert str(caught.value) == (
        f"the cached archive {cache} was removed: its sha256 is {hashlib.sha256(data).hexdigest()}, not the "
        f"expected {'0' * 64}; put the right file there or give --url to download it again "
        "(vbbench prepare shen2016 --url URL --sha256 HEX)"
    )
    assert not cache.exists() and not (tmp_path / "raw").exists()
    # with a URL the wrong file is replaced by a fresh download
    cache.write_bytes(b"an old, wrong archive")
    with LocalServer() as server:
        server.state.files["/shen.zip"] = data
        notes: list[str] = []
        acquire(card, tmp_path / "raw", url=server.url("/shen.zip"), sha256=hashlib.sha256(data).hexdigest(),
                progress=False, notes=notes)  # fmt: skip
        assert server.state.ranges == [None]
    assert cache.read_bytes() == data
    wrong = hashlib.sha256(b"an old, wrong archive").hexdigest()
    assert notes == [f"the cached archive {cache} was removed (its sha256 is {wrong}, not the expected "
                     f"{hashlib.sha256(data).hexdigest()}); downloading it again"]  # fmt: skip


def test_a_corrupt_cached_archive_is_removed_so_download_it_again_works(small_cards, tmp_path):
    data = bytearray(zip_bytes(shen_entries(train=2, test=1)))
    data[200] ^= 0xFF  # a flipped byte inside the first member: the CRC fails while extracting
    cache = tmp_path / "home" / "archives" / "shen2016.zip"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(bytes(data))
    with pytest.raises(CorruptArchiveError, match=r"corrupt or truncated archive .*\(it was removed from the cache\)"):
        acquire(get_dataset("shen2016"), tmp_path / "raw", progress=False)
    assert not cache.exists() and not (tmp_path / "raw").exists()


def test_acquire_without_data_gives_the_manual_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VBBENCH_AISEGMENT_URL", raising=False)
    with pytest.raises(ManualDownloadRequired) as caught:
        acquire(get_dataset("aisegment"), tmp_path / "raw")
    message = str(caught.value)
    assert "vbbench prepare aisegment --from /path/to/" in message and "137,706 entries" in message
    assert str(tmp_path / "home" / "archives" / "aisegment.zip") in message


def test_acquire_downloads_from_the_environment_url_into_the_cache(small_cards, tmp_path, monkeypatch):
    data = zip_bytes(shen_entries(train=2, test=1))
    with LocalServer() as server:
        server.state.files["/shen.zip"] = data
        monkeypatch.setenv("VBBENCH_SHEN2016_URL", server.url("/shen.zip"))
        monkeypatch.setenv("VBBENCH_SHEN2016_SHA256", hashlib.sha256(data).hexdigest())
        root = acquire(get_dataset("shen2016"), tmp_path / "raw", progress=False)
    assert root == tmp_path / "raw" / "PortraitMatting"
    assert (tmp_path / "home" / "archives" / "shen2016.zip").read_bytes() == data
    assert downloading.cached_archive(get_dataset("shen2016")) == tmp_path / "home" / "archives" / "shen2016.zip"
    assert zipfile.is_zipfile(tmp_path / "home" / "archives" / "shen2016.zip")


# ---- extraction --------------------------------------------------------------------------------


def test_safe_extract_round_trip(tmp_path):
    entries = shen_entries(train=2, test=1)
    (tmp_path / "a.zip").write_bytes(zip_bytes(entries, folders=True))
    plan = safe_extract(tmp_path / "a.zip", tmp_path / "raw", progress=False)
    for name, data in entries.items():
        assert (tmp_path / "raw" / name).read_bytes() == data
    assert plan.kind == "zip" and plan.total_bytes == sum(map(len, entries.values()))
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
    with pytest.raises(
        ArchiveError, match=r"a.zip: not a zip or tar archive .*truncated or corrupt: download it again"
    ):
        safe_extract(tmp_path / "a.zip", tmp_path / "raw", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_corrupt_member_is_caught_by_crc_and_leaves_nothing(tmp_path):
    data = bytearray(zip_bytes({"training/00001.png": b"A" * 5000}))
    offset = bytes(data).index(b"A" * 100)
    data[offset + 10] ^= 0xFF
    (tmp_path / "a.zip").write_bytes(bytes(data))
    with pytest.raises(CorruptArchiveError, match=r"corrupt or truncated archive \(Bad CRC-32"):
        safe_extract(tmp_path / "a.zip", tmp_path / "raw", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_an_html_page_saved_as_the_archive_is_named_for_what_it_is(tmp_path):
    (tmp_path / "shen2016.zip").write_bytes(b"<!DOCTYPE html>\n<html><body>Error 403</body></html>")
    with pytest.raises(CorruptArchiveError, match=r"not a zip or tar archive \(51 bytes .*\) \(it is a web page"):
        safe_extract(tmp_path / "shen2016.zip", tmp_path / "raw", progress=False)


def test_duplicate_entry_names_are_an_error_naming_both(tmp_path):
    entries = shen_entries(train=2, test=1, wrap="")
    other_matte = png(portrait(77)[1])  # another portrait's matte under the same name
    (tmp_path / "a.zip").write_bytes(zip_bytes(entries, also=[("training/00001_matte.png", other_matte)]))
    with pytest.raises(ArchiveError) as caught:
        safe_extract(tmp_path / "a.zip", tmp_path / "raw", progress=False)
    assert "entries 2 and 7 are both named 'training/00001_matte.png'" in str(caught.value)
    assert not (tmp_path / "raw").exists()


def test_names_that_differ_only_in_case_are_reported(tmp_path):
    entries = shen_entries(train=2, test=1, wrap="")
    (tmp_path / "a.zip").write_bytes(zip_bytes(entries, also=[("Training/00001.png", b"x")]))
    plan = safe_extract(tmp_path / "a.zip", tmp_path / "raw", progress=False)
    assert plan.case_only == [("training/00001.png", "Training/00001.png")]
    assert "1 entry names differ only in case from another (training/00001.png / Training/00001.png)" in plan.notes()[0]


def test_an_entry_beyond_the_cards_size_for_one_file_is_refused(small_cards, tmp_path):
    card = get_dataset("shen2016").replace(limits=SizeLimits(max_file_bytes=4096))
    (tmp_path / "a.zip").write_bytes(zip_bytes({**shen_entries(train=2, test=1), "PortraitMatting/training/big.png":
                                                 b"\0" * 5000}))  # fmt: skip
    with pytest.raises(ArchiveError, match=r"entry 'PortraitMatting/training/big.png' is 4.9 KiB uncompressed, more "
                                           r"than the 4.0 KiB the shen2016 card allows for one file"):  # fmt: skip
        safe_extract(tmp_path / "a.zip", tmp_path / "raw", card, progress=False)
    assert not (tmp_path / "raw").exists()


def test_a_decompression_bomb_is_refused_before_extraction(small_cards, tmp_path):
    bomb = zip_bytes({**shen_entries(train=2, test=1), "PortraitMatting/training/bomb.png": b"\0" * (64 << 20)},
                     compression=zipfile.ZIP_DEFLATED)  # fmt: skip
    (tmp_path / "a.zip").write_bytes(bomb)
    assert len(bomb) < 1 << 20  # 64 MiB of zeros deflate to ~64 KiB
    card = get_dataset("shen2016").replace(limits=SizeLimits(max_file_bytes=1 << 30))
    with pytest.raises(ArchiveError, match=r"entry 'PortraitMatting/training/bomb.png' expands 1,0\d\d:1 .*possible "
                                           r"decompression bomb"):  # fmt: skip
        safe_extract(tmp_path / "a.zip", tmp_path / "raw", card, progress=False)
    assert not [p for p in tmp_path.iterdir() if "raw" in p.name]  # no target, no staging folder


def test_a_total_far_beyond_one_tree_and_too_little_free_space_fail_early(small_cards, tmp_path, monkeypatch):
    entries = shen_entries(train=2, test=1)
    (tmp_path / "a.zip").write_bytes(zip_bytes(entries))
    total = sum(map(len, entries.values()))
    card = get_dataset("shen2016").replace(limits=SizeLimits(tree_bytes=total // 3))
    with pytest.raises(
        ArchiveError, match=r"its entries add up to .* uncompressed, far beyond the .* of one shen2016 tree"
    ):
        plan_extraction(tmp_path / "a.zip", card)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(ArchiveError) as caught:
        safe_extract(tmp_path / "a.zip", tmp_path / "raw", get_dataset("shen2016"), progress=False)
    assert (
        f"extracting needs {total / 1024:.1f} KiB (6 entries, from the archive's index) but only 1000 B are free on {tmp_path}"
        in str(caught.value)
    )
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:xz"])
def test_tar_archives_are_imported(small_cards, tmp_path, mode):
    entries = shen_entries(train=2, test=1)
    (tmp_path / "shen.tar").write_bytes(tar_bytes(entries, mode))
    plan = safe_extract(tmp_path / "shen.tar", tmp_path / "raw", get_dataset("shen2016"), progress=False)
    assert plan.kind == "tar"
    for name, data in entries.items():
        assert (tmp_path / "raw" / name).read_bytes() == data


def test_tar_links_are_refused(tmp_path):
    (tmp_path / "a.tar.gz").write_bytes(tar_bytes({"a.png": b"x"}, symlinks={"training/x.png": "/etc/passwd"}))
    with pytest.raises(ArchiveError, match=r"refusing link entry 'training/x.png'"):
        safe_extract(tmp_path / "a.tar.gz", tmp_path / "raw", progress=False)
    assert tarfile.is_tarfile(tmp_path / "a.tar.gz") and not (tmp_path / "raw").exists()


def test_the_kaggle_second_copy_is_not_extracted(small_cards, tmp_path):
    entries = aisegment_kaggle()
    (tmp_path / "archive.zip").write_bytes(zip_bytes(entries, folders=True))
    plan = safe_extract(tmp_path / "archive.zip", tmp_path / "raw", get_dataset("aisegment"), progress=False)
    assert not (tmp_path / "raw" / "matting_human_half").exists()
    names = zipfile.ZipFile(tmp_path / "archive.zip").namelist()
    in_copy = [name for name in names if name.startswith("matting_human_half/")]  # files and folders
    assert plan.skipped == {"the second copy of the tree (matting_human_half/)": len(in_copy)}
    written = sorted(p.relative_to(tmp_path / "raw").as_posix() for p in (tmp_path / "raw").rglob("*") if p.is_file())
    assert written == sorted(name for name in entries if not name.startswith("matting_human_half/"))
    assert plan.total_bytes == sum(len(entries[name]) for name in written)
