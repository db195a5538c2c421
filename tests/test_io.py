"""Matte reading and atomic writes."""

from __future__ import annotations

import os
import re

import cv2
import numpy as np
import pytest

from vbbench import io


def test_reads_8_16_bit_and_rgba_alpha(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    io.write_png(tmp_path / "g8.png", gray)
    io.write_png(tmp_path / "g16.png", gray.astype(np.uint16) * 257)
    rgba = np.dstack([np.full_like(gray, 9)] * 3 + [gray])
    io.write_png(tmp_path / "rgba.png", rgba)
    assert np.array_equal(io.read_matte(tmp_path / "g8.png"), gray)
    sixteen = io.read_matte(tmp_path / "g16.png")
    assert sixteen.dtype == np.uint16 and np.array_equal(sixteen, gray.astype(np.uint16) * 257)
    assert np.array_equal(io.read_matte(tmp_path / "rgba.png"), gray)


def test_gray_alpha_png_uses_the_alpha_channel(tmp_path):
    from PIL import Image

    pixels = np.zeros((2, 2, 2), np.uint8)
    pixels[..., 0] = 200
    pixels[..., 1] = [[0, 64], [128, 255]]
    Image.fromarray(pixels, mode="LA").save(tmp_path / "la.png")
    assert io.read_matte(tmp_path / "la.png").tolist() == [[0, 64], [128, 255]]


@pytest.mark.parametrize(
    "content, message",
    [(b"", "the file is empty"), (b"GIF89a....", "not a PNG file (it lacks the PNG signature)")],
)
def test_unusable_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(io.MatteError, match=re.escape(f"bad.png: {message}")):
        io.read_matte(path)


def test_missing_and_truncated_and_colour_files(tmp_path):
    with pytest.raises(io.MatteError, match="missing.png: cannot be read"):
        io.read_matte(tmp_path / "missing.png")
    io.write_png(tmp_path / "whole.png", np.full((30, 30), 7, np.uint8))
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:-20])
    with pytest.raises(io.MatteError, match="cut.png: truncated PNG"):
        io.read_matte(tmp_path / "cut.png")
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 2] = 90  # channels that differ: a colour image, no matte
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    with pytest.raises(io.MatteError, match="colour.png: 3 colour channels with different values"):
        io.read_matte(tmp_path / "colour.png")
    cv2.imwrite(str(tmp_path / "float.tiff"), np.zeros((4, 4), np.float32))
    with pytest.raises(io.MatteError, match=r"float.tiff: unsupported bit depth \(float32\)"):
        io.read_matte(tmp_path / "float.tiff")


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    io.atomic_write_text(target, "old")

    def broken_replace(source, destination):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        io.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary left behind
