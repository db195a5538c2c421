"""Dataset cards: every dataset declared once as data, in ``datasets/<name>/card.yaml``.

A card (schema ``vbbench-card/1``) holds the dataset's identity and provenance (citation, licence,
homepage, sizes), its expected counts and resolution, its **layout** (how files pair up, read by
the one generic pairer in :mod:`vbbench.layout`), its known defects, its size limits (what
extraction and verification accept), its split rule, its download and its manual steps.
:func:`load_card` reads and checks one card into a frozen :class:`DatasetCard`; lookup is
:func:`get_dataset` (did-you-mean errors) and :func:`list_datasets`.

The layout block lists every **form** the set ships in (the authors' zip, a mirror's re-packing);
the first form whose marker folders are found wins. Patterns name the fields of a path with
``{name}`` (any characters but ``/``) or ``{name:digits}`` (one or more digits)::

    layout:
      forms:
        - name: authors                               # the zip from the authors, OneDrive, Baidu
          markers: [training, testing]                # folders (or files) that mark the data's root
          image: "{folder}/{number:digits}.png"
          matte: "{folder}/{number:digits}_matte.png"
          matte_channel: gray                         # or alpha (an RGBA cut-out)
        - name: kaggle                                # tommzzhou/human-img-seg
          markers: [training/sample, testing/sample]
          image: "{folder}/sample/{number:digits}.png"
          matte: "{folder}/mask/{number:digits}_matte.png"
      id: "{folder}/{number}"                          # the item's id, from the image's fields
      group: "{folder}/{number}"                       # items that must share a split side
      folder: "{folder}"                               # the authors' split folder, if any
      duplicate_tree: matting_human_half               # a second copy of the tree (see below)
      refuse:                                          # look-alike sets, refused with a message
        - name: EG 2016 segmentation set
          markers: [images_mask, trainlist.mat]
          message: "..."

A one-form card may put ``markers``, ``image``, ``matte`` and ``matte_channel`` directly under
``layout:``. A tree inside a folder named ``duplicate_tree`` is a second copy (skipped) only when
a tree outside such a folder exists; alone, it is the data.

Examples
--------
>>> card = get_dataset("shen2016")
>>> [form.name for form in card.layout.forms], card.layout.forms[0].markers
(['authors', 'kaggle'], ('training', 'testing'))
>>> card.expected_folder_pairs
{'training': 1700, 'testing': 300}
>>> get_dataset("shen2061")
Traceback (most recent call last):
...
vbbench.errors.DatasetError: unknown dataset 'shen2061'; did you mean 'shen2016'? (known: aisegment, sample, shen2016)
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vbbench.errors import DatasetError
from vbbench.paths import datasets_dir
from vbbench.registry import did_you_mean

__all__ = [
    "CARD_SCHEMA",
    "DatasetCard",
    "LayoutForm",
    "LayoutSpec",
    "Refusal",
    "KnownDefect",
    "KnownCount",
    "SizeLimits",
    "SplitSpec",
    "load_card",
    "list_datasets",
    "get_dataset",
]

CARD_SCHEMA = "vbbench-card/1"
_FIELD = re.compile(r"\{(\w+)(?::(digits))?\}")
#: A template field: ``{name}``, or ``{name//N}`` (the field's number divided by N, rounded down).
_TEMPLATE_FIELD = re.compile(r"\{(\w+)(?://(\d+))?\}")
_MATTE_CHANNELS = ("alpha", "gray")
_SPLIT_RULES = ("folders", "units")


@dataclass(frozen=True)
class LayoutForm:
    """One physical form of a dataset: its marker folders and its image and matte patterns.

    Attributes
    ----------
    name : str
        What the form is (``authors``, ``kaggle``, …), named in the prepare report.
    markers : tuple of str
        Paths relative to the root (folders, or files) whose presence side by side marks it.
    image, matte : str
        Path patterns relative to the root.
    matte_channel : {"alpha", "gray"}
        Where the matte is: the alpha channel of an RGBA cut-out, or a grayscale image.
    """

    name: str
    markers: tuple[str, ...]
    image: str
    matte: str
    matte_channel: str = "gray"

    @property
    def tops(self) -> tuple[str, ...]:
        """The top-level folders the pairer walks: the first component of each marker.

        Examples
        --------
        >>> get_dataset("shen2016").layout.forms[1].tops
        ('training', 'testing')
        """
        return tuple(dict.fromkeys(marker.split("/")[0] for marker in self.markers))

    def pattern(self, which: str) -> re.Pattern[str]:
        """The compiled regular expression of ``image`` or ``matte`` (suffix case ignored).

        Examples
        --------
        >>> get_dataset("shen2016").layout.forms[0].pattern("matte").match("training/00001_matte.png")["number"]
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


