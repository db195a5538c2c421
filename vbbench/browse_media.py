"""The pictures ``vbbench browse`` shows, drawn from exactly the arrays that were scored.

Every matte and error map is written as a 16-bit PNG (value = round(65535 · alpha)) from the
arrays :func:`vbbench.score.score_pair` compared — :func:`vbbench.io.read_matte` gives an RGBA
cut-out's alpha and a 16-bit matte's 16-bit values, and a prediction of another size is resized as
``score --resize`` does (:func:`scored_mattes`). For 8- and 16-bit mattes the stored values are
exact (an 8-bit ``v`` is ``257·v``); for resized predictions they are within 1/131070.

The error |p − g| is drawn in one sequential colour map, :data:`ERROR_STOPS` (pale yellow → red →
dark purple, lightness falling as the error grows), sampled into :data:`COLOR_TABLE` exactly the
way FiftyOne's heatmap painter samples a colour scale (:func:`error_index`), so the app's overlay
and the pictures drawn here agree to the colour. Errors below :data:`DRAWN_FROM` (1 %) are not
drawn over the image: an alpha error ``e`` moves a composited pixel by at most ``e · 255`` grey
levels, under 2.55 levels there — about the smallest step a person notices — while the 1/255 dither
of a good model would cover a third of every portrait. The error picture (:func:`error_picture`)
shows them faintly, so it accounts for every pixel of MAD.

:class:`DrawnRecord` remembers what each file was drawn from, so a re-run draws only the files of
new or changed runs; :func:`draw_group` draws one image's files (the unit of work of the pool).

Examples
--------
>>> error = np.array([[0, 100, 656, 65535]], dtype=np.uint16)  # 0, 0.15 %, 1 %, 100 %
>>> error_index(error).tolist()
[[-1, -1, 0, 255]]
>>> COLOR_TABLE[0].tolist(), COLOR_TABLE[255].tolist()  # RGB of 1 % and of 100 %
([255, 237, 140], [80, 0, 85])
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vbbench.errors import BrowseError
from vbbench.io import atomic_write_text, read_image, read_matte, write_png
from vbbench.metrics import to_alpha

__all__ = [
    "FULL",
    "DRAWN_FROM",
    "DRAWN_FROM_CODE",
    "ERROR_STOPS",
    "COLOR_TABLE",
    "OPACITY",
    "colorscale",
    "error_index",
    "scored_mattes",
    "to_uint16",
    "error_uint16",
    "overlay",
    "error_picture",
    "side_by_side",
    "layout",
    "DrawnRecord",
    "ModelDrawing",
    "GroupDrawing",
    "draw_group",
]

FULL = 65535  # stored maps are 16-bit: alpha (or |p − g|) = value / 65535
#: Errors drawn over the image start here (|p − g| ≥ 1 %); see the module docstring for why.
DRAWN_FROM = 0.01
#: The smallest stored 16-bit error that is drawn: the app's heatmap ``range`` starts here, and
#: its painter leaves every value below the range (and 0) transparent.
DRAWN_FROM_CODE = math.ceil(DRAWN_FROM * FULL)
#: The error colour map: (|p − g|, colour) stops, interpolated linearly in RGB between them. The
#: stops crowd at small errors, where soft hair edges sit, so 5 % and 20 % look different.
ERROR_STOPS = (
    (0.01, "#ffed8c"),
    (0.05, "#fecc5c"),
    (0.10, "#fda03c"),
    (0.20, "#f86928"),
    (0.35, "#e12d1e"),
    (0.50, "#b90a2d"),
    (0.75, "#84003f"),
    (1.00, "#500055"),
)
#: Opacity of the error drawn over the image (the app's colour scheme uses the same).
OPACITY = 0.85
#: Strength of the sub-1 % errors in the error picture.
FAINT = 0.4
#: Bumped whenever a drawing changes, so stored pictures of older versions are redrawn.
DRAWING_VERSION = "2"
#: Tile height of the side-by-side picture (larger images are shrunk to it).
TILE_HEIGHT = 480
#: Width / height of the app's large viewer the side-by-side picture is laid out for (about
#: 1000 × 590 px in a 1500 × 950 window).
VIEWER_ASPECT = 1.7


def _position(error: float) -> float:
    """Where an error sits on the app's colour scale: 0 at :data:`DRAWN_FROM_CODE`, 1 at 100 %."""
    return min(1.0, max(0.0, (error * FULL - DRAWN_FROM_CODE) / (FULL - DRAWN_FROM_CODE)))


