"""The one generic pairer: images and mattes matched by a card's declared layout.

Two steps, both driven only by the card's ``layout:`` block (:class:`vbbench.cards.LayoutSpec`):

* :func:`locate` finds the data's **root** under wrapping folders, on a folder on disk or on an
  archive's list of names (so extraction can decide before writing anything). Every folder
  within ``max_depth`` levels that holds all markers of a form is a candidate; when several forms
  fit one folder, the one whose patterns match more files wins. A candidate inside a folder named
  like the layout's ``duplicate_tree`` is a second copy when a candidate outside such a folder
  exists (Kaggle's AISegment archive) and the data when it is the only one (the MEGA/Baidu
  download, ``matting_human_half/`` alone). Two candidates that are not copies are ambiguous. No
  candidate but a ``refuse`` entry's markers: the look-alike dataset is named and refused.
* :func:`find_pairs` walks the form's top folders under the root, matches every file against the
  form's ``image`` and ``matte`` patterns, joins the two by the ``id`` template and reports
  everything else: files that follow neither pattern, macOS AppleDouble forks (``._*``,
  ``.DS_Store``), two files giving the same id, images without a matte and mattes without an
  image, and the second copy of the tree. Nothing is dropped silently: each is a :class:`Defect`.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vbbench.cards import DatasetCard, LayoutForm, LayoutSpec
from vbbench.errors import DatasetError

__all__ = [
    "Pair",
    "Defect",
    "Listing",
    "Located",
    "DiskTree",
    "NameTree",
    "locate",
    "find_layout_root",
    "find_pairs",
    "walk_files",
    "is_fork",
    "METADATA_FOLDERS",
]


@dataclass(frozen=True)
class Pair:
    """One image and its matte, paths relative to the data root.

    Attributes
    ----------
    id : str
        The item's id (the layout's ``id`` template); predictions are named ``<id>.png``.
    group : str
        Items that must share a side of the split (the layout's ``group`` template).
    folder : str
        The authors' split folder (Shen: ``training``/``testing``), else ``""``.
    image, matte : str
        Relative POSIX paths.
    image_sha256, matte_sha256 : str
        Content hashes, once verified.
    width, height : int
        Size in pixels, once verified.
    """

    id: str
    group: str
    folder: str
    image: str
    matte: str
    image_sha256: str = ""
    matte_sha256: str = ""
    width: int = 0
    height: int = 0

    def row(self) -> dict[str, str | int]:
        """The ``pairs.csv`` row."""
        return dataclasses.asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Pair:
        """A pair from a ``pairs.csv`` row (numbers parsed)."""
        return cls(
            id=row["id"],
            group=row["group"],
            folder=row["folder"],
            image=row["image"],
            matte=row["matte"],
            image_sha256=row["image_sha256"],
            matte_sha256=row["matte_sha256"],
            width=int(row["width"] or 0),
            height=int(row["height"] or 0),
        )


#: Folders that archivers add and that never hold data (macOS Finder's resource forks).
METADATA_FOLDERS = ("__MACOSX",)
_LISTED = 8  # names an error message lists before summarising


@dataclass(frozen=True)
class Defect:
    """One problem found in a dataset.

    ``severity`` is ``error`` (the item is excluded, or the set is incomplete) or ``ignored`` (a
    file that is not data, listed so that nothing is dropped silently). ``known`` marks a defect
    the card lists as present in every copy of the set (``--strict`` does not count it).
    """

    severity: str
    kind: str
    id: str
    path: str
    detail: str
    known: bool = False


@dataclass
class Listing:
    """What :func:`find_pairs` found: pairs, other files to hash, and defects of the layout."""

    pairs: list[Pair] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    form: LayoutForm | None = None

    def all_files(self) -> list[str]:
        """Every file walked (both sides of each pair and the rest), sorted."""
        return sorted({path for pair in self.pairs for path in (pair.image, pair.matte)} | set(self.other_files))


# ---- trees: a folder on disk or an archive's names ------------------------------------------------


class DiskTree:
    """A folder on disk, seen through the few questions :func:`locate` asks."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def has(self, relative: str) -> bool:
        return (self.folder / relative).exists()

    def subfolders(self, relative: str) -> list[str]:
        try:
            entries = sorted(os.scandir(self.folder / relative), key=lambda entry: entry.name)
        except OSError:
            return []
        return [
            _join(relative, entry.name)
            for entry in entries
            if entry.is_dir() and not entry.name.startswith(".") and entry.name not in METADATA_FOLDERS
        ]

    def files_under(self, relative: str) -> Iterator[str]:
        """Paths of the files under ``relative``, relative to the tree, sorted."""
        base = self.folder / relative if relative else self.folder
        for path in walk_files(base, ""):
            yield _join(relative, path)

    def entries(self) -> list[str]:
        return sorted(entry.name for entry in os.scandir(self.folder)) if self.folder.is_dir() else []


class NameTree:
    """An archive's entry names (``/``-separated), seen like a folder."""

    def __init__(self, names: Iterable[str]):
        self.files: list[str] = []
        self.folders: set[str] = {""}
        for raw in names:
            name = raw.replace("\\", "/").lstrip("/")
            while name.startswith("./"):
                name = name[2:]
            if not name:
                continue
            parts = name.rstrip("/").split("/")
            for end in range(1, len(parts)):
                self.folders.add("/".join(parts[:end]))
            if name.endswith("/"):
                self.folders.add("/".join(parts))
            else:
                self.files.append(name)
        self.files.sort()
        self._file_set = set(self.files)
        self._children: dict[str, set[str]] = {}
        for folder in self.folders:
            if folder:
                parent = folder.rsplit("/", 1)[0] if "/" in folder else ""
                self._children.setdefault(parent, set()).add(folder)

    def has(self, relative: str) -> bool:
        return relative in self.folders or relative in self._file_set

    def subfolders(self, relative: str) -> list[str]:
        return sorted(
            child
            for child in self._children.get(relative, ())
            if not child.rsplit("/", 1)[-1].startswith(".") and child.rsplit("/", 1)[-1] not in METADATA_FOLDERS
        )

    def files_under(self, relative: str) -> Iterator[str]:
        prefix = relative + "/" if relative else ""
        return (name for name in self.files if name.startswith(prefix))

    def entries(self) -> list[str]:
        return sorted({name.split("/")[0] + ("/" if "/" in name else "") for name in self.files})


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _depth(folder: str) -> int:
    return folder.count("/") + 1 if folder else 0


def _under(path: str, folder: str) -> bool:
    return not folder or path == folder or path.startswith(folder + "/")


# ---- locating the root ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """Where the data is in a tree (paths relative to the tree; ``""`` is the tree itself)."""

    root: str
    form: LayoutForm
    copies: tuple[str, ...]  # second copies of the tree, skipped
    others: tuple[str, ...] = ()  # refused look-alikes found beside the data

    def keeps(self, name: str) -> bool:
        """Whether an archive entry belongs to the extraction (not a copy, not archiver metadata).

        Examples
        --------
        >>> from vbbench.cards import get_dataset
        >>> found = locate(get_dataset("aisegment").layout, NameTree(["clip_img/a/clip_0/a-1.jpg",
        ...     "matting/a/matting_0/a-1.png", "matting_human_half/clip_img/x", "matting_human_half/matting/y"]))
        >>> found.copies, found.keeps("clip_img/a/clip_0/a-1.jpg"), found.keeps("matting_human_half/matting/y")
        (('matting_human_half',), True, False)
        """
        name = name.replace("\\", "/").lstrip("/")
        if any(part in METADATA_FOLDERS for part in name.split("/")[:-1]) or name.rstrip("/") in METADATA_FOLDERS:
            return False
        return not any(_under(name.rstrip("/"), copy) for copy in self.copies)


def _is_copy_named(spec: LayoutSpec, folder: str) -> bool:
    return bool(spec.duplicate_tree) and spec.duplicate_tree in folder.split("/")


def _matching_files(tree, folder: str, form: LayoutForm) -> int:
    patterns = (form.pattern("image"), form.pattern("matte"))
    count = 0
    for top in form.tops:
        for path in tree.files_under(_join(folder, top)):
            relative = path[len(folder) + 1 :] if folder else path
            count += any(pattern.match(relative) for pattern in patterns)
    return count


def locate(spec: LayoutSpec, tree: DiskTree | NameTree, where: str = "") -> Located:
    """Find the data's root in ``tree`` (see the module docstring for the rules).

    Parameters
    ----------
    spec : LayoutSpec
    tree : DiskTree or NameTree
    where : str
        Named in error messages (the folder or archive).

    Raises
    ------
    DatasetError
        When no form is found (naming the markers of every form and what the top holds), when the
        tree is a refused look-alike (the card's message), or when several trees qualify.
    """
    found: dict[str, LayoutForm] = {}
    refused: list[tuple[str, str]] = []
    frontier = [""]
    for depth in range(spec.max_depth + 1):
        for folder in frontier:
            fitting = [form for form in spec.forms if all(tree.has(_join(folder, m)) for m in form.markers)]
            if len(fitting) > 1:
                counts = [_matching_files(tree, folder, form) for form in fitting]
                fitting = [fitting[counts.index(max(counts))]]
            if fitting:
                found[folder] = fitting[0]
            for refusal in spec.refuse:
                if all(tree.has(_join(folder, m)) for m in refusal.markers):
                    refused.append((folder, refusal.message))
        if depth < spec.max_depth:
            frontier = [child for folder in frontier for child in tree.subfolders(folder)]
    # a candidate inside another one is part of it, unless it is a declared copy
    nested = {
        folder
        for folder in found
        if any(
            other != folder and _under(folder, other) and not _is_copy_named(spec, folder[len(other) :])
            for other in found
        )
    }
    candidates = sorted((f for f in found if f not in nested), key=lambda f: (_depth(f), f))
    primary = [f for f in candidates if not _is_copy_named(spec, f)]
    copies = [f for f in candidates if _is_copy_named(spec, f)]
    label = where or "the folder"
    if len(primary) > 1:
        shown = ", ".join((f or ".") + "/" for f in primary[:_LISTED])
        raise DatasetError(
            f"{label}: {len(primary)} folders each hold a whole tree ({shown}); point --from at the one to import"
        )
    if primary:
        root = primary[0]
    elif copies:
        same_depth = [c for c in copies if _depth(c) == _depth(copies[0])]
        if len(same_depth) > 1:
            raise DatasetError(f"{label}: several copies of the tree and no original: {', '.join(same_depth)}")
        root = copies[0]
        copies = [c for c in copies[1:] if not _under(root, c)]
    else:
        if refused:
            folder, message = refused[0]
            raise DatasetError(f"{label}{'/' + folder if folder else ''}: {message}")
        expected = "; ".join(f"{form.name}: {' + '.join(m + '/' for m in form.markers)}" for form in spec.forms)
        top = tree.entries()
        shown = ", ".join(top[:_LISTED]) + (f" … ({len(top)} entries)" if len(top) > _LISTED else "")
        raise DatasetError(
            f"{label}: no folder holding the layout found within {spec.max_depth} levels (expected {expected}); "
            f"it holds: {shown or 'nothing'}"
        )
    others = tuple(folder for folder, _ in refused if not _under(folder, root))
    return Located(root, found[root], tuple(copies), others)


def find_layout_root(folder: str | os.PathLike, card: DatasetCard) -> Path:
    """The folder under ``folder`` that holds the card's layout (see :func:`locate`).

    Raises
    ------
    DatasetError
        As :func:`locate` does.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    found = locate(card.layout, DiskTree(folder), str(folder))
    return folder / found.root if found.root else folder


# ---- pairing --------------------------------------------------------------------------------------


def walk_files(root: Path, top: str) -> Iterator[str]:
    """Relative POSIX paths of the files under ``root/top``, sorted (the order never depends on
    the file system)."""
    for directory, folders, files in os.walk(root / top):
        folders.sort()
        for name in sorted(files):
            yield (Path(directory) / name).relative_to(root).as_posix()


def is_fork(path: str) -> bool:
    """A macOS metadata file (``._*`` AppleDouble fork or ``.DS_Store``), not data.

    Examples
    --------
    >>> is_fork("clip_img/a/._x.jpg"), is_fork("matting/a/._matting_00000000"), is_fork("clip_img/a/x.jpg")
    (True, True, False)
    """
    name = path.rsplit("/", 1)[-1]
    return name.startswith("._") or name == ".DS_Store" or any(part.startswith("._") for part in path.split("/"))


def find_pairs(card: DatasetCard, root: str | os.PathLike) -> Listing:
    """Pair images and mattes under ``root`` by the card's layout.

    Parameters
    ----------
    card : DatasetCard
    root : path
        The folder holding the layout's marker folders (see :func:`find_layout_root`).

    Returns
    -------
    Listing
        Pairs sorted by id; unpaired and ignored files in ``other_files`` and ``defects``; the
        form found in ``form``. Defects the card lists as known are marked ``known``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from vbbench.cards import get_dataset
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["training/00001.png", "training/00001_matte.png", "testing/00001.png"]:
    ...     (root / name).parent.mkdir(parents=True, exist_ok=True); _ = (root / name).write_bytes(b"")
    >>> listing = find_pairs(get_dataset("shen2016"), root)
    >>> [pair.id for pair in listing.pairs], [d.kind for d in listing.defects], listing.form.name
    (['training/00001'], ['image_without_matte'], 'authors')
    """
    root = Path(root)
    layout = card.layout
    found_here = locate(layout, DiskTree(root), str(root))
    if found_here.root:  # called on a folder above the root: pair under the root it holds
        return find_pairs(card, root / found_here.root)
    form = found_here.form
    patterns = {"image": form.pattern("image"), "matte": form.pattern("matte")}
    listing = Listing(form=form)
    defects: list[Defect] = []
    found: dict[str, dict[str, tuple[str, dict[str, str]]]] = {"image": {}, "matte": {}}
    clashes: dict[tuple[str, str], list[str]] = {}
    for top in form.tops:
        for path in walk_files(root, top):
            if is_fork(path):
                defects.append(Defect("ignored", "macos_fork", "", path, "macOS metadata file, not data"))
                listing.other_files.append(path)
                continue
            # A matte pattern is usually the more specific one (NNNNN_matte.png vs NNNNN.png).
            for role in ("matte", "image"):
                match = patterns[role].match(path)
                if match:
                    fields = match.groupdict()
                    key = layout.fill(layout.id, fields)
                    if key in found[role]:
                        clashes.setdefault((role, key), [found[role][key][0]]).append(path)
                    else:
                        found[role][key] = (path, fields)
                    break
            else:
                defects.append(
                    Defect("ignored", "unexpected_file", "", path, f"follows neither {form.image} nor {form.matte}")
                )
                listing.other_files.append(path)
    for (role, key), paths in sorted(clashes.items()):
        # Two files give one id (e.g. 00001.png and 00001.PNG): which one is meant is unknowable.
        for path in paths:
            detail = f"{len(paths)} {role}s give the id {key}: {', '.join(paths)}; the item is excluded"
            defects.append(Defect("error", "duplicate_id", key, path, detail))
            listing.other_files.append(path)
        found[role].pop(key, None)
    excluded = {key for _, key in clashes}
    images, mattes = found["image"], found["matte"]
    for key in sorted(images.keys() | mattes.keys()):
        if key in excluded:
            for side in (images, mattes):
                if key in side:
                    listing.other_files.append(side[key][0])
            continue
        if key in images and key in mattes:
            path, fields = images[key]
            group, folder = layout.fill(layout.group, fields), layout.fill(layout.folder, fields)
            listing.pairs.append(Pair(key, group, folder, path, mattes[key][0]))
        elif key in images:
            defects.append(
                Defect("error", "image_without_matte", key, images[key][0], "no matte pairs with this image; excluded")
            )
            listing.other_files.append(images[key][0])
        else:
            defects.append(
                Defect("error", "matte_without_image", key, mattes[key][0], "no image pairs with this matte; excluded")
            )
            listing.other_files.append(mattes[key][0])
    folded = Counter(path.casefold() for path in listing.all_files())
    for path in sorted(p for p in listing.all_files() if folded[p.casefold()] > 1):
        twins = sorted(p for p in listing.all_files() if p.casefold() == path.casefold() and p != path)
        detail = (
            f"differs only in case from {', '.join(twins)}: on a case-insensitive file system one replaces the other"
        )
        defects.append(Defect("ignored", "case_only_difference", "", path, detail))
    copies = [copy + "/" for copy in found_here.copies]
    if layout.duplicate_tree and (root.parent / layout.duplicate_tree).is_dir() and root.name != layout.duplicate_tree:
        copies.append(f"../{layout.duplicate_tree}/")
    for copy in copies:
        defects.append(
            Defect("ignored", "duplicate_tree", "", copy, "second copy of the data set; skipped, not verified")
        )
    for other in found_here.others:
        defects.append(
            Defect("ignored", "other_dataset", "", other + "/", "a different dataset beside the data; skipped")
        )
    listing.defects = [_mark_known(card, defect) for defect in defects]
    listing.pairs.sort(key=lambda pair: pair.id)
    listing.other_files = sorted(set(listing.other_files))
    return listing


def _mark_known(card: DatasetCard, defect: Defect) -> Defect:
    known = card.known_defect(defect.kind, defect.path)
    if known is None:
        return defect
    return Defect(defect.severity, defect.kind, defect.id, defect.path, f"{defect.detail} ({known.note})", True)
