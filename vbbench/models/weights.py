"""The reference U-Net's weights: the shipped ones, and any that ``vbbench train`` writes.

The shipped weights (:data:`WEIGHTS`) were trained on the embedded synthetic sample only (see
``docs/models.md`` and :data:`RECORD`). Weights written by ``vbbench train`` (``weights.pt`` with
its ``record.json`` beside it) load the same way, through :func:`load_unet`.
"""

from __future__ import annotations

import json
from pathlib import Path

from vbbench.errors import ModelError

__all__ = ["WEIGHTS", "RECORD", "SYNTHETIC_NOTE", "load_unet", "reference_model"]

WEIGHTS = Path(__file__).resolve().parent / "weights" / "reference-sample.pt"
RECORD = WEIGHTS.with_suffix(".json")
SYNTHETIC_NOTE = "trained on the synthetic sample set"


def load_unet(weights: str | Path, record: str | Path | None = None):
    """The reference U-Net with ``weights`` loaded, in eval mode.

    Parameters
    ----------
    weights : path
        A ``state_dict`` saved by ``vbbench train`` (``weights.pt``).
    record : path, optional
        Its training record (architecture in ``config.unet``); default ``record.json`` beside
        the weights, or the ``.json`` of the same name.

    Raises
    ------
    ModelError
        If a file is missing or the weights do not fit the architecture.
    """
    import torch

    from vbbench.models.unet import CompactUNet, UNetConfig

    weights = Path(weights)
    if not weights.is_file():
        raise ModelError(
            f"{weights}: no such weights file; train with `vbbench train --out DIR` (writes DIR/weights.pt)"
        )
    if record is None:
        candidates = [weights.with_name("record.json"), weights.with_suffix(".json")]
        record = next((path for path in candidates if path.is_file()), None)
    config: dict = {}
    if record is not None:
        try:
            config = json.loads(Path(record).read_text(encoding="utf-8"))["config"].get("unet") or {}
        except (OSError, ValueError, KeyError, TypeError) as problem:
            raise ModelError(f"{record}: not a vbbench training record ({problem})") from None
    model = CompactUNet(UNetConfig(**config))
    try:
        model.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
    except (RuntimeError, OSError, ValueError) as problem:
        raise ModelError(f"{weights}: not weights of vbbench's U-Net ({str(problem).splitlines()[0]})") from None
    return model.eval()


def reference_model():
    """The shipped reference weights in the U-Net (eval mode)."""
    if not WEIGHTS.exists():
        raise ModelError(f"{WEIGHTS}: the shipped weights are missing; reinstall vbbench or train with `vbbench train`")
    return load_unet(WEIGHTS, RECORD)
