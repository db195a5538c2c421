"""The embedded sample: a deterministic, generated portrait-matting set that needs no download.

The package is one module per concern: :mod:`~vbbench.sample.drawing` (primitives),
:mod:`~vbbench.sample.render` (one portrait), :mod:`~vbbench.sample.simulated` (the simulated
models, a table) and :mod:`~vbbench.sample.writer` (the set on disk).

Every image is drawn from scratch: a portrait-like subject (head, ears, neck, shoulders in
clothing with one of several necklines, hair with a fuzzy outline and thin semi-transparent
strands, sometimes glasses or a raised hand) in front of a varied background (gradients, noise
textures, blurred shapes, stripes, indoor-like rectangles), under varied lighting. The alpha
matte is exact *by construction*: the opaque body is rasterised at 4× supersampling and
area-averaged, the hair is a blurred mass plus anti-aliased strands of partial opacity, and the
composite is computed from the quantised matte, ``I = round(a·F + (1 − a)·B)`` with
``a = alpha / 255``.

Each image has its own random generator, derived from ``(seed, index)`` with
:class:`numpy.random.SeedSequence` (``spawn_key=(index,)``, the same stream as
``SeedSequence(seed).spawn(n)[index]``), so image *i* does not depend on how many images are
made, and images can be made lazily or in parallel. Same seed, same numpy/OpenCV → same bytes.

Predictions of a few simulated "models" of graded quality (:data:`SIMULATED_MODELS`, best
first) come with the set so that scoring can be demonstrated offline with a meaningful
ranking. The set is synthetic: numbers measured on it say nothing about real portraits.
See ``docs/sample.md``.
"""

from vbbench.sample.render import (
    GENERATOR_VERSION,
    MIN_SIZE_PX,
    PortraitLayers,
    render_layers,
    render_portrait,
    sample_id,
)
from vbbench.sample.simulated import SIMULATED, SIMULATED_MODELS, simulate_prediction
from vbbench.sample.writer import PNG_COMPRESSION, SCHEMA, generate_sample
from vbbench.trimaps import TRIMAP_RADIUS_PX, make_trimap

__all__ = [
    "SIMULATED",
    "SIMULATED_MODELS",
    "SCHEMA",
    "GENERATOR_VERSION",
    "TRIMAP_RADIUS_PX",
    "PNG_COMPRESSION",
    "MIN_SIZE_PX",
    "PortraitLayers",
    "render_layers",
    "render_portrait",
    "make_trimap",
    "simulate_prediction",
    "generate_sample",
    "sample_id",
]
