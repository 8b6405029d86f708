"""Checking claims against a record's measurements and the criteria table.

Numeric claims are compared with the measured value of their quantity: a difference larger
than the quantity's tolerance (``tolerances.yaml``) contradicts the claim; a value within it
supports it. Bounds ("QRS < 120 ms") and ranges are contradicted only when the measurement is
beyond the bound by more than the tolerance.

Categorical claims are checked through ``checks.yaml``, which says what each finding means in
terms of the criteria table. The expression is evaluated twice:

* at the table's thresholds (*nominal*): this is what the protocol itself concludes, and an
  affirmed claim that agrees with it is supported;
* with every threshold moved by its quantity's tolerance in the claim's favour (*robust*, Kleene
  three-valued logic, so an unmeasured criterion never decides): only a claim that is still on
  the wrong side is contradicted.

So a contradiction always means "the measurement is clearly on the other side": a value that
the engine's own error could explain is "not checkable: within tolerance", never a hallucination.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from ecgr1.errors import ECGR1Error
from ecgr1.measure.result import MeasurementResult
from ecgr1.protocol.engine import evaluate_criterion
from ecgr1.protocol.quantities import global_value, lead_usable, lead_value, unit_of
from ecgr1.protocol.table import CriteriaTable, CriterionSpec, expression_ids, load_table
from ecgr1.protocol.types import Interpretation
from ecgr1.verify import claims as C
from ecgr1.verify.claims import Claim, ClaimVerdict
from ecgr1.verify.tolerances import ToleranceTable, load_tolerances

Tri = bool | None  # Kleene truth value: True, False, or None (cannot tell)

# Units whose criteria depend on absolute voltage (meaningless when every lead was rescaled).
AMPLITUDE_UNITS = frozenset({"mV", "mV*ms", "mV/s", "ratio"})
QTC_FORMULAS = ("qtc_framingham_ms", "qtc_hodges_ms", "qtc_fridericia_ms", "qtc_bazett_ms")
# Numeric claims stated as magnitudes ("S wave 1.2 mV deep"): compared with |measured|.
MAGNITUDE_QUANTITIES = frozenset({"s_amplitude_mv", "q_amplitude_mv"})
AXIS_QUANTITIES = frozenset({"p_axis_deg", "qrs_axis_deg", "t_axis_deg"})
CATEGORY_OPERATORS = frozenset({"==", "!=", "in", "not_in"})


# ------------------------------------------------------------------ the checks table


@dataclass(frozen=True)
class ConceptCheck:
    """One row of ``checks.yaml``."""

    id: str
    holds: Any
    refuted_by: Any = (
        None  # robustly true -> an affirmed claim is contradicted (default: not holds)
    )
    leads: tuple[str, ...] = ()
    statements: tuple[str, ...] = ()
    qualifiers: dict[str, Any] = field(default_factory=dict)
    decidable: bool = True
    descriptive: bool = False  # criteria without their category conditions (ST shape)
    descriptive_threshold: float | None = None  # and this threshold (T inversion: T < 0)
    amplitude: bool = False
    tolerance_factor: float = 1.0


@dataclass(frozen=True)
class CheckTable:
    """Every concept's check, and the precedence rules that make statements inapplicable."""

    concepts: dict[str, ConceptCheck]
    inapplicable_when: tuple[str, ...]


def _validate(check: ConceptCheck, table: CriteriaTable) -> None:
    known = set(table.criteria) | set(table.statements)
    exprs = [check.holds, *check.qualifiers.values()]
    if check.refuted_by is not None:
        exprs.append(check.refuted_by)
    for name in (i for e in exprs for i in expression_ids(e)):
        if name not in known:
            raise ECGR1Error(f"checks.yaml: concept {check.id!r} names unknown {name!r}")
    for pattern in check.leads:
        if not fnmatch.filter(table.criteria, pattern):
            raise ECGR1Error(f"checks.yaml: concept {check.id!r}: no criterion matches {pattern!r}")


