"""An offline judge (``--judge protocol``): the criteria that the record itself can decide.

No LLM is involved. For each pair the record named by the row's ``objects.ecg[0]`` (under the
ECG root) is measured and interpreted by the protocol (:func:`ecgr1.verify.api.
interpretation_for`), and the text is scored against it. Four of the seven criteria are
scored, on the prompt's scales; AnalysisRelevance, EvidenceBasedReasoning and
RealisticDiagnosticProcess need a reading of the reasoning and are reported as unavailable.

Claim credit
------------
Every claim of the text (:func:`ecgr1.verify.extract_claims`) gets a credit in [0, 1], or none
(unscorable):

- **numeric** ("QRS 92 ms", "ST +0.15 mV in V2"): ``max(0, 1 - d / tol)``, where ``d`` is the
  distance from the stated value (or bound, or range) to the record's measured value (axes on
  the circle; per named lead, then averaged; a QTc without a formula: the closest formula)
  and ``tol`` the verifier's tolerance for the quantity (``tolerances.yaml``; twice for hedged
  or approximate values). So a value within the tolerance earns partial credit by how close
  it is, and a contradicted one earns 0. Values of records whose leads were rescaled
  (``amplitude_normalised``) are compared with the stored signal, which is what the text can
  report. No measured value: unscorable;
- **categorical** ("complete LBBB", "no ST elevation in V1-V3"): 1 when the verifier supports
  it, 0 when it contradicts it; otherwise (near a threshold, uncalibrated amplitudes, a
  finding the criteria cannot exclude) it is compared with the protocol's own conclusions, the
  claims of the protocol's report of the record: 1 when the protocol states the same
  finding with the same polarity (in overlapping leads, or without leads), 0 when it states the
  opposite, or states the finding only in other leads (0.5 for a hedged claim), unscorable
  when it says nothing about it.

Repeated claims count once. ``R`` (reliability) is the mean credit over the distinct scorable
claims (0 when there is none).

Criteria
--------
- **DiagnosisAccuracy** (items 0-2): one item per label of the text's ``<answer>``: 0 when it
  names no truth label (the reference row's ``labels``, else its answer, else the protocol's
  own labels; labels match when they name the same verifier concept, a specific form of it —
  complete RBBB is an RBBB — or the same words) or when the record refutes it (credit 0);
  else ``1 + R`` (the prompt's +1 for a correct diagnosis, up to +2 as far as the text's
  supporting evidence is right). One more item, 0, per truth label the answer misses.
- **AnalysisCompleteness** (items 0-1): one item per key component of the record: the
  components of :data:`TOPICS` (rhythm, rate, PR and AV conduction, QRS duration and
  intraventricular conduction, axis, chamber hypertrophy and voltage, ST segment, T waves, Q
  waves and infarction, QT) that the protocol's report of the record addresses (no PR item
  in atrial fibrillation). 0 when the text says nothing about it, else the mean credit of
  its claims on it (1 when none of them is scorable): "+0 for each key feature omitted or
  inaccurately described".
- **LeadEvidenceValidity** (items 0-2): one item per lead region (:data:`REGIONS`) that the
  text's lead-bound claims name: ``(1 + R) * mean credit`` of those claims; plus a 0 item per
  region where the protocol states a lead-bound finding that the text does not mention.
  Unavailable for a record when neither has a lead-bound claim.
- **GroundedECGUnderstanding** (0-100): ``100 * coverage * R``, coverage = the share of the
  record's measured core quantities (heart rate, PR, QRS duration, QT or QTc, QRS axis) that
  the text states as values.

The protocol judge is not neutral: it measures a text against the protocol's reading of the
record, so the protocol's own report scores near the top by construction (below 100 only by
the rounding of its values). Every scored criterion falls when one claim of a text is made
wrong: on six LUDB and CPSC 2018 records, each of 72 single-error copies of the protocol's
report (the verifier benchmark's value changes, negations, inventions, lead moves and rhythm
swaps) scores below the report on all four criteria. An edit the claim reader cannot see
leaves the scores equal: removing the middle "no" of "there is no A, no B, no C and no D"
still reads as a denial of C (5 further copies).

Example
-------
>>> from ecgr1.simulate import simulate
>>> from ecgr1.verify.api import interpretation_for
>>> from ecgr1.report import write_report
>>> interp, _ = interpretation_for(simulate("normal", seed=0).record)
>>> judge = ProtocolJudge()
>>> good = judge.judge_text(write_report(interp), interp)
>>> bad = judge.judge_text(write_report(interp).replace("PR 1", "PR 3", 1), interp)
>>> good.criteria["GroundedECGUnderstanding"].scores[0] > bad.criteria[
...     "GroundedECGUnderstanding"].scores[0]
True
"""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgr1.errors import ECGR1Error
from ecgr1.evaluate.judge import CRITERIA, CriterionScores, Item, Judgement
from ecgr1.evaluate.rows import Pair, answer_labels, reference_labels, response_text
from ecgr1.protocol.quantities import global_value, lead_usable, lead_value
from ecgr1.protocol.table import CriteriaTable, load_table
from ecgr1.protocol.types import Interpretation
from ecgr1.report import write_report
from ecgr1.verify.api import MAX_TEXT_CHARS, interpretation_for
from ecgr1.verify.check import check_claims
from ecgr1.verify.claims import Claim, ClaimVerdict
from ecgr1.verify.extract import extract_claims
from ecgr1.verify.tolerances import ToleranceTable, load_tolerances

