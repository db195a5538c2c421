"""The score runs ``vbbench browse`` reads, the names of their models, and the FiftyOne names
that follow from them.

A model's name comes from ``--name`` (given after its ``--runs``), else the ``"name"`` of the
``model.json`` that ``vbbench predict`` writes beside the predictions, else the prediction
folder's name. From the name follow its field prefix (``sim_good``), its slices
(``sim-good-prediction``) and its saved views (``worst-mad-sim-good``, a URL slug).
:func:`check_names` refuses names that would merge two models.

Examples
--------
>>> slug("Sim_Good v2"), field_prefix("sim-good"), metric_field("sim-good", "mad", "unknown")
('sim-good-v2', 'sim_good', 'sim_good_unknown_mad_in_1e-3')
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vbbench.errors import BrowseError, ScoreError
from vbbench.metrics import METRICS
from vbbench.pairing import find_mattes
from vbbench.score import read_per_image
from vbbench.summary import load_summary

__all__ = [
    "ScoreRun",
    "load_run",
    "check_names",
    "slug",
    "field_prefix",
    "metric_field",
    "metric_label",
    "score_field",
    "error_field",
    "prediction_slice",
    "error_slice",
]

GENERIC_FOLDERS = {"preds", "pred", "predictions", "prediction", "mattes", "alpha", "output", "outputs", "out"}


# ---- names -----------------------------------------------------------------------------------


def slug(name: str) -> str:
    """``name`` as FiftyOne writes it in URLs (``fiftyone.core.utils.to_slug``): lower-case
    letters and digits, whitespace and ``+_.-`` as ``-``, runs of ``-`` merged, none at the ends."""
    kept = re.sub(r"[\s+_.\-]", "-", name.lower())
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "", kept)).strip("-")


def field_prefix(model: str) -> str:
    """The FiftyOne field prefix of a model (``sim-good`` → ``sim_good``)."""
    prefix = re.sub(r"[^0-9A-Za-z_]", "_", model)
    return prefix if not prefix.startswith("_") else f"m{prefix}"


def metric_field(model: str, metric: str, region: str = "whole") -> str:
    """A model's metric in display units: ``sim_good_mad_in_1e-3``, ``sim_good_unknown_mad_in_1e-3``
    (trimap band); the unit part is :func:`vbbench.units.key`."""
    band = "" if region == "whole" else f"{region}_"
    return f"{field_prefix(model)}_{band}{METRICS[metric].display_key}"


def metric_label(model: str, metric: str, region: str = "whole") -> str:
    """The same quantity in the tables' notation: ``sim-good MAD (×10⁻³)``,
    ``sim-good MAD, unknown band (×10⁻³)``."""
    from vbbench.units import header

    spec = METRICS[metric]
    band = "" if region == "whole" else f", {region} band"
    return f"{model} {header(spec.label + band, spec.display_scale)}"


def score_field(model: str) -> str:
    """The badge of a model in the grid: ``MAD (×10⁻³) 1.933 · sim-good`` (a string, so the app
    shows its text; a float badge would be a bare number)."""
    return f"{field_prefix(model)}_score"


def error_field(model: str) -> str:
    """The exact |p − g| heatmap drawn over the image."""
    return f"{field_prefix(model)}_error"


def prediction_slice(model: str) -> str:
    return f"{slug(model)}-prediction"


def error_slice(model: str) -> str:
    return f"{slug(model)}-error"


# ---- score runs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreRun:
    """One ``vbbench score`` output folder, the model it is named for and the files it scored."""

    model: str
    name_source: str  # "--name", "model.json" or "folder name"
    folder: Path
    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    pred_dir: Path
    predictions: dict[str, Path]
    ground_truth: dict[str, Path]

    @property
    def resize(self) -> bool:
        return bool(self.summary["options"].get("resize"))

    @property
    def variant(self) -> str:
        return (self.summary.get("dataset") or {}).get("variant") or "original"

    def fingerprint(self) -> str:
        """SHA-256 of the run's summary and per-image table: changes whenever it is scored again."""
        digest = hashlib.sha256()
        for name in ("summary.json", "per_image.csv"):
            digest.update((self.folder / name).read_bytes())
        return digest.hexdigest()