def parse_checks(data: dict[str, Any], table: CriteriaTable) -> CheckTable:
    """Validate ``checks.yaml`` against the criteria table it refers to."""
    concepts = {}
    for cid, row in (data.get("concepts") or {}).items():
        check = ConceptCheck(
            id=cid,
            holds=row["holds"],
            refuted_by=row.get("refuted_by"),
            leads=tuple(row.get("leads") or ()),
            statements=tuple(row.get("statements") or ()),
            qualifiers=dict(row.get("qualifiers") or {}),
            decidable=bool(row.get("decidable", True)),
            descriptive=bool(row.get("descriptive", False)),
            descriptive_threshold=row.get("descriptive_threshold"),
            amplitude=bool(row.get("amplitude", False)),
            tolerance_factor=float(row.get("tolerance_factor", 1.0)),
        )
        _validate(check, table)
        concepts[cid] = check
    return CheckTable(concepts, tuple(data.get("inapplicable_when") or ()))


@lru_cache(maxsize=4)
def _load_checks(path: str, table_path: str) -> CheckTable:
    with open(path, encoding="utf-8") as f:
        return parse_checks(yaml.safe_load(f), load_table(table_path or None))


def load_checks(table: CriteriaTable | None = None) -> CheckTable:
    """The packaged ``checks.yaml``, validated against ``table`` (default: the packaged one)."""
    table = table or load_table()
    path = str(resources.files("ecgr1.verify") / "checks.yaml")
    if table.path:
        return _load_checks(path, table.path)
    with open(path, encoding="utf-8") as f:
        return parse_checks(yaml.safe_load(f), table)


# ------------------------------------------------------------------ robust criteria


def _shift(threshold: Any, delta: float) -> Any:
    """Add ``delta`` to a numeric threshold (each value of a per-lead dict)."""
    if isinstance(threshold, bool) or threshold is None:
        return threshold
    if isinstance(threshold, dict):
        return {k: _shift(v, delta) for k, v in threshold.items()}
    if isinstance(threshold, (int, float)):
        return threshold + delta
    return threshold


def _moved(operator: str, threshold: Any, tol: float, harder: bool) -> Any:
    """The threshold moved by ``tol`` to make the test harder (or easier) to meet."""
    sign = 1.0 if harder else -1.0
    if operator in (">", ">="):
        return _shift(threshold, sign * tol)
    if operator in ("<", "<="):
        return _shift(threshold, -sign * tol)
    if operator == "between" and isinstance(threshold, (list, tuple)):
        lo, hi = (float(t) for t in threshold)
        return [lo + sign * tol, hi - sign * tol]
    return threshold  # categories: compared as they are


def _reference(threshold: Any) -> float:
    """A magnitude for the relative part of a criterion's tolerance."""
    if isinstance(threshold, dict):
        values = [abs(v) for v in threshold.values() if isinstance(v, (int, float))]
        return max(values, default=0.0)
    if isinstance(threshold, (list, tuple)):
        values = [abs(v) for v in threshold if isinstance(v, (int, float))]
        return max(values, default=0.0)
    return abs(threshold) if isinstance(threshold, (int, float)) else 0.0


def _moved_spec(
    spec: CriterionSpec, tol: ToleranceTable, factor: float, harder: bool, n_leads: int | None
) -> CriterionSpec:
    """``spec`` with its thresholds (variants and ``also`` conditions too) moved."""

    def move(quantity: str, operator: str, threshold: Any) -> Any:
        ref = _reference(threshold)
        t = tol.tolerance(quantity, ref, n_leads=n_leads, criterion=True) * factor
        if ref > 0:
            # A small threshold (Q depth < 0.05 mV) must not move past zero, where the test
            # changes meaning; half of it is the most it moves.
            t = min(t, 0.5 * ref)
        return _moved(operator, threshold, t, harder)

    q = spec.quantity[0]
    return dataclasses.replace(
        spec,
        threshold=move(q, spec.operator, spec.threshold),
        variants=[
            dataclasses.replace(v, threshold=move(q, spec.operator, v.threshold))
            if v.threshold is not None
            else v
            for v in spec.variants
        ],
        also=[
            dataclasses.replace(c, threshold=move(c.quantity, c.operator, c.threshold))
            for c in spec.also
        ],
    )


@dataclass(frozen=True)
class Description:
    """How an affirmed descriptive claim reads its criteria: without their category conditions
    and, when ``threshold`` is set, with that threshold ("T waves inverted": T below 0 mV,
    where the table's statement asks -0.1 mV)."""

    threshold: float | None = None


def _described(spec: CriterionSpec, d: Description | None) -> CriterionSpec:
    if d is None:
        return spec
    spec = _without_categories(spec)
    if d.threshold is not None and spec.operator in ("<", "<=", ">", ">="):
        spec = dataclasses.replace(spec, threshold=d.threshold, variants=[])
    return spec