__all__ = [
    "CORE_QUANTITIES",
    "REGIONS",
    "SCORED",
    "TOPICS",
    "ClaimCredit",
    "ProtocolJudge",
    "claim_credits",
]

Progress = Callable[[int, int], None]

#: The criteria this judge scores; the others are reported as unavailable.
SCORED: tuple[str, ...] = (
    "DiagnosisAccuracy",
    "AnalysisCompleteness",
    "LeadEvidenceValidity",
    "GroundedECGUnderstanding",
)
UNAVAILABLE_REASON = (
    "not scored by the protocol judge: it needs a reading of the reasoning (use an LLM judge)"
)

QTC_FORMULAS = ("qtc_framingham_ms", "qtc_hodges_ms", "qtc_fridericia_ms", "qtc_bazett_ms")
MAGNITUDE_QUANTITIES = frozenset({"s_amplitude_mv", "q_amplitude_mv"})
AXIS_QUANTITIES = frozenset({"p_axis_deg", "qrs_axis_deg", "t_axis_deg"})

#: Key ECG components (AnalysisCompleteness) and the claim concepts / categories of each.
TOPICS: dict[str, dict[str, frozenset[str]]] = {
    "rhythm": {
        "categories": frozenset({"rhythm", "ectopy", "pacing", "technical"}),
        "concepts": frozenset(),
    },
    "rate": {"categories": frozenset({"rate"}), "concepts": frozenset()},
    "PR and AV conduction": {
        "categories": frozenset(),
        "concepts": frozenset(
            {
                "pr_interval_ms",
                "first_degree_av_block",
                "second_degree_av_block",
                "third_degree_av_block",
                "av_block",
                "short_pr",
                "normal_pr",
                "wpw_pattern",
            }
        ),
    },
    "QRS duration and conduction": {
        "categories": frozenset(),
        "concepts": frozenset(
            {
                "qrs_duration_ms",
                "complete_rbbb",
                "incomplete_rbbb",
                "rbbb",
                "complete_lbbb",
                "incomplete_lbbb",
                "lbbb",
                "lafb",
                "lpfb",
                "nonspecific_ivcd",
                "normal_qrs_duration",
            }
        ),
    },
    "axis": {"categories": frozenset({"axis"}), "concepts": frozenset()},
    "hypertrophy and voltage": {
        "categories": frozenset({"hypertrophy", "voltage"}),
        "concepts": frozenset(
            {
                "sokolow_lyon_mv",
                "cornell_voltage_mv",
                "r_amplitude_mv",
                "s_amplitude_mv",
                "r_to_s_ratio",
                "p_amplitude_mv",
                "p_duration_ms",
            }
        ),
    },
    "ST segment": {
        "categories": frozenset(),
        "concepts": frozenset({"st_deviation_mv", "st_elevation", "st_depression"}),
    },
    "T waves": {
        "categories": frozenset(),
        "concepts": frozenset({"t_amplitude_mv", "t_wave_inversion", "nonspecific_t_abnormality"}),
    },
    "Q waves and infarction": {
        "categories": frozenset(),
        "concepts": frozenset(
            {
                "q_amplitude_mv",
                "pathological_q_waves",
                "myocardial_infarction",
                "poor_r_progression",
                "ischemia",
            }
        ),
    },
    "QT": {
        "categories": frozenset({"qt"}),
        "concepts": frozenset({"qt_interval_ms", "long_qt", "short_qt", "normal_qt"}),
    },
}

