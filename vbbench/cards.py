"""Dataset cards: every dataset declared once as data, in ``datasets/<name>/card.yaml``.

A card (schema ``vbbench-card/1``) holds the dataset's identity and provenance (citation, licence,
homepage, sizes), its expected counts and resolution, its **layout** (how files pair up, read by
the one generic pairer in :mod:`vbbench.layout`), its split rule, its download and its manual
steps. :func:`load_card` reads and checks one card into a frozen :class:`DatasetCard`;
:data:`DATASETS`-style lookup is :func:`get_dataset` (did-you-mean errors) and
:func:`list_datasets`.

The layout block names the fields of a path with ``{name}`` (any characters but ``/``) or
``{name:digits}`` (one or more digits)::

    layout:
      markers: [clip_img, matting]                    # folders that mark the data's root
      image: "clip_img/{shoot}/clip_{block:digits}/{stem}.jpg"
      matte: "matting/{shoot}/matting_{block:digits}/{stem}.png"
      id: "{shoot}/clip_{block}/{stem}"               # the item's id, from the image's fields
      group: "{shoot}/clip_{block}"                   # items that must share a split side
      folder: ""                                       # the authors' split folder, if any
      matte_channel: alpha                             # alpha (RGBA cut-out) or gray
      duplicate_tree: matting_human_half               # a second copy of the tree, skipped

Examples
--------
>>> card = get_dataset("shen2016")
>>> card.layout.markers, card.layout.matte_channel
(('training', 'testing'), 'gray')
>>> get_dataset("shen2061")
Traceback (most recent call last):
...
vbbench.errors.DatasetError: unknown dataset 'shen2061'; did you mean 'shen2016'? (known: aisegment, sample, shen2016)
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vbbench.errors import DatasetError
from vbbench.paths import datasets_dir
from vbbench.registry import did_you_mean

__all__ = ["CARD_SCHEMA", "DatasetCard", "LayoutSpec", "SplitSpec", "load_card", "list_datasets", "get_dataset"]

CARD_SCHEMA = "vbbench-card/1"
_FIELD = re.compile(r"\{(\w+)(?::(digits))?\}")
_MATTE_CHANNELS = ("alpha", "gray")
_SPLIT_RULES = ("folders", "group-hash")


@dataclass(frozen=True)
class LayoutSpec:
    """How a dataset's files pair up (see the module docstring for the fields).

    Attributes
    ----------
    markers : tuple of str
        Folders whose presence side by side marks the data's root.
    image, matte : str
        Path patterns relative to the root.
    id, group, folder : str
        Templates filled from the image path's fields.
    matte_channel : {"alpha", "gray"}
        Where the matte is: the alpha channel of an RGBA cut-out, or a grayscale image.
    duplicate_tree : str or None
        Name of a folder that holds a second copy of the tree (skipped when beside the root).
    """

    markers: tuple[str, ...]
    image: str
    matte: str
    id: str
    group: str
    folder: str = ""
    matte_channel: str = "gray"
    duplicate_tree: str | None = None

    def pattern(self, which: str) -> re.Pattern[str]:
        """The compiled regular expression of ``image`` or ``matte`` (suffix case ignored).

        Examples
        --------
        >>> get_dataset("shen2016").layout.pattern("matte").match("training/00001_matte.png")["number"]
        '00001'
        """
        template = self.image if which == "image" else self.matte
        parts, position = [], 0
        for match in _FIELD.finditer(template):
            parts.append(re.escape(template[position : match.start()]))
            parts.append(rf"(?P<{match[1]}>\d+)" if match[2] else rf"(?P<{match[1]}>[^/]+?)")
            position = match.end()
        stem, dot, suffix = template[position:].rpartition(".")
        tail = re.escape(template[position:]) if not dot else re.escape(stem + ".") + f"(?i:{re.escape(suffix)})"
        return re.compile("".join(parts) + tail + r"\Z")

    def fill(self, template: str, fields: dict[str, str]) -> str:
        """``template`` with the fields of a matched path.

        Examples
        --------
        >>> get_dataset("shen2016").layout.fill("{folder}/{number}", {"folder": "testing", "number": "00007"})
        'testing/00007'
        """
        return _FIELD.sub(lambda match: fields[match[1]], template)


@dataclass(frozen=True)
class SplitSpec:
    """The split rule of a card.

    Attributes
    ----------
    rule : {"folders", "group-hash"}
        ``folders``: the authors' folders decide (Shen 2016); ``group-hash``: vbbench's
        deterministic split of groups (see :mod:`vbbench.split`).
    test_fraction : float
        Target share of test items (0.15 = 17:3).
    salt : str
        Salt of the group hash.
    train_folder, test_folder : str
        Folder names of the ``folders`` rule.
    committed : bool
        The split list ships with vbbench beside the card (the embedded sample).
    """

    rule: str
    test_fraction: float = 0.15
    salt: str = "vbbench-split-v1"
    train_folder: str = "training"
    test_folder: str = "testing"
    committed: bool = False


@dataclass(frozen=True)
class DatasetCard:
    """One dataset's card (``datasets/<name>/card.yaml``), see ``docs/datasets.md``.

    Attributes
    ----------
    name, title, revision, citation, licence, homepage : str
        Identity and provenance.
    layout : LayoutSpec
        How files pair up.
    expected_pairs : int or None
        Valid image–matte pairs the full set holds.
    expected_width_px, expected_height_px : int or None
        Frame size every image and matte should have (a mismatch is a defect).
    split : SplitSpec
        The split rule.
    url, sha256, filename : str or None
        Direct download where known.
    manual : str
        Exact steps to get the data by hand.
    generate : dict
        Generator arguments (the embedded sample only).
    card_dir : Path
        Folder of the card (a committed split list sits beside it).
    """

    name: str
    title: str
    revision: str
    citation: str
    licence: str
    homepage: str
    layout: LayoutSpec
    expected_pairs: int | None
    expected_width_px: int | None
    expected_height_px: int | None
    split: SplitSpec
    url: str | None
    sha256: str | None
    filename: str | None
    manual: str
    generate: dict
    card_dir: Path

    @property
    def generated(self) -> bool:
        """The data is generated by vbbench (the embedded sample), not downloaded."""
        return bool(self.generate)

    def replace(self, **changes: Any) -> DatasetCard:
        """A copy with some fields changed (tests shrink the expected size and counts).

        Examples
        --------
        >>> get_dataset("shen2016").replace(expected_pairs=4).expected_pairs
        4
        """
        return dataclasses.replace(self, **changes)


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

    def field(block: dict, key: str, kind: type | tuple, default: Any = ..., where: str = "") -> Any:
        value = block.get(key, default)
        if value is ...:
            raise DatasetError(f"{path}: the card lacks '{where}{key}'")
        if value is not None and not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise DatasetError(f"{path}: '{where}{key}' should be {names}, not {type(value).__name__}")
        return value

    layout_block = field(raw, "layout", dict)
    markers = field(layout_block, "markers", list, where="layout.")
    layout = LayoutSpec(
        markers=tuple(str(marker) for marker in markers),
        image=field(layout_block, "image", str, where="layout."),
        matte=field(layout_block, "matte", str, where="layout."),
        id=field(layout_block, "id", str, where="layout."),
        group=field(layout_block, "group", str, where="layout."),
        folder=field(layout_block, "folder", str, "", where="layout."),
        matte_channel=field(layout_block, "matte_channel", str, "gray", where="layout."),
        duplicate_tree=field(layout_block, "duplicate_tree", str, None, where="layout."),
    )
    if layout.matte_channel not in _MATTE_CHANNELS:
        raise DatasetError(f"{path}: 'layout.matte_channel' should be one of {', '.join(_MATTE_CHANNELS)}")
    image_fields = set(_field_names(layout.image))
    for key in ("id", "group", "folder"):
        missing = set(_field_names(getattr(layout, key))) - image_fields
        if missing:
            raise DatasetError(
                f"{path}: 'layout.{key}' uses {', '.join(sorted(missing))}, not a field of 'layout.image'"
            )
    if set(_field_names(layout.id)) - set(_field_names(layout.matte)):
        raise DatasetError(f"{path}: 'layout.id' must be made of fields that 'layout.matte' also has")

    split_block = field(raw, "split", dict)
    rule = field(split_block, "rule", str, where="split.")
    if rule not in _SPLIT_RULES:
        raise DatasetError(f"{path}: 'split.rule' should be one of {', '.join(_SPLIT_RULES)}, not {rule!r}")
    split = SplitSpec(
        rule=rule,
        test_fraction=float(field(split_block, "test_fraction", (int, float), 0.15, where="split.")),
        salt=field(split_block, "salt", str, "vbbench-split-v1", where="split."),
        train_folder=field(split_block, "train_folder", str, "training", where="split."),
        test_folder=field(split_block, "test_folder", str, "testing", where="split."),
        committed=bool(field(split_block, "committed", bool, False, where="split.")),
    )
    download = field(raw, "download", dict, {}) or {}
    return DatasetCard(
        name=field(raw, "name", str),
        title=field(raw, "title", str),
        revision=str(field(raw, "revision", (str, int))),
        citation=field(raw, "citation", str).strip(),
        licence=field(raw, "licence", str),
        homepage=field(raw, "homepage", str),
        layout=layout,
        expected_pairs=field(raw, "expected_pairs", int, None),
        expected_width_px=field(raw, "expected_width_px", int, None),
        expected_height_px=field(raw, "expected_height_px", int, None),
        split=split,
        url=download.get("url"),
        sha256=download.get("sha256"),
        filename=download.get("filename"),
        manual=field(raw, "manual", str, "").strip(),
        generate=field(raw, "generate", dict, {}) or {},
        card_dir=path.parent,
    )


def _field_names(template: str) -> list[str]:
    return [match[1] for match in _FIELD.finditer(template)]


def list_datasets() -> list[str]:
    """Names of the declared datasets, sorted.

    Examples
    --------
    >>> list_datasets()
    ['aisegment', 'sample', 'shen2016']
    """
    return sorted(card.parent.name for card in datasets_dir().glob("*/card.yaml"))


def get_dataset(name: str) -> DatasetCard:
    """The card of dataset ``name``.

    Raises
    ------
    DatasetError
        For an unknown name, with the closest known name and the full list.
    """
    known = list_datasets()
    if name not in known:
        raise DatasetError(f"unknown dataset {name!r}{did_you_mean(name, known)} (known: {', '.join(known)})")
    card = load_card(datasets_dir() / name / "card.yaml")
    if card.name != name:
        raise DatasetError(f"{card.card_dir / 'card.yaml'}: name '{card.name}' differs from its folder '{name}'")
    return card
