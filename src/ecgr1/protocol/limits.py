"""Limits of the input: what a recording lets the protocol assess.

A statement needs leads (or lead groups) and a length (the criteria table's ``needs``). This
module reads what a measurement result offers -- which standard leads carry signal, which were
derived from others (III = II - I), which are uncalibrated (a WFDB gain of 0 read at a nominal
gain), whether the source normalised every lead's amplitude, how long the record is and how
many beats it holds -- and says, for a lead, a need or a record-level quantity, why it falls
short (None when it does not).

The reader reports derived and uncalibrated leads in its warnings, which travel with the
measurement result (``MeasurementResult.warnings``); they are read from there.

Example
-------
>>> from ecgr1.measure import MeasurementResult
>>> m = MeasurementResult("one", 500.0, 10.0, ["II"])
>>> lim = input_limits(m)
>>> lim.leads, lim.missing[:3]
(['II'], ['I', 'III', 'aVR'])
>>> from ecgr1.protocol.table import load_table
>>> Assessability(lim, load_table()).need_why("right_precordial")
'V1 or V2 (recorded) for the terminal QRS forces: V1 and V2 not in the record'
"""

from __future__ import annotations

import re
from typing import Any

from ecgr1.io.leads import STANDARD_LEADS, canonical_lead_name
from ecgr1.measure.result import MeasurementResult
from ecgr1.protocol.table import LEAD_LEVELS, CriteriaTable, NeedSpec
from ecgr1.protocol.types import Evidence, InputLimits, join_names

# The reader's warnings (ecgr1.io.finalize / ecgr1.io.wfdb_reader / ecgr1.io.standardize).
_DERIVED = re.compile(r"derived lead\(s\) (.+?)(?: from |\s*\(Einthoven|$)")
_NO_GAIN = re.compile(r"no ADC gain for signal\(s\) (.+?): uncalibrated")
_PADDED = re.compile(r"record is ([0-9.]+) s, shorter than")
NO_SIGNAL_FLAGS = ("flat", "lead_off")

# Category names as the report writes them (technical and summary statements are left out of
# the summary sentence).
CATEGORY_TEXT = {
    "rhythm": "rhythm",
    "conduction": "conduction",
    "axis": "axis",
    "hypertrophy": "hypertrophy",
    "ischemia/infarction": "ischaemia",
    "repolarisation/QT": "QT",
}


def _names(text: str) -> list[str]:
    out = []
    for raw in re.split(r",|\band\b", text):
        name = canonical_lead_name(raw.strip())
        if name:
            out.append(name)
    return out


def input_limits(m: MeasurementResult) -> InputLimits:
    """What ``m`` offers: leads with signal, derived and uncalibrated leads, normalisation,
    length (see :class:`InputLimits`)."""
    names = [canonical_lead_name(str(x)) for x in m.lead_names]
    known = bool(m.lead_names)
    no_signal = [
        ld
        for ld in STANDARD_LEADS
        if ld in names
        and m.quality.leads.get(ld) is not None
        and any(f in NO_SIGNAL_FLAGS for f in m.quality.leads[ld].flags)
    ]
    if known:
        leads = [ld for ld in STANDARD_LEADS if ld in names and ld not in no_signal]
    else:
        leads = list(STANDARD_LEADS)  # nothing named: a hand-built result, leads unknown
    derived: list[str] = []
    uncalibrated: list[str] = []
    duration = float(m.duration_s) if m.duration_s else None
    for text in m.warnings:
        text = str(text)
        found = _DERIVED.search(text)
        if found:
            derived += [x for x in _names(found.group(1)) if x in leads]
        found = _NO_GAIN.search(text)
        if found:
            uncalibrated += [x for x in _names(found.group(1)) if x in names]
        found = _PADDED.search(text)
        if found:
            duration = float(found.group(1))
    n_beats = int(m.global_.n_beats or 0) or len(m.beats) or None
    return InputLimits(
        leads=leads,
        missing=[ld for ld in STANDARD_LEADS if ld not in leads],
        no_signal=no_signal,
        derived=list(dict.fromkeys(derived)),
        uncalibrated=[ld for ld in dict.fromkeys(uncalibrated) if ld in leads],
        amplitude_normalised=bool(getattr(m.quality, "amplitude_normalised", False)),
        duration_s=None if duration is None else round(duration, 1),
        n_beats=n_beats,
    )