#: Lead regions of LeadEvidenceValidity (a partition of the 12 leads).
REGIONS: dict[str, frozenset[str]] = {
    "inferior": frozenset({"II", "III", "aVF"}),
    "lateral": frozenset({"I", "aVL", "V5", "V6"}),
    "septal": frozenset({"V1", "V2"}),
    "anterior": frozenset({"V3", "V4"}),
    "aVR": frozenset({"aVR"}),
}

#: The record's core quantities (GroundedECGUnderstanding coverage): name -> claim concepts.
CORE_QUANTITIES: dict[str, tuple[str, ...]] = {
    "heart rate": ("heart_rate_bpm",),
    "PR interval": ("pr_interval_ms",),
    "QRS duration": ("qrs_duration_ms",),
    "QT": ("qt_interval_ms", "qtc_ms"),
    "QRS axis": ("qrs_axis_deg",),
}
_CORE_MEASURED: dict[str, tuple[str, ...]] = {
    "heart rate": ("heart_rate_bpm",),
    "PR interval": ("pr_interval_ms",),
    "QRS duration": ("qrs_duration_ms",),
    "QT": ("qt_interval_ms", *QTC_FORMULAS),
    "QRS axis": ("qrs_axis_deg",),
}

# A specific diagnosis counts as its general form when labels are matched.
_GENERAL: dict[str, str] = {
    "complete_rbbb": "rbbb",
    "complete_lbbb": "lbbb",
    "first_degree_av_block": "av_block",
    "second_degree_av_block": "av_block",
    "third_degree_av_block": "av_block",
    "normal_sinus_rhythm": "sinus_rhythm",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# --------------------------------------------------------------------------- claim credit


@dataclass(frozen=True)
class ClaimCredit:
    """A claim, the verifier's verdict and its credit (None: unscorable) with the basis:
    ``measurement`` (numeric), ``verifier`` or ``protocol`` (categorical)."""

    claim: Claim
    verdict: ClaimVerdict
    credit: float | None
    basis: str | None

    @property
    def key(self) -> tuple[Any, ...]:
        """What makes two claims the same claim (repeated claims count once)."""
        c = self.claim
        return (
            c.kind,
            c.concept,
            c.negated,
            c.hedged,
            c.comparator,
            c.value,
            c.upper,
            tuple(sorted(c.leads)),
            c.qualifier,
        )


def _n_leads(interp: Interpretation) -> int:
    m = interp.measurements
    usable = [ld for ld in m.leads if lead_usable(m, ld)]
    return len(usable) or len(m.leads)


def _measured(claim: Claim, interp: Interpretation, ranges: dict) -> dict[str, float]:
    """The measured values a numeric claim is compared with (the verifier's choice of values,
    without its calibration gate)."""
    m = interp.measurements
    q = claim.concept
    if q == "qtc_ms":
        names = [f"qtc_{claim.qualifier}_ms"] if claim.qualifier else list(QTC_FORMULAS)
        values: dict[str, Any] = {n: global_value(m, n, ranges) for n in names}
    elif claim.leads:
        values = {}
        for ld in claim.leads:
            v = lead_value(m, ld, q, ranges) if ld in m.leads else None
            if isinstance(v, (int, float)) and q in MAGNITUDE_QUANTITIES:
                v = abs(v)
            values[ld] = v
    else:
        values = {q: global_value(m, q, ranges)}
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    }


