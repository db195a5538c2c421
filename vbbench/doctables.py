"""The tables in ``docs/`` that list declarations, generated from the declarations themselves.

Metrics, variants, models and datasets are declared once (:data:`vbbench.metrics.METRICS`,
:data:`vbbench.metrics.TEMPORAL_METRICS`, :data:`vbbench.variants.VARIANTS`,
:data:`vbbench.degradations.DEGRADATIONS`, :data:`vbbench.models.registry.MODELS`, the dataset cards).
Their tables in the documentation sit between ``<!-- generated: NAME -->`` and
``<!-- end generated -->`` and are rewritten by ``python scripts/render_docs.py``; a test fails
when a table is stale, so the docs never drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["TABLES", "render_tables", "update_file"]


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table() -> str:
    from vbbench import units
    from vbbench.metrics import METRICS

    rows = [[f"`{s.name}`", s.definition, s.raw_unit, s.header, s.border, s.reference] for s in METRICS.values()]
    table = _markdown(["metric", "definition", "raw unit", "tables show", "border", "reference"], rows)
    return table + "\n\n" + units.NOTATION


def clip_metrics_table() -> str:
    from vbbench import units
    from vbbench.metrics import TEMPORAL_METRICS

    rows = [
        [f"`{s.name}`", s.definition, s.raw_unit, s.header, s.needs, s.reference] for s in TEMPORAL_METRICS.values()
    ]
    table = _markdown(["metric", "definition", "raw unit", "tables show", "needs", "reference"], rows)
    return table + "\n\n" + units.NOTATION


def degradations_table() -> str:
    from vbbench.degradations import DEGRADATIONS

    rows = [
        [
            f"`{s.name}`",
            "untouched" if s.photometric else "transformed alike",
            "; ".join(f"{name}: {rule}" for name, rule in s.parameters.items()),
            f"`{s.extra}`" if s.extra else "—",
        ]
        for s in DEGRADATIONS.values()
    ]
    return _markdown(["variant", "ground truth", "drawn parameters (all in the manifest)", "extra"], rows)


def variants_table() -> str:
    from vbbench.variants import VARIANTS

    def frame(spec) -> str:
        shape = "16:9" if spec.landscape else "source"
        return f"{shape}, a clip per item" if spec.clips else shape

    rows = [[f"`{s.name}`", s.title, s.geometry, frame(s)] for s in VARIANTS.values()]
    return _markdown(["variant", "what a call sees", "geometry", "frame"], rows)


def models_table() -> str:
    from vbbench.models.registry import MODELS

    rows = [
        [
            f"`{s.name}`",
            s.notes,
            f"`{s.extra}`",
            f"{s.fixed_input[0]}×{s.fixed_input[1]}" if s.fixed_input else "--input",
        ]
        for s in MODELS.values()
    ]
    return _markdown(["model", "what it is", "extra", "input"], rows)


def model_kinds_table() -> str:
    from vbbench.models.registry import KINDS

    rows = [
        [
            f"`{k.name}`",
            k.form,
            f"`{k.example}`",
            f"`{k.extra}`" if k.extra else "—",
            "those of its `path`'s kind" if k.name == "card" else ", ".join(sorted(k.card_keys)) or "—",
        ]
        for k in KINDS.values()
    ]
    return _markdown(["kind", "--model", "example", "extra", "model-card keys that apply"], rows)


def model_card_table() -> str:
    from vbbench.models.card import KEYS

    return _markdown(
        ["key", "meaning", "default"], [[f"`{key}`", meaning, default] for key, (meaning, default) in KEYS.items()]
    )


def datasets_table() -> str:
    from vbbench.cards import get_dataset, list_datasets

    rows = []
    for name in list_datasets():
        card = get_dataset(name)
        size = f"{card.expected_width_px}×{card.expected_height_px}" if card.expected_width_px else "any"
        pairs = f"{card.expected_pairs:,}" if card.expected_pairs else "—"
        if card.expected_folder_pairs:
            pairs += " (" + " + ".join(f"{n:,} {f}" for f, n in card.expected_folder_pairs.items()) + ")"
        spec = card.split
        rule = (
            "authors' folders"
            if spec.rule == "folders"
            else f"units (groups + near-duplicates), {spec.test_fraction:.0%} ± {spec.tolerance:.0%} test"
        )
        limits = card.limits
        volume = "generated" if card.generated else "—"
        if limits.tree_bytes:
            volume = f"tree ≈ {limits.tree_bytes / 1e9:.3g} GB"
            if limits.archive_bytes:
                volume += f"; archive ≈ {limits.archive_bytes / 1e9:.3g} GB"
            if limits.archive_entries:
                volume += f", {limits.archive_entries:,} entries"
        forms = ", ".join(f"`{form.name}`" for form in card.layout.forms)
        if card.layout.duplicate_tree:
            forms += f" (alone inside `{card.layout.duplicate_tree}/`, or beside that second copy)"
        if card.layout.refuse:
            forms += "; refuses " + ", ".join(dict.fromkeys(r.name for r in card.layout.refuse))
        rows.append([f"`{name}`", card.title, pairs, size, volume, forms, card.licence, rule])
    header = ["card", "set", "pairs", "size (px)", "on disk", "forms accepted", "licence", "split rule"]
    return _markdown(header, rows)


TABLES: dict[str, Callable[[], str]] = {
    "metrics": metrics_table,
    "clip_metrics": clip_metrics_table,
    "variants": variants_table,
    "degradations": degradations_table,
    "models": models_table,
    "model-kinds": model_kinds_table,
    "model-card": model_card_table,
    "datasets": datasets_table,
}

_BLOCK = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)(<!-- end generated -->)", re.DOTALL)


def render_tables(text: str) -> str:
    """``text`` with every generated block rewritten from the declarations.

    Examples
    --------
    >>> out = render_tables("<!-- generated: variants -->\\nold\\n<!-- end generated -->")
    >>> out.splitlines()[1]
    '| variant | what a call sees | geometry | frame |'
    """

    def replace(match: re.Match) -> str:
        name = match[2]
        if name not in TABLES:
            raise KeyError(f"unknown generated table {name!r} (known: {', '.join(TABLES)})")
        return f"{match[1]}{TABLES[name]()}\n{match[4]}"

    return _BLOCK.sub(replace, text)


def update_file(path: str | Path, write: bool = True) -> bool:
    """Rewrite the generated blocks of one file; return whether it changed (with ``write=False``,
    whether it is stale)."""
    from vbbench.io import atomic_write_text

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    rendered = render_tables(text)
    if rendered != text and write:
        atomic_write_text(path, rendered)
    return rendered != text
