"""Archives: zip and tar read safely, checked before anything is written, extracted atomically.

:func:`plan_extraction` reads an archive's index (a zip's central directory, a tar's headers) and
decides everything before a byte is written:

* **unsafe entries** are refused, naming the entry: absolute paths, ``..`` components, symbolic
  and hard links, devices;
* **duplicate names** are refused naming both entries (zip allows two entries of one name; the
  later would silently replace the earlier, and could pair an image with another portrait's
  matte); names that differ only in case are reported (on a case-insensitive file system one
  would replace the other);
* **what to extract**: with a card, the data's root is located in the names
  (:func:`vbbench.layout.locate`): a look-alike dataset is refused before extraction, a second copy
  of the tree (Kaggle's AISegment ``matting_human_half/``) and ``__MACOSX/`` are skipped;
* **bounds** from the card's :class:`vbbench.cards.SizeLimits`: an entry larger than
  ``max_file_bytes``, a compression ratio above :data:`MAX_RATIO` (for entries above 1 MiB), a
  total above twice ``tree_bytes``, and a total above the free disk space are refused with the
  numbers.

:func:`safe_extract` then extracts the kept entries into a hidden staging folder beside the
target and renames it into place only when complete (CRCs checked for zip; tar members extracted
with ``filter="data"``), so a failed or interrupted extraction never leaves a half-extracted set
looking whole. Anything that is neither a zip nor a tar is "not an archive" (an HTML error page
says so).
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from vbbench.cards import DatasetCard
from vbbench.errors import ArchiveError, CorruptArchiveError
from vbbench.layout import METADATA_FOLDERS, Located, NameTree, locate

__all__ = ["Entry", "Plan", "archive_kind", "plan_extraction", "safe_extract", "human_bytes", "MAX_RATIO", "STAGING"]

#: Largest accepted ratio of an entry's uncompressed to compressed size (entries above 1 MiB).
#: Images and mattes barely compress (JPEG, PNG); a 1,000:1 entry is a decompression bomb.
MAX_RATIO = 100
_RATIO_FLOOR_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 20
#: Suffix of the staging folder an extraction writes into before renaming it into place.
STAGING = ".extracting"


def human_bytes(count: float) -> str:
    """``1536`` → ``'1.5 KiB'``.

    Examples
    --------
    >>> human_bytes(28_700_000_000), human_bytes(512)
    ('26.7 GiB', '512 B')
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Entry:
    """One archive member: its normalised name, sizes and kind."""

    name: str
    size: int
    compressed: int | None  # None for tar (members are not compressed one by one)
    is_dir: bool
    index: int  # position in the archive (1-based), for messages


@dataclass
class Plan:
    """What :func:`plan_extraction` decided."""

    archive: Path
    kind: str  # "zip" or "tar"
    keep: list[Entry]
    skipped: dict[str, int] = field(default_factory=dict)  # why -> entries
    located: Located | None = None
    case_only: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.keep)

    def notes(self) -> list[str]:
        """What a user should hear about this extraction."""
        out = [f"skipped {count:,} entries of {self.archive.name}: {why}" for why, count in self.skipped.items()]
        if self.case_only:
            shown = "; ".join(f"{a} / {b}" for a, b in self.case_only[:5])
            more = f" and {len(self.case_only) - 5} more" if len(self.case_only) > 5 else ""
            out.append(
                f"{self.archive.name}: {len(self.case_only)} entry names differ only in case from another ({shown}{more}); "
                "on a case-insensitive file system one would replace the other"
            )
        return out