def _distance(claim: Claim, measured: float) -> float:
    v = float(claim.value if claim.value is not None else math.nan)
    if claim.concept in AXIS_QUANTITIES:
        diff = (measured - v + 180.0) % 360.0 - 180.0
    else:
        diff = measured - v
    if claim.comparator == "=":
        return abs(diff)
    if claim.comparator == "between":
        hi = float(claim.upper) if claim.upper is not None else v
        return max(0.0, v - measured, measured - hi)
    if claim.comparator in ("<", "<="):
        return max(0.0, diff)
    return max(0.0, -diff)


def _numeric_credit(
    claim: Claim, interp: Interpretation, tolerances: ToleranceTable, ranges: dict
) -> float | None:
    if claim.value is None or not math.isfinite(claim.value):
        return None
    got = _measured(claim, interp, ranges)
    if not got:
        return None
    loose = claim.hedged or claim.approximate
    n_leads = _n_leads(interp)
    credits = []
    for value in got.values():
        tol = tolerances.tolerance(claim.concept, value, hedged=loose, n_leads=n_leads)
        d = _distance(claim, value)
        credits.append(1.0 if d == 0 else (max(0.0, 1.0 - d / tol) if tol > 0 else 0.0))
    if claim.concept == "qtc_ms" and not claim.leads:
        return max(credits)  # any formula may be meant
    return sum(credits) / len(credits)


def _covers(a: Claim, b: Claim) -> bool:
    return not a.leads or not b.leads or bool(set(a.leads) & set(b.leads))


def _protocol_credit(claim: Claim, protocol_claims: Sequence[Claim]) -> float | None:
    same = [p for p in protocol_claims if p.kind == "categorical" and p.concept == claim.concept]
    if not same:
        return None
    if any(p.negated == claim.negated and _covers(p, claim) for p in same):
        return 1.0
    opposite = any(p.negated != claim.negated and _covers(p, claim) for p in same)
    elsewhere = (
        not claim.negated
        and bool(claim.leads)
        and any(not p.negated and p.leads and not _covers(p, claim) for p in same)
    )
    if opposite or elsewhere:
        return 0.5 if claim.hedged else 0.0
    return None


def claim_credits(
    text: str,
    interp: Interpretation,
    protocol_claims: Sequence[Claim],
    *,
    table: CriteriaTable | None = None,
    tolerances: ToleranceTable | None = None,
) -> list[ClaimCredit]:
    """The credit of every claim of ``text`` (module docstring), in text order.
    ``protocol_claims``: the claims of the protocol's report of the record."""
    table = table or load_table()
    tolerances = tolerances or load_tolerances()
    claims = extract_claims(text)
    verdicts = check_claims(claims, interp, table=table, tolerances=tolerances)
    out = []
    for claim, verdict in zip(claims, verdicts):
        if claim.kind == "numeric":
            credit = _numeric_credit(claim, interp, tolerances, table.plausible_ranges)
            if verdict.verdict == "contradicted":
                credit = 0.0
            elif credit is None and verdict.verdict == "supported":
                credit = 1.0
            out.append(ClaimCredit(claim, verdict, credit, "measurement"))
        elif verdict.verdict == "supported":
            out.append(ClaimCredit(claim, verdict, 1.0, "verifier"))
        elif verdict.verdict == "contradicted":
            out.append(ClaimCredit(claim, verdict, 0.0, "verifier"))
        else:
            credit = _protocol_credit(claim, protocol_claims)
            out.append(
                ClaimCredit(claim, verdict, credit, "protocol" if credit is not None else None)
            )
    return out


def _distinct(credits: Sequence[ClaimCredit]) -> list[ClaimCredit]:
    seen: dict[tuple[Any, ...], ClaimCredit] = {}
    for c in credits:
        seen.setdefault(c.key, c)
    return list(seen.values())


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _topic(claim: Claim) -> str | None:
    for name, spec in TOPICS.items():
        if claim.concept in spec["concepts"]:
            return name
    for name, spec in TOPICS.items():
        if claim.category in spec["categories"]:
            return name
    return None


