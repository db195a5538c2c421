"""Files matched by id: the relative path without extension.

:func:`scan_mattes` maps every image file under a folder to its id (``sub/0001`` for
``sub/0001.png``) and lists every other entry it met with the reason it was not taken;
:func:`find_mattes` is its mapping alone; :func:`pair_files` matches predictions, ground truth and
trimaps by id. Every command that takes a folder of images or mattes (score, predict, train,
browse) finds them here.

Symbolic links are followed, to files and to folders alike (a ground-truth tree assembled from
links is scored whole); a link to a folder already searched (a loop, or the same folder twice) and
a broken link are listed as refused, never silently skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from vbbench.errors import ScoreError, listing
from vbbench.io import IMAGE_SUFFIXES

__all__ = ["Refused", "scan_mattes", "find_mattes", "Pairing", "pair_files"]

#: Image formats that are not read as mattes: their files are refused with "convert it to PNG".
OTHER_IMAGE_SUFFIXES = (
    ".gif", ".jp2", ".j2k", ".jpx", ".jpf", ".exr", ".hdr", ".pgm", ".ppm", ".pbm", ".pnm", ".pfm",
    ".heic", ".heif", ".avif", ".jxl", ".psd", ".svg", ".ico", ".dds", ".tga", ".raw", ".dng",
)  # fmt: skip


@dataclass(frozen=True)
class Refused:
    """An entry of a searched folder that is not taken as a matte, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _refusal(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in OTHER_IMAGE_SUFFIXES:
        return f"{suffix} is an image format vbbench does not read as a matte; convert it to PNG"
    return f"not an image file ({suffix or 'no extension'}); vbbench reads {', '.join(IMAGE_SUFFIXES)}"


def scan_mattes(folder: str | os.PathLike) -> tuple[dict[str, Path], list[Refused]]:
    """Every image file under ``folder`` by id, and every other entry with the reason.

    Hidden entries (names starting with ``.``, e.g. macOS ``._*`` forks, ``.DS_Store``) and
    non-image files are refused; hidden folders are refused whole (one entry each).

    Parameters
    ----------
    folder : path
        Folder searched recursively, following symbolic links.

    Returns
    -------
    (dict of str to Path, list of Refused)
        The mattes sorted by id (ids use ``/`` as separator), and the refused entries sorted by
        path.

    Raises
    ------
    ScoreError
        If the folder does not exist or two files share an id (``a.png`` and ``a.jpg``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "x").mkdir()
    >>> _ = (root / "x" / "01.png").write_bytes(b""); _ = (root / "x" / "02.gif").write_bytes(b"")
    >>> found, refused = scan_mattes(root)
    >>> {key: path.name for key, path in found.items()}, [entry.path.name for entry in refused]
    ({'x/01': '01.png'}, ['02.gif'])
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ScoreError(f"{folder}: no such folder")
    found: dict[str, Path] = {}
    refused: list[Refused] = []
    clashes: list[str] = []
    searched: set[tuple[int, int]] = set()

    def search(directory: Path, relative: Path) -> None:
        status = directory.stat()
        if (status.st_dev, status.st_ino) in searched:
            refused.append(Refused(directory, "a link to a folder already searched (a loop, or the same folder twice)"))
            return
        searched.add((status.st_dev, status.st_ino))
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as problem:
            refused.append(Refused(directory, f"cannot be listed ({problem.strerror or problem})"))
            return
        for entry in entries:
            path, inside = directory / entry.name, relative / entry.name
            if entry.name.startswith("."):
                what = "hidden folder, not searched" if entry.is_dir() else "hidden file"
                refused.append(Refused(path, what))
            elif entry.is_dir():  # follows links
                search(path, inside)
            elif entry.is_symlink() and not path.exists():
                refused.append(Refused(path, f"a broken symbolic link (to {os.readlink(path)})"))
            elif not entry.is_file():
                refused.append(Refused(path, "not a regular file"))
            elif path.suffix.lower() not in IMAGE_SUFFIXES:
                refused.append(Refused(path, _refusal(path)))
            else:
                key = inside.with_suffix("").as_posix()
                if key in found:
                    clashes.append(f"{found[key]} and {path}")
                found[key] = path

    search(folder, Path())
    if clashes:
        raise ScoreError(f"{folder}: " + listing(clashes, "ids with more than one file") + "\nkeep one file per id")
    return dict(sorted(found.items())), sorted(refused, key=lambda entry: str(entry.path))


def find_mattes(folder: str | os.PathLike) -> dict[str, Path]:
    """Map each image file under ``folder`` to its id, the relative path without extension
    (:func:`scan_mattes` without the refused entries).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()); (root / "x").mkdir()
    >>> _ = (root / "x" / "01.png").write_bytes(b"")
    >>> {key: path.name for key, path in find_mattes(root).items()}
    {'x/01': '01.png'}
    """
    return scan_mattes(folder)[0]


@dataclass(frozen=True)
class Pairing:
    """Ground truth matched with predictions (and trimaps) by id."""

    pairs: list[tuple[str, Path, Path, Path | None]]
    extra_predictions: list[str]
    #: Entries of the ground-truth tree that are not mattes (other formats, hidden or broken files).
    refused_ground_truth: list[Refused] = field(default_factory=list)


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
        prediction ids without ground truth and ``refused_ground_truth`` every other entry of the
        ground-truth tree with its reason (scored nowhere; the caller warns and counts them).

    Raises
    ------
    ScoreError
        Empty ground-truth or prediction folder, missing predictions or missing trimaps (listed).
    """
    ground_truth, refused = scan_mattes(gt_dir)
    if not ground_truth:
        found = "; found only " + listing([str(entry) for entry in refused], "other entries") if refused else ""
        raise ScoreError(f"{gt_dir}: no ground-truth mattes found (looked for {', '.join(IMAGE_SUFFIXES)}){found}")
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
    return Pairing(pairs, extra, refused)
