"""Which results may stand in one table: the same benchmark version, dataset, variant, split and
metric conventions, and nothing else.

A table, a paired comparison or a plot that mixed two datasets, two variants, two splits or two
sets of conventions would rank numbers that measure different things (a user's 4-image
``call16x9`` result of the same weights once seemed to beat the board's 40-image one). Every table
of the board is built from one :class:`Group`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from vbbench.metrics import METRICS, REFERENCE, TEMPORAL_METRICS
from vbbench.metrics.conventions import TEMPORAL_REFERENCE
from vbbench.results import is_reference

__all__ = ["Group", "group_results", "conventions_label", "MIN_RELIABLE_N", "MAIN_METRIC", "metric_spec"]

#: Below this many images (or clips) a mean's interval means little: the board marks and warns.
MIN_RELIABLE_N = 30
MAIN_METRIC = "mad"


def metric_spec(name: str):
    """The declaration of a still or clip metric."""
    return TEMPORAL_METRICS[name] if name in TEMPORAL_METRICS else METRICS[name]


def conventions_label(result: dict[str, Any]) -> str:
    """``""`` for a result scored under the reference conventions, else the settings that differ
    (``conn_ties=row-major``): results with different labels are never ranked together.

    Examples
    --------
    >>> conventions_label({"summary": {"reference_conventions": False, "conventions": {"conn_ties": "row-major"}}})
    'conn_ties=row-major'
    """
    if is_reference(result):
        return ""
    conventions = result["summary"].get("conventions", {})
    reference = {**vars(REFERENCE), **vars(TEMPORAL_REFERENCE)}
    changed = {name: value for name, value in conventions.items() if value != reference.get(name, value)}
    return ", ".join(f"{name}={value}" for name, value in sorted(changed.items()))


@dataclass(frozen=True)
class Group:
    """Results that are comparable with each other."""

    benchmark_version: str
    dataset: str
    variant: str
    split_sha256: str | None
    conventions: str
    results: tuple[dict[str, Any], ...]

    @property
    def partial(self) -> bool:
        return any(result["dataset"].get("partial") for result in self.results)

    @property
    def unit(self) -> str:
        return self.results[0]["per_unit"]["unit"]

    def regions(self) -> list[str]:
        """``whole`` first, then the others by name."""
        found = {region for result in self.results for region in result["summary"]["scores"]}
        return sorted(found, key=lambda region: (region != "whole", region))

    def metrics(self, region: str) -> list[str]:
        """The metrics any result of the group scored in ``region``, in declaration order."""
        present = {name for result in self.results for name in result["summary"]["scores"].get(region, {})}
        return [name for name in (*METRICS, *TEMPORAL_METRICS) if name in present]

    def ranked(self, region: str) -> list[dict[str, Any]]:
        """The results with ``region``, best mean MAD first (then by name, for a stable order)."""

        def rank(result: dict[str, Any]) -> tuple[float, str]:
            scores = result["summary"]["scores"].get(region, {})
            main = scores.get(MAIN_METRIC) or next(iter(scores.values()))
            return main["mean"], result["model"]["name"]

        return sorted((r for r in self.results if region in r["summary"]["scores"]), key=rank)

    def smallest_n(self) -> int:
        return min(next(iter(r["summary"]["scores"]["whole"].values()))["n"] for r in self.results
                   if "whole" in r["summary"]["scores"])  # fmt: skip


def group_results(results: list[dict[str, Any]]) -> list[Group]:
    """Comparable groups of ``results``, in a fixed order (version, dataset, variant in declaration
    order, split, conventions).

    Examples
    --------
    >>> group_results([])
    []
    """
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        key = (
            result["benchmark_version"],
            result["dataset"]["name"],
            result["dataset"]["variant"],
            result["dataset"].get("split_sha256") or "",
            conventions_label(result),
        )
        groups[key].append(result)
    return [
        Group(
            version,
            dataset,
            variant,
            split or None,
            conventions,
            tuple(sorted(found, key=lambda r: r["model"]["name"])),
        )
        for (version, dataset, variant, split, conventions), found in sorted(groups.items(), key=_declared_order)
    ]


def _declared_order(item) -> tuple:
    """Groups by version and dataset, then variants in their declared order (original first), then
    split and conventions."""
    from vbbench.variants import VARIANTS

    (version, dataset, variant, split, conventions), _ = item
    names = VARIANTS.names()
    rank = names.index(variant) if variant in names else len(names)
    return version, dataset, rank, variant, split, conventions
