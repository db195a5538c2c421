"""What each metric is: its declaration (:class:`MetricSpec`) and the registry :data:`METRICS`.

Adding a metric is one :class:`MetricSpec` here plus the per-pixel map it reduces (a method of
:class:`vbbench.metrics.maps.PairMaps`); tables, CSV columns, the board, FiftyOne labels and
``vbbench metrics`` all read the declaration.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vbbench import units
from vbbench.errors import UsageError
from vbbench.metrics.filters import MMNET_HALF
from vbbench.metrics.maps import PairMaps
from vbbench.registry import Registry

__all__ = ["MetricDescription", "MetricSpec", "METRICS"]


@dataclass(frozen=True)
class MetricDescription:
    """How to read a metric's number, still or clip alike: its names, unit and definition.

    Attributes
    ----------
    name : str
        Identifier used in CLI options, CSV columns and results files.
    label : str
        Short name in table headers (``MAD``).
    title : str
        Human name.
    reduction : str
        How the per-pixel values are pooled (still metrics: ``"sum"`` or ``"mean"`` over the region).
    raw_unit : str
        Unit of the raw value vbbench stores (a short symbol, then what it measures).
    display_scale : float
        Factor papers apply, a power of ten: displayed number = raw × display_scale.
    border : str
        How image borders are handled by the metric's filters.
    definition : str
        One-line formula.
    reference : str
        Paper and code the definition follows.
    """

    name: str
    label: str
    title: str
    reduction: str
    raw_unit: str
    display_scale: float
    border: str
    definition: str
    reference: str

    @property
    def unit_symbol(self) -> str:
        """The raw unit's symbol, e.g. ``alpha`` (the part of :attr:`raw_unit` before its gloss)."""
        return self.raw_unit.split(" (")[0]

    @property
    def header(self) -> str:
        """Table header in display units, e.g. ``MAD (×10⁻³)`` (:func:`vbbench.units.header`)."""
        return units.header(self.label, self.display_scale)

    @property
    def display_key(self) -> str:
        """ASCII name of the displayed value, e.g. ``mad_in_1e-3`` (:func:`vbbench.units.key`)."""
        return units.key(self.name, self.display_scale)

    @property
    def raw_column(self) -> str:
        """Per-image (per-clip) CSV column of the raw value with its unit, e.g. ``mad [alpha]``."""
        return f"{self.name} [{self.unit_symbol}]"


@dataclass(frozen=True)
class MetricSpec(MetricDescription):
    """What a still metric is: how to compute it (and, as every
    :class:`MetricDescription`, how to read its number).

    Attributes
    ----------
    name, label, title, reduction, raw_unit, display_scale, border, definition, reference
        See :class:`MetricDescription`; ``reduction`` is ``"sum"`` or ``"mean"``.
    per_pixel : callable
        The :class:`PairMaps` method giving the per-pixel map the metric reduces.
    higher_is_better : bool
        False for every error metric.
    valid_margin_px : int
        Pixels this close to the image border never count (a 'VALID' convolution's border).
    value_range : tuple of float
        The values the raw number can take, (low, high); results files are refused outside it
        (an error metric is never negative; a mean of |p − g| never exceeds 1).
    """

    per_pixel: Callable[[PairMaps], np.ndarray]
    higher_is_better: bool = False
    valid_margin_px: int = 0
    value_range: tuple[float, float] = (0.0, math.inf)

    def compute(self, maps: PairMaps, region: np.ndarray | None) -> float:
        """The metric's raw value over ``region`` (``None`` = every pixel): :meth:`PairMaps.reduce`."""
        return maps.reduce(self, region)


_DIM = "Deep Image Matting evaluation code (Xu et al. 2017) after Rhemann et al. 2009"