def _resolve(path: str, folder: Path) -> Path:
    """A folder a summary names: as written (``score`` records it relative to where it ran), else
    relative to the run folder or one of its parents."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.is_dir():
        return candidate
    for base in (folder, *folder.resolve().parents):
        if (base / candidate).is_dir():
            return base / candidate
    return candidate


def load_run(folder: str | os.PathLike, name: str | None = None) -> ScoreRun:
    """Read a score output folder (``summary.json``, ``per_image.csv``) and name its model.

    The name is ``name`` if given, else the ``"name"`` of ``model.json`` beside the predictions,
    else the prediction folder's name.
    """
    folder = Path(folder)
    try:
        summary = load_summary(folder / "summary.json")
    except ScoreError as problem:
        raise BrowseError(f"{problem} (pass folders written by `vbbench score --out`)") from None
    options = summary["options"]
    pred_dir, gt_dir = _resolve(options["pred_dir"], folder), _resolve(options["gt_dir"], folder)
    for what, path in (("prediction", pred_dir), ("ground-truth", gt_dir)):
        if not path.is_dir():
            raise BrowseError(f"{folder / 'summary.json'}: its {what} folder {path} is gone (scored elsewhere?)")
    source = "--name"
    if not name:
        meta = pred_dir / "model.json"
        if meta.is_file():
            try:
                name = json.loads(meta.read_text(encoding="utf-8")).get("name")
            except (OSError, ValueError, AttributeError) as problem:
                raise BrowseError(f"{meta}: not a readable model.json ({problem}); pass --name for this run") from None
        source = "model.json"
    if not name:
        name, source = pred_dir.resolve().name, "folder name"
    if not slug(str(name)):
        raise BrowseError(f"{folder}: model name {name!r} ({source}) has no letter or digit; pass --name")
    return ScoreRun(
        model=str(name),
        name_source=source,
        folder=folder,
        summary=summary,
        rows=read_per_image(folder / "per_image.csv"),
        pred_dir=pred_dir,
        predictions=find_mattes(pred_dir),
        ground_truth=find_mattes(gt_dir),
    )


def _suggest(run: ScoreRun) -> str:
    """A name to propose: the nearest folder above the predictions that is not a generic one."""
    parts = [part for part in run.pred_dir.resolve().parts if part.lower() not in GENERIC_FOLDERS]
    return slug(parts[-1] if parts else run.folder.name) or "model"


def check_names(runs: list[ScoreRun], known: dict[str, dict[str, dict]] | None = None, replace: bool = False) -> None:
    """Refuse runs that would land on one model.

    Two runs of one variant may not share a name, and no two names may share a field prefix or
    URL slug (``a-b`` and ``a_b``), since their fields and slices would merge. ``known`` maps the
    models already in the dataset to ``{variant: record}``: a run of a known model and variant from
    another folder would replace that model's numbers, which needs ``replace``.

    Raises
    ------
    BrowseError
        Naming both folders, where each name came from, and a command line that names them apart.
    """
    known = known or {}
    seen: dict[tuple[str, str], ScoreRun] = {}
    for run in runs:
        other = seen.setdefault((run.variant, run.model), run)
        if other.folder.resolve() != run.folder.resolve():
            raise BrowseError(
                f"runs {other.folder} and {run.folder} are both named {run.model!r} (from {other.name_source} "
                f"and {run.name_source}): they would become one model. Name them apart with --name after "
                f"each run, e.g. --runs {other.folder} --name {_suggest(other)} --runs {run.folder} "
                f'--name {_suggest(run)}, or set "name" in the model.json beside each run\'s predictions'
            )
    where = {model: "already in the dataset" for model in known}
    for run in runs:
        where.setdefault(run.model, f"{run.name_source} of {run.folder}")
    for first, second in itertools.combinations(where, 2):
        for what, rule in (("field prefix", field_prefix), ("URL slug", slug)):
            if rule(first) == rule(second):
                raise BrowseError(
                    f"model names {first!r} ({where[first]}) and {second!r} ({where[second]}) share the "
                    f"{what} {rule(first)!r}, so their fields and views would merge; pass another --name"
                )
    for run in runs:
        record = known.get(run.model, {}).get(run.variant)
        if record and not replace and Path(record["run"]) != run.folder.resolve():
            raise BrowseError(
                f"the dataset already has model {run.model!r} on variant {run.variant!r} from {record['run']}; "
                f"{run.folder} ({run.name_source}) would replace its numbers. Give this run another name "
                f"(--runs {run.folder} --name {_suggest(run)}), or pass --replace to overwrite {run.model!r}"
            )


def pair_names(arguments: list[str]) -> list[tuple[Path, str | None]]:
    """Pair each ``--name NAME`` of a command line with the ``--runs`` before it.

    Parameters
    ----------
    arguments : list of str
        The ``browse`` command's arguments as typed (``--runs DIR``, ``--runs=DIR`` and the same
        for ``--name``; other options are skipped).

    Returns
    -------
    list of (Path, str or None)
        Every ``--runs`` folder in order, with its name or ``None``.

    Raises
    ------
    UsageError
        For a ``--name`` before any ``--runs``, or a second ``--name`` for one run.

    Examples
    --------
    >>> pair_names(["--runs", "a", "--name", "x", "--runs=b", "--launch"])
    [(PosixPath('a'), 'x'), (PosixPath('b'), None)]
    >>> pair_names(["--name", "x", "--runs", "a"])
    Traceback (most recent call last):
    ...
    vbbench.errors.UsageError: --name x: put it right after the --runs it names
    """
    from vbbench.errors import UsageError

    pairs: list[list[Any]] = []
    items = iter(arguments)
    for item in items:
        option, equals, value = item.partition("=")
        if option not in ("--runs", "--name"):
            continue
        if not equals:
            value = next(items, "")
        if option == "--runs":
            pairs.append([Path(value), None])
        elif not pairs or pairs[-1][1] is not None:
            raise UsageError(f"--name {value}: put it right after the --runs it names")
        else:
            pairs[-1][1] = value
    return [(folder, name) for folder, name in pairs]
