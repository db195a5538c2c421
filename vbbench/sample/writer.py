"""Writing the embedded sample to disk: images, mattes, trimaps, simulated predictions, manifest.

Files are written atomically with a fixed PNG compression level, so the same arguments give the
same bytes, and an interrupted run resumes (see :func:`generate_sample`).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from vbbench.errors import UsageError
from vbbench.io import atomic_write_bytes, atomic_write_text, encode_png, integrity_problem
from vbbench.parallel import process_map
from vbbench.sample.render import GENERATOR_VERSION, MIN_SIZE_PX, render_portrait, sample_id
from vbbench.sample.simulated import SIMULATED, SIMULATED_MODELS, simulate_prediction
from vbbench.trimaps import TRIMAP_RADIUS_PX, make_trimap

__all__ = ["SCHEMA", "PNG_COMPRESSION", "generate_sample"]

#: Schema of ``sample.json``.
SCHEMA = "vbbench-sample/1"
#: zlib level of every PNG written; fixed, so the bytes are reproducible. Level 1 encodes about
#: twice as fast as 3 for files about 15 % larger.
PNG_COMPRESSION = 1


def _png_is_intact(name: str, data: bytes, width: int, height: int, channels: int) -> bool:
    """A whole 8-bit PNG (:func:`vbbench.io.integrity_problem`) of the expected size and channel
    count (read from its IHDR chunk without decoding)."""
    colour_type = {1: 0, 3: 2}[channels]
    return (
        integrity_problem(name, data) is None
        and len(data) > 45
        and data[12:16] == b"IHDR"
        and int.from_bytes(data[16:20], "big") == width
        and int.from_bytes(data[20:24], "big") == height
        and data[24] == 8
        and data[25] == colour_type
    )


def _relative_paths(index: int, models: Sequence[str]) -> dict[str, int]:
    """Files of image ``index``: relative path → channel count."""
    name = f"{sample_id(index)}.png"
    paths = {f"images/{name}": 3, f"alpha/{name}": 1, f"trimaps/{name}": 1}
    paths.update({f"predictions/{model}/{name}": 1 for model in models})
    return paths


def _write_image_set(
    index: int, out_dir: Path, seed: int, width: int, height: int, models: tuple[str, ...]
) -> tuple[dict[str, str], int]:
    """Write (or keep) every file of image ``index``; return ({relpath: sha256}, files written)."""
    paths = _relative_paths(index, models)
    existing: dict[str, bytes] = {}
    for relative, channels in paths.items():
        try:
            data = (out_dir / relative).read_bytes()
        except FileNotFoundError:
            continue
        if _png_is_intact(relative, data, width, height, channels):
            existing[relative] = data
    if len(existing) == len(paths):  # nothing to do: the set of this image is complete
        return {relative: hashlib.sha256(data).hexdigest() for relative, data in existing.items()}, 0

    image, alpha = render_portrait(seed, index, width, height)
    name = f"{sample_id(index)}.png"
    arrays = {
        f"images/{name}": lambda: image,
        f"alpha/{name}": lambda: alpha,
        f"trimaps/{name}": lambda: make_trimap(alpha),
    }
    for model in models:
        arrays[f"predictions/{model}/{name}"] = partial(simulate_prediction, alpha, model, seed, index)
    digests, written = {}, 0
    for relative in paths:
        data = encode_png(arrays[relative](), PNG_COMPRESSION)
        if existing.get(relative) != data:  # missing, damaged, or from another generator version
            atomic_write_bytes(out_dir / relative, data)
            written += 1
        digests[relative] = hashlib.sha256(data).hexdigest()
    return digests, written


def _check_generation_arguments(count, seed, width, height, models, workers) -> tuple[str, ...]:
    for label, value, minimum in (
        ("count", count, 1),
        ("seed", seed, 0),
        ("width", width, MIN_SIZE_PX),
        ("height", height, MIN_SIZE_PX),
        ("workers", workers, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise UsageError(f"{label} must be an integer ≥ {minimum}, got {value!r}")
    if count > 10_000:
        raise UsageError(f"count must be at most 10000 (ids are sample_0000…sample_9999), got {count}")
    models = tuple(models)  # may be empty: `vbbench prepare sample` needs no simulated predictions
    SIMULATED.check(models)
    duplicates = sorted({model for model in models if models.count(model) > 1})
    if duplicates:
        raise UsageError(f"models are listed twice: {', '.join(duplicates)}")
    return models


def _check_same_sample(path: Path, parameters: dict) -> None:
    """Refuse to mix files of another seed, size or generator version into ``path``'s folder."""
    if not path.exists():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: unreadable ({error}); delete it or choose another output folder") from None
    different = {key: previous.get(key) for key, value in parameters.items() if previous.get(key) != value}
    if different:
        found = ", ".join(f"{key}={value!r}" for key, value in different.items())
        wanted = ", ".join(f"{key}={parameters[key]!r}" for key in different)
        raise UsageError(
            f"{path.parent} already holds a sample generated with {found}, not {wanted}; "
            "choose another output folder or delete it"
        )


