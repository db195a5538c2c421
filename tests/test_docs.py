"""The documentation's declaration tables are generated from the code and never stale."""

from __future__ import annotations

from pathlib import Path

from vbbench.doctables import TABLES, update_file

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"])


def test_generated_tables_are_up_to_date():
    stale = [str(path.relative_to(ROOT)) for path in DOCS if update_file(path, write=False)]
    assert not stale, f"run `python scripts/render_docs.py`: stale tables in {', '.join(stale)}"


def test_every_table_appears_in_the_docs():
    text = "".join(path.read_text(encoding="utf-8") for path in DOCS)
    for name in TABLES:
        assert f"<!-- generated: {name} -->" in text, name
