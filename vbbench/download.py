"""Getting a dataset's files: resumable downloads, safe archive extraction, finding the data.

* :func:`download` — urllib with HTTP Range resume and retries, then a SHA-256 check: pooch (1.8)
  restarts an interrupted download from zero, and an AISegment-sized archive must resume.
* :func:`safe_extract` — a zip extracted atomically, every entry checked first.
* :func:`find_layout_root` — the folder under wrappers that holds a card's layout.
* :func:`acquire` — in order: ``--from`` (archive or folder), the archive cache, a download.

Archives land in ``$VBBENCH_HOME/archives`` (:func:`vbbench.paths.archive_cache_dir`) only once
their SHA-256 matches.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from vbbench.cards import DatasetCard
from vbbench.errors import ArchiveError, ChecksumError, DatasetError, DownloadError, ManualDownloadRequired
from vbbench.io import file_sha256
from vbbench.paths import archive_cache_dir

__all__ = [
    "download",
    "safe_extract",
    "find_layout_root",
    "cached_archive",
    "manual_instructions",
    "acquire",
]

_CHUNK_BYTES = 1 << 20  # 1 MiB read/write chunks

# ---- download ------------------------------------------------------------------------------


def _fetch_once(url: str, part: Path, timeout_s: float, progress: bool) -> None:
    """Append the rest of ``url`` to ``part`` (Range request from its current size)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # asked past the end: the part file is already whole
            return
        raise
    with response:
        if have and response.status != 206:  # server ignores Range: start over
            have = 0
        total = response.headers.get("Content-Length")
        total_bytes = int(total) + have if total is not None else None
        from tqdm.auto import tqdm

        with (
            open(part, "ab" if have else "wb") as stream,
            tqdm(
                total=total_bytes,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            while chunk := response.read(_CHUNK_BYTES):
                stream.write(chunk)
                bar.update(len(chunk))
        if total_bytes is not None and part.stat().st_size < total_bytes:
            raise urllib.error.URLError(f"connection closed after {part.stat().st_size} of {total_bytes} bytes")


def download(
    url: str,
    destination: str | os.PathLike,
    sha256: str | None,
    *,
    retries: int = 4,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``destination``, resuming and retrying, then check its SHA-256.

    Bytes go to ``destination + ".part"``; an interrupted transfer (dropped connection, or a
    previous run that was killed) continues from the part file's size with an HTTP Range request.
    Failed attempts are retried ``retries`` times, waiting ``backoff_s · 2^attempt`` seconds. Only a
    file whose SHA-256 matches is renamed to ``destination``; on a mismatch the part file is
    deleted (its bytes are wrong, resuming would keep them).

    Parameters
    ----------
    url : str
        http(s) URL.
    destination : path
        Final file name.
    sha256 : str or None
        Expected hex digest; ``None`` accepts any content (the digest is printed by the caller).
    retries : int
        Extra attempts after the first.
    backoff_s : float
        First wait between attempts in seconds; doubles each time.
    timeout_s : float
        Socket timeout in seconds.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    Path
        ``destination``.

    Raises
    ------
    DownloadError
        After the last failed attempt, naming the URL and the last error.
    ChecksumError
        If the downloaded bytes' SHA-256 differs from ``sha256``.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    last_error: Exception | None = None
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, part, timeout_s, progress)
            break
        except (urllib.error.URLError, OSError, ConnectionError) as error:
            last_error = error
            if attempt < retries:
                time.sleep(backoff_s * 2**attempt)
    else:
        raise DownloadError(
            f"download of {url} failed after {retries + 1} attempts: {last_error}; "
            f"run the command again to resume from {part} ({part.stat().st_size if part.exists() else 0} bytes)"
        )
    actual = file_sha256(part)
    if sha256 is not None and actual != sha256.lower():
        part.unlink()
        raise ChecksumError(
            f"{url}: checksum mismatch: expected sha256 {sha256.lower()}, got {actual}; "
            "the download was deleted; check the URL and --sha256, then retry"
        )
    os.replace(part, destination)
    return destination


# ---- archives ------------------------------------------------------------------------------


def _check_entry(info: zipfile.ZipInfo, archive: Path) -> None:
    name = info.filename
    parts = Path(name).parts
    mode = info.external_attr >> 16
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or Path(name).is_absolute():
        raise ArchiveError(f"{archive}: refusing entry with an absolute path: {name!r}")
    if ".." in parts or ".." in name.replace("\\", "/").split("/"):
        raise ArchiveError(f"{archive}: refusing entry that climbs out of the target with '..': {name!r}")
    if stat.S_ISLNK(mode):
        raise ArchiveError(f"{archive}: refusing symbolic link entry {name!r} (links could point out of the target)")


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike, progress: bool = True) -> Path:
    """Extract a zip archive into ``target`` safely and atomically.

    Every entry is checked before anything is written: absolute paths, ``..`` components and
    symbolic links are refused. The archive's CRCs are checked while extracting. Extraction goes
    to a temporary sibling folder that is renamed to ``target`` only when complete, so an
    interrupted or failed extraction never leaves ``target`` looking whole.

    Parameters
    ----------
    archive : path
        A ``.zip`` file.
    target : path
        Folder to create; must not exist yet.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    ArchiveError
        For a truncated or corrupt archive or an unsafe entry, naming the archive and entry.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise ArchiveError(f"{target} already exists; remove it to extract {archive} again")
    try:
        bundle = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as problem:
        raise ArchiveError(
            f"{archive}: not a readable zip archive ({problem}); it is probably truncated or corrupt: download it again"
        ) from None
    except OSError as problem:
        raise ArchiveError(f"{archive}: cannot be read ({problem.strerror or problem})") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".extracting", dir=target.parent))
    try:
        with bundle:
            entries = bundle.infolist()
            for info in entries:
                _check_entry(info, archive)
            from tqdm.auto import tqdm

            root = staging.resolve()
            for info in tqdm(entries, desc=f"extract {archive.name}", unit="file", disable=not progress, leave=False):
                destination = (staging / info.filename).resolve()
                if root not in destination.parents and destination != root:
                    raise ArchiveError(f"{archive}: refusing entry outside the target: {info.filename!r}")
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, open(destination, "wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK_BYTES)
        os.replace(staging, target)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as problem:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(f"{archive}: corrupt or truncated archive ({problem}); download it again") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def find_layout_root(folder: str | os.PathLike, card: DatasetCard, max_depth: int = 3) -> Path:
    """The folder under ``folder`` that holds the card's marker folders side by side.

    Archives wrap the data in one or more folders (``PortraitMatting/``,
    ``matting_human_datasets/``); the shallowest folder holding every marker wins. A folder
    named like the card's ``duplicate_tree`` (AISegment's ``matting_human_half``) is chosen only
    when it is the only tree: beside a real tree it is the Kaggle archive's second copy.

    Raises
    ------
    DatasetError
        If no such folder exists within ``max_depth`` levels.
    """
    folder = Path(folder)
    markers = card.layout.markers
    frontier = [folder]
    for _ in range(max_depth + 1):
        found = [candidate for candidate in frontier if all((candidate / marker).is_dir() for marker in markers)]
        primary = [candidate for candidate in found if candidate.name != card.layout.duplicate_tree]
        if primary or found:
            return (primary or found)[0]
        frontier = sorted(
            child
            for parent in frontier
            for child in parent.iterdir()
            if child.is_dir() and not child.name.startswith(".")
        )
    raise DatasetError(
        f"{folder}: no folder holding {' and '.join(m + '/' for m in markers)} found "
        f"(searched {max_depth} levels); is this the {card.name} data?"
    )


def cached_archive(card: DatasetCard) -> Path | None:
    """The card's archive in the cache, if a verified copy is there."""
    if not card.filename:
        return None
    path = archive_cache_dir() / card.filename
    return path if path.is_file() else None


