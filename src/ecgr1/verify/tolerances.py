"""The tolerance table: how far a stated value may be from the measurement (``tolerances.yaml``).

``tolerance = max(k * sd, floor, relative * |measured|)``, per quantity, with per-unit defaults
for quantities the table does not list. The numbers and their basis are in the YAML file, where
a reviewer can audit them; docs/verify.md prints the table.

>>> tol = load_tolerances()
>>> tol.tolerance("qrs_duration_ms", 100.0)  # 2 x 12.6 ms (LUDB record-level SD)
25.2
>>> tol.tolerance("qtc_bazett_ms", 420.0) == tol.tolerance("qtc_ms", 420.0)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ecgr1.errors import ECGR1Error
from ecgr1.protocol.quantities import unit_of

_KEYS = {"sd", "sd_few_leads", "floor", "relative", "basis"}


@dataclass(frozen=True)
class ToleranceRule:
    """One row: the SD it is built from, its floor and relative part, and why."""

    sd: float | None = None
    sd_few_leads: float | None = None  # records with fewer leads than ``few_leads_below``
    floor: float = 0.0
    relative: float = 0.0
    basis: str = ""


@dataclass(frozen=True)
class ToleranceTable:
    """Tolerances per quantity (and per unit as the default)."""

    k: float
    k_criteria: float
    k_few_leads: float
    hedge_factor: float
    few_leads_below: int
    units: dict[str, ToleranceRule]
    quantities: dict[str, ToleranceRule]
    aliases: dict[str, str] = field(default_factory=dict)
    path: str = ""

    def rule(self, quantity: str) -> ToleranceRule:
        """The rule of a quantity: its own row, its alias's, or its unit's default."""
        name = self.aliases.get(quantity, quantity)
        if name in self.quantities:
            return self.quantities[name]
        return self.units.get(unit_of(quantity), ToleranceRule())

    def tolerance(
        self,
        quantity: str,
        measured: float | None = None,
        hedged: bool = False,
        n_leads: int | None = None,
        criterion: bool = False,
    ) -> float:
        """The tolerance for ``quantity`` around a measured value (``hedge_factor`` times it
        when hedged); a record measured from fewer than ``few_leads_below`` leads uses the
        quantity's few-lead SD, since the engine's error is larger there. ``criterion``: the
        tolerance by which a criterion's threshold is moved (``k_criteria`` SDs: one-sided)."""
        r = self.rule(quantity)
        sd, k = r.sd, self.k_criteria if criterion else self.k
        if n_leads is not None and n_leads < self.few_leads_below and r.sd_few_leads is not None:
            sd, k = r.sd_few_leads, (k if criterion else self.k_few_leads)
        tol = max(k * sd if sd is not None else 0.0, r.floor)
        if measured is not None and math.isfinite(float(measured)):
            tol = max(tol, r.relative * abs(float(measured)))
        tol = round(tol, 3)
        return tol * self.hedge_factor if hedged else tol

    def rows(self) -> list[tuple[str, ToleranceRule]]:
        """(quantity, rule) for every listed quantity, for documentation."""
        return sorted(self.quantities.items())

    def markdown(self) -> str:
        """The table as docs/verify.md prints it (a test keeps the two identical)."""

        def num(x: float | None) -> str:
            return "-" if x is None else f"{x:g}"

        lines = [
            "| quantity | unit | sd, 12 leads | sd, < "
            f"{self.few_leads_below} leads | floor | relative | tolerance (12 / few leads) | basis |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for q, r in self.rows():
            rel = f"{r.relative * 100:g} %" if r.relative else "-"
            few = self.tolerance(q, n_leads=1)
            lines.append(
                f"| `{q}` | {unit_of(q)} | {num(r.sd)} | {num(r.sd_few_leads)} | {num(r.floor)} "
                f"| {rel} | **{self.tolerance(q):g}** / {few:g} | {r.basis} |"
            )
        return "\n".join(lines)


def _rule(name: str, row: Any) -> ToleranceRule:
    if not isinstance(row, dict) or set(row) - _KEYS:
        raise ECGR1Error(f"tolerance row {name!r} must be a mapping with keys {sorted(_KEYS)}")
    values = {
        k: row[k] for k in ("sd", "sd_few_leads", "floor", "relative") if row.get(k) is not None
    }
    for key, value in values.items():
        if not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
            raise ECGR1Error(f"tolerance {name}.{key} must be a non-negative number, not {value!r}")
    return ToleranceRule(
        sd=values.get("sd"),
        sd_few_leads=values.get("sd_few_leads"),
        floor=float(values.get("floor", 0.0)),
        relative=float(values.get("relative", 0.0)),
        basis=str(row.get("basis", "")),
    )


def parse_tolerances(data: dict[str, Any], path: str = "") -> ToleranceTable:
    """Validate the YAML structure of a tolerance table."""
    if not isinstance(data, dict):
        raise ECGR1Error(f"{path or 'tolerance table'}: not a mapping")
    k, hedge = data.get("k", 3.0), data.get("hedge_factor", 2.0)
    k_criteria, k_few = data.get("k_criteria", k), data.get("k_few_leads", k)
    if not all(isinstance(x, (int, float)) and x > 0 for x in (k, k_criteria, k_few, hedge)):
        raise ECGR1Error("tolerance table: k, k_criteria and k_few_leads must be > 0")
    if hedge < 1:
        raise ECGR1Error("tolerance table: hedge_factor must be >= 1")
    aliases = dict(data.get("aliases") or {})
    quantities = {q: _rule(q, r) for q, r in (data.get("quantities") or {}).items()}
    for alias, target in aliases.items():
        if target not in quantities:
            raise ECGR1Error(f"tolerance alias {alias} -> {target}: {target} is not listed")
    few = data.get("few_leads_below", 6)
    if not isinstance(few, int) or few < 1:
        raise ECGR1Error("tolerance table: few_leads_below must be a positive integer")
    return ToleranceTable(
        k=float(k),
        k_criteria=float(k_criteria),
        k_few_leads=float(k_few),
        hedge_factor=float(hedge),
        few_leads_below=few,
        units={u: _rule(u, r) for u, r in (data.get("units") or {}).items()},
        quantities=quantities,
        aliases=aliases,
        path=path,
    )


@lru_cache(maxsize=8)
def _load_cached(path: str) -> ToleranceTable:
    with open(path, encoding="utf-8") as f:
        return parse_tolerances(yaml.safe_load(f), path)


def load_tolerances(path: str | Path | None = None) -> ToleranceTable:
    """The packaged ``tolerances.yaml`` (or another file with the same structure)."""
    if path is None:
        path = str(resources.files("ecgr1.verify") / "tolerances.yaml")
    return _load_cached(str(path))
