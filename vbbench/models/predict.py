"""Run a model over a folder of images (a prepared variant, or any folder) and write mattes.

Each image is resized to the model's input (area interpolation, or the model's own runtime's
resize: :meth:`Runner.prepare`), predicted, and the alpha resized
back to the image's own resolution (bilinear) and written as ``<id>.png`` (uint8), ids being
relative paths without extension, ready for ``vbbench score``. Outputs already present and
decodable are skipped, so an interrupted run resumes. ``model.json`` beside the predictions
records the model (name, parameters, input size, runtime, weights sha256) for the leaderboard.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from vbbench.errors import ModelError
from vbbench.io import MatteError, atomic_write_text, read_image, read_matte, write_png
from vbbench.models.runner import Runner

__all__ = ["predict_folder"]


def _finished(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        read_matte(path)
    except MatteError:
        return False
    return True


def predict_folder(
    runner: Runner, images_dir: str | Path, out_dir: str | Path, batch: int = 8, threads: int = 2, progress: bool = True
) -> dict:
    """Predict every image under ``images_dir`` into ``out_dir``.

    Parameters
    ----------
    runner : Runner
        A loaded model (:func:`vbbench.models.registry.load_runner`).
    images_dir, out_dir : path
        Input images (any depth) and where ``<id>.png`` mattes go.
    batch : int
        Images per model call.
    threads : int
        Threads that decode, resize and encode around the model.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``{"predicted": n, "skipped": n, "model": metadata}``.
    """
    from tqdm import tqdm

    from vbbench.pairing import find_mattes

    images = find_mattes(images_dir)
    if not images:
        raise ModelError(f"{images_dir}: no images found")
    out_dir = Path(out_dir)
    todo = [(image_id, path) for image_id, path in images.items() if not _finished(out_dir / f"{image_id}.png")]

    def load(item):
        image = read_image(item[1])
        return image.shape[:2], runner.prepare(image)

    def save(job):
        (image_id, _), (shape, _), alpha = job
        back = cv2.resize(alpha.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        write_png(out_dir / f"{image_id}.png", np.round(np.clip(back, 0.0, 1.0) * 255.0).astype(np.uint8))

    with (
        ThreadPoolExecutor(threads) as pool,
        tqdm(total=len(todo), desc=f"predicting with {runner.name}", unit="image", disable=not progress) as bar,
    ):
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            loaded = list(pool.map(load, chunk))
            alphas = runner.predict(np.stack([inputs for _, inputs in loaded]))
            list(pool.map(save, zip(chunk, loaded, alphas)))
            bar.update(len(chunk))
    metadata = runner.metadata()
    atomic_write_text(out_dir / "model.json", json.dumps(metadata, indent=1) + "\n")
    return {"predicted": len(todo), "skipped": len(images) - len(todo), "model": metadata}