def colorscale() -> list[dict]:
    """:data:`ERROR_STOPS` as a FiftyOne colour-scale ``list`` (``value`` on the heatmap's range).

    Examples
    --------
    >>> [(round(stop["value"], 4), stop["color"]) for stop in colorscale()][:2]
    [(0.0, '#ffed8c'), (0.0404, '#fecc5c')]
    """
    return [{"value": _position(error), "color": color} for error, color in ERROR_STOPS]


def _color_table(size: int = 256) -> np.ndarray:
    """The colour scale sampled at ``size`` evenly spaced positions (RGB uint8), as FiftyOne's
    server samples a colour-scale list for the app (``fiftyone.core.plots.utils.get_colormap``)."""
    stops = colorscale()
    positions = np.array([stop["value"] for stop in stops])
    rgb = np.array([[int(stop["color"][i : i + 2], 16) for i in (1, 3, 5)] for stop in stops], dtype=np.float64)
    where = np.linspace(0.0, 1.0, size)
    return np.round(np.stack([np.interp(where, positions, rgb[:, c]) for c in range(3)], axis=1)).astype(np.uint8)


#: The colour scale as the app paints it: 256 RGB colours, index :func:`error_index`.
COLOR_TABLE = _color_table()


def error_index(error: np.ndarray) -> np.ndarray:
    """The colour each 16-bit error gets, as FiftyOne 1.22.1's heatmap painter picks it with
    ``range = [DRAWN_FROM_CODE, 65535]``: ``round((v − lo) / (hi − lo) · 255)``, and −1 (not drawn)
    for ``v < lo`` (0 included)."""
    span = FULL - DRAWN_FROM_CODE
    index = np.floor((error.astype(np.float64) - DRAWN_FROM_CODE) / span * 255.0 + 0.5).astype(np.int16)
    return np.where(error >= DRAWN_FROM_CODE, index, -1)


# ---- the arrays as scored ----------------------------------------------------------------------


