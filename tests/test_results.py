"""The results-file schema on its own: building, writing, reading back, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vbbench import __version__
from vbbench.results import (
    BENCHMARK_VERSION,
    SCHEMA,
    ResultError,
    load_result,
    load_results,
    make_result,
    speed_from_bench,
    write_result,
)

COMMITTED = Path(__file__).resolve().parents[1] / "leaderboards" / "results"


GOOD = COMMITTED / "sample" / "original" / "reference-onnx.json"


def a_summary() -> dict:
    """A real vbbench-score/1 summary (from the committed sample results)."""
    return json.loads(GOOD.read_text())["summary"]


def its_per_unit() -> dict:
    """The per-image scores of that summary."""
    return json.loads(GOOD.read_text())["per_unit"]


def test_make_result_wraps_summary_with_metadata_and_provenance():
    summary = a_summary()
    summary["created"] = "2026-11-25T08:00:00+00:00"
    meta = {
        "name": "my-net",
        "parameters": 1_234_567,
        "input_size": "256x144",
        "runtime": "onnxruntime",
        "weights_sha256": "ab" * 32,
        "speed": {"640x360": 40.0, "1280x720": 15.5},
        "speed_machine": "box, 2 logical CPUs",
        "speed_input": "256x144",
        "macs": 43_800_000,
    }
    document = make_result(summary, meta, "2026-11-26")
    assert document["schema"] == SCHEMA == "vbbench-result/2"
    assert document["benchmark_version"] == BENCHMARK_VERSION and document["vbbench_version"] == __version__
    assert document["dataset"] == {
        key: summary["dataset"][key] for key in ("name", "variant", "revision", "split_sha256", "partial")
    }
    assert document["model"] == {**meta, "description": "", "simulated": False}
    # The run's clock time is replaced by the date, so the same inputs give the same file ...
    assert document["summary"]["created"] == "2026-11-26"
    # ... and the caller's summary is left as it was.
    assert summary["created"] == "2026-11-25T08:00:00+00:00"
    assert document["summary"]["scores"] == summary["scores"]


def test_dataset_provenance_can_be_given_explicitly():
    dataset = {"name": "shen2016", "variant": "rot90", "revision": "r1", "split_sha256": "cd" * 32}
    document = make_result(a_summary(), {"name": "m"}, "2026-11-25", dataset=dataset)
    assert document["dataset"] == dataset


def test_write_then_load_round_trips_byte_for_byte(tmp_path):
    document = make_result(a_summary(), {"name": "my-net", "parameters": 10}, "2026-11-25", per_unit=its_per_unit())
    path = write_result(document, tmp_path)
    assert path == tmp_path / "sample" / "original" / "my-net.json"
    first = path.read_bytes()
    assert load_result(path) == document
    write_result(load_result(path), tmp_path)
    assert path.read_bytes() == first
    assert first.endswith(b"}\n") and json.loads(first) == document


def test_write_refuses_an_invalid_document(tmp_path):
    document = make_result(a_summary(), {"name": "my net/../x"}, "2026-11-25", per_unit=its_per_unit())
    with pytest.raises(ResultError, match=r"field 'model.name' must be a plain name"):
        write_result(document, tmp_path)
    assert not any(tmp_path.rglob("*.json"))


def test_unreadable_and_missing_inputs_name_the_path(tmp_path):
    broken = tmp_path / "sample" / "original" / "broken.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    with pytest.raises(ResultError, match=rf"^{broken}: not a readable JSON file"):
        load_result(broken)
    broken.write_text("[1, 2]")
    with pytest.raises(ResultError, match=rf"^{broken}: a results file must hold a JSON object$"):
        load_result(broken)
    with pytest.raises(ResultError, match=rf"^{tmp_path / 'nowhere'}: no such results folder$"):
        load_results(tmp_path / "nowhere")


def test_a_number_given_as_text_is_named_with_its_field(tmp_path):
    document = make_result(a_summary(), {"name": "x"}, "2026-11-25")
    document["summary"]["scores"]["whole"]["mad"]["mean"] = "0.01"
    path = tmp_path / "sample" / "original" / "x.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    with pytest.raises(ResultError) as caught:
        load_result(path)
    assert str(caught.value).startswith(f"{path}: field 'summary.scores.whole.mad.mean' must be a")


def test_load_results_reads_every_file_sorted_by_path(tmp_path):
    for name in ("zeta", "alpha", "mid"):
        write_result(make_result(a_summary(), {"name": name}, "2026-11-25", per_unit=its_per_unit()), tmp_path)
    assert [r["model"]["name"] for r in load_results(tmp_path)] == ["alpha", "mid", "zeta"]


def test_speed_comes_from_a_bench_report_and_bad_reports_name_the_field():
    report = {
        "model": {"name": "reference-onnx"},
        "frames": [
            {"size": "640x360", "ms": {"infer": 10.0}, "total_ms": 25.0, "fps": 40.0},
            {"size": "1280x720", "ms": {"infer": 10.0}, "total_ms": 64.0, "fps": 15.625},
        ],
    }
    assert speed_from_bench(report, "b.json") == {"640x360": 40.0, "1280x720": 15.625}
    with pytest.raises(ResultError, match=r"^b.json: field 'frames' must list"):
        speed_from_bench({"model": {}}, "b.json")
    report["frames"][1]["fps"] = "fast"
    with pytest.raises(
        ResultError, match=r"^b.json: field 'frames\[1\]' must have a 'size' \(WxH\) and a number 'fps'$"
    ):
        speed_from_bench(report, "b.json")


def test_predict_notes_become_the_description():
    meta = {"name": "reference", "notes": "compact U-Net, 256x144 input", "input_size": "256x144"}
    assert make_result(a_summary(), meta, "2026-11-25")["model"]["description"] == "compact U-Net, 256x144 input"
