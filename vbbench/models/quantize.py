"""int8 static quantization of an ONNX export (QDQ format, per-channel weights).

ONNX Runtime's ``quantize_static`` inserts QuantizeLinear/DequantizeLinear pairs around every
convolution; weights get one int8 scale per output channel, activations one uint8 scale per tensor,
calibrated (min–max) on real training images pushed through the float model. Calibration images
are what the model sees in training, so the activation ranges are those of portraits, not noise.

Example
-------
>>> from vbbench.models.quantize import quantize_onnx        # doctest: +SKIP
>>> quantize_onnx("reference.onnx", "reference-int8.onnx", calibration)  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vbbench.errors import ModelError
from vbbench.io import atomic_write_bytes

__all__ = ["quantize_onnx", "outward_range", "calibration_batches", "cached_onnx_int8"]


def calibration_batches(images: Sequence[np.ndarray], width: int, height: int) -> list[np.ndarray]:
    """BGR uint8 images → model inputs (1, 3, height, width) float32 RGB in [0, 1], one per image."""
    from vbbench.models.runner import to_input

    return [to_input(image, width, height)[None] for image in images]


def quantize_onnx(float_path: str | Path, out_path: str | Path, calibration: list[np.ndarray]) -> Path:
    """Quantize a float ONNX model to int8 QDQ with per-channel weights, calibrated on ``calibration``.

    Parameters
    ----------
    float_path : path
        The float32 ONNX model (one image input).
    out_path : path
        Where the quantized model goes (written atomically).
    calibration : list of numpy.ndarray
        Input batches for the min–max calibration (see :func:`calibration_batches`).

    Returns
    -------
    pathlib.Path
        ``out_path``.

    Raises
    ------
    ValueError
        No calibration data.
    """
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        create_calibrator,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ModelError(f"{float_path}: int8 calibration needs at least one image")
    input_name = ort.InferenceSession(str(float_path), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration)

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {input_name: batch}

    with tempfile.TemporaryDirectory(prefix="vbbench-quantize-") as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quantized = Path(scratch) / "quantized.onnx"
        # Shape inference and graph clean-up first, as ONNX Runtime recommends for static quantization.
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        # Ranges first, to snap them to the grid; quantize_static then calibrates once more (it has
        # no way to take ranges alone), which the overrides make moot — 16 images, about a second.
        calibrator = create_calibrator(
            str(prepared),
            augmented_model_path=str(Path(scratch) / "augmented.onnx"),
            calibrate_method=CalibrationMethod.MinMax,
        )
        calibrator.collect_data(Reader())
        # ONNX Runtime wants numpy scalars; grid multiples are exact in float32.
        overrides = {
            name: [dict(zip(("rmin", "rmax"), map(np.float32, outward_range(*data.range_value))))]
            for name, data in calibrator.compute_data().data.items()
        }
        del calibrator
        quantize_static(
            str(prepared),
            str(quantized),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"TensorQuantOverrides": overrides},
        )
        atomic_write_bytes(Path(out_path), quantized.read_bytes())
    return Path(out_path)


RANGE_GRID = 1 / 256  # activation ranges are widened outward to multiples of this (alpha units)


def outward_range(lowest, highest) -> tuple[float, float]:
    """A calibrated activation range widened outward to the next multiples of ``RANGE_GRID``.

    The float model's activations differ in their last bits from one CPU to the next (vectorised
    kernels sum in different orders), and min–max calibration would carry those bits into every
    int8 scale and from there, through rounding, into the predictions. On the 1/256 grid a range
    moves only if an extreme lies within a few ulp of a grid point; the widening costs at most
    1/256 of range, 0.07 % of a ReLU6 activation's 0–6.

    Parameters
    ----------
    lowest, highest : float or numpy scalar
        The calibrated minimum and maximum.

    Returns
    -------
    tuple of float
        ``(floor(lowest / g)·g, ceil(highest / g)·g)`` with ``g = RANGE_GRID``.

    Example
    -------
    >>> outward_range(-0.001, 5.9990)
    (-0.00390625, 6.0)
    """
    low, high = float(np.asarray(lowest).min()), float(np.asarray(highest).max())
    return float(np.floor(low / RANGE_GRID) * RANGE_GRID), float(np.ceil(high / RANGE_GRID) * RANGE_GRID)


def cached_onnx_int8(float_path: Path, calibration_images: Sequence[np.ndarray], width: int, height: int) -> Path:
    """The int8 model of ``float_path`` made once beside it as ``<stem>-int8.onnx``."""
    path = float_path.with_name(f"{float_path.stem}-int8.onnx")
    if not path.exists():
        quantize_onnx(float_path, path, calibration_batches(calibration_images, width, height))
    return path
