"""The ``clips`` variant on disk: one folder of frames per test portrait, and their manifest.

``vbbench prepare NAME --variants clips`` writes, in the variant's folder
(:meth:`vbbench.prepared.PreparedDataset.variant`)::

    images/<clip>/<frame>.png    the call-like frames (uint8 BGR)
    alpha/<clip>/<frame>.png     their exact ground-truth mattes
    trimaps/<clip>/<frame>.png   trimaps of those mattes (vbbench.trimaps.make_trimap)
    manifest.csv                 one row per frame

``<clip>`` is the source id with ``/`` written ``+`` (a clip is one first-level folder),
``<frame>`` four digits from ``0000``. A manifest row holds the variants' fields (``id =
<clip>/<frame>, source_id, split, group, transform = clips, params, width, height``) plus ``clip``
and ``frame``; ``params`` (JSON) holds the frame's camera and person transforms (so the exact motion
is known, :func:`vbbench.clips.flows_from_manifest`), lighting, noise and static flag, and frame
0's also the clip's spec, generator and drawn curves.

Clips are made on the process pool, one clip per task; finished clips are journalled
(``manifest.partial.csv``), so an interrupted run redoes only the clips it had not finished, and
``manifest.csv`` is written last. Clips made with another :class:`~vbbench.clips.ClipSpec` are
never overwritten: the error says which folder to delete.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vbbench.clips.generate import Clip, ClipSpec, make_clip
from vbbench.errors import ScoreError, VariantError, listing
from vbbench.io import atomic_write_text, csv_text, read_csv, read_image, read_matte, write_png
from vbbench.parallel import process_map
from vbbench.prepared import Pair, PreparedDataset, VariantFiles

__all__ = [
    "CLIP_MANIFEST_FIELDS",
    "clip_name",
    "frame_id",
    "write_clip",
    "read_clip_manifest",
    "manifest_spec",
    "clips_complete",
    "make_clip_variant",
    "group_clips",
    "clip_frame_paths",
]

CLIP_MANIFEST_FIELDS = ["id", "source_id", "split", "group", "transform", "params", "width", "height", "clip", "frame"]
_PNG_COMPRESSION = 1  # fast; the files are re-creatable


def clip_name(item_id: str) -> str:
    """The folder of ``item_id``'s clip: the id with ``/`` written ``+`` (clips are one level deep).

    Examples
    --------
    >>> clip_name("testing/00001")
    'testing+00001'
    """
    return item_id.replace("/", "+")


def frame_id(clip: str, frame: int) -> str:
    """The id of one frame, ``<clip>/<frame:04d>``.

    Examples
    --------
    >>> frame_id("sample_0002", 7)
    'sample_0002/0007'
    """
    return f"{clip}/{frame:04d}"


def write_clip(clip: Clip, files: VariantFiles, name: str, group: str = "") -> list[dict]:
    """Write a clip's frames into a variant's folders; return its manifest rows."""
    rows = []
    for frame in clip.frames:
        index = frame.params["frame"]
        key = frame_id(name, index)
        for path, array in zip(files.files_of(key), (frame.image, frame.alpha, frame.trimap)):
            write_png(path, array, _PNG_COMPRESSION)
        rows.append(
            {
                "id": key,
                "source_id": clip.source_id,
                "split": "test",
                "group": group,
                "transform": "clips",
                "params": json.dumps(frame.params, sort_keys=True),
                "width": frame.alpha.shape[1],
                "height": frame.alpha.shape[0],
                "clip": name,
                "frame": index,
            }
        )
    return rows


def _parse(rows: Iterable[dict], where: Path) -> dict[str, list[dict]]:
    clips: dict[str, list[dict]] = {}
    for row in rows:
        try:
            parsed = dict(row, params=json.loads(row["params"]), frame=int(row["frame"]))
        except (KeyError, TypeError, ValueError) as problem:
            raise VariantError(f"{where}: row {row.get('id')!r} is not a clip frame ({problem})") from None
        clips.setdefault(parsed["clip"], []).append(parsed)
    for frames in clips.values():
        frames.sort(key=lambda r: r["frame"])
    return clips


def read_clip_manifest(path: str | os.PathLike) -> dict[str, list[dict]]:
    """A clips manifest's rows grouped by clip, in frame order, ``params`` parsed, ``frame`` an int.

    Raises
    ------
    VariantError
        If the file cannot be read or a row is not a clip frame.
    """
    path = Path(path)
    try:
        rows = read_csv(path)
    except OSError as problem:
        raise VariantError(f"{path}: cannot be read ({problem.strerror or problem})") from None
    return _parse(rows, path)


def manifest_spec(frames: list[dict]) -> ClipSpec:
    """The :class:`ClipSpec` one clip's rows record (in frame 0's ``params.clip.spec``)."""
    return ClipSpec.from_record(frames[0]["params"]["clip"]["spec"])


def _finished_clips(clips: dict[str, list[dict]], files: VariantFiles) -> dict[str, list[dict]]:
    """The clips whose every frame is listed (0 … n − 1, n as their spec says) and on disk."""
    done = {}
    for name, frames in clips.items():
        if frames[0]["frame"] != 0 or "clip" not in frames[0]["params"]:
            continue
        wanted = manifest_spec(frames).frames
        if [row["frame"] for row in frames] != list(range(wanted)):
            continue
        if all(path.is_file() for row in frames for path in files.files_of(row["id"])):
            done[name] = frames
    return done


def _check_spec(clips: dict[str, list[dict]], spec: ClipSpec | None, files: VariantFiles, source: Path) -> None:
    """Clips made with another spec than ``spec`` (or, with none asked for, with two specs) are an
    error: they are never silently replaced."""
    found = sorted({manifest_spec(frames) for frames in clips.values() if "clip" in frames[0]["params"]}, key=repr)
    reference = spec if spec is not None else (found[0] if found else None)
    others = [other for other in found if other != reference]
    if reference is None or not others:
        return
    wanted, other = reference.record(), others[0].record()
    differences = ", ".join(
        f"{key}={other[key]!r} instead of {wanted[key]!r}" for key in wanted if other[key] != wanted[key]
    )
    raise VariantError(
        f"{source} holds clips made with another spec ({differences}); delete {files.root} to make them anew, "
        "or ask for the spec they were made with"
    )


def clips_complete(prepared: PreparedDataset, variant: str, test_ids: list[str], spec: ClipSpec | None = None) -> bool:
    """The clips manifest holds one complete clip per test id (with ``spec``, if given) and every
    frame's files exist.

    Raises
    ------
    VariantError
        If the clips on disk were made with another spec.
    """
    files = prepared.variant(variant)
    if not files.manifest.is_file():
        return False
    clips = read_clip_manifest(files.manifest)
    _check_spec(clips, spec, files, files.manifest)
    if not clips:
        return False
    count = manifest_spec(next(iter(clips.values()))).count
    wanted = sorted(test_ids)[:count]
    sources = {frames[0]["source_id"] for frames in clips.values()}
    if sources != set(wanted) or len(clips) != len(wanted):
        return False
    return len(_finished_clips(clips, files)) == len(clips)


def _generated_sample(prepared: PreparedDataset) -> tuple[int, int, int] | None:
    """(seed, width, height) of a generated card (the embedded sample), else None."""
    card = prepared.card
    if not card.generated:
        return None
    return int(card.generate.get("seed", 0)), card.expected_width_px or 600, card.expected_height_px or 800


def _make_one(task: tuple[str, Pair, str, ClipSpec, tuple[int, int, int] | None, VariantFiles]) -> list[dict]:
    """Read one test item, make its clip and write it; returns the clip's manifest rows."""
    from vbbench.clips.layers import sample_layers

    root, pair, name, spec, generated, files = task
    image = read_image(Path(root) / pair.image)
    alpha = read_matte(Path(root) / pair.matte)
    if alpha.dtype != np.uint8:
        raise VariantError(f"{pair.matte}: clips need 8-bit mattes, found {alpha.dtype}")
    layers = sample_layers(pair.id, image, *generated) if generated is not None else None
    clip = make_clip(image, alpha, pair.id, spec, layers=layers)
    return write_clip(clip, files, name, pair.group)