def archive_kind(path: str | os.PathLike) -> str | None:
    """``"zip"``, ``"tar"`` (plain or compressed) or ``None`` for anything else.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> page = pathlib.Path(tempfile.mkdtemp()) / "shen2016.zip"; _ = page.write_bytes(b"<html>Not found</html>")
    >>> archive_kind(page) is None
    True
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        return "tar" if tarfile.is_tarfile(path) else None
    except (OSError, tarfile.TarError, EOFError):
        return None


def _not_an_archive(path: Path) -> ArchiveError:
    try:
        with open(path, "rb") as stream:
            head = stream.read(64)
        size = path.stat().st_size
    except OSError as problem:
        return ArchiveError(f"{path}: cannot be read ({problem.strerror or problem})")
    text = head.lstrip().lower()
    looks = (
        " (it is a web page, e.g. a login or error page, not the archive)"
        if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head"))
        else ""
    )
    return CorruptArchiveError(
        f"{path}: not a zip or tar archive ({size:,} bytes beginning {head[:24]!r}){looks}; "
        "it is probably truncated or corrupt: download it again"
    )


def _normalise(name: str) -> str:
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _check_name(name: str, archive: Path) -> None:
    parts = name.split("/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or PurePosixPath(name).is_absolute():
        raise ArchiveError(f"{archive}: refusing entry with an absolute path: {name!r}")
    if ".." in parts:
        raise ArchiveError(f"{archive}: refusing entry that climbs out of the target with '..': {name!r}")


def _zip_entries(archive: Path) -> list[Entry]:
    try:
        with zipfile.ZipFile(archive) as bundle:
            infos = bundle.infolist()
    except zipfile.BadZipFile as problem:
        raise CorruptArchiveError(
            f"{archive}: not a readable zip archive ({problem}); it is probably truncated or corrupt: download it again"
        ) from None
    entries = []
    for index, info in enumerate(infos, start=1):
        name = _normalise(info.filename)
        _check_name(name, archive)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ArchiveError(
                f"{archive}: refusing symbolic link entry {name!r} (links could point out of the target)"
            )
        entries.append(Entry(name.rstrip("/"), info.file_size, info.compress_size, info.is_dir(), index))
    return entries


def _tar_entries(archive: Path) -> list[Entry]:
    try:
        with tarfile.open(archive) as bundle:
            members = bundle.getmembers()
    except (tarfile.TarError, EOFError, OSError) as problem:
        raise CorruptArchiveError(f"{archive}: not a readable tar archive ({problem}); download it again") from None
    entries = []
    for index, member in enumerate(members, start=1):
        name = _normalise(member.name)
        _check_name(name, archive)
        if member.issym() or member.islnk():
            raise ArchiveError(f"{archive}: refusing link entry {name!r} (links could point out of the target)")
        if not (member.isfile() or member.isdir()):
            raise ArchiveError(f"{archive}: refusing entry {name!r}, which is neither a file nor a folder")
        entries.append(Entry(name.rstrip("/"), member.size, None, member.isdir(), index))
    return entries


def _check_duplicates(entries: list[Entry], archive: Path) -> list[tuple[str, str]]:
    first: dict[str, Entry] = {}
    folded: dict[str, str] = {}
    case_only = []
    for entry in entries:
        if entry.name in first and not (entry.is_dir and first[entry.name].is_dir):
            earlier = first[entry.name]
            raise ArchiveError(
                f"{archive}: entries {earlier.index} and {entry.index} are both named {entry.name!r}; extracting "
                "would silently keep only the later one (an image could pair with another portrait's matte): "
                "the archive is damaged or was repacked wrongly; get a clean copy"
            )
        first.setdefault(entry.name, entry)
        key = entry.name.casefold()
        if key in folded and folded[key] != entry.name:
            case_only.append((folded[key], entry.name))
        folded.setdefault(key, entry.name)
    return case_only


def plan_extraction(
    archive: str | os.PathLike, card: DatasetCard | None = None, target_parent: Path | None = None
) -> Plan:
    """Read ``archive``'s index and decide what to extract (see the module docstring).

    Parameters
    ----------
    archive : path
        A zip or tar (``.tar``, ``.tar.gz``, ``.tgz``, …) file.
    card : DatasetCard, optional
        Locate the data, skip copies and apply the card's limits.
    target_parent : Path, optional
        Where extraction will write (free space is checked there).

    Raises
    ------
    ArchiveError
        Not an archive, unreadable, an unsafe or duplicate entry, or a bound exceeded.
    vbbench.errors.DatasetError
        The archive holds a look-alike dataset the card refuses, or no tree of the card's layout.
    """
    archive = Path(archive)
    kind = archive_kind(archive)
    if kind is None:
        raise _not_an_archive(archive)
    if kind == "tar" and not hasattr(tarfile, "data_filter"):
        raise ArchiveError(
            f"{archive}: a tar archive, and this Python lacks tarfile's safe 'data' filter (Python 3.10.12, "
            "3.11.4 or newer has it); extract it yourself and run with --from FOLDER"
        )
    entries = _zip_entries(archive) if kind == "zip" else _tar_entries(archive)
    case_only = _check_duplicates(entries, archive)
    plan = Plan(archive, kind, entries, case_only=case_only)
    if card is None:
        return plan
    names = [entry.name + ("/" if entry.is_dir else "") for entry in entries]
    located = locate(card.layout, NameTree(names), str(archive))
    plan.located = located
    plan.keep = []
    for entry in entries:
        if located.keeps(entry.name + ("/" if entry.is_dir else "")):
            plan.keep.append(entry)
        else:
            why = (
                f"macOS metadata folder {METADATA_FOLDERS[0]}/"
                if any(part in METADATA_FOLDERS for part in entry.name.split("/"))
                else f"the second copy of the tree ({', '.join(c + '/' for c in located.copies)})"
            )
            plan.skipped[why] = plan.skipped.get(why, 0) + 1
    _check_bounds(plan, card, target_parent)
    return plan


def _check_bounds(plan: Plan, card: DatasetCard, target_parent: Path | None) -> None:
    limits, archive = card.limits, plan.archive
    for entry in plan.keep:
        if limits.max_file_bytes is not None and entry.size > limits.max_file_bytes:
            raise ArchiveError(
                f"{archive}: entry {entry.name!r} is {human_bytes(entry.size)} uncompressed, more than the "
                f"{human_bytes(limits.max_file_bytes)} the {card.name} card allows for one file; this is not the "
                f"{card.title} archive, or it is damaged"
            )
        if (
            entry.compressed is not None
            and entry.size > _RATIO_FLOOR_BYTES
            and entry.size > MAX_RATIO * max(entry.compressed, 1)
        ):
            raise ArchiveError(
                f"{archive}: entry {entry.name!r} expands {entry.size / max(entry.compressed, 1):,.0f}:1 "
                f"({human_bytes(entry.compressed)} to {human_bytes(entry.size)}); images do not compress like that: "
                "refusing a possible decompression bomb"
            )
    total = plan.total_bytes
    archive_bytes = archive.stat().st_size
    if plan.kind == "tar" and total > _RATIO_FLOOR_BYTES and total > MAX_RATIO * max(archive_bytes, 1):
        raise ArchiveError(
            f"{archive}: expands {total / archive_bytes:,.0f}:1 ({human_bytes(archive_bytes)} to "
            f"{human_bytes(total)}): refusing a possible decompression bomb"
        )
    if limits.tree_bytes is not None and total > 2 * limits.tree_bytes:
        raise ArchiveError(
            f"{archive}: its entries add up to {human_bytes(total)} uncompressed, far beyond the "
            f"{human_bytes(limits.tree_bytes)} of one {card.name} tree; this is not the {card.title} archive"
        )
    if target_parent is not None:
        probe = target_parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if total > free:
            raise ArchiveError(
                f"{archive}: extracting needs {human_bytes(total)} ({len(plan.keep):,} entries, from the archive's "
                f"index{', without the skipped ones' if plan.skipped else ''}) but only {human_bytes(free)} are free "
                f"on {probe}; free some space or use --data-dir on a larger disk"
            )


def _copy(read: Callable[[int], bytes], sink, bar) -> None:
    while chunk := read(_CHUNK_BYTES):
        sink.write(chunk)
        bar.update(len(chunk))


def safe_extract(
    archive: str | os.PathLike, target: str | os.PathLike, card: DatasetCard | None = None, progress: bool = True
) -> Plan:
    """Extract a zip or tar archive into ``target`` safely and atomically.

    Parameters
    ----------
    archive : path
        The archive.
    target : path
        Folder to create; must not exist yet.
    card : DatasetCard, optional
        Applies the card's layout (skipped copies, refused look-alikes) and limits.
    progress : bool
        Show a tqdm bar (bytes).

    Returns
    -------
    Plan
        What was extracted and skipped (:meth:`Plan.notes` for the report).

    Raises
    ------
    ArchiveError
        See :func:`plan_extraction`; also a corrupt member (CRC) found while extracting.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise ArchiveError(f"{target} already exists; remove it to extract {archive} again")
    target.parent.mkdir(parents=True, exist_ok=True)
    plan = plan_extraction(archive, card, target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=STAGING, dir=target.parent))
    from tqdm.auto import tqdm

    try:
        with tqdm(
            total=plan.total_bytes,
            desc=f"extract {archive.name}",
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            disable=not progress,
            leave=False,
        ) as bar:
            if plan.kind == "zip":
                with zipfile.ZipFile(archive) as bundle:
                    infos = bundle.infolist()
                    for entry in plan.keep:
                        destination = staging / entry.name
                        if entry.is_dir:
                            destination.mkdir(parents=True, exist_ok=True)
                            continue
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        with bundle.open(infos[entry.index - 1]) as source, open(destination, "wb") as sink:
                            _copy(source.read, sink, bar)
            else:
                with tarfile.open(archive) as bundle:
                    members = bundle.getmembers()
                    for entry in plan.keep:
                        member = members[entry.index - 1]
                        bundle.extract(member, staging, filter="data")
                        bar.update(entry.size)
        os.replace(staging, target)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, tarfile.TarError) as problem:
        shutil.rmtree(staging, ignore_errors=True)
        raise CorruptArchiveError(f"{archive}: corrupt or truncated archive ({problem}); download it again") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return plan
