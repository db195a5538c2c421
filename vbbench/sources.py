"""Dataset cards, the dataset registry, downloads with resume, and safe archive import.

Each dataset is declared as data in ``datasets/<name>/card.yaml`` (citation, licence, homepage,
expected counts and resolution, pairing rule, split rule, download info, manual instructions) and
read by one loader, :func:`load_card`, into a frozen :class:`DatasetCard`. :func:`get_dataset`
finds a card by name with a did-you-mean error.

The cards live in the repository's top-level ``datasets/`` folder, found as
``Path(__file__).resolve().parents[1] / "datasets"``: vbbench is used from a checkout installed
with ``pip install -e .`` (CI does the same). ``$VBBENCH_DATASETS_DIR`` points elsewhere (tests use
it for cards with small expected sizes).

Downloads use :func:`download`, a small urllib downloader with HTTP Range resume: pooch (1.8)
re-downloads from the start after an interruption, and an AISegment-sized archive (~ 2.5 GB)
must resume. Archives land in ``$VBBENCH_HOME/archives`` (default ``pooch.os_cache("vbbench")``)
only once their SHA-256 matches.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
import shutil
import stat
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CARD_SCHEMA",
    "DatasetCard",
    "DatasetError",
    "DownloadError",
    "ChecksumError",
    "ArchiveError",
    "ManualDownloadRequired",
    "MANUAL_EXIT_CODE",
    "datasets_dir",
    "vbbench_home",
    "archive_cache_dir",
    "default_data_dir",
    "load_card",
    "list_datasets",
    "get_dataset",
    "file_sha256",
    "download",
    "safe_extract",
    "find_layout_root",
    "cached_archive",
    "acquire",
]

CARD_SCHEMA = "vbbench-card/1"
#: Exit code of ``vbbench prepare`` when a dataset must be downloaded by hand first.
MANUAL_EXIT_CODE = 3
_CHUNK_BYTES = 1 << 20  # 1 MiB read/write and hashing chunks


class DatasetError(ValueError):
    """A dataset name, card or source that cannot be used; the message says what to do."""


class DownloadError(DatasetError):
    """A download failed after all retries."""


class ChecksumError(DatasetError):
    """A file's SHA-256 differs from the expected one."""


class ArchiveError(DatasetError):
    """An archive is corrupt, truncated, or holds an unsafe entry."""


class ManualDownloadRequired(DatasetError):
    """The dataset's data is not at hand; the message holds the exact manual steps."""


@dataclass(frozen=True)
class DatasetCard:
    """One dataset's card (``datasets/<name>/card.yaml``), see ``docs/datasets.md``.

    Attributes
    ----------
    name, title, revision, citation, licence, homepage : str
        Identity and provenance.
    layout : str
        Pairing rules to apply: ``"shen2016"``, ``"aisegment"`` or ``"sample"``.
    expected_pairs : int or None
        Valid image–matte pairs the full set holds (a mismatch is a defect).
    expected_width_px, expected_height_px : int or None
        Frame size every image and matte should have (a mismatch is a defect).
    pairing : str
        The pairing rule in words.
    split : dict
        ``rule`` (``"folders"`` or ``"group-hash"``) and its parameters.
    url, sha256, filename : str or None
        Direct download where known (none is known publicly for the real sets).
    manual : str
        Exact steps to get the data by hand.
    generate : dict
        Generator arguments (``sample`` only).
    card_dir : Path
        Folder of the card (split lists of committed sets sit beside it).
    """

    name: str
    title: str
    revision: str
    citation: str
    licence: str
    homepage: str
    layout: str
    expected_pairs: int | None
    expected_width_px: int | None
    expected_height_px: int | None
    pairing: str
    split: dict
    url: str | None
    sha256: str | None
    filename: str | None
    manual: str
    generate: dict
    card_dir: Path

    def replace(self, **changes: Any) -> DatasetCard:
        """A copy with some fields changed (tests shrink the expected size and counts).

        Examples
        --------
        >>> get_dataset("shen2016").replace(expected_pairs=4).expected_pairs
        4
        """
        return dataclasses.replace(self, **changes)


_LAYOUTS = ("shen2016", "aisegment", "sample")


def datasets_dir() -> Path:
    """The folder of dataset cards: ``$VBBENCH_DATASETS_DIR``, the checkout's ``datasets/``, or the
    copy an installed wheel carries (package ``vbbench_datasets``)."""
    override = os.environ.get("VBBENCH_DATASETS_DIR")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parents[1] / "datasets"
    if checkout.is_dir():
        return checkout
    import vbbench_datasets  # a namespace package: the cards folder itself, no __init__.py

    return Path(next(iter(vbbench_datasets.__path__)))


def vbbench_home() -> Path:
    """``$VBBENCH_HOME``, default the user cache folder ``pooch.os_cache("vbbench")``."""
    override = os.environ.get("VBBENCH_HOME")
    if override:
        return Path(override)
    import pooch

    return Path(pooch.os_cache("vbbench"))


def archive_cache_dir() -> Path:
    """Where verified archives are kept: ``$VBBENCH_HOME/archives``."""
    return vbbench_home() / "archives"


def default_data_dir() -> Path:
    """Where prepared datasets live by default: ``$VBBENCH_HOME/data``."""
    return vbbench_home() / "data"


