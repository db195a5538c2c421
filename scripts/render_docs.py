"""Rewrite the generated tables in docs/ and README.md from the declarations (metrics, variants,
models, datasets): `python scripts/render_docs.py`. tests/test_docs.py fails when one is stale."""

from pathlib import Path

from vbbench.doctables import update_file

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    for path in sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"]):
        if update_file(path):
            print(f"wrote {path.relative_to(ROOT)}")