def _without_categories(spec: CriterionSpec) -> CriterionSpec:
    """``spec`` without its category conditions (e.g. the ST shape of ST depression)."""
    also = [c for c in spec.also if c.operator not in CATEGORY_OPERATORS]
    return dataclasses.replace(spec, also=also)


def _scale_free(spec: CriterionSpec) -> bool:
    """Whether a criterion survives every lead being rescaled: not voltage-based, or a sign
    test (threshold 0)."""
    if spec.unit not in AMPLITUDE_UNITS:
        return True
    return _reference(spec.threshold) == 0.0


# ------------------------------------------------------------------ the context of one record


class RecordChecker:
    """Everything about one interpretation that the checks need, computed once."""

    def __init__(
        self,
        interp: Interpretation,
        table: CriteriaTable,
        tolerances: ToleranceTable,
        checks: CheckTable,
    ) -> None:
        self.interp = interp
        self.m: MeasurementResult = interp.measurements
        self.table = table
        self.tol = tolerances
        self.checks = checks
        self.normalised = bool(self.m.quality.amplitude_normalised)
        self.quality = self.m.quality.overall
        # leads the record was measured from (the engine's error grows with fewer leads)
        usable = [ld for ld in self.m.leads if lead_usable(self.m, ld)]
        self.n_leads = len(usable) or len(self.m.leads)
        self._robust: dict[tuple[str, float, bool, Description | None], Tri] = {}
        self.inapplicable = self._inapplicable()

    # ---- criteria

    def eval_spec(self, spec: CriterionSpec) -> Tri:
        """The criterion's outcome; with the sex unknown and a sex-specific threshold, an
        outcome only when both sexes' thresholds agree."""
        sexes = [self.interp.sex]
        if self.interp.sex is None and any("sex" in v.when for v in spec.variants):
            sexes = ["M", "F"]
        outcomes = {
            evaluate_criterion(spec, self.m, self.interp.age, sex, self.table.plausible_ranges).met
            for sex in sexes
        }
        return outcomes.pop() if len(outcomes) == 1 else None

    def nominal(self, cid: str, description: Description | None = None) -> Tri:
        """The criterion at the table's thresholds (as the protocol evaluated it), or as a
        descriptive claim reads it (:class:`Description`): "ST depression" describes the
        measurement, not its interpretation."""
        spec = self.table.criteria[cid]
        if self.normalised and not _scale_free(spec):
            return None
        described = _described(spec, description)
        if described != spec:
            return self.eval_spec(described)
        res = self.interp.criteria.get(cid)
        return res.met if res is not None else self.eval_spec(spec)

    def robust(
        self,
        cid: str,
        factor: float,
        hedged: bool = False,
        description: Description | None = None,
    ) -> Tri:
        """True when met even with the threshold moved against it by the tolerance, False
        when not met even with it moved in its favour, None otherwise."""
        key = (cid, factor, hedged, description)
        if key not in self._robust:
            spec = _described(self.table.criteria[cid], description)
            self._robust[key] = self.robust_spec(spec, factor, hedged)
        return self._robust[key]

    def robust_spec(self, spec: CriterionSpec, factor: float, hedged: bool) -> Tri:
        if self.normalised and not _scale_free(spec):
            return None
        f = factor * (self.tol.hedge_factor if hedged else 1.0)
        if self.eval_spec(_moved_spec(spec, self.tol, f, True, self.n_leads)) is True:
            return True
        if self.eval_spec(_moved_spec(spec, self.tol, f, False, self.n_leads)) is False:
            return False
        return None

    # ---- expressions (criterion ids and statement ids)

    def evaluate(self, expr: Any, leaf: Callable[[str], Tri]) -> Tri:
        """Kleene evaluation; a statement id stands for its ``requires`` expression."""
        if isinstance(expr, str):
            if expr in self.table.criteria:
                return leaf(expr)
            return self.evaluate(self.table.statements[expr].requires, leaf)
        if "all" in expr:
            vals = [self.evaluate(e, leaf) for e in expr["all"]]
            return False if False in vals else (None if None in vals else True)
        if "any" in expr:
            vals = [self.evaluate(e, leaf) for e in expr["any"]]
            return True if True in vals else (None if None in vals else False)
        if "not" in expr:
            v = self.evaluate(expr["not"], leaf)
            return None if v is None else not v
        if "at_least" in expr:
            vals = [self.evaluate(e, leaf) for e in expr["of"]]
            n_true, n_none = vals.count(True), vals.count(None)
            n = int(expr["at_least"])
            return True if n_true >= n else (False if n_true + n_none < n else None)
        raise ECGR1Error(f"bad expression {expr!r}")

    # ---- precedence

    def _active(self, name: str) -> bool:
        if name in self.table.criteria:
            res = self.interp.criteria.get(name)
            return bool(res is not None and res.met is True)
        return self.interp.has(name)

    def _inapplicable(self) -> dict[str, str]:
        """Statement id -> why its criteria do not apply to this record: a precedence rule of
        ``checks.inapplicable_when``, or an input that cannot assess the statement (too few
        leads, uncalibrated, too short: ``Interpretation.not_assessable``), where criteria
        read on the leads there are would contradict a claim the input cannot decide."""
        out: dict[str, str] = {
            x.statement: f"not assessable from this input ({x.reason})"
            for x in self.interp.not_assessable
        }
        for rule in self.table.precedence:
            if rule.when not in self.checks.inapplicable_when or not self._active(rule.when):
                continue
            if rule.unless is not None and self._active(rule.unless):
                continue
            for sid, spec in self.table.statements.items():
                if sid == rule.when or any(fnmatch.fnmatch(sid, p) for p in rule.except_):
                    continue
                hit = any(
                    fnmatch.fnmatch(sid, p) or (p == "fine_grained" and spec.fine_grained)
                    for p in rule.suppress
                )
                if hit:
                    out.setdefault(sid, rule.reason)
        return out

    def inapplicable_reason(self, check: ConceptCheck, leads: tuple[str, ...] = ()) -> str | None:
        """Why a concept's statements do not apply here, or None. With ``leads``, only
        statements about those leads count (RBBB makes V1-V3 T inversion secondary, not
        inferior T inversion)."""
        for pattern in check.statements:
            for sid in fnmatch.filter(self.inapplicable, pattern):
                if leads and not set(leads) & self._statement_leads(sid):
                    continue
                return f"not applicable: {self.inapplicable[sid]}"
        return None

    def _statement_leads(self, sid: str) -> set[str]:
        """Leads tested by the criteria of a statement (empty: a record-level statement)."""
        ids = expression_ids(self.table.statements[sid].requires)
        return {
            ld
            for cid in ids
            if cid in self.table.criteria
            for ld in self.table.criteria[cid].leads or ()
        }


