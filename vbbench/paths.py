"""Where vbbench keeps things on disk: the dataset cards, its home, archives and prepared data.

* :func:`datasets_dir` — the dataset cards: ``$VBBENCH_DATASETS_DIR``, else the checkout's
  top-level ``datasets/``, else the copy a built wheel carries (package ``vbbench_datasets``);
* :func:`vbbench_home` — ``$VBBENCH_HOME``, default the user cache folder
  (``pooch.os_cache("vbbench")``, e.g. ``~/.cache/vbbench``);
* :func:`archive_cache_dir` — verified downloads, ``$VBBENCH_HOME/archives``;
* :func:`default_data_dir` — prepared datasets, ``$VBBENCH_HOME/data`` (the layout of one
  prepared dataset is known only to :class:`vbbench.prepared.PreparedDataset`);
* :func:`models_cache_dir` — exported and downloaded model files, ``$VBBENCH_HOME/models``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["datasets_dir", "vbbench_home", "archive_cache_dir", "default_data_dir", "models_cache_dir"]


def datasets_dir() -> Path:
    """The folder of dataset cards (see the module docstring).

    Examples
    --------
    >>> (datasets_dir() / "shen2016" / "card.yaml").is_file()
    True
    """
    override = os.environ.get("VBBENCH_DATASETS_DIR")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parents[1] / "datasets"
    if (checkout / "sample" / "card.yaml").is_file():
        return checkout
    import vbbench_datasets  # a namespace package: the cards folder itself, no __init__.py

    return Path(next(iter(vbbench_datasets.__path__)))


def vbbench_home() -> Path:
    """``$VBBENCH_HOME``, default the user cache folder ``pooch.os_cache("vbbench")``."""
    override = os.environ.get("VBBENCH_HOME")
    if override:
        return Path(override)
    import pooch

    return Path(pooch.os_cache("vbbench"))


def archive_cache_dir() -> Path:
    """Where verified archives are kept: ``$VBBENCH_HOME/archives``."""
    return vbbench_home() / "archives"


def default_data_dir() -> Path:
    """Where prepared datasets live by default: ``$VBBENCH_HOME/data``."""
    return vbbench_home() / "data"


def models_cache_dir() -> Path:
    """Where exported and downloaded model files are kept: ``$VBBENCH_HOME/models``."""
    return vbbench_home() / "models"
