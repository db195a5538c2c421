"""Run a model over a folder of images (a prepared variant, or any folder) and write mattes.

Each image is turned into the model's input (:meth:`Runner.prepare`: area resize, or the model
runtime's own), predicted, and the alpha resized back to the image's own resolution (bilinear)
and written as ``<id>.png`` (uint8), ids being relative paths without extension, ready for
``vbbench score``. Outputs already present and decodable are skipped, so an interrupted run
resumes. ``model.json`` beside the predictions records the model (name, kind, parameters, input
size, runtime, weights sha256) for the leaderboard.

Recurrent models (:attr:`Runner.recurrent`) see images as clips: the images directly in the
folder are one clip each (the state is reset before every image), and each first-level
subfolder is one clip whose images are frames in name order (digits compared as numbers, the
order ``composite`` reads a clip folder in), the state carried from frame to frame and reset at
the start of the next subfolder. A clip with any unfinished frame is run again from its first
frame, so a resumed run writes the same mattes as an uninterrupted one; finished frames are not
rewritten.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from pathlib import Path

import cv2
import numpy as np

from vbbench.errors import ModelError
from vbbench.io import MatteError, atomic_write_text, read_image, read_matte, write_png
from vbbench.models.runner import Runner

__all__ = ["predict_folder", "clips"]


def _finished(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        read_matte(path)
    except MatteError:
        return False
    return True


def clips(image_ids: list[str]) -> list[list[str]]:
    """Image ids grouped as a recurrent model sees them: one clip per first-level subfolder, its
    frames in :func:`vbbench.models.video.frame_order` (the order ``composite`` reads a clip
    folder in), and one clip per image directly in the folder.

    Examples
    --------
    >>> clips(["b/10", "a", "b/2", "c/x/1", "c/0001"])
    [['a'], ['b/2', 'b/10'], ['c/0001', 'c/x/1']]
    """
    from vbbench.models.video import frame_order

    folders: dict[str | None, list[str]] = {}
    for image_id in image_ids:
        folders.setdefault(image_id.split("/", 1)[0] if "/" in image_id else None, []).append(image_id)
    grouped = [[image_id] for image_id in folders.pop(None, [])]
    grouped += [sorted(members, key=frame_order) for members in folders.values()]
    return sorted(grouped, key=lambda clip: frame_order(clip[0]))


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
        Images per model call (recurrent models: one frame per call).
    threads : int
        Threads that decode, resize and encode around the model.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        ``{"predicted": n, "skipped": n, "clips": n or None, "model": metadata}``; ``clips`` counts
        the clips a recurrent model ran (None for other models).
    """
    from tqdm import tqdm

    from vbbench.pairing import find_mattes

    images = find_mattes(images_dir)
    if not images:
        raise ModelError(f"{images_dir}: no images found")
    out_dir = Path(out_dir)
    done = {image_id for image_id in images if _finished(out_dir / f"{image_id}.png")}

    def load(image_id):
        image = read_image(images[image_id])
        return image.shape[:2], runner.prepare(image)

    def save(job):
        image_id, (shape, _), alpha = job
        if image_id in done:  # a finished frame of a clip that is run again for its state
            return
        back = cv2.resize(alpha.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
        write_png(out_dir / f"{image_id}.png", np.round(np.clip(back, 0.0, 1.0) * 255.0).astype(np.uint8))

    if runner.recurrent:
        todo_clips = [clip for clip in clips(list(images)) if not set(clip) <= done]
        # A chunk never spans two clips, so the state is reset exactly at each clip's first frame.
        chunks = [clip[start : start + batch] for clip in todo_clips for start in range(0, len(clip), batch)]
        todo = [image_id for clip in todo_clips for image_id in clip if image_id not in done]
    else:
        todo_clips = []
        todo = [image_id for image_id in images if image_id not in done]
        chunks = [todo[start : start + batch] for start in range(0, len(todo), batch)]
    clip_starts = {clip[0] for clip in todo_clips}
    with (
        ThreadPoolExecutor(threads) as pool,
        tqdm(total=len(todo), desc=f"predicting with {runner.name}", unit="image", disable=not progress) as bar,
    ):
        for chunk in chunks:
            if runner.reset is not None and chunk[0] in clip_starts:
                runner.reset()
            loaded = list(pool.map(load, chunk))
            alphas: list[np.ndarray] = []
            # Items of one shape go to the model together (a callable sees images at their own size).
            for _, run in groupby(loaded, key=lambda item: item[1].shape):
                items = [inputs for _, inputs in run]
                alphas.extend(runner.predict(np.stack(items)))
            list(pool.map(save, zip(chunk, loaded, alphas)))
            bar.update(sum(image_id not in done for image_id in chunk))
    metadata = runner.metadata()
    atomic_write_text(out_dir / "model.json", json.dumps(metadata, indent=1) + "\n")
    return {
        "predicted": len(todo),
        "skipped": len(images) - len(todo),
        "clips": len(todo_clips) if runner.recurrent else None,
        "model": metadata,
    }
