"""The details where published matting-metric implementations disagree, and vbbench's reference.

:class:`Conventions` names each detail; its defaults (:data:`REFERENCE`) are the Deep Image
Matting reference code's choices (see ``docs/metrics.md``). A summary scored under any other
setting records it and is never ranked beside reference results.
"""

from __future__ import annotations

from dataclasses import dataclass

from vbbench.errors import UsageError

__all__ = ["Conventions", "REFERENCE", "CHOICES"]

CHOICES = {
    "conn_thresholds": ("exact", "float64"),
    "conn_ties": ("column-major", "row-major"),
    "conn_empty": ("stop", "skip"),
    "grad_rescale": ("minmax", "none"),
    "sobel_border": ("replicate", "reflect", "zero"),
}


@dataclass(frozen=True)
class Conventions:
    """The details where published implementations disagree; the defaults are the reference.

    Attributes
    ----------
    conn_thresholds : {"exact", "float64"}
        ``exact`` (reference): v/255 ≥ k/10 decided exactly. ``float64``: compared with
        ``np.arange(0, 1.1, 0.1)`` thresholds as most Python ports do (rejects v = 153 at 0.6).
    conn_ties : {"column-major", "row-major"}
        Which of equally large components is Ω_k: the first in MATLAB's column-major order
        (reference) or in skimage / OpenCV row-major order.
    conn_empty : {"stop", "skip"}
        A threshold with no component: every remaining pixel gets l = t_(k−1) (reference), or the
        threshold is skipped so those pixels end with l = 1 (P3M; an all-zero prediction scores 0).
    grad_rescale : {"minmax", "none"}
        ``minmax`` (reference): MATLAB ``mat2gray`` per image; ``none``: alpha as is (ports that
        only divide by 255).
    sobel_border : {"replicate", "reflect", "zero"}
        Border of the seed's Sobel operator: replicated (vbbench's choice), mirrored without
        repeating the edge (OpenCV's default, ``reflect101``) or zero padding (PyTorch's conv2d
        default in the training loss).

    Examples
    --------
    >>> Conventions.parse(["conn_ties=row-major"]).conn_ties
    'row-major'
    """

    conn_thresholds: str = "exact"
    conn_ties: str = "column-major"
    conn_empty: str = "stop"
    grad_rescale: str = "minmax"
    sobel_border: str = "replicate"

    def __post_init__(self):
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise UsageError(f"convention {name}={getattr(self, name)!r} is not one of {', '.join(allowed)}")

    @classmethod
    def parse(cls, settings: list[str] | None) -> Conventions:
        """Build from ``["name=value", …]`` strings (the CLI's ``--convention``)."""
        values: dict[str, str] = {}
        for setting in settings or []:
            name, _, value = setting.partition("=")
            name = name.strip().replace("-", "_")
            if name not in CHOICES or not value:
                raise UsageError(f"--convention {setting!r}: expected NAME=VALUE with NAME one of {', '.join(CHOICES)}")
            values[name] = value.strip()
        return cls(**values)

    def differences(self) -> dict[str, str]:
        """The settings that differ from the reference (empty for reference results)."""
        reference = Conventions()
        return {name: getattr(self, name) for name in CHOICES if getattr(self, name) != getattr(reference, name)}


REFERENCE = Conventions()