class Assessability:
    """Answers "why can this not be assessed?" for leads, needs and quantities (None: it can).

    ``limits`` is what the recording offers, ``table`` the criteria table with the needs.
    """

    def __init__(self, limits: InputLimits, table: CriteriaTable) -> None:
        self.limits = limits
        self.table = table
        self.normalised_counts = bool(table.normalised_amplitudes_not_assessable)
        self._needs: dict[str, str | None] = {}

    def lead_why(self, lead: str, level: str) -> str | None:
        """Why ``lead`` does not count at ``level`` (``LEAD_LEVELS``), or None."""
        lim = self.limits
        rank = LEAD_LEVELS.index(level)
        if lead not in lim.leads:
            return "without signal" if lead in lim.no_signal else "not in the record"
        if rank >= 1 and lead in lim.derived:
            return "derived from other leads"
        if rank >= 2 and lead in lim.uncalibrated:
            return "uncalibrated"
        if rank >= 3 and lim.amplitude_normalised and self.normalised_counts:
            return "normalised per lead in the source"
        return None

    def need_why(self, need_id: str) -> str | None:
        """Why the need ``need_id`` is not met (``"<label>: <leads> <why>"``), or None."""
        if need_id not in self._needs:
            self._needs[need_id] = self._need_why(self.table.needs[need_id])
        return self._needs[need_id]

    def _need_why(self, need: NeedSpec) -> str | None:
        lim = self.limits
        if need.length:
            short_s = (
                need.min_seconds is not None
                and lim.duration_s is not None
                and lim.duration_s < need.min_seconds
            )
            short_b = (
                need.min_beats is not None
                and lim.n_beats is not None
                and lim.n_beats < need.min_beats
            )
            if short_s or short_b:
                return f"{need.label}: {lim.describe_length()}"
        for group in need.groups:
            whys = {ld: self.lead_why(ld, group.level) for ld in group.leads}
            skewed = [ld for ld in group.leads if ld in lim.uncalibrated]
            if group.all_calibrated and skewed:
                return f"{need.label}: {join_names(skewed)} uncalibrated"
            if sum(w is None for w in whys.values()) >= group.min_leads:
                continue
            by_why: dict[str, list[str]] = {}
            for ld, why in whys.items():
                if why is not None:
                    by_why.setdefault(why, []).append(ld)
            return f"{need.label}: " + "; ".join(f"{join_names(v)} {k}" for k, v in by_why.items())
        return None

    def quantity_why(self, quantity: str) -> str | None:
        """Why a record-level quantity cannot be used (a need of it unmet), or None."""
        for nid in self.table.quantity_needs.get(quantity, ()):
            why = self.need_why(nid)
            if why is not None:
                return why
        return None


def length_evidence(limits: InputLimits, table: CriteriaTable) -> list[Evidence]:
    """The record's length against the length needs (so a report citing them is grounded)."""
    out = []
    for need in table.needs.values():
        if need.min_seconds is not None and limits.duration_s is not None:
            out.append(
                Evidence(
                    "duration_s",
                    [],
                    limits.duration_s,
                    "s",
                    f"needs.{need.id}",
                    ">=",
                    need.min_seconds,
                    limits.duration_s >= need.min_seconds,
                )
            )
        if need.min_beats is not None and limits.n_beats is not None:
            out.append(
                Evidence(
                    "n_beats",
                    [],
                    limits.n_beats,
                    "count",
                    f"needs.{need.id}",
                    ">=",
                    need.min_beats,
                    limits.n_beats >= need.min_beats,
                )
            )
    return out


def summary_sentence(
    limits: InputLimits,
    not_assessable: list[Any],
    applicable: dict[str, str],
    normalised_counts: bool = False,
    length_needs: tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
) -> str | None:
    """``single lead (II): conduction, axis, hypertrophy, ischaemia and QT not assessable; nor
    are supraventricular tachycardia or junctional rhythm``.

    ``not_assessable``: the entries (``statement``, ``label``, ``category``, ``needs``);
    ``applicable``: statement id -> category of every statement the record could have received
    (not made moot by precedence), to tell a whole category from part of one; ``length_needs``:
    the needs about the record's length (statements lacking only those are named as a group);
    ``labels``: statement id -> label (to name what could be assessed in a category).
    """
    entries = [x for x in not_assessable if x.category in CATEGORY_TEXT]
    if not entries:
        return None
    labels = labels or {}
    na = {x.statement for x in entries}
    # Statements withheld only for the record's length are named as a group.
    by_length = [x for x in entries if x.needs and all(n in length_needs for n in x.needs)]
    entries = [x for x in entries if x not in by_length]
    whole: list[str] = []  # categories of which nothing could be assessed
    mostly: list[str] = []  # categories of which most could not: "conduction (all but X)"
    partial: list[str] = []  # single statements
    for cat, text in CATEGORY_TEXT.items():
        in_cat = [sid for sid, c in applicable.items() if c == cat]
        missing = [x for x in entries if x.category == cat]
        if not missing:
            continue
        kept = [labels[sid] for sid in in_cat if sid not in na and sid in labels]
        if not kept:
            whole.append(text)
        elif len(missing) > len(kept):
            mostly.append(f"{text} (all but {_join_labels(kept, 'and')})")
        else:
            partial.extend(x.label for x in missing)
    head = limits.describe(normalised_counts) or "the input"
    parts = []
    if by_length:
        parts.append(
            "rate-dependent rhythm names and arrhythmias judged over several beats not assessable"
        )
    if whole or mostly:
        parts.append(f"{_join_labels(whole + mostly, 'and')} not assessable")
    if partial:
        nor = bool(whole or mostly or by_length)
        listed = _join_labels(partial, "or" if nor else "and")
        verb = "is" if len(partial) == 1 else "are"
        parts.append(f"nor {verb} {listed}" if nor else f"{listed} not assessable")
    return f"{head}: {'; '.join(parts)}"


def _join_labels(labels: list[str], conj: str) -> str:
    """Labels joined with commas, or with semicolons when a label has a comma of its own."""
    if len(labels) <= 1:
        return "".join(labels)
    if any("," in x for x in labels):
        return "; ".join(labels[:-1]) + f"; {conj} " + labels[-1]
    return ", ".join(labels[:-1]) + f" {conj} " + labels[-1]
