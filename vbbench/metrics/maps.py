"""Per-pixel error maps of one (pred, gt) pair, each computed once whatever the metrics asked."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vbbench.metrics.alpha import threshold_levels, to_alpha
from vbbench.metrics.conn import conn_lower_levels, conn_phi
from vbbench.metrics.conventions import REFERENCE, Conventions
from vbbench.metrics.filters import (
    MMNET_HALF,
    MMNET_PER_DIM,
    dim_gradient,
    dim_gradient_magnitude,
    hypot,
    sobel_gradient,
)

__all__ = ["PairMaps"]


class PairMaps:
    """Lazily computed intermediate maps for one (pred, gt) pair, so a full metric set computes
    each filter once whatever the number of regions."""

    def __init__(self, pred: np.ndarray, gt: np.ndarray, conventions: Conventions = REFERENCE):
        self.conventions = conventions
        self.pred_raw, self.gt_raw = np.asarray(pred), np.asarray(gt)
        self.pred = to_alpha(self.pred_raw, where="pred")
        self.gt = to_alpha(self.gt_raw, where="gt")
        self._cache: dict[str, np.ndarray] = {}
        self._gradients: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _get(self, name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    def difference(self) -> np.ndarray:
        return self._get("difference", lambda: self.pred - self.gt)

    def absolute(self) -> np.ndarray:
        return self._get("absolute", lambda: np.abs(self.difference()))

    def squared(self) -> np.ndarray:
        return self._get("squared", lambda: self.difference() ** 2)

    def dim_gradient(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        if which not in self._gradients:
            self._gradients[which] = dim_gradient(self.pred if which == "pred" else self.gt)
        return self._gradients[which]

    def grad_map(self) -> np.ndarray:
        def make():
            rescale = self.conventions.grad_rescale
            error = dim_gradient_magnitude(self.pred, self.dim_gradient("pred"), rescale)
            error -= dim_gradient_magnitude(self.gt, self.dim_gradient("gt"), rescale)
            return np.multiply(error, error, out=error)

        return self._get("grad", make)

    def conn_map(self) -> np.ndarray:
        def make():
            c = self.conventions
            levels = np.minimum(
                threshold_levels(self.pred_raw, c.conn_thresholds),
                threshold_levels(self.gt_raw, c.conn_thresholds),
            )
            lower = conn_lower_levels(levels, c.conn_ties, c.conn_empty) / 10.0
            error = conn_phi(self.pred, lower)
            error -= conn_phi(self.gt, lower)
            return np.abs(error, out=error)

        return self._get("conn", make)

    def _sobel(self) -> tuple[np.ndarray, np.ndarray]:
        if "sobel_dx" not in self._cache:
            self._cache["sobel_dx"], self._cache["sobel_dy"] = sobel_gradient(
                self.difference(), self.conventions.sobel_border
            )
        return self._cache["sobel_dx"], self._cache["sobel_dy"]

    def sobel_l2_map(self) -> np.ndarray:
        def make():
            return hypot(*self._sobel())

        return self._get("sobel_l2", make)

    def sobel_l1_map(self) -> np.ndarray:
        def make():
            dx, dy = self._sobel()
            return 0.5 * (np.abs(dx) + np.abs(dy))

        return self._get("sobel_l1", make)

    def gauss_grad_map(self) -> np.ndarray:
        def make():
            height, width = self.difference().shape
            if min(height, width) <= 2 * MMNET_HALF:
                raise ValueError(
                    f"gauss_grad needs images larger than {2 * MMNET_HALF}×{2 * MMNET_HALF} "
                    f"pixels (its 'VALID' 9×9 filter), got {width}×{height}"
                )
            # Only the valid interior counts, where the border rule of the shared filtering
            # does not reach; see MMNET_PER_DIM.
            pred_x, pred_y = self.dim_gradient("pred")
            gt_x, gt_y = self.dim_gradient("gt")
            magnitude = hypot(pred_x - gt_x, pred_y - gt_y)
            magnitude *= MMNET_PER_DIM
            return magnitude

        return self._get("gauss_grad", make)
