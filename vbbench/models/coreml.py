"""Core ML export with int8 weights, and its emulation on Linux.

:func:`export_coreml` converts the reference model through ``torch.export`` (the TorchScript path
trips over shape arithmetic under numpy 2.4) to an ML program (``.mlpackage``, iOS 17 target) and
quantizes every weight tensor to int8 with ``linear_quantize_weights`` (symmetric, one scale per
output channel, ``weight_threshold=1`` so even the small depthwise kernels are quantized).

Core ML itself only runs on macOS. Elsewhere :class:`EmulatedProgram` loads the package's MIL
program and its weight file with coremltools (no macOS needed), de-quantizes the int8 weights
exactly as ``constexpr_affine_dequantize`` defines it, ``(q − zero_point)·scale``, and executes the
program op by op in PyTorch, rounding every tensor the program declares float16 to float16 as
Core ML stores it (arithmetic within an op is float32). Results made that way are labelled
"CoreML int8 weights, emulated".

Example
-------
>>> from vbbench.models.coreml import export_coreml, coreml_runner   # doctest: +SKIP
>>> export_coreml(model, "reference-int8.mlpackage", 256, 144)       # doctest: +SKIP
>>> coreml_runner("reference-int8.mlpackage").notes                  # doctest: +SKIP
'CoreML int8 weights, emulated'
"""

from __future__ import annotations

import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np

from vbbench.errors import ModelError
from vbbench.models.runner import Runner

__all__ = ["export_coreml", "EmulatedProgram", "coreml_runner", "EMULATED"]

EMULATED = "CoreML int8 weights, emulated"


def _coremltools():
    try:
        import coremltools
    except ImportError:
        raise ModelError("Core ML export needs coremltools: pip install 'vbbench[coreml]' (coremltools==9.0)") from None
    return coremltools


