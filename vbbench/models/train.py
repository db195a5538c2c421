"""Training the reference model with the seed paper's recipe.

Defaults follow the paper: 256×256 input; random scale 1–1.15, rotation within ±30° with
p = 0.5, left-right flip with p = 0.5 and a random crop; batch 32; Adam at a fixed 1e-4; loss
L1 + BCE + Sobel gradient (:mod:`vbbench.models.loss`); pre-train on one set, then fine-tune on
another (``then``). The 16:9 variant trains at 256×144.

Data: ``sample`` renders portraits with :func:`vbbench.sample.render_portrait` (training seed 1,
validation seed 2) into an in-memory pool once; a prepared dataset (``vbbench prepare``) gives its
train split, validated on evenly spaced items of its test split; any other source is a pair of
folders of images and mattes paired by relative path. Files are decoded when a batch needs them —
AISegment's train split alone is about 40 GB decoded. Each step draws its batch and augmentations
from a seeded generator. Checkpoints hold the model, the optimiser, the step and the generator states and are
written atomically, so ``train`` resumes exactly where an interrupted run stopped.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vbbench.errors import DatasetError, UsageError
from vbbench.io import atomic_write_bytes, atomic_write_text, read_image, read_matte
from vbbench.metrics import mad
from vbbench.models.runner import to_input

__all__ = [
    "TrainConfig",
    "TrainingSet",
    "Augmentation",
    "sample_set",
    "folder_set",
    "prepared_set",
    "training_data",
    "draw_augmentation",
    "apply_augmentation",
    "augment",
    "resolve_device",
    "train",
]

#: Validation items taken from a prepared dataset's test split (evenly spaced in id order).
VALIDATION_ITEMS = 16


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults are the seed paper's recipe."""

    steps: int = 2000
    batch: int = 32
    learning_rate: float = 1e-4
    width: int = 256
    height: int = 256
    scale_range: tuple[float, float] = (1.0, 1.15)
    rotation_deg: float = 30.0
    rotation_probability: float = 0.5
    flip_probability: float = 0.5
    seed: int = 0
    validate_every: int = 100
    checkpoint_every: int = 50
    unet: dict = field(default_factory=dict)


@dataclass
class TrainingSet:
    """Images (BGR uint8) and mattes (uint8 or uint16), plus a name for the record. The sequences
    are lists in memory (the rendered sample) or :class:`DecodedOnAccess` files (real sets)."""

    name: str
    images: Sequence[np.ndarray]
    alphas: Sequence[np.ndarray]


class DecodedOnAccess(Sequence):
    """Image files read when indexed, so a set larger than memory can be sampled from.

    Parameters
    ----------
    paths : list of path
        The files, in index order.
    reader : callable
        ``path → array``, e.g. :func:`vbbench.io.read_image` or :func:`vbbench.io.read_matte`
        (which raise errors naming the file).
    """

    def __init__(self, paths: list[Path], reader: Callable[[Path], np.ndarray]):
        self.paths, self.reader = list(paths), reader

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return DecodedOnAccess(self.paths[index], self.reader)
        return self.reader(self.paths[index])


def sample_set(count: int, seed: int, width: int = 300, height: int = 400) -> TrainingSet:
    """Render ``count`` portraits of the embedded sample (at 300×400 by default: a quarter of the
    pixels of 600×800, four times faster to render, and still above the 256×256 input)."""
    from vbbench.sample import render_portrait

    images, alphas = [], []
    for index in range(count):
        image, alpha = render_portrait(seed, index, width, height)
        images.append(image)
        alphas.append(alpha)
    return TrainingSet(f"sample(seed={seed}, count={count}, {width}x{height})", images, alphas)


def _decoded_pairs(name: str, image_paths: list[Path], alpha_paths: list[Path]) -> TrainingSet:
    return TrainingSet(name, DecodedOnAccess(image_paths, read_image), DecodedOnAccess(alpha_paths, read_matte))


