"""Getting a dataset's files: resumable downloads, the archive cache, finding the data.

* :func:`download` — urllib with HTTP Range resume and retries (transport errors such as
  ``IncompleteRead`` and ``BadStatusLine`` included), then a check of the bytes: the SHA-256 when
  one is given, and in every case that they are a zip or tar archive, so an HTML error page is
  never kept as the archive. pooch (1.8) is not used: it restarts an interrupted download from
  zero, and an AISegment archive is 28.7 GB.
* :func:`acquire` — in order: ``--from`` (archive or folder), the data already extracted, the
  archive cache (checked against the SHA-256 every time one is known), a download. A cached
  archive that turns out unreadable or wrong is removed, and downloaded again when a URL is known.
* Extraction is :func:`vbbench.archives.safe_extract`; the data's root is
  :func:`vbbench.layout.find_layout_root`.

Archives land in ``$VBBENCH_HOME/archives`` (:func:`vbbench.paths.archive_cache_dir`) only once
they are checked.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from vbbench.archives import Plan, archive_kind, plan_extraction, safe_extract
from vbbench.cards import DatasetCard
from vbbench.errors import ChecksumError, CorruptArchiveError, DatasetError, DownloadError, ManualDownloadRequired
from vbbench.io import file_sha256
from vbbench.layout import find_layout_root
from vbbench.locks import FolderLock
from vbbench.paths import archive_cache_dir

__all__ = [
    "download",
    "safe_extract",
    "plan_extraction",
    "find_layout_root",
    "cached_archive",
    "manual_instructions",
    "acquire",
    "TRANSIENT_ERRORS",
]

_CHUNK_BYTES = 1 << 20  # 1 MiB read/write chunks
#: Errors after which a download is retried (with back-off) and then resumed.
TRANSIENT_ERRORS = (
    urllib.error.URLError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
    socket.timeout,
    OSError,
)
#: HTTP statuses worth retrying (the server may recover); any other error status is final.
_RETRY_STATUSES = (408, 425, 429, 500, 502, 503, 504)

# ---- download ------------------------------------------------------------------------------


class _Final(Exception):
    """A download failure that retrying cannot fix (wrong URL, a web page instead of the file)."""


def _fetch_once(url: str, part: Path, timeout_s: float, progress: bool) -> None:
    """Append the rest of ``url`` to ``part`` (Range request from its current size)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # asked past the end: the part file is already whole
            return
        if error.code not in _RETRY_STATUSES:
            raise _Final(f"the server answered {error.code} {error.reason}; check the URL") from None
        raise
    with response:
        if have and response.status != 206:  # server ignores Range: start over
            have = 0
        content_type = response.headers.get("Content-Type", "")
        if not have and content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
            raise _Final(
                f"the server sent a web page ({content_type}), not the archive: the link is probably a sharing or "
                "login page; use a direct download link"
            )
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
            raise http.client.IncompleteRead(b"", total_bytes - part.stat().st_size)


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
    """Download ``url`` to ``destination``, resuming and retrying, then check the bytes.

    Bytes go to ``destination + ".part"``; an interrupted transfer (dropped connection, a cut-off
    body, a garbled status line, or a previous run that was killed) continues from the part
    file's size with an HTTP Range request. Transient failures are retried ``retries`` times,
    waiting ``backoff_s · 2^attempt`` seconds; an HTTP error status other than 408/425/429/5xx
    and a web page (``Content-Type: text/html``) are final at once. Only bytes that form a zip
    or tar archive, and match ``sha256`` when it is given, are renamed to ``destination``; in
    every other case the part file is deleted (its bytes are wrong, resuming would keep them).
    Two downloads of one file at once: the second stops with :class:`vbbench.errors.BusyError`.

    Parameters
    ----------
    url : str
        http(s) URL.
    destination : path
        Final file name.
    sha256 : str or None
        Expected hex digest; ``None`` accepts any archive (the caller prints its digest).
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
        After the last failed attempt or a final failure, naming the URL and the error.
    ChecksumError
        If the downloaded bytes' SHA-256 differs from ``sha256``.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = destination.with_name(destination.name + ".part")
    with FolderLock(destination.parent, name=f".{destination.name}.lock", what=f"download of {url}"):
        last_error: Exception | None = None
        for attempt in range(retries + 1):
            try:
                _fetch_once(url, part, timeout_s, progress)
                break
            except _Final as final:
                part.unlink(missing_ok=True)
                raise DownloadError(f"download of {url} failed: {final}; nothing was kept") from None
            except TRANSIENT_ERRORS as error:
                last_error = error
                if attempt < retries:
                    time.sleep(backoff_s * 2**attempt)
        else:
            what = f"{type(last_error).__name__}: {last_error}" if last_error is not None else "unknown error"
            raise DownloadError(
                f"download of {url} failed after {retries + 1} attempts ({what}); "
                f"run the command again to resume from {part} ({part.stat().st_size if part.exists() else 0} bytes)"
            )
        actual = file_sha256(part)
        if sha256 is not None and actual != sha256.lower():
            part.unlink()
            raise ChecksumError(
                f"{url}: checksum mismatch: expected sha256 {sha256.lower()}, got {actual}; "
                "the download was deleted; check the URL and --sha256, then retry"
            )
        if archive_kind(part) is None:
            size = part.stat().st_size
            with open(part, "rb") as stream:
                head = stream.read(24)
            part.unlink()
            raise DownloadError(
                f"download of {url} gave {size:,} bytes that are not a zip or tar archive (they begin {head!r}: "
                "an error or login page?); nothing was kept; check the URL"
            )
        os.replace(part, destination)
    return destination


# ---- the archive cache and acquiring -------------------------------------------------------


def cached_archive(card: DatasetCard) -> Path | None:
    """The card's archive in the cache, if one is there (it is checked when used)."""
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
    extra = f"\n   Or put the archive at {where} and run: vbbench prepare {card.name}" if where else ""
    return f"{card.title} ({card.name}) is not at hand.\n{card.manual}{extra}"


