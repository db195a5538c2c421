"""Files matched by id: the relative path without extension.

:func:`find_mattes` maps every image file under a folder to its id (``sub/0001`` for
``sub/0001.png``); :func:`pair_files` matches predictions, ground truth and trimaps by id. Every
command that takes a folder of images or mattes (score, predict, train, browse) finds them here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vbbench.errors import ScoreError, listing
from vbbench.io import IMAGE_SUFFIXES

__all__ = ["find_mattes", "Pairing", "pair_files"]


def find_mattes(folder: str | os.PathLike) -> dict[str, Path]:
    """Map each image file under ``folder`` to its id, the relative path without extension.

    Files starting with ``.`` (e.g. macOS ``._*`` forks) and non-image files are ignored.

    Parameters
    ----------
    folder : path
        Folder searched recursively.

    Returns
    -------
    dict of str to Path
        Sorted by id; ids use ``/`` as separator.

    Raises
    ------
    ScoreError
        If the folder does not exist or two files share an id (``a.png`` and ``a.jpg``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "x").mkdir()
    >>> _ = (root / "x" / "01.png").write_bytes(b"")
    >>> {key: path.name for key, path in find_mattes(root).items()}
    {'x/01': '01.png'}
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ScoreError(f"{folder}: no such folder")
    found: dict[str, Path] = {}
    clashes: list[str] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        key = relative.with_suffix("").as_posix()
        if key in found:
            clashes.append(f"{found[key]} and {path}")
        found[key] = path
    if clashes:
        raise ScoreError(f"{folder}: " + listing(clashes, "ids with more than one file") + "\nkeep one file per id")
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class Pairing:
    """Ground truth matched with predictions (and trimaps) by id."""

    pairs: list[tuple[str, Path, Path, Path | None]]
    extra_predictions: list[str]


def pair_files(
    pred_dir: str | os.PathLike, gt_dir: str | os.PathLike, trimap_dir: str | os.PathLike | None = None
) -> Pairing:
    """Pair predictions with ground truth (and trimaps) by relative path without extension.

    Parameters
    ----------
    pred_dir, gt_dir : path
        Folders of predicted and ground-truth mattes.
    trimap_dir : path, optional
        Folder of trimaps with the ground truth's ids.

    Returns
    -------
    Pairing
        ``pairs`` as (id, pred, gt, trimap-or-None), sorted by id; ``extra_predictions`` lists
        prediction ids without ground truth (scored nowhere; the caller warns).

    Raises
    ------
    ScoreError
        Empty ground-truth or prediction folder, missing predictions or missing trimaps (listed).
    """
    ground_truth = find_mattes(gt_dir)
    if not ground_truth:
        raise ScoreError(f"{gt_dir}: no ground-truth mattes found (looked for {', '.join(IMAGE_SUFFIXES)})")
    predictions = find_mattes(pred_dir)
    if not predictions:
        raise ScoreError(f"{pred_dir}: no predicted mattes found (looked for {', '.join(IMAGE_SUFFIXES)})")
    missing = [key for key in ground_truth if key not in predictions]
    if missing:
        raise ScoreError(
            f"{pred_dir}: "
            + listing(missing, f"of {len(ground_truth)} ground-truth mattes have no prediction")
            + f"\npredictions are matched to {gt_dir} by relative path without extension"
        )
    trimaps: dict[str, Path] = {}
    if trimap_dir is not None:
        trimaps = find_mattes(trimap_dir)
        missing_trimaps = [key for key in ground_truth if key not in trimaps]
        if missing_trimaps:
            raise ScoreError(f"{trimap_dir}: " + listing(missing_trimaps, "ground-truth mattes have no trimap"))
    pairs = [(key, predictions[key], gt, trimaps.get(key)) for key, gt in ground_truth.items()]
    extra = [key for key in predictions if key not in ground_truth]
    return Pairing(pairs, extra)