# ------------------------------------------------------------------ categorical claims


def _verdict_from(
    claim: Claim, nominal: Tri, robust: Tri, decidable: bool, measured: bool = True
) -> tuple[str, str]:
    """(verdict, reason) of a categorical claim from its nominal and robust truth."""
    if claim.negated and not decidable:
        # criteria that cannot rule a finding out cannot support its denial either
        return "not_checkable", f"{C.REASON_NOT_DEFINED}: the criteria are specific, not sensitive"
    if claim.negated:
        if nominal is False:
            return "supported", "the protocol's criteria are not met"
        if robust is True and decidable:
            return "contradicted", "the criteria are met beyond the tolerance"
    else:
        if nominal is True:
            return "supported", "the protocol's criteria are met"
        if robust is False and decidable:
            return "contradicted", "the criteria are not met, beyond the tolerance"
    if not decidable and nominal is not None:
        return "not_checkable", f"{C.REASON_NOT_DEFINED}: the criteria are specific, not sensitive"
    if not measured:
        return "not_checkable", f"{C.REASON_NOT_MEASURED}: its criteria could not be evaluated"
    return "not_checkable", (
        f"{C.REASON_BORDERLINE}: the measurement is near the threshold, or some criteria "
        "could not be evaluated"
    )


def _criteria_of(rc: RecordChecker, expr: Any) -> list[str]:
    """The criterion ids an expression consults, statements expanded."""
    ids: list[str] = []
    pending = [expr]
    while pending:
        e = pending.pop()
        for name in expression_ids(e):
            if name in rc.table.criteria:
                ids.append(name)
            elif name in rc.table.statements:
                pending.append(rc.table.statements[name].requires)
    return list(dict.fromkeys(ids))


def _evidence(rc: RecordChecker, expr: Any) -> list[dict[str, Any]]:
    """The criteria an expression consulted, with their measured values."""
    out = []
    for cid in _criteria_of(rc, expr):
        res = rc.interp.criteria.get(cid)
        if res is not None:
            out.extend(ev.to_dict() for ev in res.evidence)
    return out[:24]