def _warn_about_files_beyond(out_dir: Path, count: int) -> None:
    """Files of ids ≥ ``count`` (left by an earlier, larger run) are kept but are not in the manifest."""
    folders = [out_dir / "images", out_dir / "alpha", out_dir / "trimaps"]
    if (out_dir / "predictions").is_dir():
        folders += sorted(p for p in (out_dir / "predictions").iterdir() if p.is_dir())
    beyond = sorted(
        str(path.relative_to(out_dir))
        for folder in folders
        if folder.is_dir()
        for path in folder.glob("sample_*.png")
        if path.stem[len("sample_") :].isdigit() and int(path.stem[len("sample_") :]) >= count
    )
    if beyond:
        warnings.warn(
            f"{out_dir}: {len(beyond)} files beyond --count {count} (e.g. {beyond[0]}) are left from an "
            "earlier run and are not part of this sample (not in sample.json); delete them or rerun with "
            "a larger count",
            stacklevel=3,
        )


def generate_sample(
    out_dir,
    count: int = 40,
    seed: int = 0,
    width: int = 600,
    height: int = 800,
    models: Sequence[str] = SIMULATED_MODELS,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Write the generated sample set: images, alpha mattes, trimaps, simulated predictions.

    Layout (ids ``sample_0000``, ``sample_0001``, …)::

        out_dir/images/<id>.png               composite colour image
        out_dir/alpha/<id>.png                ground-truth matte (8-bit grayscale)
        out_dir/trimaps/<id>.png              trimap, 0 / 128 / 255, unknown band 10 px
        out_dir/predictions/<model>/<id>.png  simulated model's matte
        out_dir/sample.json                   manifest, written last

    ``sample.json`` holds ``schema`` (``"vbbench-sample/1"``), ``generator_version``, ``seed``,
    ``count``, ``width``, ``height``, ``models``, ``trimap_radius_px`` and ``files``
    (relative path → SHA-256 of the file's bytes).

    Files are written atomically with a fixed PNG compression level, so the same arguments give
    the same bytes. An interrupted run resumes: files already present and whole are kept (an
    image is only re-rendered if one of its files is missing or damaged, and then only the files
    whose bytes differ are rewritten). A folder holding a sample of another seed, size or
    generator version is refused rather than mixed.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Output folder; created if needed.
    count : int
        Number of images, 1 to 10000; default 40.
    seed : int
        Non-negative seed; default 0. Image *i* depends on ``(seed, i, width, height)`` only.
    width, height : int
        Frame size in pixels; default 600×800.
    models : sequence of str
        Simulated models whose predictions to write; default all of :data:`SIMULATED_MODELS`;
        empty for none (what ``vbbench prepare sample`` writes).
    workers : int
        Processes to generate with; default 1 (in this process); see :mod:`vbbench.parallel`.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    pathlib.Path
        ``out_dir`` (the sample's root folder).

    Raises
    ------
    ValueError
        Bad arguments, or ``out_dir`` holds a different sample.

    Examples
    --------
    >>> import tempfile
    >>> root = generate_sample(tempfile.mkdtemp(), count=2, width=48, height=64, progress=False)
    >>> sorted(p.name for p in (root / "predictions").iterdir())[:2]
    ['sim-blurred', 'sim-coarse']
    >>> json.loads((root / "sample.json").read_text())["count"]
    2
    """
    from tqdm.auto import tqdm

    models = _check_generation_arguments(count, seed, width, height, models, workers)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a folder; choose a folder for the sample")
    identity = {
        "schema": SCHEMA,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "width": int(width),
        "height": int(height),
    }
    manifest_path = out_dir / "sample.json"
    in_progress_path = out_dir / ".sample-in-progress.json"
    _check_same_sample(manifest_path, identity)
    _check_same_sample(in_progress_path, identity)
    # Records what the folder is being filled with before the manifest exists, so a resumed run
    # with other arguments is refused instead of mixing two samples.
    atomic_write_text(in_progress_path, json.dumps(identity, indent=2, sort_keys=True) + "\n")

    task = partial(
        _write_image_set, out_dir=out_dir, seed=int(seed), width=int(width), height=int(height), models=models
    )
    files: dict[str, str] = {}
    with tqdm(total=count, desc="vbbench sample", unit="image", disable=not progress) as bar:
        chunk = max(1, count // (4 * workers))
        for digests, _ in process_map(task, range(count), workers, chunksize=chunk, preload=["vbbench.sample.writer"]):
            files.update(digests)
            bar.update()

    _warn_about_files_beyond(out_dir, count)
    manifest = dict(
        identity,
        count=int(count),
        models=list(models),
        trimap_radius_px=TRIMAP_RADIUS_PX,
        files=dict(sorted(files.items())),
    )
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    in_progress_path.unlink(missing_ok=True)
    return out_dir
