"""The details where published matting-metric implementations disagree, and vbbench's reference.

:class:`Conventions` names each detail; its defaults (:data:`REFERENCE`) are the Deep Image
Matting reference code's choices (see ``docs/metrics.md``). A summary scored under any other
setting records it and is never ranked beside reference results.

:class:`TemporalConventions` is its sibling for the clip metrics (dtSSD, MESSDdt): a separate
record, so that still-image summaries keep exactly the fields they always had. Both are set with
the one CLI option ``--convention NAME=VALUE``; :func:`split_settings` sends each setting to its
record.
"""

from __future__ import annotations

from dataclasses import dataclass

from vbbench.errors import UsageError

__all__ = [
    "Conventions",
    "REFERENCE",
    "CHOICES",
    "TemporalConventions",
    "TEMPORAL_REFERENCE",
    "TEMPORAL_CHOICES",
    "split_settings",
]

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


# ---- clip metrics ------------------------------------------------------------------------------

TEMPORAL_CHOICES = {
    "dtssd_first_frame": ("skip", "zero"),
    "messddt_flow": ("exact", "farneback"),
    "messddt_sampling": ("bilinear", "nearest"),
}


@dataclass(frozen=True)
class TemporalConventions:
    """The details where published temporal-metric implementations disagree; defaults = vbbench's.

    Attributes
    ----------
    dtssd_first_frame : {"skip", "zero"}
        ``skip`` (vbbench): a clip's dtSSD is the mean of its T − 1 frame-pair terms. ``zero``:
        RVM's evaluation driver, which appends 0 for frame 0 and averages over all T frames, so its
        value is (T − 1)/T of vbbench's.
    messddt_flow : {"exact", "farneback"}
        ``exact`` (vbbench): the clip's exact motion field, known from its manifest.
        ``farneback``: Farneback optical flow on the ground-truth mattes, what the published
        drivers (OTVM, MaGGIe) do when the motion is unknown.
    messddt_sampling : {"bilinear", "nearest"}
        How E_(t+1) is read at x + v_t(x): ``bilinear`` (vbbench), targets outside the frame (or
        occluded) drop out; ``nearest``: the motion rounded to whole pixels and the target clamped
        into the frame, as OTVM's and MaGGIe's ``MESSDdt`` do.

    Examples
    --------
    >>> TemporalConventions.parse(["dtssd_first_frame=zero"]).differences()
    {'dtssd_first_frame': 'zero'}
    """

    dtssd_first_frame: str = "skip"
    messddt_flow: str = "exact"
    messddt_sampling: str = "bilinear"

    def __post_init__(self):
        for name, allowed in TEMPORAL_CHOICES.items():
            if getattr(self, name) not in allowed:
                raise UsageError(f"convention {name}={getattr(self, name)!r} is not one of {', '.join(allowed)}")

    @classmethod
    def parse(cls, settings: list[str] | None) -> TemporalConventions:
        """Build from ``["name=value", …]`` strings (the CLI's ``--convention``)."""
        values: dict[str, str] = {}
        for setting in settings or []:
            name, _, value = setting.partition("=")
            name = name.strip().replace("-", "_")
            if name not in TEMPORAL_CHOICES or not value:
                raise UsageError(
                    f"--convention {setting!r}: expected NAME=VALUE with NAME one of {', '.join(TEMPORAL_CHOICES)}"
                )
            values[name] = value.strip()
        return cls(**values)

    def differences(self) -> dict[str, str]:
        """The settings that differ from vbbench's (empty for reference results)."""
        reference = TemporalConventions()
        return {
            name: getattr(self, name) for name in TEMPORAL_CHOICES if getattr(self, name) != getattr(reference, name)
        }


TEMPORAL_REFERENCE = TemporalConventions()


def split_settings(settings: list[str] | None) -> tuple[list[str], list[str]]:
    """``--convention`` settings split into those of :class:`Conventions` and of
    :class:`TemporalConventions` (by name; an unknown name names both lists).

    Raises
    ------
    UsageError
        For a setting that is not ``NAME=VALUE`` with a known name.

    Examples
    --------
    >>> split_settings(["conn_ties=row-major", "dtssd-first-frame=zero"])
    (['conn_ties=row-major'], ['dtssd-first-frame=zero'])
    """
    still, temporal = [], []
    for setting in settings or []:
        name = setting.partition("=")[0].strip().replace("-", "_")
        if name in CHOICES:
            still.append(setting)
        elif name in TEMPORAL_CHOICES:
            temporal.append(setting)
        else:
            known = ", ".join([*CHOICES, *TEMPORAL_CHOICES])
            raise UsageError(f"--convention {setting!r}: expected NAME=VALUE with NAME one of {known}")
    return still, temporal
