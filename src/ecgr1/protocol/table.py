"""Load, expand and validate the criteria table (``criteria.yaml``).

The table is data: thresholds, leads, units, age/sex variants, certainties, citations,
statement definitions and precedence. This module only reads it, expands ``{territory}``
templates and checks that every reference resolves, so a typo fails loudly at load time.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ecgr1.errors import InvalidInputError
from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig, all_keys
from ecgr1.protocol.quantities import (
    PRECISION,
    is_global_quantity,
    is_known_quantity,
    is_lead_quantity,
    unit_of,
)
from ecgr1.protocol.types import CERTAINTY_ORDER

COUNT_FIELDS = {
    "n_premature_supraventricular",
    "n_premature_ventricular",
    "n_wide_premature_ventricular",
    "n_paced",
}
DEFAULT_TABLE = Path(__file__).with_name("criteria.yaml")
OPERATORS = ("<", "<=", ">", ">=", "==", "!=", "in", "not_in", "between")
# How strictly a lead must be there for a need (each level includes the ones before it):
# present (in the record, with signal), recorded (not derived from other leads, e.g. III = II - I),
# calibrated (its gain known: WFDB gain 0 is read at a nominal gain), absolute (absolute
# millivolts: also not normalised per lead in the source, when the table's limits say so).
LEAD_LEVELS = ("present", "recorded", "calibrated", "absolute")
CATEGORIES = (
    "technical",
    "rhythm",
    "conduction",
    "axis",
    "hypertrophy",
    "ischemia/infarction",
    "repolarisation/QT",
    "summary",
)


@dataclass
class Condition:
    """``quantity OPERATOR threshold`` (an extra test on the same lead / record)."""

    quantity: str
    operator: str
    threshold: Any
    allow_missing: bool = False


@dataclass
class Variant:
    """Threshold/certainty override used when ``when`` (sex, age_lt, age_ge) matches."""

    when: dict[str, Any]
    threshold: Any = None
    certainty: str | None = None


@dataclass
class CriterionSpec:
    """One row of ``criteria``."""

    id: str
    quantity: list[str]  # first measured one is used
    operator: str
    threshold: Any  # number, string, bool, [lo, hi], list, or {lead|default: number}
    unit: str
    certainty: str
    source: str
    leads: list[str] | None = None  # None: a record-level quantity
    min_leads: int = 1
    also: list[Condition] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    rules_out_when_met: list[str] = field(default_factory=list)
    rules_out_when_not_met: list[str] = field(default_factory=list)
    # Per-lead criteria: how a lead must be there to be read (``LEAD_LEVELS``); from the units
    # unless the row sets ``lead_level`` (see :func:`lead_level_of`).
    lead_level: str = "present"
    # MeasureConfig keys this criterion is the source of (``section.key`` -> value).
    measure_config: dict[str, float] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def per_lead(self) -> bool:
        """Whether the criterion is evaluated lead by lead."""
        return self.leads is not None


@dataclass
class StatementSpec:
    """One row of ``statements``."""

    id: str
    label: str
    code: str | None
    category: str
    step: int
    requires: Any
    certainty: str
    certainty_by: list[dict[str, Any]] = field(default_factory=list)
    supports: list[str] = field(default_factory=list)
    equivalent_codes: list[str] = field(default_factory=list)
    fine_grained: bool = False
    count: str | None = None
    only_with: list[str] | None = None
    # Needs (ids in the table's ``needs``) the recording must meet for the statement to be
    # assessable at all; ``needs_all_assessable``: stated only when nothing else is
    # "not assessable" (normal ECG).
    needs: list[str] = field(default_factory=list)
    needs_all_assessable: bool = False
    # A statement this one reduces to when it comes out "borderline": the part of it that holds
    # on either side of the near threshold (sinus rhythm, for a sinus bradycardia at 57 bpm),
    # stated with its own certainty unless precedence withholds it.
    if_borderline: str | None = None


@dataclass
class LeadGroup:
    """At least ``min_leads`` of ``leads`` must count at ``level`` (see ``LEAD_LEVELS``).

    ``all_calibrated``: moreover no lead of the group may be uncalibrated (for a quantity the
    engine computes from every lead of the group, such as the frontal axis fitted to all limb
    leads: one lead at a wrong gain skews it).
    """

    leads: list[str]
    min_leads: int = 1
    level: str = "present"
    all_calibrated: bool = False


@dataclass
class NeedSpec:
    """One row of ``needs``: what the recording must offer (lead groups, all of them; a length).

    ``min_beats`` / ``min_seconds``: a record with fewer detected beats or less signal is
    "short" for this need.
    """

    id: str
    label: str
    groups: list[LeadGroup] = field(default_factory=list)
    min_beats: int | None = None
    min_seconds: float | None = None

    @property
    def length(self) -> bool:
        """Whether this need is about the length of the record."""
        return self.min_beats is not None or self.min_seconds is not None


@dataclass
class PrecedenceRule:
    """``when`` (a statement or criterion id) suppresses ``suppress`` (patterns) ``except``.

    The statements a rule covers are normally neither stated nor excluded while it holds (no
    PR-based exclusion in atrial fibrillation). With ``exclusions_stand`` a value on the
    normal side of a criterion still rules them out: the rule withholds only what was found.
    ``unless`` (a statement or criterion id) switches the rule off while it holds: normalised
    amplitudes withhold left atrial abnormality unless its amplitude-free criterion (P duration)
    is met.
    """

    when: str
    suppress: list[str]
    except_: list[str]
    reason: str
    exclusions_stand: bool = False
    unless: str | None = None


@dataclass
class CriteriaTable:
    """The whole knowledge base, expanded and validated."""

    version: int
    sources: dict[str, str]
    territories: dict[str, dict[str, Any]]
    criteria: dict[str, CriterionSpec]
    statements: dict[str, StatementSpec]
    precedence: list[PrecedenceRule]
    path: str = ""
    plausible_ranges: dict[str, list[float]] = field(default_factory=dict)
    needs: dict[str, NeedSpec] = field(default_factory=dict)
    # Record-level quantity -> ids of the needs it rests on (global intervals, axis, voltage).
    quantity_needs: dict[str, list[str]] = field(default_factory=dict)
    # True: amplitudes normalised per lead in the source fail "absolute" lead needs.
    normalised_amplitudes_not_assessable: bool = False
    # Criterion id -> margin (the criterion's unit): a statement resting on a value within it
    # of that criterion's threshold is stated as "borderline" (``borderline_margins``).
    borderline_margins: dict[str, float] = field(default_factory=dict)

    def measure_config_values(self) -> dict[str, float]:
        """The ``section.key -> value`` settings this table gives the measurement engine."""
        return {k: v for spec in self.criteria.values() for k, v in spec.measure_config.items()}

    def measure_config(self, base: MeasureConfig = DEFAULT_CONFIG) -> MeasureConfig:
        """``base`` with the numbers this table is the source of (see ``measure_config:``).

        >>> cfg = load_table().measure_config()
        >>> cfg.beat["wide_qrs_ms"] == load_table().criteria["ectopy.pvc_wide_qrs"].threshold
        True
        """
        values = self.measure_config_values()
        if base is not DEFAULT_CONFIG:
            return base.replace(values)
        # Built once per distinct set of values: every record of a batch asks for it, and
        # validating a whole configuration costs more than a tenth of a millisecond.
        key = tuple(sorted(values.items()))
        try:
            config = _DEFAULT_BASED.get(key)
        except TypeError:  # an unhashable value: validated (and refused) by replace
            return base.replace(values)
        if config is None:
            if len(_DEFAULT_BASED) >= 32:  # edited tables in a long session: keep a few
                _DEFAULT_BASED.clear()
            config = _DEFAULT_BASED[key] = base.replace(values)
        return config


# MeasureConfig (frozen, read-only sections) from DEFAULT_CONFIG, by the table's values.
_DEFAULT_BASED: dict[tuple[tuple[str, Any], ...], MeasureConfig] = {}


def _substitute(obj: Any, mapping: dict[str, str]) -> Any:
    if isinstance(obj, str):
        for key, val in mapping.items():
            obj = obj.replace("{" + key + "}", val)
        return obj
    if isinstance(obj, list):
        return [_substitute(v, mapping) for v in obj]
    if isinstance(obj, dict):
        return {_substitute(k, mapping): _substitute(v, mapping) for k, v in obj.items()}
    return obj


def _expand(rows: list[dict[str, Any]], territories: dict[str, dict[str, Any]]) -> list[dict]:
    out = []
    for row in rows:
        names = row.get("per_territory")
        if not names:
            out.append(row)
            continue
        for name in names:
            terr = territories[name]
            new = _substitute(
                copy.deepcopy(row), {"territory": name, "territory_label": terr["label"]}
            )
            new.pop("per_territory", None)
            if new.get("leads") == name:
                new["leads"] = list(terr["leads"])
            out.append(new)
    return [_without_excepted_leads(row) for row in out]


def _without_excepted_leads(row: dict[str, Any]) -> dict[str, Any]:
    """A criterion's ``except_leads`` (leads where the finding is a normal variant, e.g. a Q wave
    or an inverted T in III) taken out of its lead list, after the territory expansion."""
    drop = row.get("except_leads")
    if drop is None:
        return row
    if not isinstance(drop, list) or not isinstance(row.get("leads"), list):
        raise InvalidInputError(f"criterion {row.get('id')}: except_leads needs a list of leads")
    row = dict(row)
    row.pop("except_leads")
    row["leads"] = [lead for lead in row["leads"] if lead not in drop]
    row["_excepted"] = True
    return row


def expression_ids(expr: Any) -> list[str]:
    """Criterion ids named in a ``requires`` / ``if`` expression."""
    if isinstance(expr, str):
        return [expr]
    if isinstance(expr, dict):
        out: list[str] = []
        for key in ("all", "any", "of"):
            for sub in expr.get(key, []) or []:
                out.extend(expression_ids(sub))
        if "not" in expr:
            out.extend(expression_ids(expr["not"]))
        return out
    raise InvalidInputError(f"bad expression in criteria table: {expr!r}")


def _check_threshold(cid: str, operator: str, threshold: Any) -> None:
    if operator == "between":
        if not (isinstance(threshold, list) and len(threshold) == 2):
            raise InvalidInputError(f"criterion {cid}: 'between' needs [low, high]")
    elif operator in ("in", "not_in"):
        if not isinstance(threshold, list):
            raise InvalidInputError(f"criterion {cid}: '{operator}' needs a list")


def _measure_links(cid: str, row: dict[str, Any]) -> dict[str, float]:
    """A criterion's ``measure_config``: a key (fed by the criterion's own numeric threshold)
    or a mapping of keys to the numbers the engine applies to build the compared category."""
    link = row.get("measure_config")
    if link is None:
        return {}
    if isinstance(link, str):
        threshold = row.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise InvalidInputError(
                f"criterion {cid}: measure_config {link!r} needs a numeric threshold"
            )
        link = {link: threshold}
    if not isinstance(link, dict):
        raise InvalidInputError(f"criterion {cid}: measure_config must be a key or a mapping")
    known = set(all_keys())
    out = {}
    for key, value in link.items():
        if key not in known:
            raise InvalidInputError(f"criterion {cid}: unknown measure_config key {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInputError(f"criterion {cid}: measure_config {key} must be a number")
        out[str(key)] = float(value)
    return out


_VOLTAGE_UNITS = ("mV", "mV*ms", "mV/s")


def _nonzero(threshold: Any) -> bool:
    if isinstance(threshold, dict):
        return any(_nonzero(v) for v in threshold.values())
    if isinstance(threshold, list):
        return any(_nonzero(v) for v in threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        return False
    return threshold != 0


def lead_level_of(unit: str, threshold: Any, also: list[Condition]) -> str:
    """How a lead must be there for a per-lead criterion to read it.

    Durations alone (``ms``) only need the lead present (a derived lead has the timing of the
    leads it is computed from); a size in millivolts compared with a non-zero limit needs a
    recorded, calibrated lead; anything else read from the waveform's shape (a sign, a ratio, a
    morphology, a delta wave) needs a recorded lead, not one derived from others.

    >>> lead_level_of("ms", 30, []), lead_level_of("mV", 0.0, []), lead_level_of("mV", 0.1, [])
    ('present', 'recorded', 'calibrated')
    """
    parts = [(unit, threshold)] + [(unit_of(c.quantity), c.threshold) for c in also]
    if any(u in _VOLTAGE_UNITS and _nonzero(t) for u, t in parts):
        return "calibrated"
    if all(u == "ms" for u, _ in parts):
        return "present"
    return "recorded"


def _criterion(row: dict[str, Any], sources: dict[str, str]) -> CriterionSpec:
    cid = row["id"]
    q = row["quantity"]
    quantities = list(q) if isinstance(q, list) else [q]
    for name in quantities:
        if not is_known_quantity(name):
            raise InvalidInputError(f"criterion {cid}: unknown quantity {name!r}")
    leads = row.get("leads")
    if leads is not None and not isinstance(leads, list):
        raise InvalidInputError(f"criterion {cid}: leads must be a list")
    if leads is None and not all(is_global_quantity(n) for n in quantities):
        raise InvalidInputError(f"criterion {cid}: per-lead quantity needs 'leads'")
    if leads is not None and not all(is_lead_quantity(n) for n in quantities):
        raise InvalidInputError(f"criterion {cid}: record-level quantity cannot take 'leads'")
    op = str(row["operator"])
    if op not in OPERATORS:
        raise InvalidInputError(f"criterion {cid}: unknown operator {op!r}")
    unit = str(row.get("unit", ""))
    if unit not in PRECISION:
        raise InvalidInputError(f"criterion {cid}: unknown unit {unit!r}")
    certainty = row.get("certainty", "probable")
    if certainty not in CERTAINTY_ORDER:
        raise InvalidInputError(f"criterion {cid}: unknown certainty {certainty!r}")
    if row.get("source") not in sources:
        raise InvalidInputError(f"criterion {cid}: source {row.get('source')!r} not in sources")
    _check_threshold(cid, op, row["threshold"])
    also = []
    for c in row.get("also") or []:
        if c["operator"] not in OPERATORS or not is_known_quantity(c["quantity"]):
            raise InvalidInputError(f"criterion {cid}: bad 'also' condition {c!r}")
        also.append(
            Condition(c["quantity"], c["operator"], c["threshold"], bool(c.get("allow_missing")))
        )
    variants = []
    for v in row.get("variants") or []:
        when = dict(v.get("when") or {})
        unknown = set(when) - {"sex", "age_lt", "age_ge"}
        if unknown:
            raise InvalidInputError(f"criterion {cid}: unknown variant keys {sorted(unknown)}")
        if v.get("certainty") is not None and v["certainty"] not in CERTAINTY_ORDER:
            raise InvalidInputError(f"criterion {cid}: unknown certainty {v['certainty']!r}")
        variants.append(Variant(when, v.get("threshold"), v.get("certainty")))
    level = row.get("lead_level") or lead_level_of(unit, row["threshold"], also)
    if level not in LEAD_LEVELS:
        raise InvalidInputError(f"criterion {cid}: unknown lead_level {level!r}")
    min_leads = int(row.get("min_leads", 1))
    # A territory whose normal-variant leads are excepted may keep fewer leads than it needs
    # (septal T inversion without V1): the criterion is then never met, by construction.
    if leads is not None and min_leads > len(leads) and not row.get("_excepted"):
        raise InvalidInputError(f"criterion {cid}: min_leads {min_leads} > {len(leads)} leads")
    return CriterionSpec(
        id=cid,
        quantity=quantities,
        operator=op,
        threshold=row["threshold"],
        unit=unit,
        certainty=certainty,
        source=row["source"],
        leads=leads,
        min_leads=min_leads,
        lead_level=str(level),
        also=also,
        variants=variants,
        rules_out_when_met=list(row.get("rules_out_when_met") or []),
        rules_out_when_not_met=list(row.get("rules_out_when_not_met") or []),
        measure_config=_measure_links(cid, row),
        raw=row,
    )


def _lead_group(owner: str, row: dict[str, Any]) -> LeadGroup:
    leads = row.get("leads")
    if not isinstance(leads, list) or not leads:
        raise InvalidInputError(f"need {owner}: a group needs a list of leads")
    level = str(row.get("level", "present"))
    if level not in LEAD_LEVELS:
        raise InvalidInputError(f"need {owner}: unknown lead level {level!r}")
    n = int(row.get("min_leads", 1))
    if not 1 <= n <= len(leads):
        raise InvalidInputError(f"need {owner}: min_leads {n} for {len(leads)} leads")
    bad = [str(x) for x in leads if x not in STANDARD_LEADS]
    if bad:
        raise InvalidInputError(f"need {owner}: unknown lead(s) {', '.join(bad)}")
    unknown = set(row) - {"leads", "min_leads", "level", "all_calibrated"}
    if unknown:
        raise InvalidInputError(f"need {owner}: unknown group keys {sorted(unknown)}")
    return LeadGroup([str(x) for x in leads], n, level, bool(row.get("all_calibrated", False)))


def _needs(data: dict[str, Any], territories: dict[str, dict[str, Any]]) -> dict[str, NeedSpec]:
    """The ``needs`` rows, plus one need per territory (two of its leads, calibrated)."""
    out: dict[str, NeedSpec] = {}
    for name, terr in territories.items():
        leads = [str(x) for x in terr["leads"]]
        out[name] = NeedSpec(
            name,
            f"two of the {terr['label']} leads ({', '.join(leads)}), recorded and calibrated",
            [LeadGroup(leads, min(2, len(leads)), "calibrated")],
        )
    for nid, row in (data.get("needs") or {}).items():
        if nid in territories:
            raise InvalidInputError(f"need {nid}: a territory of that name is a need already")
        row = dict(row or {})
        unknown = set(row) - {"label", "groups", "min_beats", "min_seconds"}
        if unknown:
            raise InvalidInputError(f"need {nid}: unknown keys {sorted(unknown)}")
        groups = [_lead_group(nid, g) for g in row.get("groups") or []]
        beats, seconds = row.get("min_beats"), row.get("min_seconds")
        if not groups and beats is None and seconds is None:
            raise InvalidInputError(f"need {nid}: give lead groups, min_beats or min_seconds")
        out[nid] = NeedSpec(
            id=str(nid),
            label=str(row.get("label") or nid),
            groups=groups,
            min_beats=None if beats is None else int(beats),
            min_seconds=None if seconds is None else float(seconds),
        )
    return out


def _statement(row: dict[str, Any]) -> StatementSpec:
    sid = row["id"]
    if row.get("category") not in CATEGORIES:
        raise InvalidInputError(f"statement {sid}: unknown category {row.get('category')!r}")
    certainty = row.get("certainty", "probable")
    if certainty not in CERTAINTY_ORDER + ("from_criteria",):
        raise InvalidInputError(f"statement {sid}: unknown certainty {certainty!r}")
    code = row.get("code")
    return StatementSpec(
        id=sid,
        label=str(row["label"]),
        code=None if code is None else str(code),
        category=row["category"],
        step=int(row["step"]),
        requires=row["requires"],
        certainty=certainty,
        certainty_by=list(row.get("certainty_by") or []),
        supports=list(row.get("supports") or []),
        equivalent_codes=[str(c) for c in row.get("equivalent_codes") or []],
        fine_grained=bool(row.get("fine_grained", False)),
        count=row.get("count"),
        only_with=row.get("only_with"),
        needs=[str(x) for x in row.get("needs") or []],
        needs_all_assessable=bool(row.get("needs_all_assessable", False)),
        if_borderline=row.get("if_borderline"),
    )


def parse_table(data: dict[str, Any], path: str = "") -> CriteriaTable:
    """Build a :class:`CriteriaTable` from the parsed YAML mapping (validates references)."""
    sources = dict(data.get("sources") or {})
    territories = dict(data.get("territories") or {})
    criteria: dict[str, CriterionSpec] = {}
    for row in _expand(list(data.get("criteria") or []), territories):
        spec = _criterion(row, sources)
        if spec.id in criteria:
            raise InvalidInputError(f"duplicate criterion id {spec.id!r}")
        criteria[spec.id] = spec
    statements: dict[str, StatementSpec] = {}
    for row in _expand(list(data.get("statements") or []), territories):
        spec = _statement(row)
        if spec.id in statements:
            raise InvalidInputError(f"duplicate statement id {spec.id!r}")
        statements[spec.id] = spec
    needs = _needs(data, territories)
    for spec in statements.values():
        for nid in spec.needs:
            if nid not in needs:
                raise InvalidInputError(f"statement {spec.id}: unknown need {nid!r}")
        refs = expression_ids(spec.requires) + list(spec.supports)
        for rule in spec.certainty_by:
            refs += expression_ids(rule["if"])
            if rule.get("certainty") not in CERTAINTY_ORDER:
                raise InvalidInputError(f"statement {spec.id}: bad certainty_by {rule!r}")
        for ref in refs:
            if ref not in criteria:
                raise InvalidInputError(f"statement {spec.id}: unknown criterion {ref!r}")
        if spec.count and spec.count not in COUNT_FIELDS:
            raise InvalidInputError(f"statement {spec.id}: bad count field {spec.count!r}")
        for other in spec.only_with or []:
            if other not in statements and other not in {r["id"] for r in data["statements"]}:
                raise InvalidInputError(f"statement {spec.id}: unknown only_with {other!r}")
        target = spec.if_borderline
        if target is not None and (
            not isinstance(target, str) or target not in statements or target == spec.id
        ):
            raise InvalidInputError(f"statement {spec.id}: unknown if_borderline {target!r}")
        if target is not None and (
            statements[target].step != spec.step or statements[target].only_with is not None
        ):
            # It is reported just before the borderline statement, in the same step, and is
            # made whatever else is stated.
            raise InvalidInputError(
                f"statement {spec.id}: if_borderline {target!r} must be of the same step "
                "and have no only_with"
            )
    linked: dict[str, str] = {}
    for spec in criteria.values():
        for key in spec.measure_config:
            if key in linked:
                raise InvalidInputError(
                    f"criteria {linked[key]} and {spec.id} both set measure_config {key!r}: "
                    "one number, one source"
                )
            linked[key] = spec.id
        for ref in spec.rules_out_when_met + spec.rules_out_when_not_met:
            if ref not in statements:
                raise InvalidInputError(f"criterion {spec.id}: rules out unknown statement {ref!r}")
    precedence = []
    for row in data.get("precedence") or []:
        when, unless = row["when"], row.get("unless")
        for key, ref in (("when", when), ("unless", unless)):
            if ref is not None and ref not in statements and ref not in criteria:
                raise InvalidInputError(f"precedence: unknown {key!r} {ref!r}")
        precedence.append(
            PrecedenceRule(
                when=when,
                suppress=list(row.get("suppress") or []),
                except_=list(row.get("except") or []),
                reason=str(row.get("reason", "")),
                exclusions_stand=bool(row.get("exclusions_stand", False)),
                unless=None if unless is None else str(unless),
            )
        )
    quantity_needs: dict[str, list[str]] = {}
    for quantity, ids in (data.get("quantity_needs") or {}).items():
        ids = [ids] if isinstance(ids, str) else list(ids or [])
        if not is_global_quantity(quantity):
            raise InvalidInputError(f"quantity_needs: {quantity!r} is not a record-level quantity")
        for nid in ids:
            if nid not in needs:
                raise InvalidInputError(f"quantity_needs: {quantity}: unknown need {nid!r}")
        quantity_needs[str(quantity)] = [str(x) for x in ids]
    limits = dict(data.get("limits") or {})
    unknown_limits = set(limits) - {"normalised_amplitudes_not_assessable"}
    if unknown_limits:
        raise InvalidInputError(f"limits: unknown keys {sorted(unknown_limits)}")
    plausible = {}
    for quantity, bounds in (data.get("plausible_ranges") or {}).items():
        if not is_known_quantity(quantity) or not (isinstance(bounds, list) and len(bounds) == 2):
            raise InvalidInputError(f"plausible_ranges: bad entry {quantity!r}: {bounds!r}")
        plausible[quantity] = [float(bounds[0]), float(bounds[1])]
    margins = {}
    for cid, margin in (data.get("borderline_margins") or {}).items():
        ok = isinstance(margin, (int, float)) and not isinstance(margin, bool) and margin >= 0
        if cid not in criteria or not ok:
            raise InvalidInputError(f"borderline_margins: bad entry {cid!r}: {margin!r}")
        margins[str(cid)] = float(margin)
    table = CriteriaTable(
        borderline_margins=margins,
        plausible_ranges=plausible,
        version=int(data.get("version", 1)),
        sources=sources,
        territories=territories,
        criteria=criteria,
        statements=statements,
        precedence=precedence,
        path=path,
        needs=needs,
        quantity_needs=quantity_needs,
        normalised_amplitudes_not_assessable=bool(
            limits.get("normalised_amplitudes_not_assessable", False)
        ),
    )
    # The linked numbers must make a valid measurement configuration: a fraction of 5 or a
    # negative width fails when the table loads, not inside ``measure``.
    try:
        table.measure_config()
    except ValueError as exc:
        raise InvalidInputError(f"criteria table: measure_config: {exc}") from None
    return table


@functools.lru_cache(maxsize=8)
def _load_cached(path: str) -> CriteriaTable:
    # libyaml's safe loader when PyYAML was built with it: the same data, ~10x faster (the CLI
    # loads the table once per run, also for ``ecgr1 measure``).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader
    return parse_table(data, path)


def load_table(path: str | Path | None = None) -> CriteriaTable:
    """Load (and cache) the criteria table; the packaged ``criteria.yaml`` by default.

    Example
    -------
    >>> t = load_table()
    >>> t.criteria["qrs.wide"].threshold
    120
    """
    return _load_cached(str(Path(path) if path else DEFAULT_TABLE))