def export_coreml(
    model, path: str | Path, width: int, height: int, int8: bool = True, float16: bool | None = None
) -> Path:
    """Convert ``model`` for a fixed (1, 3, height, width) input to an int8-weight ``.mlpackage``.

    Parameters
    ----------
    model : torch.nn.Module
        Image (N, 3, H, W) RGB in [0, 1] → alpha (N, 1, H, W).
    path : path
        The ``.mlpackage`` folder to write (replaced as a whole once complete).
    width, height : int
        Input size in pixels.
    int8 : bool
        Quantize the weights (the baseline). ``False`` keeps float weights, which is how the tests
        check the emulator against PyTorch.
    float16 : bool, optional
        Compute precision: float16 (Core ML's default for ML programs, and the baseline's) or
        float32. Default: float16 with ``int8``, float32 without.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import torch

    ct = _coremltools()
    from coremltools.optimize.coreml import OpLinearQuantizerConfig, OptimizationConfig, linear_quantize_weights

    model = model.eval()
    example = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    program = torch.export.export(model, (example,)).run_decompositions({})
    converted = ct.convert(
        program,
        inputs=[ct.TensorType(name="image", shape=(1, 3, height, width))],
        outputs=[ct.TensorType(name="alpha")],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS17,
        compute_precision=ct.precision.FLOAT16 if (int8 if float16 is None else float16) else ct.precision.FLOAT32,
    )
    if int8:
        config = OptimizationConfig(
            global_config=OpLinearQuantizerConfig(
                mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=1
            )
        )
        quantized = linear_quantize_weights(converted, config)
    else:
        quantized = converted
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A package is a folder: write it beside the target, then swap it in, so no half package remains.
    scratch = Path(tempfile.mkdtemp(prefix=".coreml-", dir=path.parent))
    try:
        quantized.save(str(scratch / path.name))
        if path.exists():
            shutil.rmtree(path)
        (scratch / path.name).rename(path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return path


class EmulatedProgram:
    """The MIL program of an ``.mlpackage`` executed in PyTorch, weights de-quantized.

    Supports the ops the reference model converts to: const, constexpr_affine_dequantize, conv,
    concat, clip, sigmoid, relu, upsample_bilinear, cast. Anything else raises ``ValueError``
    naming the op.

    Parameters
    ----------
    path : path
        The ``.mlpackage``.
    float16 : bool
        Honour the program's float16 types (default): every tensor the program declares float16
        — the de-quantized weights and every activation between the input and output casts of a
        float16 package — is rounded to float16 after the op that makes it, as Core ML stores
        it. Arithmetic inside an op stays float32, so this emulates float16 storage, not the
        accumulation order of Apple's GPU or Neural Engine. ``False`` runs everything in
        float32 (the numbers vbbench 0.1 reported before this was emulated).
    """

    def __init__(self, path: str | Path, float16: bool = True):
        ct = _coremltools()
        from coremltools.converters.mil.frontend.milproto.load import load

        model = ct.models.MLModel(str(path), skip_model_load=True)
        spec = model.get_spec()
        self.program = load(spec, specification_version=spec.specificationVersion, file_weights_dir=model.weights_dir)
        self.function = self.program.functions["main"]
        self.input_name = next(iter(self.function.inputs))
        self.height, self.width = (int(v) for v in self.function.inputs[self.input_name].shape[2:])
        self.int8_weights = sum(op.op_type == "constexpr_affine_dequantize" for op in self.function.operations)
        from coremltools.converters.mil.mil import types

        # Names of the tensors Core ML stores as float16 (found once: _stored runs for every op).
        self._float16_names = {
            var.name
            for var in (*self.function.inputs.values(), *(out for op in self.function.operations for out in op.outputs))
            if float16 and var.dtype == types.fp16
        }
        self._constants = self._materialise()

    def _materialise(self) -> dict:
        import torch

        constants = {}
        for op in self.function.operations:
            if op.op_type == "const":
                value = op.outputs[0].val
                constants[op.outputs[0].name] = (
                    torch.from_numpy(np.asarray(value, dtype=np.float32))
                    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu"
                    else value
                )
            elif op.op_type == "constexpr_affine_dequantize":
                quantized = op.quantized_data.val.astype(np.float32)
                axis = int(op.axis.val)
                shape = [1] * quantized.ndim
                shape[axis] = -1
                zero = np.asarray(op.zero_point.val, dtype=np.float32).reshape(
                    shape if np.ndim(op.zero_point.val) else []
                )
                scale = np.asarray(op.scale.val, dtype=np.float32).reshape(shape if np.ndim(op.scale.val) else [])
                constants[op.outputs[0].name] = self._stored(
                    op.outputs[0], torch.from_numpy((quantized - zero) * scale)
                )
        return constants

    def _stored(self, var, value):
        """``value`` as Core ML stores ``var``: rounded to float16 where the program types it so."""
        return value.half().float() if var.name in self._float16_names else value

    def __call__(self, image):
        """Alpha (N, 1, H, W) for an image batch (N, 3, H, W) float32 tensor; runs image by image."""
        import torch

        return torch.cat([self._run(image[i : i + 1]) for i in range(image.shape[0])])

    def _run(self, image):
        import torch
        import torch.nn.functional as F

        values = dict(self._constants)
        values[self.input_name] = self._stored(self.function.inputs[self.input_name], image.float())

        def get(var):
            return values[var.name]

        for op in self.function.operations:
            kind = op.op_type
            if kind in ("const", "constexpr_affine_dequantize"):
                continue
            if kind == "conv":
                pad_type = op.pad_type.val
                if pad_type == "custom":
                    top, bottom, left, right = (int(v) for v in op.pad.val)
                elif pad_type == "valid":
                    top = bottom = left = right = 0
                else:
                    raise ModelError(f"conv {op.name}: pad_type {pad_type!r} is not emulated")
                x = F.pad(get(op.x), (left, right, top, bottom))
                bias = get(op.bias) if op.bias is not None else None
                result = F.conv2d(
                    x,
                    get(op.weight),
                    bias,
                    stride=tuple(int(v) for v in op.strides.val),
                    dilation=tuple(int(v) for v in op.dilations.val),
                    groups=int(op.groups.val),
                )
            elif kind == "concat":
                if op.interleave is not None and op.interleave.val:
                    raise ModelError(f"concat {op.name}: interleave is not emulated")
                result = torch.cat([get(v) for v in op.values], dim=int(op.axis.val))
            elif kind == "clip":
                result = torch.clamp(get(op.x), float(op.alpha.val), float(op.beta.val))
            elif kind == "relu":
                result = torch.relu(get(op.x))
            elif kind == "sigmoid":
                result = torch.sigmoid(get(op.x))
            elif kind == "cast":
                result = get(op.x).float()
            elif kind == "upsample_bilinear":
                align_corners = bool(op.align_corners.val) if op.align_corners is not None else False
                # MIL's default for half_pixel_centers is "not align_corners".
                half_pixel = bool(op.half_pixel_centers.val) if op.half_pixel_centers is not None else not align_corners
                if align_corners or not half_pixel:
                    raise ModelError(f"upsample_bilinear {op.name}: only half-pixel centres are emulated")
                result = F.interpolate(
                    get(op.x),
                    scale_factor=(float(op.scale_factor_height.val), float(op.scale_factor_width.val)),
                    mode="bilinear",
                    align_corners=False,
                )
            else:
                raise ModelError(f"{op.name}: MIL op {kind!r} is not emulated")
            values[op.outputs[0].name] = self._stored(op.outputs[0], result)
        return values[self.function.outputs[0].name]


def package_sha256(path: str | Path) -> str:
    """A content digest of an ``.mlpackage`` that is the same for the same conversion.

    The package's bytes are not: ``Manifest.json`` names its items by random UUIDs, and
    ``model.mlmodel`` carries the conversion date in a metadata map that protobuf serialises in
    no fixed order. So the digest covers the model specification without its user-defined
    metadata, serialised deterministically, and every file under ``Data/*/weights``.

    Returns
    -------
    str
        64 hex digits.
    """
    import hashlib

    _coremltools()
    from coremltools.proto import Model_pb2

    path = Path(path)
    models = sorted(path.glob("Data/*/model.mlmodel"))
    if not models:
        raise ModelError(f"{path}: no Data/*/model.mlmodel inside; make the package with `vbbench export --to coreml`")
    digest = hashlib.sha256()
    for model_file in models:
        spec = Model_pb2.Model()
        spec.ParseFromString(model_file.read_bytes())
        spec.description.metadata.ClearField("userDefined")
        digest.update(
            model_file.relative_to(path).as_posix().encode() + b"\0" + spec.SerializeToString(deterministic=True)
        )
    for member in sorted(p for p in path.glob("Data/*/weights/**/*") if p.is_file()):
        digest.update(member.relative_to(path).as_posix().encode() + b"\0" + member.read_bytes())
    return digest.hexdigest()