# --------------------------------------------------------------------------- labels


def _norm_label(label: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", label.lower()).split())


def _label_concepts(label: str) -> set[str]:
    out = set()
    for c in extract_claims(label):
        if c.kind == "categorical" and not c.negated:
            out.add(c.concept)
            if c.concept in _GENERAL:
                out.add(_GENERAL[c.concept])
    return out


def _labels_match(a: str, b: str) -> bool:
    if _norm_label(a) == _norm_label(b):
        return True
    ca, cb = _label_concepts(a), _label_concepts(b)
    return bool(ca & cb)


# --------------------------------------------------------------------------- the judge


def _inside_root(root: str, ref: str) -> str:
    if _CONTROL.search(ref):
        raise ECGR1Error(f"ECG path {ref[:200]!r} holds control characters")
    base = os.path.normpath(os.path.abspath(root))
    target = os.path.normpath(os.path.join(base, ref))
    if target != base and not target.startswith(base.rstrip(os.sep) + os.sep):
        raise ECGR1Error(f"ECG path {ref[:200]!r} is outside the ECG root {root}")
    return target


def _ecg_of(row: dict[str, Any]) -> str | None:
    objects = row.get("objects")
    ecgs = objects.get("ecg") if isinstance(objects, dict) else None
    if isinstance(ecgs, str):
        ecgs = [ecgs]
    if isinstance(ecgs, list) and ecgs and isinstance(ecgs[0], str) and ecgs[0].strip():
        return ecgs[0]
    return None


class ProtocolJudge:
    """Score texts against the protocol's reading of their record (module docstring).

    Parameters
    ----------
    ecg_root : the folder that ``objects.ecg`` paths are relative to (default: the current
        folder); a path that leaves it fails that record.
    table, tolerances : the criteria and tolerance tables (default: the packaged ones).
    max_records : interpretations kept in memory (records named by many rows are measured
        once while they stay).
    """

    name = "protocol"
    scored: tuple[str, ...] = SCORED

    def __init__(
        self,
        ecg_root: str | Path | None = None,
        *,
        table: CriteriaTable | None = None,
        tolerances: ToleranceTable | None = None,
        max_records: int = 64,
    ) -> None:
        self.ecg_root = str(ecg_root) if ecg_root is not None else os.getcwd()
        self.table = table or load_table()
        self.tolerances = tolerances or load_tolerances()
        self.max_records = max_records
        self._records: OrderedDict[str, tuple[Interpretation | None, list[str]]] = OrderedDict()
        self._protocol_claims: dict[int, list[Claim]] = {}

    def describe(self) -> dict[str, Any]:
        """The judge's settings for the report."""
        return {
            "judge": self.name,
            "ecg_root": self.ecg_root,
            "scored": list(SCORED),
            "unavailable": [c for c in CRITERIA if c not in SCORED],
        }

    # -- records
    def interpretation(
        self, ref: str, age: float | None = None, sex: str | None = None
    ) -> tuple[Interpretation | None, list[str]]:
        """The protocol interpretation of the record at ``ref`` (relative to the ECG root) and
        notes, with the row's age and sex when given (as ``ecgr1 infer --engine protocol``
        reads them); raises :class:`ECGR1Error` (or OSError) when it cannot be read."""
        path = _inside_root(self.ecg_root, ref)
        key = (path, age, sex)
        if key in self._records:
            self._records.move_to_end(key)
            return self._records[key]
        found = interpretation_for(path, table=self.table, age=age, sex=sex)
        self._records[key] = found
        while len(self._records) > self.max_records:
            self._records.popitem(last=False)
        return found

    def protocol_claims(self, interp: Interpretation) -> list[Claim]:
        """The claims of the protocol's own report of the record."""
        key = id(interp)
        if key not in self._protocol_claims:
            if len(self._protocol_claims) > 4 * self.max_records:
                self._protocol_claims.clear()
            text = write_report(interp, table=self.table)
            self._protocol_claims[key] = extract_claims(text)
        return self._protocol_claims[key]

    # -- scoring
    def credits(self, text: str, interp: Interpretation) -> list[ClaimCredit]:
        """:func:`claim_credits` of ``text`` against the record's interpretation."""
        return claim_credits(
            text, interp, self.protocol_claims(interp), table=self.table, tolerances=self.tolerances
        )

    def judge_text(
        self,
        text: str,
        interp: Interpretation,
        *,
        truth_labels: Sequence[str] | None = None,
        record_id: str = "",
        credits: Sequence[ClaimCredit] | None = None,
    ) -> Judgement:
        """Score one text against an interpretation. ``truth_labels`` default to the
        protocol's own labels; ``credits`` are :meth:`credits` of the text when already
        computed."""
        if not isinstance(text, str):
            raise ECGR1Error("the text to judge must be a string")
        if len(text) > MAX_TEXT_CHARS:
            return Judgement.failed(record_id, f"the text is over {MAX_TEXT_CHARS:,} characters")
        pclaims = self.protocol_claims(interp)
        if credits is None:
            credits = self.credits(text, interp)
        distinct = _distinct(credits)
        scorable = [c for c in distinct if c.credit is not None]
        reliability = _mean([float(c.credit) for c in scorable if c.credit is not None]) or 0.0
        truth = list(truth_labels) if truth_labels is not None else list(interp.labels)

        criteria = {c: CriterionScores(c, unavailable=UNAVAILABLE_REASON) for c in CRITERIA}
        criteria["DiagnosisAccuracy"] = self._diagnosis(text, interp, pclaims, truth, reliability)
        criteria["AnalysisCompleteness"] = self._completeness(distinct, pclaims)
        criteria["LeadEvidenceValidity"] = self._leads(distinct, pclaims, reliability)
        criteria["GroundedECGUnderstanding"], coverage = self._grounded(
            distinct, interp, reliability
        )
        details = {
            "reliability": reliability,
            "coverage": coverage,
            "claims": len(credits),
            "distinct_claims": len(distinct),
            "scorable": len(scorable),
            "credit_zero": sorted({c.claim.text for c in scorable if c.credit == 0.0}),
            "truth_labels": truth,
        }
        return Judgement(record_id, criteria, details=details)

    def _diagnosis(
        self,
        text: str,
        interp: Interpretation,
        pclaims: Sequence[Claim],
        truth: Sequence[str],
        reliability: float,
    ) -> CriterionScores:
        labels = answer_labels(text) or []
        items, matched_truth = [], set()
        seen = set()
        for label in labels:
            if _norm_label(label) in seen:
                continue
            seen.add(_norm_label(label))
            hits = [i for i, t in enumerate(truth) if _labels_match(label, t)]
            matched_truth.update(hits)
            refuted = any(
                c.credit == 0.0
                for c in claim_credits(
                    label, interp, pclaims, table=self.table, tolerances=self.tolerances
                )
            )
            if refuted:
                items.append(Item(0.0, f"{label!r}: the record refutes it"))
            elif not hits:
                items.append(Item(0.0, f"{label!r}: not among the truth labels"))
            else:
                items.append(
                    Item(
                        1.0 + reliability, f"{label!r}: correct; evidence credit {reliability:.3f}"
                    )
                )
        for i, t in enumerate(truth):
            if i not in matched_truth:
                items.append(Item(0.0, f"{t!r}: missed"))
        return CriterionScores("DiagnosisAccuracy", items=items)

    def _completeness(
        self, distinct: Sequence[ClaimCredit], pclaims: Sequence[Claim]
    ) -> CriterionScores:
        key = {_topic(p) for p in pclaims} - {None}
        items = []
        for topic in TOPICS:
            if topic not in key:
                continue  # the protocol's reading says nothing about it (e.g. PR in AF)
            mine = [c for c in distinct if _topic(c.claim) == topic]
            if not mine:
                items.append(Item(0.0, f"{topic}: not addressed"))
                continue
            credit = _mean([float(c.credit) for c in mine if c.credit is not None])
            score = 1.0 if credit is None else credit
            items.append(Item(score, f"{topic}: {len(mine)} claims, credit {score:.3f}"))
        return CriterionScores("AnalysisCompleteness", items=items)

    def _leads(
        self, distinct: Sequence[ClaimCredit], pclaims: Sequence[Claim], reliability: float
    ) -> CriterionScores:
        lead_claims = [c for c in distinct if c.claim.leads]
        critical = {
            region
            for p in pclaims
            if p.kind == "categorical" and not p.negated and p.leads
            for region, leads in REGIONS.items()
            if leads & set(p.leads)
        }
        items = []
        for region, leads in REGIONS.items():
            mine = [c for c in lead_claims if leads & set(c.claim.leads)]
            if mine:
                credit = _mean([float(c.credit) for c in mine if c.credit is not None])
                credit = 1.0 if credit is None else credit
                score = (1.0 + reliability) * credit
                items.append(Item(score, f"{region}: {len(mine)} claims, credit {credit:.3f}"))
            elif region in critical:
                items.append(Item(0.0, f"{region}: the protocol's finding there is not mentioned"))
        if not items:
            return CriterionScores(
                "LeadEvidenceValidity",
                unavailable="no lead-bound statement in the text or the protocol's reading",
            )
        return CriterionScores("LeadEvidenceValidity", items=items)

    def _grounded(
        self, distinct: Sequence[ClaimCredit], interp: Interpretation, reliability: float
    ) -> tuple[CriterionScores, float]:
        m = interp.measurements
        ranges = self.table.plausible_ranges
        measured = [
            name
            for name, quantities in _CORE_MEASURED.items()
            if any(global_value(m, q, ranges) is not None for q in quantities)
        ]
        stated = {c.claim.concept for c in distinct if c.claim.kind == "numeric"}
        cited = [n for n in measured if set(CORE_QUANTITIES[n]) & stated]
        coverage = len(cited) / len(measured) if measured else 1.0
        score = 100.0 * coverage * reliability
        why = (
            f"cites {len(cited)} of {len(measured)} measured core quantities; "
            f"claim credit {reliability:.3f}"
        )
        return CriterionScores("GroundedECGUnderstanding", items=[Item(score, why)]), coverage

    def judge_pair(self, pair: Pair) -> Judgement:
        """The judgement of one prediction/reference pair (failures never raise)."""
        error = pair.pred.get("error")
        if isinstance(error, str) and error.strip():
            return Judgement.failed(pair.id, f"the prediction row failed ({error.strip()[:200]})")
        ref = _ecg_of(pair.ref) or _ecg_of(pair.pred)
        if ref is None:
            return Judgement.failed(
                pair.id, "no ECG (objects.ecg is empty): the protocol judge needs the record"
            )
        try:
            interp, notes = self.interpretation(ref, *_age_sex(pair.ref, pair.pred))
        except (ECGR1Error, OSError, ValueError) as exc:
            return Judgement.failed(pair.id, f"the record {ref!r} cannot be read: {exc}")
        if interp is None:
            why = notes[0] if notes else "no measurement"
            return Judgement.failed(pair.id, f"the record {ref!r} cannot be measured: {why}")
        truth = reference_labels(pair.ref)
        try:
            return self.judge_text(
                response_text(pair.pred), interp, truth_labels=truth, record_id=pair.id
            )
        except ECGR1Error as exc:
            return Judgement.failed(pair.id, str(exc))

    def judge_many(
        self, pairs: Sequence[Pair], *, progress: Progress | None = None
    ) -> list[Judgement]:
        """One judgement per pair, in order."""
        out = []
        for i, pair in enumerate(pairs, start=1):
            out.append(self.judge_pair(pair))
            if progress is not None:
                progress(i, len(pairs))
        return out


def _age_sex(*rows: dict[str, Any]) -> tuple[float | None, str | None]:
    """Age and sex from the first row's ``meta`` that gives them (plausible values only)."""
    for row in rows:
        meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
        age, sex = meta.get("age"), meta.get("sex")
        age = float(age) if isinstance(age, (int, float)) and 0 <= age < 130 else None
        sex = (
            {"m": "M", "male": "M", "f": "F", "female": "F"}.get(str(sex).lower()) if sex else None
        )
        if age is not None or sex is not None:
            return age, sex
    return None, None