def scored_mattes(gt_path: Path, pred_path: Path, resize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth and prediction of one image, exactly as scoring compared them.

    Both come from :func:`vbbench.io.read_matte` (raw 8- or 16-bit values, an RGBA cut-out's
    alpha); a prediction of another size is resized by ``score``'s own function when the run was
    scored with ``--resize`` (float alpha), and refused otherwise.
    """
    from vbbench.score import _resize_to

    gt = read_matte(gt_path)
    pred = read_matte(pred_path)
    if pred.shape != gt.shape:
        if not resize:
            raise BrowseError(
                f"{pred_path}: size {pred.shape[1]}×{pred.shape[0]} differs from the ground truth {gt_path} "
                f"({gt.shape[1]}×{gt.shape[0]}) and its run was not scored with --resize; score it again"
            )
        pred = _resize_to(pred, gt.shape)
    return gt, pred


def to_uint16(alpha: np.ndarray) -> np.ndarray:
    """A matte (raw 8/16-bit or float alpha) as 16-bit values; exact for 8 and 16 bits.

    Examples
    --------
    >>> to_uint16(np.array([0, 1, 255], np.uint8)).tolist()
    [0, 257, 65535]
    """
    if alpha.dtype == np.uint16:
        return alpha
    if alpha.dtype == np.uint8:
        return alpha.astype(np.uint16) * 257
    return np.round(np.clip(to_alpha(alpha), 0.0, 1.0) * FULL).astype(np.uint16)


def error_uint16(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """|p − g| as 16-bit values: exact whenever both mattes are 8- or 16-bit integers.

    Examples
    --------
    >>> error_uint16(np.array([255], np.uint8), np.array([0], np.uint16)).tolist()
    [65535]
    """
    if gt.dtype.kind == "u" and pred.dtype.kind == "u":
        return np.abs(to_uint16(pred).astype(np.int32) - to_uint16(gt).astype(np.int32)).astype(np.uint16)
    return to_uint16(np.abs(to_alpha(pred) - to_alpha(gt)))


# ---- pictures ----------------------------------------------------------------------------------


def overlay(image: np.ndarray, error: np.ndarray) -> np.ndarray:
    """The image (BGR) with its error drawn over it as the app draws the heatmap: colours of
    :func:`error_index` at :data:`OPACITY`, nothing below 1 %."""
    index = error_index(error)
    drawn = (index >= 0)[..., None]
    colours = COLOR_TABLE[np.maximum(index, 0)][..., ::-1].astype(np.float64)
    mixed = np.where(drawn, image * (1.0 - OPACITY) + colours * OPACITY, image)
    return np.round(mixed).astype(np.uint8)


def error_picture(image: np.ndarray, error: np.ndarray) -> np.ndarray:
    """The error slice's picture (BGR): the colours over a dimmed grey copy of the image, so they
    sit where the portrait failed; errors from 1 % opaque, smaller nonzero ones in the first
    colour at :data:`FAINT` strength, zero error plain grey."""
    grey = image.astype(np.float64) @ np.array([0.114, 0.587, 0.299])
    base = np.repeat((30.0 + 0.3 * grey)[..., None], 3, axis=-1)
    index = error_index(error)
    weight = np.where(index >= 0, 1.0, np.where(error > 0, FAINT, 0.0))[..., None]
    colours = COLOR_TABLE[np.maximum(index, 0)][..., ::-1].astype(np.float64)
    return np.round(base * (1.0 - weight) + colours * weight).astype(np.uint8)


def _grey(matte16: np.ndarray) -> np.ndarray:
    """A 16-bit matte as an 8-bit BGR picture (display only; the stored PNG keeps 16 bits)."""
    grey = np.round(matte16.astype(np.float64) / 257.0).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def layout(models: int, tile: tuple[int, int], band: int, aspect: float = VIEWER_ASPECT) -> int:
    """How many models the side-by-side picture puts in a row: the count whose grid (the image
    and ground truth in a column of their own, then each model's prediction and error next to each
    other) shows the tiles largest in a viewer ``aspect`` times as wide as high.

    Examples
    --------
    >>> [layout(n, (240, 320), 26) for n in (1, 2, 3, 4, 6)]
    [1, 1, 2, 2, 3]
    """
    width, height = tile
    best, best_size = 1, 0.0
    for per_row in range(1, models + 1):
        rows, columns = max(2, math.ceil(models / per_row)), 1 + 2 * per_row
        size = min(aspect / (columns * width), 1.0 / (rows * (height + band)))
        if size > best_size * (1 + 1e-9):
            best, best_size = per_row, size
    return best


def side_by_side(image: np.ndarray, gt16: np.ndarray, rows: list[tuple[str, np.ndarray, np.ndarray]]) -> np.ndarray:
    """One picture of a whole group for the eye: the image and the ground truth in the first
    column, then each model's prediction and error picture side by side, every tile labelled, as
    many models to a row as fit a wide viewer best (:func:`layout`).

    Parameters
    ----------
    image : numpy.ndarray
        The colour image (BGR uint8).
    gt16 : numpy.ndarray
        The ground truth, 16-bit.
    rows : list of (str, numpy.ndarray, numpy.ndarray)
        ``(model, prediction16, error picture)`` per model (:func:`error_picture`).

    Returns
    -------
    numpy.ndarray
        BGR uint8. Labels are ASCII (the font that comes with Pillow has no other glyphs); the
        numbers are on the slice's badges, in the tables' notation.
    """
    import cv2
    from PIL import Image, ImageDraw, ImageFont

    height, width = gt16.shape
    scale = min(1.0, TILE_HEIGHT / height)
    tw, th = max(1, round(width * scale)), max(1, round(height * scale))
    band, gap = 24, 4
    per_row = layout(len(rows), (tw, th), band)
    grid_rows, columns = max(2, math.ceil(len(rows) / per_row)), 1 + 2 * per_row
    canvas = np.full((grid_rows * (band + th + gap), columns * (tw + gap) - gap, 3), 24, np.uint8)
    tiles = [(0, 0, "image", image), (1, 0, "ground truth", _grey(gt16))]
    for index, (model, pred16, picture) in enumerate(rows):
        row, column = divmod(index, per_row)
        tiles.append((row, 1 + 2 * column, f"{model} prediction", _grey(pred16)))
        tiles.append((row, 2 + 2 * column, f"{model} |p - g|", picture))
    for row, column, _, picture in tiles:
        top, left = row * (band + th + gap) + band, column * (tw + gap)
        canvas[top : top + th, left : left + tw] = (
            picture if scale == 1.0 else cv2.resize(picture, (tw, th), interpolation=cv2.INTER_AREA)
        )
    drawing = Image.fromarray(canvas[..., ::-1])
    pen, font = ImageDraw.Draw(drawing), ImageFont.load_default(size=15)
    for row, column, label, _ in tiles:
        while len(label) > 1 and font.getlength(label) > tw - 8:  # a long model name is cut, not overlapped
            label = label[:-2] + "~"
        pen.text((column * (tw + gap) + 4, row * (band + th + gap) + 4), label, fill=(235, 235, 235), font=font)
    return np.ascontiguousarray(np.asarray(drawing)[..., ::-1])


# ---- what was drawn from what ------------------------------------------------------------------


def signature(*paths: Path, extra: str = "") -> str:
    """What a picture was drawn from: each input's resolved path, size and modification time, the
    drawing version and ``extra`` (options). A changed input changes the signature."""
    parts = [DRAWING_VERSION, extra]
    for path in paths:
        stat = path.stat()
        parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


class DrawnRecord:
    """``drawn.json`` in a media folder: each picture's path (relative) and the signature of the
    inputs it was drawn from. A picture is up to date when its file exists and its signature
    matches; the record is written atomically after drawing, so an interrupted run redraws only
    what it had not recorded."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.path = self.folder / "drawn.json"
        self.entries: dict[str, str] = {}
        if self.path.exists():
            try:
                self.entries = dict(json.loads(self.path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                self.entries = {}  # unreadable: everything is redrawn, nothing is lost

    def fresh(self, relative: str, signed: str) -> bool:
        return self.entries.get(relative) == signed and (self.folder / relative).is_file()

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(dict(sorted(self.entries.items())), indent=0) + "\n")


@dataclass(frozen=True)
class ModelDrawing:
    """One model's pictures of one image (paths relative to the variant's media folder)."""

    model: str
    pred: Path
    gt: Path  # the ground truth this model's run scored against
    resize: bool
    redraw: bool
    prediction: str  # 16-bit matte as scored
    error_map: str  # 16-bit |p − g|, the app's heatmap
    error: str  # the error picture


@dataclass(frozen=True)
class GroupDrawing:
    """Everything :func:`draw_group` needs for one image (picklable for the process pool)."""

    folder: Path
    image_id: str
    image: Path
    gt: Path
    gt_file: str
    gt_redraw: bool
    models: tuple[ModelDrawing, ...]
    side_by_side: str | None  # relative path when the side-by-side picture must be redrawn


def draw_group(task: GroupDrawing) -> list[str]:
    """Draw one image's stale pictures; returns the relative paths written."""
    written: list[str] = []
    image = read_image(task.image) if task.side_by_side or any(m.redraw for m in task.models) else None
    gt = read_matte(task.gt)
    if image is not None and image.shape[:2] != gt.shape:
        raise BrowseError(
            f"{task.image}: size {image.shape[1]}×{image.shape[0]} differs from its ground truth {task.gt} "
            f"({gt.shape[1]}×{gt.shape[0]}); pass the images that were scored"
        )
    if task.gt_redraw:
        write_png(task.folder / task.gt_file, to_uint16(gt))
        written.append(task.gt_file)
    rows = []
    for model in task.models:
        if model.redraw:
            gt_scored, pred = scored_mattes(model.gt, model.pred, model.resize)
            pred16, error16 = to_uint16(pred), error_uint16(gt_scored, pred)
            assert image is not None
            picture = error_picture(image, error16)
            write_png(task.folder / model.prediction, pred16)
            write_png(task.folder / model.error_map, error16)
            write_png(task.folder / model.error, picture, compression=1)  # for the eye: speed over size
            written += [model.prediction, model.error_map, model.error]
        elif task.side_by_side:
            pred16, picture = read_matte(task.folder / model.prediction), read_image(task.folder / model.error)
        if task.side_by_side:
            rows.append((model.model, pred16, picture))
    if task.side_by_side:
        assert image is not None
        write_png(task.folder / task.side_by_side, side_by_side(image, to_uint16(gt), rows), compression=1)
        written.append(task.side_by_side)
    return written
