"""The protocol engine: criteria table + measurement result -> statements with evidence.

Steps (each a function, in this order):

1. :func:`evaluate_criterion` for every criterion (three-valued: met / not met / not measurable);
2. :func:`evaluate_expression` for every statement's ``requires`` (Kleene logic: an
   unmeasurable criterion never makes a statement true);
3. precedence rules from the table, in order (a suppressed statement cannot suppress others);
4. exclusions: criteria checked and found normal that rule out statements not made;
5. ``normal ECG`` only when nothing but the listed rhythm statements survive.

Before step 2 the input's limits are read (:mod:`ecgr1.protocol.limits`): a statement whose
needs (leads, lead groups, record length; the table's ``needs``) are not met, or whose
``requires`` is left undecided by criteria that lacked their leads, is "not assessable": neither
stated nor excluded, listed in ``Interpretation.not_assessable`` with the reason; and "normal
ECG" is not stated while anything is not assessable.

The engine never measures a signal: it reads :class:`~ecgr1.measure.MeasurementResult` only.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.measure.engine import carry_record_notes, measure
from ecgr1.measure.result import MeasurementResult
from ecgr1.protocol.limits import (
    Assessability,
    input_limits,
    length_evidence,
    summary_sentence,
)
from ecgr1.protocol.quantities import (
    AGE_QUANTITY,
    global_value,
    lead_usable,
    lead_value,
    round_value,
    unit_of,
)
from ecgr1.protocol.table import (
    Condition,
    CriteriaTable,
    CriterionSpec,
    StatementSpec,
    expression_ids,
    load_table,
)
from ecgr1.protocol.types import (
    CERTAINTY_ORDER,
    CriterionResult,
    Evidence,
    Exclusion,
    Interpretation,
    NotAssessable,
    Statement,
    Suppression,
)

# Plain observations offered to the report (rounded like criterion values).
GLOBAL_OBSERVATIONS = (
    "heart_rate_bpm",
    "atrial_rate_bpm",
    "rr_mean_ms",
    "rr_cv",
    "n_beats",
    "n_premature_supraventricular",
    "n_premature_ventricular",
    "n_wide_premature_ventricular",
    "n_paced",
    "p_wave_fraction",
    "p_waves_per_qrs",
    "p_duration_ms",
    "pr_interval_ms",
    "qrs_duration_ms",
    "qt_interval_ms",
    "qtc_bazett_ms",
    "qtc_fridericia_ms",
    "qtc_framingham_ms",
    "qtc_hodges_ms",
    "p_axis_deg",
    "qrs_axis_deg",
    "t_axis_deg",
    "sokolow_lyon_mv",
    "sokolow_lyon_rvh_mv",
    "cornell_voltage_mv",
    "cornell_product_mv_ms",
    "max_limb_qrs_peak_to_peak_mv",
    "max_precordial_qrs_peak_to_peak_mv",
    "rr_range_ms",
)
LEAD_OBSERVATIONS = (
    "p_amplitude_mv",
    "p_duration_ms",
    "p_terminal_negative_mv",
    "q_depth_mv",
    "q_duration_eff_ms",
    "r_amplitude_mv",
    "s_depth_mv",
    "r_prime_mv",
    "r_to_s_ratio",
    "qrs_net_amplitude_mv",
    "qrs_peak_to_peak_mv",
    "r_peak_time_ms",
    "s_duration_ms",
    "st_deviation_mv",
    "t_amplitude_mv",
    "qrs_morphology",
    "st_shape",
    "t_polarity",
)
OBS_UNITS = {"rr_cv": "ratio", "r_to_s_ratio": "ratio", "p_waves_per_qrs": "ratio"}


def _unit(quantity: str) -> str:
    return OBS_UNITS.get(quantity) or unit_of(quantity)


# ------------------------------------------------------------------ comparisons


def compare(value: Any, operator: str, threshold: Any) -> bool | None:
    """``value OPERATOR threshold``; None when ``value`` is None (not measured).

    >>> compare(130, ">=", 120), compare(None, ">=", 120), compare(5, "between", [0, 10])
    (True, None, True)
    """
    if value is None:
        return None
    if operator == "==":
        return value == threshold
    if operator == "!=":
        return value != threshold
    if operator == "in":
        return value in threshold
    if operator == "not_in":
        return value not in threshold
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if operator == "between":
        return float(threshold[0]) <= x <= float(threshold[1])
    t = float(threshold)
    return {"<": x < t, "<=": x <= t, ">": x > t, ">=": x >= t}[operator]


def _variant_applies(when: dict[str, Any], age: float | None, sex: str | None) -> bool:
    for key, want in when.items():
        if key == "sex":
            if sex is None or sex.upper()[:1] != str(want).upper()[:1]:
                return False
        elif key == "age_lt":
            if age is None or not age < float(want):
                return False
        elif key == "age_ge":
            if age is None or not age >= float(want):
                return False
    return True


def resolve_variant(spec: CriterionSpec, age: float | None, sex: str | None) -> tuple[Any, str]:
    """Threshold and certainty for this patient: the first matching variant wins.

    Unknown age or sex never matches a variant that names it, so the default row applies.
    """
    for v in spec.variants:
        if _variant_applies(v.when, age, sex):
            threshold = v.threshold if v.threshold is not None else spec.threshold
            return threshold, v.certainty or spec.certainty
    return spec.threshold, spec.certainty


def _lead_threshold(threshold: Any, lead: str | None) -> Any:
    if isinstance(threshold, dict):
        return threshold.get(lead, threshold.get("default"))
    return threshold


def _first_value(getter, quantities: list[str]) -> tuple[str, Any]:
    for q in quantities:
        v = getter(q)
        if v is not None:
            return q, v
    return quantities[0], None


def _also_ok(
    conds: list[Condition], getter, leads: list[str], criterion: str
) -> tuple[bool | None, list[Evidence]]:
    ok: bool | None = True
    ev: list[Evidence] = []
    for c in conds:
        unit = _unit(c.quantity)
        val = round_value(getter(c.quantity), unit)
        # a per-lead threshold ({lead|default: number}) as for the criterion's own quantity
        threshold = _lead_threshold(c.threshold, leads[0] if len(leads) == 1 else None)
        res = compare(val, c.operator, threshold)
        if res is None and c.allow_missing:
            res = True
        ev.append(Evidence(c.quantity, leads, val, unit, criterion, c.operator, threshold, res))
        if res is False:
            ok = False
        elif res is None and ok is True:
            ok = None
    return ok, ev


def evaluate_criterion(
    spec: CriterionSpec,
    m: MeasurementResult,
    age: float | None = None,
    sex: str | None = None,
    ranges: dict[str, list[float]] | None = None,
    *,
    assess: Assessability | None = None,
) -> CriterionResult:
    """Apply one criterion to a measurement result.

    Record-level criteria give one evidence entry (plus one per ``also`` condition); per-lead
    criteria give one per measured lead, and are met when at least ``min_leads`` leads pass.

    ``assess`` (the input's limits) leaves out leads that do not count at the criterion's
    ``lead_level`` (absent, derived, uncalibrated); a criterion that those leads could still
    have made true, or a record-level one whose quantity lacks what it needs (leads, length), is
    not evaluable (``met`` None, ``unavailable``), never "not met".
    """
    threshold, certainty = resolve_variant(spec, age, sex)
    if not spec.per_lead:
        why = None
        if assess is not None:
            for q in [*spec.quantity, *(c.quantity for c in spec.also)]:
                why = why or assess.quantity_why(q)

        def get(q: str) -> Any:
            # The patient's age: the one the caller gave, else the record's (as for variants).
            if q == AGE_QUANTITY and age is not None:
                return age
            return global_value(m, q, ranges)

        qname, raw = _first_value(get, spec.quantity)
        value = round_value(raw, spec.unit)
        met = compare(value, spec.operator, threshold)
        ev = [Evidence(qname, [], value, spec.unit, spec.id, spec.operator, threshold, met)]
        if met is not None and spec.also:
            ok, extra = _also_ok(spec.also, get, [], spec.id)
            ev.extend(extra)
            met = met and ok if ok is not None else (False if met is False else None)
        reason = None
        if why is not None:
            for e in ev:
                e.met = None
            return CriterionResult(spec.id, None, ev, certainty, why, unavailable=True)
        if met is None:
            reason = m.global_.reasons.get(qname) or f"{qname} not measured"
        return CriterionResult(spec.id, met, ev, certainty, reason)

    evidence: list[Evidence] = []
    n_met = 0
    n_measured = 0
    left_out: dict[str, str] = {}  # lead -> why it does not count for this criterion
    for lead in spec.leads or []:
        why = assess.lead_why(lead, spec.lead_level) if assess is not None else None
        if why is not None:
            left_out[lead] = why
            continue

        def get(q: str, lead: str = lead) -> Any:
            return lead_value(m, lead, q, ranges)

        qname, raw = _first_value(get, spec.quantity)
        value = round_value(raw, spec.unit)
        lead_thr = _lead_threshold(threshold, lead)
        ok = compare(value, spec.operator, lead_thr)
        extra: list[Evidence] = []
        if ok is not None and spec.also:
            also_ok, extra = _also_ok(spec.also, get, [lead], spec.id)
            ok = (ok and also_ok) if also_ok is not None else (False if ok is False else None)
        if ok is None:
            continue
        n_measured += 1
        n_met += int(ok)
        evidence.append(
            Evidence(qname, [lead], value, spec.unit, spec.id, spec.operator, lead_thr, ok)
        )
        if ok:
            evidence.extend(extra)
    if n_met >= spec.min_leads:
        met: bool | None = True
    elif left_out and n_met + len(left_out) >= spec.min_leads:
        # The leads left out could have made it true: undecided, not "not met".
        by_why: dict[str, list[str]] = {}
        for lead, why in left_out.items():
            by_why.setdefault(why, []).append(lead)
        reason = "; ".join(f"lead(s) {', '.join(v)} {k}" for k, v in by_why.items())
        return CriterionResult(spec.id, None, evidence, certainty, reason, unavailable=True)
    elif n_measured == 0:
        met = None
    else:
        met = False
    reason = None
    if met is None:
        unusable = [ld for ld in spec.leads or [] if not lead_usable(m, ld)]
        reason = (
            f"lead(s) {', '.join(unusable)} not usable" if unusable else "not measured in any lead"
        )
    return CriterionResult(spec.id, met, evidence, certainty, reason)


# ------------------------------------------------------------------ expressions


def evaluate_expression(expr: Any, results: dict[str, CriterionResult]) -> bool | None:
    """Kleene three-valued evaluation of a ``requires`` expression.

    ``"id"`` -> that criterion's ``met``; ``{all: [...]}``, ``{any: [...]}``, ``{not: x}``,
    ``{at_least: n, of: [...]}``.
    """
    if isinstance(expr, str):
        return results[expr].met
    if "all" in expr:
        vals = [evaluate_expression(e, results) for e in expr["all"]]
        if any(v is False for v in vals):
            return False
        return None if any(v is None for v in vals) else True
    if "any" in expr:
        vals = [evaluate_expression(e, results) for e in expr["any"]]
        if any(v is True for v in vals):
            return True
        return None if any(v is None for v in vals) else False
    if "not" in expr:
        v = evaluate_expression(expr["not"], results)
        return None if v is None else not v
    if "at_least" in expr:
        vals = [evaluate_expression(e, results) for e in expr["of"]]
        n = int(expr["at_least"])
        n_true = sum(v is True for v in vals)
        n_none = sum(v is None for v in vals)
        if n_true >= n:
            return True
        return False if n_true + n_none < n else None
    raise ValueError(f"bad expression {expr!r}")


def _justifying(expr: Any, results: dict[str, CriterionResult], negated: bool = False) -> list[str]:
    """Criterion ids whose outcome made ``expr`` true (met leaves, or failed ``not`` leaves)."""
    if isinstance(expr, str):
        want = not negated
        return [expr] if results[expr].met is want else []
    out: list[str] = []
    if "not" in expr:
        return _justifying(expr["not"], results, not negated)
    for key in ("all", "any", "of"):
        for sub in expr.get(key, []) or []:
            if evaluate_expression(sub, results) is (not negated):
                out.extend(_justifying(sub, results, negated))
    return out


def _certainty(spec: StatementSpec, results: dict[str, CriterionResult], used: list[str]) -> str:
    for rule in spec.certainty_by:
        if evaluate_expression(rule["if"], results) is True:
            return rule["certainty"]
    if spec.certainty != "from_criteria":
        return spec.certainty
    ranks = [CERTAINTY_ORDER.index(results[c].certainty) for c in used if results[c].met]
    return CERTAINTY_ORDER[min(ranks)] if ranks else "possible"


def _distance(value: Any, operator: str | None, threshold: Any) -> float | None:
    """How far a numeric value lies from a criterion's threshold (nearest bound of a range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if operator == "between" and isinstance(threshold, (list, tuple)) and len(threshold) == 2:
        return min(abs(value - float(threshold[0])), abs(value - float(threshold[1])))
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        return None
    return abs(value - float(threshold))


def near_threshold(spec: CriterionSpec, result: CriterionResult, margins: dict[str, float]) -> bool:
    """Whether a criterion's outcome rests on a value within its measurement margin of the
    threshold (``borderline_margins`` of the table): a record-level value that close, or too
    few leads clear of it to reach ``min_leads``."""
    margin = margins.get(spec.id)
    if result.met is None or margin is None:
        return False
    own = [e for e in result.evidence if e.criterion == spec.id and e.quantity in spec.quantity]
    if not own:
        return False
    if not spec.per_lead:
        d = _distance(own[0].value, own[0].operator, own[0].threshold)
        return d is not None and d <= margin
    if not result.met:
        return False
    clear = 0
    for e in own:
        d = _distance(e.value, e.operator, e.threshold)
        clear += bool(e.met) and d is not None and d > margin
    return clear < spec.min_leads


def _build_statement(
    spec: StatementSpec,
    results: dict[str, CriterionResult],
    m: MeasurementResult,
    table: CriteriaTable,
) -> Statement:
    used = list(dict.fromkeys(_justifying(spec.requires, results)))
    used += [c for c in spec.supports if results[c].met and c not in used]
    evidence: list[Evidence] = []
    for cid in used:
        res = results[cid]
        evidence.extend(res.met_evidence if res.met else res.evidence)
    count = None
    if spec.count:
        raw = global_value(m, spec.count)
        count = None if raw is None else int(raw)
    sources = list(dict.fromkeys(table.sources[table.criteria[c].source] for c in used))
    certainty = _certainty(spec, results, used)
    if spec.category != "summary" and any(
        near_threshold(table.criteria[c], results[c], table.borderline_margins) for c in used
    ):
        certainty = "borderline"
    return Statement(
        id=spec.id,
        label=spec.label,
        code=spec.code,
        category=spec.category,
        certainty=certainty,
        step=spec.step,
        evidence=evidence,
        criteria=used,
        count=count,
        equivalent_codes=list(spec.equivalent_codes),
        sources=sources,
    )


def _borderline_reductions(
    built: dict[str, Statement],
    results: dict[str, CriterionResult],
    table: CriteriaTable,
    not_assessable: set[str],
) -> dict[str, str]:
    """Statements made because a borderline statement reduces to them (its ``if_borderline``),
    by the borderline statement they come from.

    A sinus bradycardia at 57 bpm is borderline by its rate, not by its sinus origin: without
    this the answer would name no rhythm at all. The reduced statement rests on the criteria of
    its own rule that hold, and precedence still applies to it (with the borderline statement
    itself left out, since its "rate qualifies the rhythm" rule is what is in doubt)."""
    out: dict[str, str] = {}
    for sid, st in built.items():
        target = table.statements[sid].if_borderline
        if target is None or st.certainty != "borderline":
            continue
        if target in built or target in out.values() or target in not_assessable:
            continue
        others = [x for x in built if x != sid] + [target]
        if target in _precedence(others, results, table)[0]:
            out[sid] = target
    return out


# ------------------------------------------------------------------ precedence and exclusions


def _matches(stmt: StatementSpec, patterns: list[str]) -> bool:
    for pat in patterns:
        if pat == "fine_grained":
            if stmt.fine_grained:
                return True
        elif fnmatch.fnmatchcase(stmt.id, pat):
            return True
    return False


def _holds(
    ref: str, active: list[str], results: dict[str, CriterionResult], table: CriteriaTable
) -> tuple[bool, str]:
    """Whether a precedence rule's ``when`` or ``unless`` holds (a statement still active, or
    a criterion met), and how the rule names it."""
    if ref in table.statements:
        return ref in active, table.statements[ref].label
    return results[ref].met is True, ref


def _precedence(
    fired: list[str], results: dict[str, CriterionResult], table: CriteriaTable
) -> tuple[list[str], list[Suppression], set[str], set[str]]:
    """Precedence plus the set of statements made inapplicable by an active rule (these are
    neither reported nor "excluded": e.g. no PR-based exclusion in atrial fibrillation), and
    the part of it that is moot whatever the input (rules of an active statement, and rules that
    withhold everything, ``suppress: ["*"]``), as opposed to rules on the input itself (poor
    quality, normalised amplitudes)."""
    active = list(fired)
    suppressed: list[Suppression] = []
    inapplicable: set[str] = set()
    moot: set[str] = set()
    for rule in table.precedence:
        on, by = _holds(rule.when, active, results, table)
        if not on or (rule.unless is not None and _holds(rule.unless, active, results, table)[0]):
            continue
        made = {
            sid
            for sid, spec in table.statements.items()
            if sid != rule.when and sid not in rule.except_ and _matches(spec, rule.suppress)
        }
        if not rule.exclusions_stand:
            inapplicable.update(made)
            if rule.when in table.statements or "*" in rule.suppress:
                moot.update(made)
        keep = []
        for sid in active:
            spec = table.statements[sid]
            if sid != rule.when and sid not in rule.except_ and _matches(spec, rule.suppress):
                suppressed.append(Suppression(sid, spec.label, by, rule.reason))
            else:
                keep.append(sid)
        active = keep
    return active, suppressed, inapplicable, moot


def _exclusions(
    results: dict[str, CriterionResult],
    fired: set[str],
    table: CriteriaTable,
    quality_poor: bool,
    inapplicable: set[str] | None = None,
    not_assessable: set[str] | None = None,
) -> list[Exclusion]:
    out: list[Exclusion] = []
    for cid, spec in table.criteria.items():
        res = results[cid]
        if res.met is None:
            continue
        targets = spec.rules_out_when_met if res.met else spec.rules_out_when_not_met
        targets = [
            t
            for t in targets
            if t not in fired
            and t not in (inapplicable or set())
            and t not in (not_assessable or set())
            and not (quality_poor and table.statements[t].fine_grained)
            # A criterion rules out only what it leaves impossible: a statement with another
            # way to its requirement (complete RBBB from the V1/V2 QRS when the record QRS is
            # under 120 ms) is not "excluded" by the criterion that failed.
            and evaluate_expression(table.statements[t].requires, results) is False
        ]
        if not targets:
            continue
        out.append(
            Exclusion(
                criterion=cid,
                rules_out=targets,
                labels=[table.statements[t].label for t in targets],
                evidence=list(res.evidence),
            )
        )
    return out


def _observations(
    m: MeasurementResult, ranges: dict[str, list[float]] | None = None
) -> dict[str, Evidence]:
    obs: dict[str, Evidence] = {}
    for q in GLOBAL_OBSERVATIONS:
        unit = _unit(q)
        v = round_value(global_value(m, q, ranges), unit)
        if v is not None:
            obs[q] = Evidence(q, [], v, unit)
    for lead in STANDARD_LEADS:
        if lead not in m.leads:
            continue
        for q in LEAD_OBSERVATIONS:
            unit = _unit(q)
            v = round_value(lead_value(m, lead, q, ranges), unit)
            if v is not None:
                obs[f"{lead}.{q}"] = Evidence(q, [lead], v, unit)
    return obs


def interpret(
    measurements: MeasurementResult | Any,
    age: float | None = None,
    sex: str | None = None,
    *,
    table: CriteriaTable | None = None,
) -> Interpretation:
    """Apply the clinical protocol to a measurement result.

    Parameters
    ----------
    measurements : the measurement engine's result (never re-measured here). A record or a
        path is measured first with the table's numbers
        (``table.measure_config()``); a record that cannot be measured then raises
        :class:`~ecgr1.errors.MeasurementError` (``ecgr1.interpret_record`` states it as poor
        quality instead).
    age, sex : override ``measurements.age`` / ``measurements.sex`` (sex "M" or "F");
        they select age/sex-specific thresholds (ST elevation, Cornell voltage, QTc).
    table : a criteria table (default: the packaged ``criteria.yaml``).

    Returns
    -------
    Interpretation with surviving ``statements`` (report order), ``excluded`` differentials,
    ``suppressed`` statements and every criterion's result.

    Example
    -------
    >>> from ecgr1.measure import GlobalMeasurements, MeasurementResult
    >>> g = GlobalMeasurements(heart_rate_bpm=72, p_wave_fraction=1.0, qrs_duration_ms=92,
    ...                        pr_interval_ms=160, qrs_axis_deg=45, p_axis_deg=50,
    ...                        rr_irregularity="regular")
    >>> m = MeasurementResult("demo", 500.0, 10.0, [], global_=g)
    >>> interp = interpret(m)
    >>> "sinus rhythm" in interp.labels
    True
    >>> any("complete left bundle branch block" in e.labels for e in interp.excluded)
    True
    """
    table = table or load_table()
    if not isinstance(measurements, MeasurementResult):
        from ecgr1.io import as_record

        record = as_record(measurements)
        # The reader's notes (derived or uncalibrated leads, rescaled amplitudes) travel with
        # the measurements: the input's limits are read from them.
        measurements = carry_record_notes(measure(record, config=table.measure_config()), record)
    age = age if age is not None else measurements.age
    sex = sex if sex is not None else measurements.sex
    if isinstance(sex, str):
        sex = {"m": "M", "male": "M", "f": "F", "female": "F"}.get(sex.strip().lower())
    limits = input_limits(measurements)
    assess = Assessability(limits, table)
    results = {
        cid: evaluate_criterion(spec, measurements, age, sex, table.plausible_ranges, assess=assess)
        for cid, spec in table.criteria.items()
    }
    not_assessable = _not_assessable(results, assess, table)
    fired = [
        sid
        for sid, spec in table.statements.items()
        if spec.only_with is None
        and sid not in not_assessable
        and evaluate_expression(spec.requires, results) is True
    ]
    active, suppressed, inapplicable, moot = _precedence(fired, results, table)
    # Statements made moot by an active statement's rule (no PR-based block in atrial
    # fibrillation) or by a rule that withholds everything (an unusable record) are not "not
    # assessable" either: nothing would have been said about them whatever the leads.
    for sid in moot:
        not_assessable.pop(sid, None)
    for sid, spec in table.statements.items():
        if spec.only_with is None or sid in not_assessable:
            continue
        if not all(other in spec.only_with for other in active):
            continue
        value = evaluate_expression(spec.requires, results)
        if value is None and _unavailable_leaves(spec.requires, results):
            reasons = [results[c].reason or c for c in _unavailable_leaves(spec.requires, results)]
            not_assessable[sid] = NotAssessable(
                sid, spec.label, spec.category, "; ".join(dict.fromkeys(reasons))
            )
        elif value is True and spec.needs_all_assessable and not_assessable:
            not_assessable[sid] = NotAssessable(
                sid,
                spec.label,
                spec.category,
                f"not every finding could be assessed ({limits.describe()})",
            )
        elif value is True:
            active.append(sid)
    built = {s: _build_statement(table.statements[s], results, measurements, table) for s in active}
    order: dict[str, float] = {sid: i for i, sid in enumerate(table.statements)}
    for source, target in _borderline_reductions(
        built, results, table, set(not_assessable)
    ).items():
        built[target] = _build_statement(table.statements[target], results, measurements, table)
        built[target].reduced_from = source
        # Reported just before the borderline statement ("sinus rhythm, borderline sinus
        # bradycardia").
        order[target] = order[source] - 0.5
    active = sorted(built, key=lambda sid: (table.statements[sid].step, order[sid]))
    statements = [built[s] for s in active]
    quality_poor = results["quality.poor"].met is True if "quality.poor" in results else False
    unusable = results.get("quality.unusable")
    excluded = (
        []
        if unusable is not None and unusable.met is True
        else _exclusions(
            results,
            set(fired) | set(active),
            table,
            quality_poor,
            inapplicable,
            set(not_assessable),
        )
    )
    limits.short = any(assess.need_why(n) for n, spec in table.needs.items() if spec.length)
    limits.evidence = length_evidence(limits, table) if limits.short else []
    applicable = {sid: spec.category for sid, spec in table.statements.items() if sid not in moot}
    na_list = sorted(not_assessable.values(), key=lambda x: order[x.statement])
    limits.summary = summary_sentence(
        limits,
        na_list,
        applicable,
        table.normalised_amplitudes_not_assessable,
        tuple(n for n, spec in table.needs.items() if spec.length),
        {sid: spec.label for sid, spec in table.statements.items()},
    )
    return Interpretation(
        id=measurements.id,
        statements=statements,
        excluded=excluded,
        suppressed=suppressed,
        criteria=results,
        observations=_observations(measurements, table.plausible_ranges),
        measurements=measurements,
        age=age,
        sex=sex,
        table_version=table.version,
        not_assessable=na_list,
        limits=limits,
    )


def _unavailable_leaves(expr: Any, results: dict[str, CriterionResult]) -> list[str]:
    """Criteria of ``expr`` left undecided for want of leads or length."""
    return [c for c in dict.fromkeys(expression_ids(expr)) if results[c].unavailable]


def _not_assessable(
    results: dict[str, CriterionResult], assess: Assessability, table: CriteriaTable
) -> dict[str, NotAssessable]:
    """Statements the input cannot assess: a need of the table unmet, or ``requires`` left
    undecided by criteria that lacked their leads (a statement that is true anyway is made)."""
    out: dict[str, NotAssessable] = {}
    for sid, spec in table.statements.items():
        unmet = [(n, assess.need_why(n)) for n in spec.needs]
        unmet = [(n, why) for n, why in unmet if why is not None]
        if unmet:
            out[sid] = NotAssessable(
                sid,
                spec.label,
                spec.category,
                "; ".join(dict.fromkeys(why for _, why in unmet)),
                [n for n, _ in unmet],
            )
            continue
        if spec.only_with is not None or evaluate_expression(spec.requires, results) is not None:
            continue
        leaves = _unavailable_leaves(spec.requires, results)
        if leaves:
            reasons = [results[c].reason or c for c in leaves]
            out[sid] = NotAssessable(
                sid, spec.label, spec.category, "; ".join(dict.fromkeys(reasons))
            )
    return out
