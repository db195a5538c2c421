"""Training the reference model with the seed paper's recipe.

Defaults follow the paper: 256×256 input; random scale 1–1.15, rotation within ±30° with
p = 0.5, left-right flip with p = 0.5 and a random crop; batch 32; Adam at a fixed 1e-4; loss
L1 + BCE + Sobel gradient (:mod:`vbbench.models.loss`); pre-train on one set, then fine-tune on
another (``then``). The 16:9 variant trains at 256×144.

Data: ``sample`` renders portraits with :func:`vbbench.sample.render_portrait` (training seed 1,
validation seed 2) into an in-memory pool once; any other source is a pair of folders of images
and mattes paired by relative path. Each step draws its batch and augmentations from a seeded
generator. Checkpoints hold the model, the optimiser, the step and the generator states and are
written atomically, so ``train`` resumes exactly where an interrupted run stopped.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from vbbench.io import atomic_write_bytes, atomic_write_text, read_image, read_matte
from vbbench.metrics import mad

__all__ = ["TrainConfig", "TrainingSet", "sample_set", "folder_set", "augment", "train"]


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
    """Images (BGR uint8) and mattes (uint8) held in memory, plus a name for the record."""

    name: str
    images: list[np.ndarray]
    alphas: list[np.ndarray]


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


def folder_set(images_dir: Path, alpha_dir: Path) -> TrainingSet:
    """Images and mattes paired by relative path without extension."""
    from vbbench.score import find_mattes

    images, alphas = find_mattes(images_dir), find_mattes(alpha_dir)
    paired = sorted(set(images) & set(alphas))
    missing = sorted(set(alphas) - set(images))
    if missing or not paired:
        raise ValueError(f"{images_dir}: {len(missing)} mattes in {alpha_dir} have no image" if missing
                         else f"{images_dir} and {alpha_dir} share no image id")
    return TrainingSet(f"folders({images_dir}, {alpha_dir})", [read_image(images[i]) for i in paired],
                       [read_matte(alphas[i]) for i in paired])


def _affine(width_in: int, height_in: int, width: int, height: int, scale: float, angle_deg: float,
            offset: tuple[float, float]) -> np.ndarray:
    """Resize to the network input, scale and rotate about the centre, then shift (the crop)."""
    to_origin = np.array([[1, 0, -width_in / 2], [0, 1, -height_in / 2], [0, 0, 1]], float)
    resize = np.diag([width / width_in, height / height_in, 1.0])
    theta = math.radians(angle_deg)
    rotate = np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    rotate[:2, :2] *= scale
    back = np.array([[1, 0, width / 2 + offset[0]], [0, 1, height / 2 + offset[1]], [0, 0, 1]], float)
    return (back @ rotate @ resize @ to_origin)[:2]


def augment(image: np.ndarray, alpha: np.ndarray, config: TrainConfig, rng: np.random.Generator):
    """One augmented (image, alpha) pair at the network input size: float32 RGB CHW in [0, 1] and
    float32 (1, H, W) alpha. Outside the source the alpha is 0 and the image repeats its border."""
    scale = rng.uniform(*config.scale_range)
    angle = rng.uniform(-config.rotation_deg, config.rotation_deg) if rng.random() < config.rotation_probability else 0.0
    slack_x, slack_y = (scale - 1) * config.width / 2, (scale - 1) * config.height / 2
    offset = (rng.uniform(-slack_x, slack_x), rng.uniform(-slack_y, slack_y))
    matrix = _affine(image.shape[1], image.shape[0], config.width, config.height, scale, angle, offset)
    size = (config.width, config.height)
    warped = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    matte = cv2.warpAffine(alpha, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if rng.random() < config.flip_probability:
        warped, matte = warped[:, ::-1], matte[:, ::-1]
    rgb = np.ascontiguousarray(warped[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / 255.0
    return rgb, (matte.astype(np.float32) / 255.0)[None]


def to_input(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """BGR uint8 image → float32 RGB CHW in [0, 1] at the network input size (area resize)."""
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) / 255.0


def validate(model, validation: TrainingSet, config: TrainConfig) -> float:
    """Mean MAD (alpha) of the model on the validation set at ground-truth resolution."""
    import torch

    model.eval()
    errors = []
    with torch.no_grad():
        for image, alpha in zip(validation.images, validation.alphas):
            batch = torch.from_numpy(to_input(image, config.width, config.height))[None]
            predicted = model(batch)[0, 0].numpy().astype(np.float64)
            back = cv2.resize(predicted, (alpha.shape[1], alpha.shape[0]), interpolation=cv2.INTER_LINEAR)
            errors.append(mad(back, alpha))
    model.train()
    return float(np.mean(errors))


def _save_checkpoint(path: Path, model, optimiser, step: int, rng: np.random.Generator, history: list) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "history": history}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def train(data: TrainingSet, validation: TrainingSet, config: TrainConfig, out_dir: Path,
          progress: bool = True, on_step: Callable[[int, dict], None] | None = None,
          initial_weights: Path | None = None) -> dict:
    """Train (or resume training) and write ``checkpoint.pt``, ``weights.pt`` and ``record.json``.

    ``initial_weights`` starts from pre-trained weights (the fine-tuning stage of the recipe).

    Returns
    -------
    dict
        The training record: config, steps, seconds, final losses and validation MAD.
    """
    import torch
    from tqdm import tqdm

    from vbbench.models.loss import matting_loss
    from vbbench.models.unet import CompactUNet, UNetConfig, count_parameters

    out_dir = Path(out_dir)
    torch.manual_seed(config.seed)
    model = CompactUNet(UNetConfig(**config.unet))
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    rng = np.random.default_rng(config.seed)
    step, history = 0, []
    checkpoint = out_dir / "checkpoint.pt"
    if initial_weights is not None and not checkpoint.exists():
        # Fine-tuning: start from the pre-trained weights with a fresh optimiser.
        model.load_state_dict(torch.load(initial_weights, weights_only=True))
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        step, history = state["step"], state["history"]
    started = time.perf_counter()
    model.train()
    parts: dict = {}
    with tqdm(total=config.steps, initial=step, desc=f"training on {data.name}", disable=not progress) as bar:
        while step < config.steps:
            indices = rng.integers(0, len(data.images), config.batch)
            pairs = [augment(data.images[i], data.alphas[i], config, rng) for i in indices]
            images = torch.from_numpy(np.stack([p[0] for p in pairs]))
            alphas = torch.from_numpy(np.stack([p[1] for p in pairs]))
            loss, parts = matting_loss(model.logits(images), alphas)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{parts['total']:.4f}")
            if step % config.validate_every == 0 or step == config.steps:
                parts["validation_mad"] = validate(model, validation, config)
                history.append({"step": step, **parts})
            if on_step:
                on_step(step, parts)
            if step % config.checkpoint_every == 0 or step == config.steps:
                _save_checkpoint(checkpoint, model, optimiser, step, rng, history)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    weights = buffer.getvalue()
    atomic_write_bytes(out_dir / "weights.pt", weights)
    record = {
        "data": data.name, "validation": validation.name, "config": asdict(config),
        "parameters": count_parameters(model), "steps": step,
        "seconds_this_run": round(time.perf_counter() - started, 1),
        "final": history[-1] if history else parts, "history": history,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    atomic_write_text(out_dir / "record.json", json.dumps(record, indent=1) + "\n")
    return record