METRICS: Registry[MetricSpec] = Registry(
    "metric",
    [
        MetricSpec(
            name="mad",
            label="MAD",
            title="Mean absolute difference",
            reduction="mean",
            raw_unit="alpha (mean |p−g|)",
            display_scale=1e3,
            border="none",
            definition="mean_Ω |p − g|",
            reference="MODNet / P3M / RVM evaluation; the seed's MAD",
            per_pixel=PairMaps.absolute,
            value_range=(0.0, 1.0),
        ),
        MetricSpec(
            name="mse",
            label="MSE",
            title="Mean squared error",
            reduction="mean",
            raw_unit="alpha² (mean (p−g)²)",
            display_scale=1e3,
            border="none",
            definition="mean_Ω (p − g)²",
            reference=_DIM + " (compute_mse_loss.m)",
            per_pixel=PairMaps.squared,
            value_range=(0.0, 1.0),
        ),
        MetricSpec(
            name="sad",
            label="SAD",
            title="Sum of absolute differences",
            reduction="sum",
            raw_unit="alpha·px (Σ |p−g|)",
            display_scale=1e-3,
            border="none",
            definition="Σ_Ω |p − g|",
            reference=_DIM + " (compute_sad_loss.m)",
            per_pixel=PairMaps.absolute,
        ),
        MetricSpec(
            name="grad",
            label="Grad",
            title="Gradient error",
            reduction="sum",
            raw_unit="grad²·px (squared unit-kernel gradient, summed)",
            display_scale=1e-3,
            border="replicate (gradients on the full image)",
            definition="Σ_Ω (|∇p′| − |∇g′|)², ∇ = gaussgradient σ=1.4, p′ = mat2gray(p)",
            reference=_DIM + " (compute_gradient_loss.m, gaussgradient.m)",
            per_pixel=PairMaps.grad_map,
        ),
        MetricSpec(
            name="conn",
            label="Conn",
            title="Connectivity error",
            reduction="sum",
            raw_unit="alpha·px (Σ |φp−φg|)",
            display_scale=1e-3,
            border="none (components on the full image)",
            definition="Σ_Ω |φ(p) − φ(g)|, thresholds k/10, 4-connectivity, θ = 0.15",
            reference=_DIM + " (compute_connectivity_error.m)",
            per_pixel=PairMaps.conn_map,
        ),
        MetricSpec(
            name="sobel_l2",
            label="Sobel grad",
            title="Sobel-gradient error (L2)",
            reduction="mean",
            raw_unit="alpha/px (mean ‖∇(p−g)‖₂)",
            display_scale=1e3,
            border="replicate (vbbench's choice; the seed leaves it open)",
            definition="mean_Ω √(dx² + dy²), dx = S∗(p−g), dy = Sᵀ∗(p−g), S = Sobel/8",
            reference="the seed paper's evaluation 'Gradient'",
            per_pixel=PairMaps.sobel_l2_map,
        ),
        MetricSpec(
            name="sobel_l1",
            label="Sobel L1",
            title="Sobel-gradient error (L1, the training loss)",
            reduction="mean",
            raw_unit="alpha/px (mean ½(|dx|+|dy|))",
            display_scale=1e3,
            border="replicate (vbbench's choice; the seed leaves it open)",
            definition="mean_Ω ½(|dx| + |dy|), dx = S∗(p−g), dy = Sᵀ∗(p−g), S = Sobel/8",
            reference="the seed paper's gradient loss L3",
            per_pixel=PairMaps.sobel_l1_map,
        ),
        MetricSpec(
            name="gauss_grad",
            label="Gauss grad",
            title="Gaussian-gradient error (MMNet)",
            reduction="mean",
            raw_unit="alpha/px (mean ‖∇p−∇g‖₂)",
            display_scale=1e3,
            border=f"valid (only pixels ≥ {MMNET_HALF} px from the border count, as MMNet's 'VALID' convolution)",
            definition="mean_Ω ‖∇p − ∇g‖₂, ∇ = first-derivative-of-Gaussian σ=1.4, 9×9, sum-1 Gaussian",
            reference="MMNet (Seo & Kim 2019) GAUSS_GRAD, hyperconnect/MMNet metrics",
            per_pixel=PairMaps.gauss_grad_map,
            valid_margin_px=MMNET_HALF,
        ),
    ],
    error=UsageError,
)