def _unchecked(what: str, digest: str) -> str:
    return f"{what} was not checked against a SHA-256 (none given): its SHA-256 is {digest}; pass --sha256 {digest} to check it next time"


def _checked_cache(card: DatasetCard, path: Path, sha256: str | None, url: str | None, notes: list[str]) -> bool:
    """Whether the cached archive may be used; a wrong or unreadable one is removed (with a note
    when a URL will fetch it again, else an error saying so)."""
    digest = file_sha256(path)
    problem = None
    if sha256 is not None and digest != sha256.lower():
        problem = f"its sha256 is {digest}, not the expected {sha256.lower()}"
    elif archive_kind(path) is None:
        problem = "it is not a zip or tar archive (a failed download?)"
    if problem is None:
        if sha256 is None:
            notes.append(_unchecked(f"the cached archive {path}", digest))
        return True
    path.unlink()
    if url is None:
        raise ChecksumError(
            f"the cached archive {path} was removed: {problem}; put the right file there or give --url to download "
            f"it again (vbbench prepare {card.name} --url URL --sha256 HEX)"
        )
    notes.append(f"the cached archive {path} was removed ({problem}); downloading it again")
    return False


def acquire(
    card: DatasetCard,
    raw_dir: str | os.PathLike,
    source: str | os.PathLike | None = None,
    url: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
    notes: list[str] | None = None,
) -> Path:
    """Put the dataset's files at hand and return the folder holding its layout.

    In order: ``source`` (an archive, extracted into ``raw_dir``, or an extracted folder used in
    place; an archive is checked against ``sha256`` when given); a ``raw_dir`` already extracted;
    the archive in the cache (checked against ``sha256`` — or ``$VBBENCH_<NAME>_SHA256``, or the
    card's — every time); a download from ``url`` (or ``$VBBENCH_<NAME>_URL``, or the card's URL)
    into the cache. What a user should know (an archive used without a checksum and its digest,
    entries skipped, a bad cached archive replaced) is appended to ``notes``.

    Raises
    ------
    ManualDownloadRequired
        With the exact manual steps when none of these is available.
    ArchiveError, DownloadError, ChecksumError, DatasetError
        As raised by :func:`vbbench.archives.safe_extract`, :func:`download` and
        :func:`vbbench.layout.find_layout_root`. An archive from the cache whose bytes are
        damaged (:class:`vbbench.errors.CorruptArchiveError`) is removed from it first, so the
        next run really downloads it again.
    """
    notes = notes if notes is not None else []
    raw_dir = Path(raw_dir)
    from_cache = False
    if source is not None:
        source = Path(source)
        if source.is_dir():
            return find_layout_root(source, card)
        if not source.is_file():
            raise DatasetError(f"--from {source}: no such file or folder")
        archive = source
        if sha256 is not None:
            digest = file_sha256(archive)
            if digest != sha256.lower():
                raise ChecksumError(f"--from {archive}: its sha256 is {digest}, not the expected {sha256.lower()}")
    elif raw_dir.is_dir():
        return find_layout_root(raw_dir, card)
    else:
        url, sha256 = _source_override(card, url, sha256)
        cached = cached_archive(card)
        if cached is not None and _checked_cache(card, cached, sha256, url, notes):
            archive, from_cache = cached, True
        else:
            if url is None:
                raise ManualDownloadRequired(manual_instructions(card))
            archive = download(
                url, archive_cache_dir() / (card.filename or f"{card.name}.zip"), sha256, progress=progress
            )
            from_cache = True
            if sha256 is None:
                notes.append(_unchecked(f"the download of {url}", file_sha256(archive)))
    if raw_dir.is_dir():
        plan_extraction(archive, card)  # a refused or unsafe archive must not cost the earlier import
        shutil.rmtree(raw_dir)  # an explicit --from replaces an earlier import
    try:
        plan: Plan = safe_extract(archive, raw_dir, card, progress=progress)
    except CorruptArchiveError as problem:
        if from_cache and archive.is_file():
            archive.unlink()  # so that "download it again" really downloads it again
            raise CorruptArchiveError(f"{problem} (it was removed from the cache)") from None
        raise
    notes.extend(plan.notes())
    return find_layout_root(raw_dir, card)