def _lead_specs(
    rc: RecordChecker, check: ConceptCheck, lead: str, description: Description | None
) -> list[CriterionSpec]:
    """For each of the concept's lead families, its first criterion that tests ``lead``, made a
    one-lead test (without its category conditions when ``descriptive``). "Ischaemia in V4-V6"
    is ST elevation, ST depression or T inversion there: every family counts."""
    out = []
    for pattern in check.leads:
        for cid in fnmatch.filter(rc.table.criteria, pattern):
            spec = rc.table.criteria[cid]
            if spec.leads and lead in spec.leads:
                spec = _described(spec, description)
                out.append(dataclasses.replace(spec, leads=[lead], min_leads=1))
                break
    return out


def _any(values: list[Tri]) -> Tri:
    """Kleene "or"."""
    return True if True in values else (None if None in values else False)


def _check_leads(rc: RecordChecker, claim: Claim, check: ConceptCheck) -> ClaimVerdict:
    """A finding stated in named leads, decided lead by lead with the table's "two leads"
    rule: it holds when at least two of the named leads (the one, if one is named) meet the
    criterion, and is contradicted when so many fail it beyond the tolerance that two cannot."""
    description = _description(check, claim)
    specs = {ld: _lead_specs(rc, check, ld, description) for ld in claim.leads}
    specs = {ld: s for ld, s in specs.items() if s and ld in rc.m.leads}
    if not specs:
        return ClaimVerdict(
            claim,
            "not_checkable",
            f"{C.REASON_LEAD_MISSING}: no criterion for this finding in {', '.join(claim.leads)}",
        )
    if rc.normalised and not all(_scale_free(x) for s in specs.values() for x in s):
        return ClaimVerdict(claim, "not_checkable", C.REASON_AMPLITUDE)
    factor = check.tolerance_factor
    nominal = {ld: _any([rc.eval_spec(x) for x in s]) for ld, s in specs.items()}
    robust = {
        ld: _any([rc.robust_spec(x, factor, claim.hedged) for x in s]) for ld, s in specs.items()
    }
    verdict, yes = _lead_verdict(claim, check, nominal, robust)
    first = {ld: s[0].quantity[0] for ld, s in specs.items()}
    shown = {ld: _rounded(lead_value(rc.m, ld, q)) for ld, q in first.items()}
    if verdict is None:
        reason = (
            f"{C.REASON_NOT_DEFINED}: the criteria are specific, not sensitive"
            if not check.decidable
            else f"{C.REASON_BORDERLINE} or not measured in enough of the named leads"
        )
        return ClaimVerdict(claim, "not_checkable", reason, measured=shown)
    reason = f"{yes} of {len(specs)} named leads meet the protocol's criterion"
    return ClaimVerdict(claim, verdict, reason, measured=shown)


def _lead_verdict(
    claim: Claim, check: ConceptCheck, nominal: dict[str, Tri], robust: dict[str, Tri]
) -> tuple[str | None, int]:
    """(verdict or None, number of leads meeting the criterion) by the two-lead rule. A finding
    that is not decidable is neither contradicted nor supported when denied."""
    min_leads = min(2, len(nominal))
    yes = sum(v is True for v in nominal.values())
    if not check.decidable:
        return ("supported" if yes >= min_leads and not claim.negated else None), yes
    if claim.negated:
        if sum(v is True for v in robust.values()) >= min_leads:
            return "contradicted", yes
        return ("supported" if yes < min_leads and None not in nominal.values() else None), yes
    if len(robust) - sum(v is False for v in robust.values()) < min_leads:
        return "contradicted", yes
    return ("supported" if yes >= min_leads else None), yes