def _source_override(card: DatasetCard, url: str | None, sha256: str | None) -> tuple[str | None, str | None]:
    prefix = f"VBBENCH_{card.name.upper()}_"
    return (
        url or os.environ.get(prefix + "URL") or card.url,
        sha256 or os.environ.get(prefix + "SHA256") or card.sha256,
    )


def manual_instructions(card: DatasetCard) -> str:
    """The card's manual steps, with the cache location where an archive is picked up."""
    where = archive_cache_dir() / card.filename if card.filename else None
    extra = f"\n   Or put the zip at {where} and run: vbbench prepare {card.name}" if where else ""
    return f"{card.title} ({card.name}) is not at hand.\n{card.manual}{extra}"


def acquire(
    card: DatasetCard,
    raw_dir: str | os.PathLike,
    source: str | os.PathLike | None = None,
    url: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """Put the dataset's files at hand and return the folder holding its layout.

    In order: ``source`` (a zip archive, extracted into ``raw_dir``, or an extracted folder used
    in place); an archive already in the cache; a download from ``url`` (or the card's URL, or
    ``$VBBENCH_<NAME>_URL``) checked against ``sha256`` (or ``$VBBENCH_<NAME>_SHA256``) into the
    cache. A ``raw_dir`` already extracted is reused.

    Raises
    ------
    ManualDownloadRequired
        With the exact manual steps when none of these is available.
    ArchiveError, DownloadError, ChecksumError
        As raised by :func:`safe_extract` and :func:`download`.
    """
    raw_dir = Path(raw_dir)
    if source is not None:
        source = Path(source)
        if source.is_dir():
            return find_layout_root(source, card)
        if not source.is_file():
            raise DatasetError(f"--from {source}: no such file or folder")
        archive = source
    elif raw_dir.is_dir():
        return find_layout_root(raw_dir, card)
    else:
        cached = cached_archive(card)
        if cached is not None:
            archive = cached
        else:
            url, sha256 = _source_override(card, url, sha256)
            if url is None:
                raise ManualDownloadRequired(manual_instructions(card))
            archive = download(
                url, archive_cache_dir() / (card.filename or f"{card.name}.zip"), sha256, progress=progress
            )
    if raw_dir.is_dir():
        shutil.rmtree(raw_dir)  # an explicit --from replaces an earlier import
    safe_extract(archive, raw_dir, progress=progress)
    return find_layout_root(raw_dir, card)
