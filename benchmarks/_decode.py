"""The decode-only twin of :func:`vbbench.score.score_pair`, run by ``bench_metrics.py``'s worker
processes (a module of its own so that they can import it by name)."""

from __future__ import annotations

from vbbench.io import read_matte


def decode_pair(paths: tuple[str, str]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Read a pair's ground truth and prediction as ``score_pair`` does; return only their shapes,
    so that sending the images back does not count as decoding."""
    gt, pred = paths
    return read_matte(gt).shape, read_matte(pred).shape