def load_card(path: str | os.PathLike) -> DatasetCard:
    """Read and check one ``card.yaml``.

    Parameters
    ----------
    path : path
        The YAML file.

    Returns
    -------
    DatasetCard

    Raises
    ------
    DatasetError
        If the file is unreadable or a field is missing or of the wrong type; names the field.

    Examples
    --------
    >>> load_card(datasets_dir() / "shen2016" / "card.yaml").expected_pairs
    2000
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as problem:
        raise DatasetError(f"{path}: cannot read the dataset card ({problem})") from None
    if not isinstance(raw, dict) or raw.get("schema") != CARD_SCHEMA:
        raise DatasetError(f"{path}: not a dataset card (expected 'schema: {CARD_SCHEMA}')")

    def field(key: str, kind: type | tuple, default: Any = ...) -> Any:
        value = raw.get(key, default)
        if value is ...:
            raise DatasetError(f"{path}: the card lacks '{key}'")
        if value is not None and not isinstance(value, kind):
            raise DatasetError(f"{path}: '{key}' should be {kind}, not {type(value).__name__}")
        return value

    download = field("download", dict, {}) or {}
    layout = field("layout", str)
    if layout not in _LAYOUTS:
        raise DatasetError(f"{path}: layout '{layout}' is not one of {', '.join(_LAYOUTS)}")
    split = field("split", dict)
    if split.get("rule") not in ("folders", "group-hash"):
        raise DatasetError(f"{path}: split rule should be 'folders' or 'group-hash'")
    return DatasetCard(
        name=field("name", str),
        title=field("title", str),
        revision=str(field("revision", (str, int))),
        citation=field("citation", str).strip(),
        licence=field("licence", str),
        homepage=field("homepage", str),
        layout=layout,
        expected_pairs=field("expected_pairs", int, None),
        expected_width_px=field("expected_width_px", int, None),
        expected_height_px=field("expected_height_px", int, None),
        pairing=field("pairing", str, "").strip(),
        split=split,
        url=download.get("url"),
        sha256=download.get("sha256"),
        filename=download.get("filename"),
        manual=field("manual", str, "").strip(),
        generate=field("generate", dict, {}) or {},
        card_dir=path.parent,
    )


def list_datasets() -> list[str]:
    """Names of the declared datasets, sorted.

    Examples
    --------
    >>> list_datasets()
    ['aisegment', 'sample', 'shen2016']
    """
    root = datasets_dir()
    return sorted(card.parent.name for card in root.glob("*/card.yaml"))


def get_dataset(name: str) -> DatasetCard:
    """The card of dataset ``name``.

    Raises
    ------
    DatasetError
        For an unknown name, with the closest known name and the full list.

    Examples
    --------
    >>> get_dataset("aisegment").layout
    'aisegment'
    >>> get_dataset("shen2061")
    Traceback (most recent call last):
    ...
    vbbench.sources.DatasetError: unknown dataset 'shen2061'; did you mean 'shen2016'? (known: aisegment, sample, shen2016)
    """
    known = list_datasets()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise DatasetError(f"unknown dataset '{name}'{hint} (known: {', '.join(known)})")
    card = load_card(datasets_dir() / name / "card.yaml")
    if card.name != name:
        raise DatasetError(f"{card.card_dir / 'card.yaml'}: name '{card.name}' differs from its folder '{name}'")
    return card


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = path.write_bytes(b"abc")
    >>> file_sha256(path)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


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


_LAYOUT_MARKERS = {
    "shen2016": ("training", "testing"),
    "aisegment": ("clip_img", "matting"),
    "sample": ("images", "alpha"),
}


def find_layout_root(folder: str | os.PathLike, layout: str, max_depth: int = 3) -> Path:
    """The folder under ``folder`` that holds the layout's top folders (archives often add one
    or two wrapping folders). A ``matting_human_half`` copy is never chosen.

    Raises
    ------
    DatasetError
        If no such folder exists within ``max_depth`` levels.
    """
    folder = Path(folder)
    markers = _LAYOUT_MARKERS[layout]
    frontier = [folder]
    for _ in range(max_depth + 1):
        for candidate in frontier:
            if all((candidate / marker).is_dir() for marker in markers):
                return candidate
        frontier = sorted(
            child
            for parent in frontier
            for child in parent.iterdir()
            if child.is_dir() and child.name != "matting_human_half" and not child.name.startswith(".")
        )
    raise DatasetError(
        f"{folder}: no folder holding {' and '.join(m + '/' for m in markers)} found "
        f"(searched {max_depth} levels); is this the {layout} data?"
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
            return find_layout_root(source, card.layout)
        if not source.is_file():
            raise DatasetError(f"--from {source}: no such file or folder")
        archive = source
    elif raw_dir.is_dir():
        return find_layout_root(raw_dir, card.layout)
    else:
        archive = cached_archive(card)
        if archive is None:
            url, sha256 = _source_override(card, url, sha256)
            if url is None:
                raise ManualDownloadRequired(manual_instructions(card))
            archive = download(
                url, archive_cache_dir() / (card.filename or f"{card.name}.zip"), sha256, progress=progress
            )
    if raw_dir.is_dir():
        shutil.rmtree(raw_dir)  # an explicit --from replaces an earlier import
    safe_extract(archive, raw_dir, progress=progress)
    return find_layout_root(raw_dir, card.layout)