def coreml_runner(path: str | Path, name: str = "reference-coreml-int8"):
    """A :class:`vbbench.models.runner.Runner` for an int8 ``.mlpackage``: Core ML on macOS,
    :class:`EmulatedProgram` elsewhere (its notes then say "CoreML int8 weights, emulated").
    ``weights_sha256`` is :func:`package_sha256`."""
    import torch

    path = Path(path)
    if not (path / "Manifest.json").is_file():
        raise ModelError(f"{path}: not an .mlpackage (no Manifest.json); make one with `vbbench export --to coreml`")
    digest = package_sha256(path)
    emulated = EmulatedProgram(path)
    if platform.system() == "Darwin":
        ct = _coremltools()
        model = ct.models.MLModel(str(path))

        def predict_native(batch: np.ndarray) -> np.ndarray:
            return np.concatenate(
                [np.asarray(model.predict({emulated.input_name: image[None]})["alpha"]) for image in batch]
            ).reshape(len(batch), emulated.height, emulated.width)

        return Runner(
            name,
            emulated.width,
            emulated.height,
            f"Core ML (coremltools {ct.__version__})",
            None,
            digest,
            predict_native,
            "CoreML int8 weights",
        )

    def predict(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return emulated(torch.from_numpy(batch))[:, 0].numpy()

    return Runner(
        name,
        emulated.width,
        emulated.height,
        f"pytorch {torch.__version__} (MIL emulation, float16 storage)",
        None,
        digest,
        predict,
        EMULATED,
    )