def make_clip_variant(
    prepared: PreparedDataset,
    root: str | Path,
    test_pairs: list[Pair],
    variant: str = "clips",
    spec: ClipSpec | None = None,
    *,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Write one clip per test pair into the variant's folder (see the module docstring).

    Parameters
    ----------
    prepared : PreparedDataset
        The dataset.
    root : path
        Its data root (where the pairs' paths start).
    test_pairs : list of Pair
        The test split (clips are made for the first ``spec.count`` in id order, default all).
    variant : str
        The variant's name (its folder).
    spec : ClipSpec, optional
        How clips are made; default: the spec of clips already there, else ``ClipSpec()``.
    workers, progress
        Processes, and a tqdm bar.

    Returns
    -------
    Path
        The manifest.

    Raises
    ------
    VariantError
        Clips of another spec on disk; two ids with one clip folder; pymatting missing for a real
        dataset.
    """
    files = prepared.variant(variant)
    test_ids = [pair.id for pair in test_pairs]
    folders: dict[str, str] = {}
    clashes = [f"{folders[clip_name(i)]} and {i}" for i in test_ids if folders.setdefault(clip_name(i), i) != i]
    if clashes:
        raise VariantError(listing(clashes, "test ids share a clip folder (ids differing only by '/' and '+')"))
    if clips_complete(prepared, variant, test_ids, spec):
        return files.manifest
    generated = _generated_sample(prepared)
    if generated is None:
        try:
            import pymatting  # noqa: F401  (checked here, not in every worker)
        except ImportError:
            raise VariantError(
                f"clips of {prepared.name} need pymatting to separate each person from the background: "
                "pip install 'vbbench[clips]'"
            ) from None
    existing: dict[str, list[dict]] = {}
    if files.manifest.is_file():
        existing = read_clip_manifest(files.manifest)
    if files.journal.is_file():
        existing.update(_parse(read_csv(files.journal), files.journal))
    _check_spec(existing, spec, files, files.journal if files.journal.is_file() else files.manifest)
    if spec is None:
        found = [manifest_spec(frames) for frames in existing.values() if "clip" in frames[0]["params"]]
        spec = found[0] if found else ClipSpec()
    test_pairs = sorted(test_pairs, key=lambda pair: pair.id)[: spec.count]
    names = {pair.id: clip_name(pair.id) for pair in test_pairs}
    wanted = set(names.values())
    finished = _finished_clips(existing, files)
    # Rows read back carry parsed params; written again exactly as first written (JSON floats round-trip).
    done = {
        name: [dict(row, params=json.dumps(row["params"], sort_keys=True)) for row in frames]
        for name, frames in finished.items()
        if name in wanted
    }
    kept = [row for frames in done.values() for row in frames]
    files.journal.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(files.journal, csv_text(kept, CLIP_MANIFEST_FIELDS))
    tasks = [
        (str(root), pair, names[pair.id], spec, generated, files) for pair in test_pairs if names[pair.id] not in done
    ]
    from tqdm.auto import tqdm

    with (
        open(files.journal, "a", newline="", encoding="utf-8") as handle,
        tqdm(total=len(tasks), desc=f"clips {prepared.name}", unit="clip", disable=not progress, leave=False) as bar,
    ):
        writer = csv.DictWriter(handle, CLIP_MANIFEST_FIELDS, extrasaction="ignore", lineterminator="\n")
        for rows in process_map(_make_one, tasks, workers, chunksize=1):
            writer.writerows(rows)
            handle.flush()
            done[rows[0]["clip"]] = rows
            bar.update()
    every = sorted((row for name in wanted for row in done[name]), key=lambda row: row["id"])
    atomic_write_text(files.manifest, csv_text(every, CLIP_MANIFEST_FIELDS))
    files.journal.unlink()
    return files.manifest


def group_clips(ids: Iterable[str], folder: str | os.PathLike) -> dict[str, list[str]]:
    """Frame ids grouped by clip, the first-level folder, frames in name order.

    Raises
    ------
    ScoreError
        For files outside a clip folder (at the top level, or nested deeper), listed.

    Examples
    --------
    >>> group_clips(["b/0001", "a/0000", "b/0000"], "gt")
    {'a': ['a/0000'], 'b': ['b/0000', 'b/0001']}
    """
    clips: dict[str, list[str]] = {}
    stray = []
    for key in sorted(ids):
        parts = key.split("/")
        if len(parts) != 2:
            stray.append(key)
            continue
        clips.setdefault(parts[0], []).append(key)
    if stray:
        raise ScoreError(
            f"{folder}: "
            + listing(stray, "files are not frames of a clip")
            + "\na clip is one first-level folder of frames (<clip>/<frame>.png)"
        )
    return clips


def clip_frame_paths(folder: str | os.PathLike) -> list[Path]:
    """The frames of one clip folder (``<clip>/<frame>.png`` …), in name order: how a clip is read
    as a video (``composite``, ``bench``, a stateful model's ``predict``).

    Raises
    ------
    ScoreError
        If the folder is missing, holds no image, or holds subfolders of images.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> clip = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("0001.png", "0000.png"): _ = (clip / name).write_bytes(b"")
    >>> [path.name for path in clip_frame_paths(clip)]
    ['0000.png', '0001.png']
    """
    from vbbench.pairing import find_mattes

    found = find_mattes(folder)
    nested = [key for key in found if "/" in key]
    if nested:
        raise ScoreError(f"{folder}: " + listing(nested, "images sit in subfolders; a clip folder holds its frames"))
    if not found:
        raise ScoreError(f"{folder}: no frames found (a clip folder holds <frame>.png files)")
    return list(found.values())
