"""The ``clips`` variant family: deterministic call-like clips with exact per-frame ground truth.

A call is a video. From each test portrait :func:`make_clip` makes a short clip (default 30 frames
at 30 fps in the portrait's 640×360 call frame, the last third held still) with camera shake, a
slow zoom or pan, the person swaying, leaning and turning against the background, lighting drift
and sensor noise, and the exact matte of every frame. The modules:

* :mod:`~vbbench.clips.generate` — :class:`ClipSpec` and :func:`make_clip` (the motion model);
* :mod:`~vbbench.clips.layers` — the portrait's foreground, background plate and matte (rendered
  for the embedded sample, estimated with pymatting for real portraits), framed for a call;
* :mod:`~vbbench.clips.motion` — the exact motion between frames, from the transforms in the
  manifest (what MESSDdt needs);
* :mod:`~vbbench.clips.files` — the variant on disk (``images/<clip>/<frame>.png``, ``alpha/…``,
  ``trimaps/…``, ``manifest.csv``), made by ``vbbench prepare NAME --variants clips``.

Scoring a clip folder is :mod:`vbbench.score_clips`; the clip metrics are
:data:`vbbench.metrics.TEMPORAL_METRICS`.
"""

from vbbench.clips.files import (
    CLIP_MANIFEST_FIELDS,
    clip_frame_paths,
    clip_name,
    clips_complete,
    frame_id,
    group_clips,
    make_clip_variant,
    manifest_spec,
    read_clip_manifest,
    write_clip,
)
from vbbench.clips.generate import CAMERA_MOVES, FRAMINGS, GENERATOR_VERSION, Clip, ClipFrame, ClipSpec, make_clip
from vbbench.clips.layers import clip_layers, estimate_layers, frame_layers, sample_layers
from vbbench.clips.motion import MotionField, clip_flows, flows_from_manifest, layered_flow, motion_field

__all__ = [
    "CAMERA_MOVES",
    "CLIP_MANIFEST_FIELDS",
    "FRAMINGS",
    "GENERATOR_VERSION",
    "Clip",
    "ClipFrame",
    "ClipSpec",
    "MotionField",
    "clip_flows",
    "clip_frame_paths",
    "clip_layers",
    "clip_name",
    "clips_complete",
    "estimate_layers",
    "flows_from_manifest",
    "frame_id",
    "frame_layers",
    "group_clips",
    "layered_flow",
    "make_clip",
    "make_clip_variant",
    "manifest_spec",
    "motion_field",
    "read_clip_manifest",
    "sample_layers",
    "write_clip",
]