def folder_set(images_dir: Path, alpha_dir: Path) -> TrainingSet:
    """Images and mattes paired by relative path without extension, decoded when used.

    Raises
    ------
    UsageError
        If a matte has no image (naming the first few) or the folders share no id.
    """
    from vbbench.pairing import find_mattes

    images, alphas = find_mattes(images_dir), find_mattes(alpha_dir)
    paired = sorted(set(images) & set(alphas))
    missing = sorted(set(alphas) - set(images))
    if missing:
        raise UsageError(
            f"{images_dir}: {len(missing)} mattes in {alpha_dir} have no image (first: {', '.join(missing[:3])})"
        )
    if not paired:
        raise UsageError(f"{images_dir} and {alpha_dir} share no image id")
    return _decoded_pairs(
        f"folders({images_dir}, {alpha_dir})", [images[i] for i in paired], [alphas[i] for i in paired]
    )


def prepared_set(
    name: str, data_dir: str | os.PathLike | None = None, split: str = "train", limit: int | None = None
) -> TrainingSet:
    """One split of a dataset prepared by ``vbbench prepare``, decoded when used.

    Parameters
    ----------
    name : str
        Registered dataset (``shen2016``, ``aisegment``, ``sample``); unknown names get a
        did-you-mean error.
    data_dir : path, optional
        Where prepared datasets live (default ``$VBBENCH_HOME/data``).
    split : {"train", "test"}
        Which part of ``split.csv``.
    limit : int, optional
        Keep this many items, evenly spaced in id order (validation takes 16 of the test split).

    Returns
    -------
    TrainingSet
        Named ``<name>/<split>`` with the item count and the split file's sha256.

    Raises
    ------
    DatasetError
        If the dataset was not prepared in ``data_dir`` (the message has the command to run), or
        the split holds no item.

    Examples
    --------
    >>> prepared_set("shen2016", "/nowhere")
    Traceback (most recent call last):
    ...
    vbbench.errors.DatasetError: shen2016 is not prepared in /nowhere: run `vbbench prepare shen2016 --data-dir /nowhere`
    """
    from vbbench.prepared import PreparedDataset

    prepared = PreparedDataset(name, data_dir)
    root = prepared.require_data_root()
    pairs = prepared.split_pairs(split)
    if not pairs:
        raise DatasetError(f"{name}: the {split} split of {prepared.root} holds no item")
    if limit is not None and len(pairs) > limit:
        pairs = [pairs[round(k * (len(pairs) - 1) / (limit - 1))] for k in range(limit)] if limit > 1 else pairs[:1]
    label = f"{name}/{split}({len(pairs)} items, split sha256 {prepared.split_sha256()[:12]})"
    return _decoded_pairs(label, [root / pair.image for pair in pairs], [root / pair.matte for pair in pairs])


def training_data(
    dataset: str,
    *,
    data_dir: str | os.PathLike | None = None,
    images: Path | None = None,
    alpha: Path | None = None,
    pool: int = 256,
) -> tuple[TrainingSet, TrainingSet]:
    """The training set and its validation set for ``vbbench train --dataset``.

    ``sample`` renders ``pool`` portraits (seed 1) and validates on 16 others (seed 2); a
    registered dataset trains on its prepared train split and validates on 16 items of its test
    split (only watched, never used to choose weights); ``folders`` trains on ``images``/``alpha``
    and validates on the rendered sample.

    Raises
    ------
    vbbench.errors.VbbenchError
        For ``folders`` without both folders, an unknown dataset name (with a did-you-mean), or
        a dataset that is not prepared.
    """
    if dataset == "sample":
        return sample_set(pool, seed=1), sample_set(VALIDATION_ITEMS, seed=2)
    if dataset == "folders":
        if images is None or alpha is None:
            raise UsageError("--dataset folders needs --images DIR and --alpha DIR")
        return folder_set(images, alpha), sample_set(VALIDATION_ITEMS, seed=2)
    try:
        return (
            prepared_set(dataset, data_dir, "train"),
            prepared_set(dataset, data_dir, "test", limit=VALIDATION_ITEMS),
        )
    except DatasetError as problem:
        message = str(problem)
        if message.startswith("unknown dataset"):
            message += "; or use 'folders' with --images DIR and --alpha DIR"
        raise DatasetError(message) from None


