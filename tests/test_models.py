"""The reference model, its loss, training, ONNX export, prediction and the pipeline benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch", reason="needs the model extra: pip install torch==2.13.0 'vbbench[model]'")
pytestmark = pytest.mark.model

from vbbench.cli import app  # noqa: E402
from vbbench.metrics import sobel_l1  # noqa: E402
from vbbench.models import registry  # noqa: E402
from vbbench.models import weights as reference  # noqa: E402
from vbbench.models.loss import matting_loss, sobel_l1_loss  # noqa: E402
from vbbench.models.runner import file_sha256  # noqa: E402
from vbbench.models.train import TrainConfig, sample_set, train  # noqa: E402
from vbbench.models.unet import CompactUNet, UNetConfig, count_macs, count_parameters  # noqa: E402

TINY = {"stem": 4, "widths": (4, 8, 8)}
runner = CliRunner()


def test_shapes_at_square_and_16_9_inputs_and_the_stride_rule():
    model = CompactUNet().eval()
    with torch.no_grad():
        assert model(torch.rand(2, 3, 256, 256)).shape == (2, 1, 256, 256)
        assert model(torch.rand(1, 3, 144, 256)).shape == (1, 1, 144, 256)
        alpha = model(torch.rand(1, 3, 144, 256))
    assert float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0
    with pytest.raises(ValueError, match="input 250×144 \\(W×H\\): both sides must be multiples of 16"):
        model(torch.rand(1, 3, 144, 250))


def test_mac_count_by_hand():
    layer = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(4, 4, 3, padding=1, groups=4))
    # 8·8 outputs × 4 channels × (3·9) + 8·8 × 4 × (1·9)
    assert count_macs(layer, 8, 8) == 8 * 8 * 4 * 27 + 8 * 8 * 4 * 9
    model = CompactUNet()
    assert count_macs(model, 256, 144) < count_macs(model, 256, 256)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())


def test_gradient_loss_equals_the_sobel_l1_metric():
    rng = np.random.default_rng(0)
    pred, gt = rng.random((37, 53)), rng.random((37, 53))
    loss = sobel_l1_loss(torch.from_numpy(pred)[None, None], torch.from_numpy(gt)[None, None])
    assert float(loss) == pytest.approx(sobel_l1(pred, gt), rel=1e-12)


def test_loss_terms_and_training_reduce_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    model = CompactUNet(UNetConfig(**TINY))
    images = torch.rand(4, 3, 32, 32)
    targets = (images[:, :1] > 0.5).float()  # learnable: the matte is the thresholded red channel
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    first, parts = matting_loss(model.logits(images), targets)
    assert parts["total"] == pytest.approx(parts["l1"] + parts["bce"] + parts["gradient"], rel=1e-6)
    for _ in range(30):
        loss, _ = matting_loss(model.logits(images), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert float(loss) < 0.8 * float(first)


def test_training_resumes_exactly(tmp_path):
    data, validation = sample_set(4, seed=1, width=60, height=80), sample_set(1, seed=2, width=60, height=80)
    config = TrainConfig(steps=4, batch=2, width=32, height=32, validate_every=2, checkpoint_every=1, unet=TINY)
    straight = train(data, validation, config, tmp_path / "straight", progress=False)
    halfway = TrainConfig(**{**config.__dict__, "steps": 2})
    train(data, validation, halfway, tmp_path / "resumed", progress=False)
    resumed = train(data, validation, config, tmp_path / "resumed", progress=False)
    assert resumed["steps"] == 4
    first = torch.load(tmp_path / "straight" / "weights.pt", weights_only=True)
    second = torch.load(tmp_path / "resumed" / "weights.pt", weights_only=True)
    for name in first:
        assert torch.allclose(first[name].float(), second[name].float(), atol=1e-6), name
    assert resumed["final"]["validation_mad"] == pytest.approx(straight["final"]["validation_mad"], abs=1e-6)


def test_shipped_weights_and_their_training_record():
    record = json.loads(reference.RECORD.read_text())
    assert record["weights_sha256"] == file_sha256(reference.WEIGHTS)
    assert "synthetic" in record["note"]
    assert record["final"]["validation_mad"] < 0.15  # a tiny CPU budget: it learns, it is no good model


def test_registry_suggests_names_and_explains_missing_baselines(tmp_path):
    with pytest.raises(registry.ModelError, match="unknown model 'referense'; did you mean 'reference'"):
        registry.load_runner("referense")
    with pytest.raises(
        registry.ModelError, match="unknown model 'mediapipe-landscap'; did you mean 'mediapipe-landscape'"
    ):
        registry.load_runner("mediapipe-landscap")
    with pytest.raises(registry.ModelError) as nothing_close:
        registry.load_runner("xyz")
    assert str(nothing_close.value) == (
        "unknown model 'xyz'; --model takes a registered name (reference, reference-onnx, reference-onnx-int8, "
        "reference-coreml-int8, mediapipe-general, mediapipe-landscape), a model card FILE.yaml, a Python callable "
        "module:function or file.py:function, a Core ML package PATH.mlpackage, a checkpoint of vbbench train "
        "(weights.pt or its run folder), an ONNX file PATH.onnx or a TFLite file PATH.tflite (docs/models.md)"
    )
    with pytest.raises(registry.ModelError, match="mine.onnx: no such ONNX file"):
        registry.load_runner(str(tmp_path / "mine.onnx"))
    assert set(registry.MODELS) == {
        "reference",
        "reference-onnx",
        "reference-onnx-int8",
        "reference-coreml-int8",
        "mediapipe-general",
        "mediapipe-landscape",
    }


def test_onnx_export_matches_pytorch(tmp_path):
    from vbbench.models.export import export_onnx, max_abs_difference

    model = reference.reference_model()
    path = export_onnx(model, tmp_path / "m.onnx", 256, 144)
    assert max_abs_difference(model, path, 256, 144) < 1e-4
    onnx_runner = registry.load_runner(str(path))
    assert (onnx_runner.input_width, onnx_runner.input_height) == (256, 144)


def test_fold_batch_norm_by_hand_and_the_export_keeps_its_bits(tmp_path):
    import onnx
    import torch
    from onnx import numpy_helper

    from vbbench.models.export import export_onnx, fold_batch_norm

    conv = torch.nn.Conv2d(1, 2, 1, bias=False)
    norm = torch.nn.BatchNorm2d(2, eps=0.0)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([2.0, -1.0]).reshape(2, 1, 1, 1))
        norm.weight.copy_(torch.tensor([3.0, 0.5]))
        norm.bias.copy_(torch.tensor([1.0, -2.0]))
        norm.running_mean.copy_(torch.tensor([4.0, 0.0]))
        norm.running_var.copy_(torch.tensor([9.0, 0.25]))
    model = torch.nn.Sequential(conv, norm)
    folded = fold_batch_norm(model)
    # W' = W·γ/σ: 2·3/3 = 2 and −1·0.5/0.5 = −1; b' = β − μ·γ/σ: 1 − 4·1 = −3 and −2 − 0 = −2.
    assert folded[0].weight.flatten().tolist() == [2.0, -1.0]
    assert folded[0].bias.tolist() == [-3.0, -2.0]
    assert isinstance(folded[1], torch.nn.Identity) and isinstance(model[1], torch.nn.BatchNorm2d)
    x = torch.rand(1, 1, 4, 4)
    assert torch.allclose(folded(x), model.eval()(x))

    # The shipped model's export carries exactly the float64-folded weights, bit for bit.
    shipped = reference.reference_model()
    path = export_onnx(shipped, tmp_path / "m.onnx", 256, 144)
    exported = sorted(
        numpy_helper.to_array(t).tobytes() for t in onnx.load(str(path)).graph.initializer if len(t.dims) == 4
    )
    expected = sorted(
        m.weight.detach().numpy().tobytes()
        for m in fold_batch_norm(shipped).modules()
        if isinstance(m, torch.nn.Conv2d)
    )
    assert exported == expected


def test_export_command_reports_size_cost_and_agreement(tmp_path, monkeypatch):
    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "reference.onnx"
    result = runner.invoke(app, ["export", "--to", "onnx", "--input", "256x144", "--out", str(out), "--int8"])
    assert result.exit_code == 0, result.output
    model = reference.reference_model()
    assert (
        f"wrote {out} (opset 17, input 256x144, {count_parameters(model):,} parameters, "
        f"{count_macs(model, 256, 144) / 1e6:.1f} M MACs per frame); max |ONNX Runtime - PyTorch| = "
    ) in result.output
    assert f"wrote {tmp_path / 'reference-int8.onnx'} (int8 QDQ, per-channel weights" in result.output
    # The documented cost of the default network (docs/models.md).
    assert round(count_macs(model, 256, 144) / 1e6, 1) == 43.8 and round(count_macs(model, 256, 256) / 1e6, 1) == 77.9
    assert count_parameters(model) == 34_794
    # Every reference runner carries the same counts at its input size.
    for name in ("reference", "reference-onnx"):
        loaded = registry.load_runner(name, (256, 144))
        assert (loaded.parameters, loaded.macs) == (34_794, count_macs(model, 256, 144))
        assert loaded.metadata()["macs"] == loaded.macs
    bad = runner.invoke(app, ["export", "--to", "tflite"])
    assert bad.exit_code == 1 and "--to tflite: choose onnx or coreml" in bad.output


def test_predict_writes_mattes_at_image_size_resumes_and_scores(tmp_path, monkeypatch):
    monkeypatch.setenv("VBBENCH_HOME", str(tmp_path / "home"))
    demo = tmp_path / "demo"
    from vbbench.sample import generate_sample

    generate_sample(demo, count=3, seed=5, models=("sim-good",), progress=False)
    out = tmp_path / "preds"
    result = runner.invoke(
        app, ["predict", "--model", "reference-onnx", "--images", str(demo / "images"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "predicted 3 images, kept 0 finished ones" in result.output
    from vbbench.io import read_matte

    assert read_matte(out / "sample_0000.png").shape == (800, 600)
    metadata = json.loads((out / "model.json").read_text())
    assert metadata["input_size"] == "256x256" and metadata["parameters"] > 0
    (out / "sample_0001.png").unlink()
    again = runner.invoke(
        app, ["predict", "--model", "reference-onnx", "--images", str(demo / "images"), "--out", str(out)]
    )
    assert "predicted 1 images, kept 2 finished ones" in again.output
    scored = runner.invoke(app, ["score", str(out), "--gt", str(demo / "alpha"), "--workers", "1", "--quiet"])
    assert scored.exit_code == 0, scored.output
    summary = json.loads((tmp_path / "preds-scores" / "summary.json").read_text())
    assert summary["scores"]["whole"]["mad"]["mean"] < 0.15  # it learned something of the synthetic portraits


def test_bench_reports_every_stage(tmp_path):
    result = runner.invoke(
        app,
        [
            "bench",
            "--model",
            "reference",
            "--sizes",
            "320x180",
            "--frames",
            "2",
            "--json",
            str(tmp_path / "bench.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "bench.json").read_text())
    report = document["frames"][0]
    import os

    assert document["machine"].endswith(f", {os.cpu_count()} logical CPUs, Linux x86_64, 2 runtime threads")
    assert f"machine: {document['machine']}" in result.output
    assert report["size"] == "320x180"
    assert set(report["ms"]) == {"resize_in", "inference", "resize_back", "composite", "encode"}
    assert report["stage_sum_ms"] == pytest.approx(sum(report["ms"].values()))  # stages overlap: FPS is wall clock
    assert report["fps"] > 0 and report["source"] == "synthetic"
    assert "25 FPS" in result.output and "one static synthetic call frame per size, not decoded" in result.output


def test_composite_replaces_the_background_of_a_video(tmp_path):
    import cv2

    from vbbench.io import write_png
    from vbbench.sample import render_portrait

    portrait, _ = render_portrait(7, 0, 240, 320)
    frame = cv2.resize(portrait, (256, 144))
    video = tmp_path / "call.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (256, 144))
    for _ in range(4):
        writer.write(frame)
    writer.release()
    background = np.zeros((50, 80, 3), np.uint8)
    background[:] = (0, 255, 0)  # pure green
    write_png(tmp_path / "green.png", background)
    out = tmp_path / "out.mp4"
    result = runner.invoke(
        app,
        [
            "composite",
            str(video),
            "--background",
            str(tmp_path / "green.png"),
            "--out",
            str(out),
            "--model",
            "reference",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "4 frames at 256x144" in result.output
    capture = cv2.VideoCapture(str(out))
    ok, first = capture.read()
    assert ok and first.shape == (144, 256, 3)
    # a corner is background in the portrait: it turns green
    assert first[2:10, 2:10, 1].mean() > 150 and first[2:10, 2:10, 2].mean() < 100
    bad = runner.invoke(
        app,
        ["composite", str(tmp_path / "none.mp4"), "--background", str(tmp_path / "green.png"), "--model", "reference"],
    )
    assert bad.exit_code == 1 and "none.mp4: no such video file or clip folder" in bad.output


def test_fine_tuning_starts_from_the_pretrained_weights(tmp_path):
    data, validation = sample_set(2, seed=1, width=60, height=80), sample_set(1, seed=2, width=60, height=80)
    config = TrainConfig(steps=2, batch=2, width=32, height=32, validate_every=2, checkpoint_every=2, unet=TINY)
    train(data, validation, config, tmp_path / "pre", progress=False)
    pre = torch.load(tmp_path / "pre" / "weights.pt", weights_only=True)
    zero_steps = TrainConfig(**{**config.__dict__, "steps": 0})
    train(
        data, validation, zero_steps, tmp_path / "fine", progress=False, initial_weights=tmp_path / "pre" / "weights.pt"
    )
    fine = torch.load(tmp_path / "fine" / "weights.pt", weights_only=True)
    assert all(torch.equal(pre[name], fine[name]) for name in pre)  # no step yet: the pre-trained weights


def test_train_reads_prepared_splits_aisegment_then_shen(small_cards, tmp_path):
    """The paper's recipe through the CLI: pre-train on AISegment's train split, fine-tune on Shen's."""
    import csv

    from _archives import aisegment_entries, shen_entries, zip_bytes

    data = tmp_path / "data"
    archive = tmp_path / "ais.zip"
    archive.write_bytes(zip_bytes(aisegment_entries()))
    shen = tmp_path / "shen"
    for name, content in shen_entries(train=6, test=3, wrap="").items():
        (shen / name).parent.mkdir(parents=True, exist_ok=True)
        (shen / name).write_bytes(content)
    for name, source in (("aisegment", archive), ("shen2016", shen)):
        prepared = runner.invoke(
            app, ["prepare", name, "--from", str(source), "--data-dir", str(data), "-q", "--workers", "1"]
        )
        assert prepared.exit_code == 0, prepared.output

    result = runner.invoke(
        app,
        [
            "train",
            "--dataset",
            "aisegment",
            "--then",
            "shen2016",
            "--data-dir",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--steps",
            "2",
            "--then-steps",
            "2",
            "--batch",
            "2",
            "--input",
            "32x32",
            "--validate-every",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    splits = {
        name: [row["split"] for row in csv.DictReader(open(data / name / "split.csv"))]
        for name in ("aisegment", "shen2016")
    }
    pre = json.loads((tmp_path / "run" / "record.json").read_text())
    fine = json.loads((tmp_path / "run" / "then" / "record.json").read_text())
    assert pre["data"].startswith(f"aisegment/train({splits['aisegment'].count('train')} items, split sha256 ")
    assert pre["validation"].startswith(f"aisegment/test({splits['aisegment'].count('test')} items")
    assert fine["data"].startswith("shen2016/train(6 items") and fine["validation"].startswith("shen2016/test(3 items")
    assert [entry["step"] for entry in fine["history"]] == [1, 2]
    assert "trained 2 steps on shen2016/train(6 items" in result.output


def test_train_names_an_unknown_or_unprepared_dataset(small_cards, tmp_path):
    unknown = runner.invoke(app, ["train", "--dataset", "shen2061", "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 1
    assert "unknown dataset 'shen2061'; did you mean 'shen2016'?" in unknown.output
    assert "or use 'folders' with --images DIR and --alpha DIR" in unknown.output
    missing = runner.invoke(
        app,
        [
            "train",
            "--dataset",
            "sample",
            "--then",
            "aisegment",
            "--data-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert missing.exit_code == 1
    assert f"aisegment is not prepared in {tmp_path}: run `vbbench prepare aisegment --data-dir {tmp_path}`" in (
        missing.output
    )
    assert not (tmp_path / "run").exists()  # refused before the first stage trained


def test_sixteen_bit_mattes_augment_like_eight_bit_ones():
    from vbbench.models.train import augment

    image, alpha8 = (
        sample_set(1, seed=4, width=60, height=80).images[0],
        sample_set(1, seed=4, width=60, height=80).alphas[0],
    )
    alpha16 = alpha8.astype(np.uint16) * 257  # the same alpha: v/255 == 257·v/65535
    config = TrainConfig(width=32, height=32)
    _, from8 = augment(image, alpha8, config, np.random.default_rng(7))
    _, from16 = augment(image, alpha16, config, np.random.default_rng(7))
    assert from16.max() <= 1.0 and from8.max() > 0.5
    # Only rounding differs: OpenCV interpolates 8-bit images in fixed point, to within one level.
    assert np.abs(from16 - from8).max() <= 1 / 255


def test_predict_every_variant_of_a_prepared_set_at_ground_truth_size(small_cards, tmp_path):
    """Output geometry per variant (rotations swap width and height, call16x9 is 640×360) and the
    input the model saw: 256×144 for the 16:9 call frames, 256×256 otherwise."""
    from _archives import shen_entries

    from vbbench.io import read_matte
    from vbbench.prepared import PreparedDataset
    from vbbench.variants import VARIANTS, default_variants, prepared_files

    def variant_paths(dataset, variant, data_dir):
        return prepared_files(PreparedDataset(dataset, data_dir), variant)

    shen, data = tmp_path / "shen", tmp_path / "data"
    for name, content in shen_entries(train=6, test=3, wrap="").items():
        (shen / name).parent.mkdir(parents=True, exist_ok=True)
        (shen / name).write_bytes(content)
    prepared = runner.invoke(
        app, ["prepare", "shen2016", "--from", str(shen), "--data-dir", str(data), "-q", "--workers", "1"]
    )
    assert prepared.exit_code == 0, prepared.output
    for variant in default_variants():  # clips are made on request (their predict: tests/test_score_clips.py)
        out = tmp_path / "preds" / variant
        result = runner.invoke(
            app,
            [
                "predict",
                "--model",
                "reference-onnx",
                "--dataset",
                "shen2016",
                "--variant",
                variant,
                "--data-dir",
                str(data),
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        expected_input = "256x144" if VARIANTS[variant].landscape else "256x256"
        assert f"predicted 3 images, kept 0 finished ones (reference-onnx, input {expected_input})" in result.output
        assert json.loads((out / "model.json").read_text())["input_size"] == expected_input
        truth = variant_paths("shen2016", variant, data).alpha
        for matte in sorted(truth.rglob("*.png")):
            assert read_matte(out / matte.relative_to(truth)).shape == read_matte(matte).shape, (variant, matte.name)
        if variant == "call16x9":
            assert read_matte(matte).shape == (360, 640)


def test_batches_do_not_depend_on_the_loader_threads():
    """Augmentations are drawn in the main thread, so a batch built by 4 threads equals one built
    item by item with `augment` from the same generator state."""
    from concurrent.futures import ThreadPoolExecutor

    from vbbench.models.train import _batch, augment

    data = sample_set(5, seed=1, width=60, height=80)
    config = TrainConfig(batch=6, width=32, height=32)
    with ThreadPoolExecutor(4) as pool:
        images, alphas = _batch(data, config, np.random.default_rng(3), pool)
    rng = np.random.default_rng(3)
    indices = rng.integers(0, 5, 6)
    pairs = [augment(data.images[i], data.alphas[i], config, rng) for i in indices]
    assert np.array_equal(images, np.stack([p[0] for p in pairs])) and np.array_equal(
        alphas, np.stack([p[1] for p in pairs])
    )


def test_device_choice_and_a_clear_error_without_a_gpu(tmp_path, monkeypatch):
    from vbbench.models.train import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="--device cuda: PyTorch sees no CUDA GPU here"):
        resolve_device("cuda")
    result = runner.invoke(app, ["train", "--device", "cuda", "--out", str(tmp_path / "run"), "--pool", "1"])
    assert result.exit_code == 1 and "PyTorch sees no CUDA GPU here" in result.output
