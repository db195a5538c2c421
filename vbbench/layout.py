"""The one generic pairer: images and mattes matched by a card's declared layout.

:func:`find_pairs` walks the card's marker folders under a data root, matches every file against
the layout's ``image`` and ``matte`` patterns (:class:`vbbench.cards.LayoutSpec`), joins the two
by the ``id`` template and reports everything else: files that follow neither pattern, macOS
AppleDouble forks (``._*``, ``.DS_Store``), images without a matte and mattes without an image,
and a second copy of the tree (the layout's ``duplicate_tree``) beside the root. Nothing is
dropped silently: each such file is a :class:`Defect`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vbbench.cards import DatasetCard
from vbbench.prepared import Pair

__all__ = ["Defect", "Listing", "find_pairs", "walk_files", "is_fork"]


@dataclass(frozen=True)
class Defect:
    """One problem found in a dataset.

    ``severity`` is ``error`` (the item is excluded, or the set is incomplete) or ``ignored`` (a
    file that is not data, listed so that nothing is dropped silently).
    """

    severity: str
    kind: str
    id: str
    path: str
    detail: str


@dataclass
class Listing:
    """What :func:`find_pairs` found: pairs, other files to hash, and defects of the layout."""

    pairs: list[Pair] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)

    def all_files(self) -> list[str]:
        """Every file walked (both sides of each pair and the rest), sorted."""
        return sorted({path for pair in self.pairs for path in (pair.image, pair.matte)} | set(self.other_files))


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
    >>> is_fork("clip_img/a/._x.jpg"), is_fork("clip_img/a/x.jpg")
    (True, False)
    """
    name = path.rsplit("/", 1)[-1]
    return name.startswith("._") or name == ".DS_Store" or any(part.startswith("._") for part in path.split("/"))


def find_pairs(card: DatasetCard, root: str | os.PathLike) -> Listing:
    """Pair images and mattes under ``root`` by the card's layout.

    Parameters
    ----------
    card : DatasetCard
    root : path
        The folder holding the layout's marker folders (see :func:`vbbench.download.find_layout_root`).

    Returns
    -------
    Listing
        Pairs sorted by id; unpaired and ignored files in ``other_files`` and ``defects``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from vbbench.cards import get_dataset
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["training/00001.png", "training/00001_matte.png", "testing/00001.png"]:
    ...     (root / name).parent.mkdir(parents=True, exist_ok=True); _ = (root / name).write_bytes(b"")
    >>> listing = find_pairs(get_dataset("shen2016"), root)
    >>> [pair.id for pair in listing.pairs], [d.kind for d in listing.defects]
    (['training/00001'], ['image_without_matte'])
    """
    root = Path(root)
    layout = card.layout
    patterns = {"image": layout.pattern("image"), "matte": layout.pattern("matte")}
    listing = Listing()
    found: dict[str, dict[str, tuple[str, dict[str, str]]]] = {"image": {}, "matte": {}}
    for top in layout.markers:
        for path in walk_files(root, top):
            if is_fork(path):
                listing.defects.append(Defect("ignored", "macos_fork", "", path, "macOS metadata file, not data"))
                listing.other_files.append(path)
                continue
            # A matte pattern is usually the more specific one (NNNNN_matte.png vs NNNNN.png).
            for role in ("matte", "image"):
                match = patterns[role].match(path)
                if match:
                    fields = match.groupdict()
                    found[role][layout.fill(layout.id, fields)] = (path, fields)
                    break
            else:
                listing.defects.append(
                    Defect("ignored", "unexpected_file", "", path, f"follows neither {layout.image} nor {layout.matte}")
                )
                listing.other_files.append(path)
    images, mattes = found["image"], found["matte"]
    for key in sorted(images.keys() | mattes.keys()):
        if key in images and key in mattes:
            path, fields = images[key]
            group, folder = layout.fill(layout.group, fields), layout.fill(layout.folder, fields)
            listing.pairs.append(Pair(key, group, folder, path, mattes[key][0]))
        elif key in images:
            listing.defects.append(
                Defect("error", "image_without_matte", key, images[key][0], "no matte pairs with this image; excluded")
            )
            listing.other_files.append(images[key][0])
        else:
            listing.defects.append(
                Defect("error", "matte_without_image", key, mattes[key][0], "no image pairs with this matte; excluded")
            )
            listing.other_files.append(mattes[key][0])
    if layout.duplicate_tree:
        for copy, shown in (
            (root / layout.duplicate_tree, layout.duplicate_tree),
            (root.parent / layout.duplicate_tree, f"../{layout.duplicate_tree}"),
        ):
            if copy.is_dir() and copy.resolve() != root.resolve():
                listing.defects.append(
                    Defect("ignored", "duplicate_tree", "", shown, "second copy of the data set; skipped, not verified")
                )
    listing.pairs.sort(key=lambda pair: pair.id)
    return listing