def _rounded(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _description(check: ConceptCheck, claim: Claim) -> Description | None:
    """How the claim reads its criteria: descriptively when affirmed (a denial keeps the
    table's categories and thresholds: readers deny the clinical finding)."""
    if not check.descriptive or claim.negated:
        return None
    return Description(check.descriptive_threshold)


def check_categorical(rc: RecordChecker, claim: Claim) -> ClaimVerdict:
    """Verdict of a categorical claim (see the module docstring)."""
    check = rc.checks.concepts.get(claim.concept)
    if check is None:
        return ClaimVerdict(
            claim, "not_checkable", f"{C.REASON_NOT_DEFINED}: no check for {claim.concept!r}"
        )
    if check.amplitude and rc.normalised:
        return ClaimVerdict(claim, "not_checkable", C.REASON_AMPLITUDE)
    why = rc.inapplicable_reason(check, claim.leads if check.leads else ())
    if why:
        return ClaimVerdict(claim, "not_checkable", why)
    if claim.leads and check.leads:
        return _check_leads(rc, claim, check)
    expr = check.qualifiers.get(claim.qualifier or "", check.holds)
    nominal, robust = _truth(rc, check, claim, expr)
    consulted = _criteria_of(rc, expr)
    if check.refuted_by is not None:
        consulted += _criteria_of(rc, check.refuted_by)
    measured = any(rc.nominal(cid) is not None for cid in consulted)
    verdict, reason = _verdict_from(claim, nominal, robust, check.decidable, measured)
    if verdict == "not_checkable" and rc.normalised and not reason.startswith(C.REASON_NOT_DEFINED):
        if any(not _scale_free(rc.table.criteria[cid]) for cid in consulted):
            reason = f"{C.REASON_AMPLITUDE}: some of its criteria are voltages"
    return ClaimVerdict(
        claim, verdict, reason, measured=_measured_text(nominal), evidence=_evidence(rc, expr)
    )


def _truth(rc: RecordChecker, check: ConceptCheck, claim: Claim, expr: Any) -> tuple[Tri, Tri]:
    """(nominal, robust) truth of a finding's expression for this claim. ``refuted_by``,
    where given, is what contradicts an affirmed claim, and what supports a denial the
    expression alone cannot decide ("no LVH" without the sex for the Cornell product)."""
    description = _description(check, claim)

    def nominal_leaf(cid: str) -> Tri:
        return rc.nominal(cid, description)

    def robust_leaf(cid: str) -> Tri:
        return rc.robust(cid, check.tolerance_factor, claim.hedged, description)

    nominal, robust = rc.evaluate(expr, nominal_leaf), rc.evaluate(expr, robust_leaf)
    if check.refuted_by is None:
        return nominal, robust
    if not claim.negated and robust is not True:
        refuted = rc.evaluate(check.refuted_by, robust_leaf)
        robust = False if refuted is True else (None if robust is False else robust)
    if claim.negated and nominal is None:
        nominal = False if rc.evaluate(check.refuted_by, nominal_leaf) is True else None
    return nominal, robust


def _measured_text(nominal: Tri) -> str:
    return {True: "criteria met", False: "criteria not met", None: "not evaluable"}[nominal]


# ------------------------------------------------------------------ numeric claims


def _measured_values(rc: RecordChecker, claim: Claim) -> dict[str, float | None]:
    """The measured values a numeric claim is compared with: {label: value}."""
    q = claim.concept
    ranges = rc.table.plausible_ranges
    if q == "qtc_ms":
        names = [f"qtc_{claim.qualifier}_ms"] if claim.qualifier else list(QTC_FORMULAS)
        return {n: global_value(rc.m, n, ranges) for n in names}
    if claim.leads:
        out = {}
        for ld in claim.leads:
            v = lead_value(rc.m, ld, q, ranges) if ld in rc.m.leads else None
            if v is not None and q in MAGNITUDE_QUANTITIES:
                v = abs(v)
            out[ld] = v
        return out
    return {q: global_value(rc.m, q, ranges)}


def _compare(claim: Claim, measured: float, tol: float) -> str | None:
    """'supported', 'contradicted' or None (within tolerance of a bound)."""
    v, m = claim.value, measured
    diff = _axis_diff if claim.concept in AXIS_QUANTITIES else (lambda a, b: a - b)
    if claim.comparator == "=":
        return "supported" if abs(diff(m, v)) <= tol else "contradicted"
    if claim.comparator == "between":
        lo, hi = v, claim.upper if claim.upper is not None else v
        if lo <= m <= hi:
            return "supported"
        return "contradicted" if (m < lo - tol or m > hi + tol) else None
    if claim.comparator in ("<", "<="):
        return "supported" if m <= v else ("contradicted" if m > v + tol else None)
    return "supported" if m >= v else ("contradicted" if m < v - tol else None)


def _axis_diff(a: float, b: float) -> float:
    """Angle difference in degrees, wrapped to [-180, 180)."""
    return (a - b + 180.0) % 360.0 - 180.0


def check_numeric(rc: RecordChecker, claim: Claim) -> ClaimVerdict:
    """Verdict of a numeric claim against its measured value(s)."""
    unit = unit_of(claim.concept)
    if rc.normalised and (unit in AMPLITUDE_UNITS or claim.concept in AXIS_QUANTITIES):
        return ClaimVerdict(claim, "not_checkable", C.REASON_AMPLITUDE)
    if claim.value is None or not math.isfinite(claim.value):
        return ClaimVerdict(claim, "not_checkable", C.REASON_VAGUE)
    missing = [ld for ld in claim.leads if ld not in rc.m.leads]
    if claim.leads and len(missing) == len(claim.leads):
        return ClaimVerdict(
            claim, "not_checkable", f"{C.REASON_LEAD_MISSING}: {', '.join(missing)}"
        )
    values = _measured_values(rc, claim)
    if claim.leads:
        bad = [ld for ld in claim.leads if ld in rc.m.leads and not lead_usable(rc.m, ld)]
        values = {ld: v for ld, v in values.items() if ld not in bad}
    got = {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, (int, float)) and math.isfinite(float(v))  # a NaN is not a measurement
    }
    if not got:
        return ClaimVerdict(claim, "not_checkable", f"{C.REASON_NOT_MEASURED}: {claim.concept}")
    loose = claim.hedged or claim.approximate
    tols = {
        k: rc.tol.tolerance(claim.concept, v, hedged=loose, n_leads=rc.n_leads)
        for k, v in got.items()
    }
    outcomes = {k: _compare(claim, v, tols[k]) for k, v in got.items()}
    return _numeric_verdict(claim, got, tols, outcomes, unit)