@dataclass(frozen=True)
class Refusal:
    """A look-alike dataset recognised by its markers (all present) and refused with ``message``."""

    name: str
    markers: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class LayoutSpec:
    """How a dataset's files pair up (see the module docstring for the fields).

    Attributes
    ----------
    forms : tuple of LayoutForm
        Every form the set ships in; the first one found under a folder wins.
    id, group, folder : str
        Templates filled from the image path's fields.
    duplicate_tree : str or None
        Name of a folder holding a second copy of the tree (skipped when a tree outside it exists).
    refuse : tuple of Refusal
        Look-alike datasets that are refused with a plain message.
    max_depth : int
        How many wrapping folders may sit above the data's root.
    """

    forms: tuple[LayoutForm, ...]
    id: str
    group: str
    folder: str = ""
    duplicate_tree: str | None = None
    refuse: tuple[Refusal, ...] = ()
    max_depth: int = 4

    def form(self, name: str) -> LayoutForm:
        """The form called ``name``."""
        for form in self.forms:
            if form.name == name:
                return form
        raise DatasetError(f"no layout form {name!r} (forms: {', '.join(f.name for f in self.forms)})")

    def fill(self, template: str, fields: dict[str, str]) -> str:
        """``template`` with the fields of a matched path; ``{name//N}`` is the field's number
        divided by N, rounded down.

        Examples
        --------
        >>> layout = get_dataset("shen2016").layout
        >>> layout.fill("{folder}/{number}", {"folder": "testing", "number": "00007"})
        'testing/00007'
        >>> layout.fill("run_{number//500}", {"number": "00001234"})
        'run_2'
        """

        def one(match: re.Match) -> str:
            value = fields[match[1]]
            return str(int(value) // int(match[2])) if match[2] else value

        return _TEMPLATE_FIELD.sub(one, template)


@dataclass(frozen=True)
class KnownDefect:
    """A defect every copy of the set has (reported by name, not counted by ``--strict``).

    ``kind`` is a defect kind of :mod:`vbbench.verify`; ``path`` an ``fnmatch`` pattern on the
    path relative to the root (``*`` crosses ``/``).
    """

    kind: str
    path: str
    note: str

    def matches(self, kind: str, path: str) -> bool:
        """Whether a defect of ``kind`` at ``path`` is this known one.

        Examples
        --------
        >>> KnownDefect("macos_fork", "*/._*", "").matches("macos_fork", "clip_img/a/._x.jpg")
        True
        """
        return kind == self.kind and fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class KnownCount:
    """A count of pairs in one folder seen in a known incomplete copy, with what to say about it."""

    folder: str
    pairs: int
    note: str


@dataclass(frozen=True)
class SizeLimits:
    """What extraction and verification accept, in bytes (``None``: no limit).

    Attributes
    ----------
    max_file_bytes : int or None
        Largest single file (uncompressed): bigger archive entries are refused before extraction
        and bigger files are not decoded by verify.
    tree_bytes : int or None
        Expected uncompressed size of one copy of the tree; extraction refuses an archive whose
        entries (without a skipped second copy) add up to more than twice this.
    archive_bytes, archive_entries : int or None
        Size and entry count of the usual archive (shown in the docs and messages).
    """

    max_file_bytes: int | None = None
    tree_bytes: int | None = None
    archive_bytes: int | None = None
    archive_entries: int | None = None


@dataclass(frozen=True)
class SplitSpec:
    """The split rule of a card.

    Attributes
    ----------
    rule : {"folders", "units"}
        ``folders``: the authors' folders decide (Shen 2016); ``units``: vbbench's deterministic
        split of folder groups joined with near-duplicate clusters (see :mod:`vbbench.split`).
    test_fraction : float
        Target share of test items (0.15 = 17:3).
    tolerance : float
        Allowed deviation of the achieved share (0.01 = ±1 percentage point).
    salt : str
        Salt of the units' hash order (a new salt is a new split version).
    dhash_threshold : int
        Hamming distance (bits of 64) at or below which two images' difference hashes match.
    colour_threshold : float
        Largest colour-thumbnail distance (8-bit levels) of a match: both must hold for two images
        to be near-duplicates (see :mod:`vbbench.neardup`).
    max_unit_share : float
        Units holding more than this share of the items stay in train (when the others suffice).
    train_folder, test_folder : str
        Folder names of the ``folders`` rule.
    committed : bool
        The split list ships with vbbench beside the card (the embedded sample).
    """

    rule: str
    test_fraction: float = 0.15
    tolerance: float = 0.01
    salt: str = "vbbench-split-v2"
    dhash_threshold: int = 8
    colour_threshold: float = 12.0
    max_unit_share: float = 0.05
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
    expected_folder_pairs : dict of str to int
        Pairs per authors' folder (Shen: training 1,700, testing 300).
    known_counts : tuple of KnownCount
        Counts of incomplete copies seen in the wild, explained when met.
    known_defects : tuple of KnownDefect
        Defects every copy has.
    expected_width_px, expected_height_px : int or None
        Frame size every image and matte should have (a mismatch is a defect).
    limits : SizeLimits
        Sizes extraction and verification accept.
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
    expected_folder_pairs: dict[str, int] = field(default_factory=dict)
    known_counts: tuple[KnownCount, ...] = ()
    known_defects: tuple[KnownDefect, ...] = ()
    limits: SizeLimits = SizeLimits()

    @property
    def generated(self) -> bool:
        """The data is generated by vbbench (the embedded sample), not downloaded."""
        return bool(self.generate)

    def known_defect(self, kind: str, path: str) -> KnownDefect | None:
        """The card's known defect a found defect is, if any."""
        return next((known for known in self.known_defects if known.matches(kind, path)), None)

    def replace(self, **changes: Any) -> DatasetCard:
        """A copy with some fields changed (tests shrink the expected size and counts).

        Examples
        --------
        >>> get_dataset("shen2016").replace(expected_pairs=4).expected_pairs
        4
        """
        return dataclasses.replace(self, **changes)


class _Reader:
    """Typed field access with errors that name the card and the field."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, block: dict, key: str, kind: type | tuple, default: Any = ..., where: str = "") -> Any:
        value = block.get(key, default)
        if value is ...:
            raise DatasetError(f"{self.path}: the card lacks '{where}{key}'")
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise DatasetError(f"{self.path}: '{where}{key}' should be {names}, not {type(value).__name__}")
        return value

    def fail(self, message: str) -> DatasetError:
        return DatasetError(f"{self.path}: {message}")


def _read_form(field_of: _Reader, block: dict, where: str, default_name: str) -> LayoutForm:
    form = LayoutForm(
        name=field_of(block, "name", str, default_name, where=where),
        markers=tuple(str(marker).strip("/") for marker in field_of(block, "markers", list, where=where)),
        image=field_of(block, "image", str, where=where),
        matte=field_of(block, "matte", str, where=where),
        matte_channel=field_of(block, "matte_channel", str, "gray", where=where),
    )
    if not form.markers:
        raise field_of.fail(f"'{where}markers' is empty")
    if form.matte_channel not in _MATTE_CHANNELS:
        raise field_of.fail(f"'{where}matte_channel' should be one of {', '.join(_MATTE_CHANNELS)}")
    return form


def _read_layout(field_of: _Reader, raw: dict) -> LayoutSpec:
    block = field_of(raw, "layout", dict)
    flat = [key for key in ("markers", "image", "matte", "matte_channel") if key in block]
    if flat and "forms" in block:
        raise field_of.fail(f"'layout' gives both 'forms' and {', '.join(flat)}; move them into one form")
    if "forms" in block:
        entries = field_of(block, "forms", list, where="layout.")
        if not entries or not all(isinstance(entry, dict) for entry in entries):
            raise field_of.fail("'layout.forms' should be a non-empty list of forms")
        forms = tuple(
            _read_form(field_of, entry, f"layout.forms[{index}].", f"form {index + 1}")
            for index, entry in enumerate(entries)
        )
    else:
        forms = (_read_form(field_of, block, "layout.", "files"),)
    if len({form.name for form in forms}) != len(forms):
        raise field_of.fail("'layout.forms' names repeat")
    refusals = []
    for index, entry in enumerate(field_of(block, "refuse", list, [], where="layout.") or []):
        where = f"layout.refuse[{index}]."
        if not isinstance(entry, dict):
            raise field_of.fail(f"'{where[:-1]}' should be a mapping with name, markers and message")
        refusals.append(
            Refusal(
                name=field_of(entry, "name", str, where=where),
                markers=tuple(str(m).strip("/") for m in field_of(entry, "markers", list, where=where)),
                message=" ".join(field_of(entry, "message", str, where=where).split()),
            )
        )
    layout = LayoutSpec(
        forms=forms,
        id=field_of(block, "id", str, where="layout."),
        group=field_of(block, "group", str, where="layout."),
        folder=field_of(block, "folder", str, "", where="layout."),
        duplicate_tree=field_of(block, "duplicate_tree", str, None, where="layout."),
        refuse=tuple(refusals),
        max_depth=field_of(block, "max_depth", int, 4, where="layout."),
    )
    for form in forms:
        image_fields = {m[1] for m in _FIELD.finditer(form.image)}
        matte_fields = {m[1] for m in _FIELD.finditer(form.matte)}
        for key in ("id", "group", "folder"):
            missing = set(_field_names(getattr(layout, key))) - image_fields
            if missing:
                raise field_of.fail(
                    f"'layout.{key}' uses {', '.join(sorted(missing))}, not a field of the image pattern of form "
                    f"'{form.name}'"
                )
        if set(_field_names(layout.id)) - matte_fields:
            raise field_of.fail(f"'layout.id' must be made of fields that the matte pattern of form '{form.name}' has")
        digit_fields = {m[1] for m in _FIELD.finditer(form.image) if m[2]}
        for key in ("id", "group", "folder"):
            for name in set(_divided_fields(getattr(layout, key))) - digit_fields:
                raise field_of.fail(
                    f"'layout.{key}' divides '{name}', which the image pattern of form '{form.name}' does not "
                    f"declare as {{{name}:digits}}"
                )
        if _divided_fields(layout.id):
            raise field_of.fail("'layout.id' may not divide a field (ids must keep every file apart)")
    return layout


def _read_split(field_of: _Reader, raw: dict) -> SplitSpec:
    block = field_of(raw, "split", dict)
    rule = field_of(block, "rule", str, where="split.")
    if rule not in _SPLIT_RULES:
        raise field_of.fail(f"'split.rule' should be one of {', '.join(_SPLIT_RULES)}, not {rule!r}")
    defaults = SplitSpec(rule)
    spec = SplitSpec(
        rule=rule,
        test_fraction=float(field_of(block, "test_fraction", (int, float), defaults.test_fraction, where="split.")),
        tolerance=float(field_of(block, "tolerance", (int, float), defaults.tolerance, where="split.")),
        salt=field_of(block, "salt", str, defaults.salt, where="split."),
        dhash_threshold=field_of(block, "dhash_threshold", int, defaults.dhash_threshold, where="split."),
        colour_threshold=float(
            field_of(block, "colour_threshold", (int, float), defaults.colour_threshold, where="split.")
        ),
        max_unit_share=float(field_of(block, "max_unit_share", (int, float), defaults.max_unit_share, where="split.")),
        train_folder=field_of(block, "train_folder", str, defaults.train_folder, where="split."),
        test_folder=field_of(block, "test_folder", str, defaults.test_folder, where="split."),
        committed=bool(field_of(block, "committed", bool, False, where="split.")),
    )
    if not 0 < spec.test_fraction < 1 or not 0 <= spec.tolerance < spec.test_fraction:
        raise field_of.fail("'split.test_fraction' must lie in (0, 1) and 'split.tolerance' in [0, test_fraction)")
    if not 0 <= spec.dhash_threshold < 64:
        raise field_of.fail(f"'split.dhash_threshold' must be 0 to 63 bits, not {spec.dhash_threshold}")
    return spec


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
    field_of = _Reader(path)
    layout = _read_layout(field_of, raw)
    split = _read_split(field_of, raw)
    folder_pairs = field_of(raw, "expected_folder_pairs", dict, {}) or {}
    if not all(isinstance(value, int) for value in folder_pairs.values()):
        raise field_of.fail("'expected_folder_pairs' should map folder names to pair counts")
    known_counts = tuple(
        KnownCount(
            field_of(entry, "folder", str, where="known_counts[]."),
            field_of(entry, "pairs", int, where="known_counts[]."),
            " ".join(field_of(entry, "note", str, where="known_counts[].").split()),
        )
        for entry in field_of(raw, "known_counts", list, []) or []
    )
    known_defects = tuple(
        KnownDefect(
            field_of(entry, "kind", str, where="known_defects[]."),
            field_of(entry, "path", str, where="known_defects[]."),
            " ".join(field_of(entry, "note", str, where="known_defects[].").split()),
        )
        for entry in field_of(raw, "known_defects", list, []) or []
    )
    limits_block = field_of(raw, "limits", dict, {}) or {}
    limits = SizeLimits(
        **{key: field_of(limits_block, key, int, None, where="limits.") for key in SizeLimits.__dataclass_fields__}
    )
    download = field_of(raw, "download", dict, {}) or {}
    return DatasetCard(
        name=field_of(raw, "name", str),
        title=field_of(raw, "title", str),
        revision=str(field_of(raw, "revision", (str, int))),
        citation=field_of(raw, "citation", str).strip(),
        licence=field_of(raw, "licence", str),
        homepage=field_of(raw, "homepage", str),
        layout=layout,
        expected_pairs=field_of(raw, "expected_pairs", int, None),
        expected_width_px=field_of(raw, "expected_width_px", int, None),
        expected_height_px=field_of(raw, "expected_height_px", int, None),
        split=split,
        url=download.get("url"),
        sha256=download.get("sha256"),
        filename=download.get("filename"),
        manual=field_of(raw, "manual", str, "").strip(),
        generate=field_of(raw, "generate", dict, {}) or {},
        card_dir=path.parent,
        expected_folder_pairs={str(key): value for key, value in folder_pairs.items()},
        known_counts=known_counts,
        known_defects=known_defects,
        limits=limits,
    )


def _field_names(template: str) -> list[str]:
    return [match[1] for match in _TEMPLATE_FIELD.finditer(template)]


def _divided_fields(template: str) -> list[str]:
    return [match[1] for match in _TEMPLATE_FIELD.finditer(template) if match[2]]


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