def _affine(
    width_in: int, height_in: int, width: int, height: int, scale: float, angle_deg: float, offset: tuple[float, float]
) -> np.ndarray:
    """Resize to the network input, scale and rotate about the centre, then shift (the crop)."""
    to_origin = np.array([[1, 0, -width_in / 2], [0, 1, -height_in / 2], [0, 0, 1]], float)
    resize = np.diag([width / width_in, height / height_in, 1.0])
    theta = math.radians(angle_deg)
    rotate = np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    rotate[:2, :2] *= scale
    back = np.array([[1, 0, width / 2 + offset[0]], [0, 1, height / 2 + offset[1]], [0, 0, 1]], float)
    return (back @ rotate @ resize @ to_origin)[:2]


@dataclass(frozen=True)
class Augmentation:
    """The random choices for one training pair (drawn in the main thread, so batches are the same
    whichever thread applies them)."""

    scale: float
    angle_deg: float
    offset: tuple[float, float]
    flip: bool


def draw_augmentation(config: TrainConfig, rng: np.random.Generator) -> Augmentation:
    """Scale in ``config.scale_range``; with ``rotation_probability`` an angle within
    ±``rotation_deg``; a crop offset within the slack the scale leaves; a flip with
    ``flip_probability`` — drawn in that order from ``rng``."""
    scale = rng.uniform(*config.scale_range)
    angle = (
        rng.uniform(-config.rotation_deg, config.rotation_deg) if rng.random() < config.rotation_probability else 0.0
    )
    slack_x, slack_y = (scale - 1) * config.width / 2, (scale - 1) * config.height / 2
    offset = (rng.uniform(-slack_x, slack_x), rng.uniform(-slack_y, slack_y))
    return Augmentation(scale, angle, offset, bool(rng.random() < config.flip_probability))