def _numeric_verdict(
    claim: Claim,
    got: dict[str, float],
    tols: dict[str, float],
    outcomes: dict[str, str | None],
    unit: str,
) -> ClaimVerdict:
    if claim.leads:
        measured: Any = {k: round(v, 3) for k, v in got.items()}
        n_con = sum(o == "contradicted" for o in outcomes.values())
        if n_con > len(got) / 2:
            verdict = "contradicted"
        elif all(o == "supported" for o in outcomes.values()):
            verdict = "supported"
        else:
            verdict = "not_checkable"
    else:
        # Several candidates (QTc by an unnamed formula): the claim stands if any agrees.
        diff = _axis_diff if claim.concept in AXIS_QUANTITIES else (lambda a, b: a - b)
        best = min(got, key=lambda k: abs(diff(got[k], claim.value or 0.0)))
        measured = round(got[best], 3)
        if any(o == "supported" for o in outcomes.values()):
            verdict = "supported"
        elif all(o == "contradicted" for o in outcomes.values()):
            verdict = "contradicted"
        else:
            verdict = "not_checkable"
    tol = max(tols.values())
    reason = {
        "supported": "within tolerance of the measurement",
        "contradicted": "differs from the measurement by more than the tolerance",
        "not_checkable": f"{C.REASON_BORDERLINE}: near the stated bound",
    }[verdict]
    return ClaimVerdict(claim, verdict, reason, measured=measured, tolerance=tol, unit=unit)


# ------------------------------------------------------------------ entry point


def check_claims(
    claims: list[Claim],
    interpretation: Interpretation | None,
    *,
    table: CriteriaTable | None = None,
    tolerances: ToleranceTable | None = None,
    checks: CheckTable | None = None,
    unavailable_reason: str = C.REASON_NO_ECG,
) -> list[ClaimVerdict]:
    """One verdict per claim, in the claims' order; without an interpretation every claim is
    "not checkable" for ``unavailable_reason`` (no ECG, or a record that could not be
    measured)."""
    if interpretation is None:
        return [ClaimVerdict(c, "not_checkable", unavailable_reason) for c in claims]
    table = table or load_table()
    rc = RecordChecker(
        interpretation, table, tolerances or load_tolerances(), checks or load_checks(table)
    )
    return [check_claim(rc, c) for c in claims]


def check_claim(rc: RecordChecker, claim: Claim) -> ClaimVerdict:
    """The verdict of one claim (quality first: an unusable record checks nothing)."""
    if rc.quality == "unusable":
        return ClaimVerdict(
            claim, "not_checkable", f"{C.REASON_POOR_QUALITY}: the record is not interpretable"
        )
    if claim.kind == "numeric":
        return check_numeric(rc, claim)
    return check_categorical(rc, claim)
