"""The ``vbbench`` command line: parses arguments and delegates to the stage modules.

Heavy libraries (torch, onnxruntime, coremltools, fiftyone, dask) are imported inside the
commands that need them, so ``vbbench --help`` and ``vbbench score`` stay light.
Expected failures print one actionable line and end with ``raise typer.Exit(code=1) from None``.
"""

from __future__ import annotations

import typer

from vbbench import __version__

app = typer.Typer(
    name="vbbench",
    help="Curate portrait-matting datasets and score matting models for virtual backgrounds.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vbbench {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """vbbench: dataset curation and evaluation benchmark for portrait matting."""


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr and return the Exit to raise (``raise fail(...) from None``)."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=code)


# ---- score (scoring core) ------------------------------------------------------------------

# ---- sample (embedded generated data set) -------------------------------------------------

# ---- prepare / verify (dataset curation) ---------------------------------------------------

# ---- train / export / predict / bench (models) ---------------------------------------------

# ---- browse / leaderboard ------------------------------------------------------------------