def apply_augmentation(image: np.ndarray, alpha: np.ndarray, config: TrainConfig, choice: Augmentation):
    """One augmented (image, alpha) pair at the network input size: float32 RGB CHW in [0, 1] and
    float32 (1, H, W) alpha. Outside the source the alpha is 0 and the image repeats its border."""
    matrix = _affine(
        image.shape[1], image.shape[0], config.width, config.height, choice.scale, choice.angle_deg, choice.offset
    )
    size = (config.width, config.height)
    warped = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    matte = cv2.warpAffine(alpha, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if choice.flip:
        warped, matte = warped[:, ::-1], matte[:, ::-1]
    rgb = np.ascontiguousarray(warped[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / 255.0
    full_scale = np.iinfo(alpha.dtype).max  # 255 for 8-bit mattes, 65535 for 16-bit ones
    return rgb, (matte.astype(np.float32) / full_scale)[None]


def augment(image: np.ndarray, alpha: np.ndarray, config: TrainConfig, rng: np.random.Generator):
    """Draw an :class:`Augmentation` from ``rng`` and apply it (see :func:`apply_augmentation`)."""
    return apply_augmentation(image, alpha, config, draw_augmentation(config, rng))


def _batch(data: TrainingSet, config: TrainConfig, rng: np.random.Generator, pool) -> tuple[np.ndarray, np.ndarray]:
    """Draw a batch (items, then each pair's augmentation) and decode and warp it in ``pool``'s
    threads (OpenCV releases the GIL)."""
    indices = rng.integers(0, len(data.images), config.batch)
    plan = [(int(index), draw_augmentation(config, rng)) for index in indices]

    def make(job):
        index, choice = job
        return apply_augmentation(data.images[index], data.alphas[index], config, choice)

    pairs = list(pool.map(make, plan))
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when PyTorch sees a GPU, else ``cpu``; other values are passed on.

    Raises
    ------
    ValueError
        For ``cuda`` on a machine where PyTorch sees no GPU.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(
            f"--device {device}: PyTorch sees no CUDA GPU here (torch {torch.__version__}); use cpu or auto"
        )
    return device


def validate(model, validation: TrainingSet, config: TrainConfig, device: str = "cpu") -> float:
    """Mean MAD (alpha) of the model on the validation set at ground-truth resolution."""
    import torch

    model.eval()
    errors = []
    with torch.no_grad():
        for image, alpha in zip(validation.images, validation.alphas):
            batch = torch.from_numpy(to_input(image, config.width, config.height))[None].to(device)
            predicted = model(batch)[0, 0].cpu().numpy().astype(np.float64)
            back = cv2.resize(predicted, (alpha.shape[1], alpha.shape[0]), interpolation=cv2.INTER_LINEAR)
            errors.append(mad(back, alpha))
    model.train()
    return float(np.mean(errors))


def _save_checkpoint(path: Path, model, optimiser, step: int, rng: np.random.Generator, history: list) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(
        {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "step": step,
            "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": history,
        },
        buffer,
    )
    atomic_write_bytes(path, buffer.getvalue())


def train(
    data: TrainingSet,
    validation: TrainingSet,
    config: TrainConfig,
    out_dir: Path,
    progress: bool = True,
    on_step: Callable[[int, dict], None] | None = None,
    initial_weights: Path | None = None,
    device: str = "auto",
    loader_threads: int | None = None,
) -> dict:
    """Train (or resume training) and write ``checkpoint.pt``, ``weights.pt`` and ``record.json``.

    ``initial_weights`` starts from pre-trained weights (the fine-tuning stage of the recipe).
    ``device`` is ``auto`` (a CUDA GPU when PyTorch sees one), ``cpu`` or ``cuda``; batches are
    decoded and augmented by ``loader_threads`` threads (default: the CPU count). Weights and
    checkpoints are saved device-independent. On the CPU a resumed run equals an uninterrupted one;
    on a GPU, cuDNN's non-deterministic kernels make it equal only within floating-point noise.

    Returns
    -------
    dict
        The training record: config, steps, seconds, final losses and validation MAD.
    """
    from concurrent.futures import ThreadPoolExecutor

    import torch
    from tqdm import tqdm

    from vbbench.models.loss import matting_loss
    from vbbench.models.unet import CompactUNet, UNetConfig, count_parameters

    out_dir = Path(out_dir)
    device = resolve_device(device)
    torch.manual_seed(config.seed)
    model = CompactUNet(UNetConfig(**config.unet))
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng(config.seed)
    step, history = 0, []
    checkpoint = out_dir / "checkpoint.pt"
    if initial_weights is not None and not checkpoint.exists():
        # Fine-tuning: start from the pre-trained weights with a fresh optimiser.
        model.load_state_dict(torch.load(initial_weights, weights_only=True, map_location=device))
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        step, history = state["step"], state["history"]
    started = time.perf_counter()
    model.train()
    parts: dict = {}
    with (
        tqdm(total=config.steps, initial=step, desc=f"training on {data.name} ({device})", disable=not progress) as bar,
        ThreadPoolExecutor(loader_threads or os.cpu_count() or 1) as pool,
    ):
        while step < config.steps:
            images, alphas = (torch.from_numpy(array).to(device) for array in _batch(data, config, rng, pool))
            loss, parts = matting_loss(model.logits(images), alphas)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{parts['total']:.4f}")
            if step % config.validate_every == 0 or step == config.steps:
                parts["validation_mad"] = validate(model, validation, config, device)
                history.append({"step": step, **parts})
            if on_step:
                on_step(step, parts)
            if step % config.checkpoint_every == 0 or step == config.steps:
                _save_checkpoint(checkpoint, model, optimiser, step, rng, history)
    buffer = io.BytesIO()
    torch.save({name: tensor.cpu() for name, tensor in model.state_dict().items()}, buffer)
    weights = buffer.getvalue()
    atomic_write_bytes(out_dir / "weights.pt", weights)
    record = {
        "data": data.name,
        "validation": validation.name,
        "config": asdict(config),
        "parameters": count_parameters(model),
        "steps": step,
        "device": device,
        "seconds_this_run": round(time.perf_counter() - started, 1),
        "final": history[-1] if history else parts,
        "history": history,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    atomic_write_text(out_dir / "record.json", json.dumps(record, indent=1) + "\n")
    return record
