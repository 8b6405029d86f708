"""The ECG-R1 6-step interpretation writer and the RL ``solution`` string.

Format (``../shared/spec/interchange.md`` §2): six headed steps inside ``<think>``, each one
paragraph citing lead-specific measured values (normal and abnormal), then one narrative
paragraph, then ``<answer>label; label</answer>``. Every number printed comes from an
:class:`~ecgr1.protocol.Evidence` value or a criteria-table threshold.

``style="varied"`` with a ``seed`` changes connective phrasing only; the facts, the numbers,
the answer and the key-evidence phrases are identical to the deterministic report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property

from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.protocol.table import CriteriaTable, load_table
from ecgr1.protocol.types import Evidence, Exclusion, Interpretation, Statement, Suppression
from ecgr1.report.format import (
    NEGATED_OP_TEXT,
    evidence_text,
    fmt_threshold,
    fmt_value,
    join_labels,
    join_leads,
    join_words,
    quantity_name,
)
from ecgr1.report.steps import STEP_KEYS, STEP_TITLES

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("inferior", ("II", "III", "aVF")),
    ("lateral", ("I", "aVL", "V5", "V6")),
    ("anterior and septal", ("V1", "V2", "V3", "V4")),
)
CERTAINTY_PREFIX = {
    "definite": "",
    "probable": "probable ",
    "possible": "possible ",
    "borderline": "borderline ",
}
# Leads of the ST-depression territories (inferior, high lateral, lateral, anterior, septal):
# every lead but aVR.
_ST_DEPRESSION_LEADS = tuple(lead for lead in STANDARD_LEADS if lead != "aVR")
MAX_KEY_WORDS = 3  # key-evidence phrases must be shorter than four words
UNCLASSIFIED_KEY = "rhythm is unclassified"  # step 1's key phrase when no rhythm is named


@dataclass
class StepText:
    """One step: its evidence key, title, paragraph and key-evidence phrases."""

    key: str
    title: str
    paragraph: str
    evidence_phrases: list[str] = field(default_factory=list)


@dataclass
class Report:
    """A written interpretation: six steps, narrative, answer labels."""

    steps: list[StepText]
    narrative: str
    labels: list[str]

    @property
    def answer(self) -> str:
        """The ``<answer>`` content: labels separated by '; '."""
        return "; ".join(self.labels)

    @property
    def text(self) -> str:
        """The full assistant turn (``<think>`` steps, narrative, ``<answer>``)."""
        parts = ["<think>"]
        for i, step in enumerate(self.steps, start=1):
            parts.append(f"**Step {i}: {step.title}**")
            parts.append(step.paragraph)
        parts.append("</think>")
        parts.append(self.narrative)
        parts.append(f"<answer>{self.answer}</answer>")
        return "\n".join(parts)

    @property
    def solution(self) -> str:
        """The RL ``solution`` string (interchange.md §1)."""
        ev = " ".join(
            f"{s.key}:" + (f" {'; '.join(s.evidence_phrases)}" if s.evidence_phrases else "")
            for s in self.steps
        )
        return (
            f"<|answer|>{self.answer}<|/answer|>"
            f"<|key_diagnostic_evidence|>{ev}<|/key_diagnostic_evidence|>"
        )

    def key_evidence(self) -> dict[str, list[str]]:
        """``{step key: [phrases]}``."""
        return {s.key: list(s.evidence_phrases) for s in self.steps}


class _Writer:
    """Builds the six paragraphs; ``pick`` chooses phrasing (first option when deterministic)."""

    def __init__(
        self, interp: Interpretation, style: str, seed: int | None, table: CriteriaTable | None
    ) -> None:
        if style not in ("deterministic", "varied"):
            raise ValueError(f"style must be 'deterministic' or 'varied', got {style!r}")
        self.i = interp
        # The table that produced the interpretation: a criterion's lead count and a statement's
        # step are read from it, so a report never mixes two tables.
        self.table = table if table is not None else load_table()
        self.varied = style == "varied"
        self.rng = random.Random(seed)
        self.phrases: list[tuple[int, str]] = []
        self._excluded_seen: set[str] = set()

    # -------------------------------------------------------------- helpers
    def pick(self, *options: str) -> str:
        return self.rng.choice(options) if self.varied else options[0]

    def key(self, phrase: str, priority: int = 1) -> str:
        """Register a key-evidence phrase (returned unchanged so it is embedded verbatim)."""
        if phrase and len(phrase.split()) <= MAX_KEY_WORDS:
            self.phrases.append((priority, phrase))
        return phrase

    def obs(self, quantity: str, lead: str | None = None) -> Evidence | None:
        return self.i.obs(quantity, lead)

    def val(self, quantity: str, lead: str | None = None) -> str | None:
        ev = self.obs(quantity, lead)
        return None if ev is None else fmt_value(ev.value, ev.unit, ev.quantity)

    def crit(self, cid: str):
        return self.i.criteria.get(cid)

    def thr(self, cid: str) -> str:
        res = self.crit(cid)
        if res is None or not res.evidence:
            return ""
        ev = res.evidence[0]
        return fmt_threshold(ev.operator, ev.threshold, ev.unit)

    def thr_value(self, cid: str) -> str:
        """Threshold of a criterion as a bare value with unit (no operator)."""
        res = self.crit(cid)
        if res is None or not res.evidence:
            return ""
        ev = res.evidence[0]
        return fmt_value(ev.threshold, ev.unit)

    def has(self, sid: str) -> bool:
        return self.i.has(sid)

    def stmts(self, step: int) -> list[Statement]:
        return [s for s in self.i.statements if s.step == step]

    def lead_list(self, quantity: str, leads: tuple[str, ...] | list[str]) -> str | None:
        parts = []
        for lead in leads:
            v = self.val(quantity, lead)
            if v is not None:
                parts.append(f"{v} in {lead}")
        return join_words(parts) if parts else None

    def evidence_text(self, evidence: list[Evidence]) -> str:
        return evidence_text(evidence)

    def statement_sentence(self, s: Statement) -> str:
        prefix = CERTAINTY_PREFIX.get(s.certainty, "")
        lead_in = self.pick("Findings support", "The measurements indicate", "This supports")
        evidence = s.evidence
        # A borderline statement reported right after the statement made from it ("sinus
        # rhythm", then "borderline sinus bradycardia") cites only what it adds (the rate).
        made = [t for t in self.i.statements if t.reduced_from == s.id]
        if made:
            evidence = [e for e in s.evidence if e not in made[0].evidence] or s.evidence
        return f"{lead_in} {prefix}{self.key(s.label, 0)}: {self.evidence_text(evidence)}."

    def exclusion_clause(self, ex: Exclusion) -> str:
        """``QRS duration 92 ms is below 120 ms`` (no verb for what it excludes)."""
        res = self.crit(ex.criterion)
        if res is None or not ex.evidence:
            return ""
        if res.met:
            return _ucfirst(self.evidence_text([e for e in ex.evidence if e.met] or ex.evidence))
        ev = ex.evidence[0]
        thr = fmt_threshold(ev.operator, ev.threshold, ev.unit)
        if ev.unit == "count" and not ev.value:
            return f"No {quantity_name(ev.quantity)} are detected"
        if ev.leads:
            spec_min = self._min_leads(ex.criterion)
            vals = join_words(
                [
                    f"{fmt_value(e.value, e.unit, e.quantity)} in {join_leads(e.leads)}"
                    for e in ex.evidence
                    if e.quantity == ev.quantity and e.leads
                ]
            )
            where = (
                " in two contiguous leads"
                if spec_min == 2
                else (" in every limb lead" if spec_min > 2 else "")
            )
            return f"{_ucfirst(quantity_name(ev.quantity))} ({vals}) does not reach {thr}{where}"
        neg = NEGATED_OP_TEXT.get(ev.operator or "", "not")
        if ev.operator in ("between", "==", "in") or isinstance(ev.threshold, list):
            thr_text = thr
        else:
            thr_text = fmt_value(ev.threshold, ev.unit)
        return (
            f"{_ucfirst(quantity_name(ev.quantity))} {fmt_value(ev.value, ev.unit, ev.quantity)} "
            f"is {neg} {thr_text}"
        )

    def table_step(self, statement_id: str) -> int:
        """The step the criteria table gives a statement (6, the summary, when unknown)."""
        spec = self.table.statements.get(statement_id)
        return spec.step if spec else 6

    def _min_leads(self, cid: str) -> int:
        spec = self.table.criteria.get(cid)
        return spec.min_leads if spec else 1

    def exclusions_for_step(self, step: int, skip: set[str] | None = None) -> list[str]:
        """One sentence per group of criteria excluding the same differentials."""
        table_steps = {s.id: s.step for s in self.i.statements}
        grouped: dict[tuple[str, ...], list[str]] = {}
        labels_of: dict[tuple[str, ...], list[str]] = {}
        for ex in self.i.excluded:
            if skip and ex.criterion in skip:
                continue
            pairs = [
                (sid, label)
                for sid, label in zip(ex.rules_out, ex.labels)
                if sid not in self._excluded_seen
            ]
            if not pairs:
                continue
            steps = {table_steps.get(sid) or self.table_step(sid) for sid, _ in pairs}
            if min(steps) != step:
                continue
            clause = self.exclusion_clause(ex)
            if not clause:
                continue
            key = tuple(sid for sid, _ in pairs)
            grouped.setdefault(key, []).append(clause)
            labels_of[key] = [label for _, label in pairs]
            self._excluded_seen.update(key)
        out = []
        for key, clauses in grouped.items():
            verb = self.pick("which excludes", "ruling out", "arguing against")
            out.append(f"{join_words(clauses)}, {verb} {join_labels(labels_of[key])}.")
        return out

    # -------------------------------------------------------------- limits of the input
    def not_assessable(self, steps: tuple[int, ...]) -> list:
        """The not-assessable entries of statements the table places in ``steps``."""
        return [x for x in self.i.not_assessable if self.table_step(x.statement) in steps]

    def limits_sentence(self, steps: tuple[int, ...], what: str) -> str:
        """``Conduction and axis statements are not assessable from this input (single lead
        (II)), so neither stated nor excluded: a, b and c.`` (the reasons in full are in
        ``Interpretation.not_assessable``)."""
        entries = self.not_assessable(steps)
        if not entries:
            return ""
        lim = self.i.limits
        why = lim.describe(self.table.normalised_amplitudes_not_assessable) if lim else ""
        labels = join_labels([x.label for x in entries], "and")
        return (
            f"{_ucfirst(what)} {'is' if len(entries) == 1 else 'are'} "
            f"{self.key('not assessable', 1)} from this input"
            + (f" ({why})" if why else "")
            + f", so neither stated nor excluded: {labels}."
        )

    def intervals_assessable(self) -> bool:
        """Whether the global intervals could be assessed (the ``intervals`` need)."""
        return not any("intervals" in x.needs for x in self.i.not_assessable)

    def take_phrases(self, paragraph: str) -> list[str]:
        chosen: list[str] = []
        for _, phrase in sorted(self.phrases, key=lambda p: p[0]):
            if phrase in paragraph and phrase not in chosen:
                chosen.append(phrase)
            if len(chosen) == 3:
                break
        self.phrases = []
        return chosen

    # -------------------------------------------------------------- step 1
    def step1(self) -> str:
        s: list[str] = []
        m = self.i.measurements
        q = m.quality
        poor = [lead for lead in q.poor_leads]
        overall = q.overall
        if overall == "good" and not poor:
            s.append(
                self.pick(
                    "Technical quality is good with a stable baseline in all leads.",
                    "The tracing is technically good, with a stable baseline in every lead.",
                )
            )
        else:
            s.append(
                f"The recording has {self.key(overall + ' quality', 0 if overall in ('poor', 'unusable') else 2)} overall."
            )
        if poor:
            flags = []
            for lead in poor:
                lq = q.leads.get(lead)
                why = ", ".join(f.replace("_", " ") for f in (lq.flags if lq else [])) or "artifact"
                flags.append(f"{lead} ({why})")
            s.append(
                f"Poor-quality leads: {join_words(flags)}; they are excluded from fine measurements."
            )
        lim = self.i.limits
        if lim is not None and lim.summary:
            s.append(f"{self.key('Limits of the input', 0)}: {lim.summary}.")
        if lim is not None and lim.short:
            s.append(
                f"The record is {self.key('too short', 0)} for rhythm names: rate-dependent "
                "names (sinus rhythm, tachycardia, bradycardia or arrhythmia) and arrhythmias "
                "judged over several beats are withheld, and only the measured rhythm facts "
                "are given."
            )
        by_quality = [x for x in self.i.suppressed if x.by in ("quality.poor", "quality.unusable")]
        if by_quality:
            labels = [x.label for x in by_quality]
            s.append(
                f"{_ucfirst(join_words(labels))} {'is' if len(labels) == 1 else 'are'} not "
                f"reported because {by_quality[0].reason}."
            )
        if self.has("limb_lead_reversal"):
            st = self.i.statement("limb_lead_reversal")
            s.append(
                f"Lead I shows inverted P, QRS and T with an upright aVR complex, so "
                f"{self.key('suspected limb lead reversal', 0)} is raised (dextrocardia is the "
                f"differential): {self.evidence_text(st.evidence)}."
            )
        else:
            v = self.val("qrs_net_amplitude_mv", "I")
            if v is not None:
                s.append(
                    f"Lead I has a net QRS of {v}, without the global inversion of limb lead reversal."
                )
        rate = self.val("heart_rate_bpm")
        if rate is not None:
            nb = self.val("n_beats")
            rr = self.val("rr_mean_ms")
            extra = f" over {nb} beats" if nb else ""
            extra += f" (mean RR {rr})" if rr else ""
            s.append(
                f"{self.pick('The ventricular rate is', 'Ventricular rate measures')} {self.key(rate, 1)}{extra}."
            )
        else:
            s.append("The ventricular rate could not be measured.")
        reg = self.i.criteria.get("rhythm.irregularly_irregular")
        reg_ev = reg.evidence[0] if reg and reg.evidence else None
        if reg_ev is not None and reg_ev.value is not None:
            cv = self.val("rr_cv")
            s.append(
                f"The RR pattern is {self.key(fmt_value(reg_ev.value, ''), 1 if reg_ev.value != 'regular' else 3)}"
                + (f" (RR coefficient of variation {cv})" if cv else "")
                + "."
            )
        pf = self.val("p_wave_fraction")
        pii = self.val("p_amplitude_mv", "II")
        pv1 = self.val("p_amplitude_mv", "V1")
        if pf is not None:
            detail = []
            if pii:
                detail.append(f"{pii} in II")
            if pv1:
                detail.append(f"{pv1} in V1")
            pax = self.val("p_axis_deg")
            p_present = self.crit("rhythm.p_present")
            g = self.i.measurements.global_
            if g.p_wave_present and g.pr_progression == "dissociated":
                # Few P waves sit before a QRS at a conducting PR, but they are organised.
                rate, ratio = self.val("atrial_rate_bpm"), self.val("p_waves_per_qrs")
                s.append(
                    "P waves"
                    + (f" at an atrial rate of {rate}" if rate else "")
                    + f" are {self.key('dissociated from the QRS complexes', 1)}"
                    + (f" ({ratio} P waves per QRS)." if ratio else ".")
                )
            elif p_present is not None and p_present.met:
                sent = f"P waves are present before the QRS (fraction of beats {pf})"
                if detail:
                    sent += f" with amplitude {join_words(detail)}"
                if pax:
                    sent += f" and a P axis of {pax}"
                s.append(sent + ".")
            else:
                s.append(
                    f"{self.key('No organised P waves', 0)} are seen (fraction of beats with P {pf})."
                )
        activity = self.i.measurements.global_.atrial_activity
        if activity in ("fibrillatory", "flutter"):
            rate = self.val("atrial_rate_bpm") if activity == "flutter" else None
            s.append(
                f"The baseline shows {self.key(activity + ' atrial activity', 1)}"
                + (f" at an atrial rate of {rate}." if rate else ".")
            )
        if self.unclassified_rhythm:
            self.key(UNCLASSIFIED_KEY, 0)  # the phrase is in the sentence verbatim
            s.append(self.unclassified_rhythm)
        for st in self.stmts(1):
            if st.id in ("poor_quality", "limb_lead_reversal"):
                continue
            if st.id in ("premature_atrial_contractions", "premature_ventricular_contractions"):
                kind = "atrial" if "atrial" in st.id else "ventricular"
                nb = self.val("n_beats")
                s.append(
                    f"There {'is' if st.count == 1 else 'are'} {st.count} premature {kind} "
                    f"{'complex' if st.count == 1 else 'complexes'}"
                    + (f" among {nb} beats" if nb else "")
                    + f", reported as {self.key(st.label, 0)}."
                )
                continue
            s.append(self.statement_sentence(st))
        s.extend(self.exclusions_for_step(1, skip={"quality.poor", "quality.unusable"}))
        return " ".join(s)

    @cached_property
    def unassessed_rhythms(self) -> list[str]:
        """Labels of the rhythm statements this input cannot assess (leads missing): they are
        neither met nor unmet."""
        return [x.label for x in self.i.not_assessable if _is_rhythm(self.table, x.statement)]

    @cached_property
    def unclassified_rhythm(self) -> str | None:
        """The sentence for a record whose rhythm meets no rhythm statement's criteria (step 1;
        the narrative repeats its gist), or None.

        Step 1 of the protocol names the rhythm; where no rhythm criterion is met, the report
        says so and gives the facts that decide a rhythm (regularity, QRS width, P waves,
        atrial activity) with the reason the measurement gives for the missing P or atrial
        waves, instead of staying silent about the rhythm. Rhythm statements the input cannot
        assess (leads missing) are named as such, not counted as unmet.
        Not written where the rhythm names are withheld for another stated reason (poor
        quality, a record too short, no beats) or a rhythm statement was withheld by
        precedence (that reason is written in step 6)."""
        lim = self.i.limits
        stated = any(_is_rhythm(self.table, st.id) for st in self.i.statements)
        if stated or self.val("heart_rate_bpm") is None:
            return None
        short = lim is not None and lim.short
        if short or self.i.measurements.quality.overall in ("poor", "unusable"):
            return None
        if any(_is_rhythm(self.table, x.statement) for x in self.i.suppressed):
            return None
        g = self.i.measurements.global_
        unassessed = self.unassessed_rhythms
        facts = []
        if g.rr_irregularity:
            facts.append(f"the RR pattern is {fmt_value(g.rr_irregularity, '')}")
        wide = self.crit("qrs.wide")
        if wide is not None and wide.met is not None:
            facts.append(
                f"the QRS is {'wide' if wide.met else 'narrow'} ({self.val('qrs_duration_ms')})"
            )
        if not g.p_wave_present:
            why = g.reasons.get("p_wave_present")
            facts.append("no P waves are identified" + (f" ({why})" if why else ""))
        elif unassessed:
            facts.append("P waves are present")
        else:
            facts.append("the P waves meet no sinus or atrial rhythm criterion")
        if g.atrial_activity == "none":
            facts.append("the baseline shows no atrial activity")
        elif g.atrial_activity is None and g.reasons.get("atrial_activity"):
            facts.append(f"the atrial activity is undecided ({g.reasons['atrial_activity']})")
        which = "that this input can assess " if unassessed else ""
        text = f"No rhythm criterion {which}is met, so the {UNCLASSIFIED_KEY}: {join_words(facts)}."
        if unassessed:
            text += f" Not assessable from this input: {join_words(unassessed)}."
        fast = self.crit("rate.tachycardia")
        if fast is not None and fast.met and wide is not None and wide.met and not g.p_wave_present:
            # A wide-QRS tachycardia of undecided origin is managed as ventricular until shown
            # otherwise (standard teaching, e.g. ACLS): say that the measurements leave both
            # origins open, so that the missing rhythm statement does not read as benign.
            text += (
                " This is a wide-QRS tachycardia whose origin, ventricular or supraventricular "
                "with aberrant conduction, these measurements do not decide."
            )
        return text

    # -------------------------------------------------------------- step 2
    def step2(self) -> str:
        s: list[str] = []
        axis = self.val("qrs_axis_deg")
        nets = self.lead_list("qrs_net_amplitude_mv", ("I", "II", "aVF"))
        if axis is not None:
            sent = f"{self.pick('Frontal', 'The frontal')} {self.key('QRS axis ' + axis, 2)}"
            if nets:
                sent += f" (net QRS {nets})"
            normal = self.crit("axis.normal")
            if normal is not None and normal.met:
                sent += f", {self.key('normal axis', 3)} ({self.thr('axis.normal')})"
            s.append(sent + ".")
        else:
            s.append("The frontal QRS axis could not be determined.")
        af = self.has("atrial_fibrillation") or self.has("atrial_flutter")
        pr = self.val("pr_interval_ms")
        qrs = self.val("qrs_duration_ms")
        intervals = []
        if pr is not None and not af:
            intervals.append(self.key("PR " + pr, 1))
        if qrs is not None:
            intervals.append(self.key("QRS " + qrs, 1))
        if intervals:
            sent = f"{self.pick('Intervals:', 'Measured intervals:')} {join_words(intervals)}"
            if not self.intervals_assessable():
                sent += " (in the available leads only, not the global intervals)"
            elif pr is not None and not af:
                sent += (
                    f", against a normal PR of {self.thr_value('av.pr_short')} to "
                    f"{self.thr_value('av.pr_prolonged')} and complete bundle branch block from "
                    f"{self.thr_value('qrs.wide')}"
                )
            s.append(sent + ".")
        if af:
            s.append("No PR interval is defined without organised atrial activity.")
        morph = []
        for lead in ("V1", "V6", "I", "aVL"):
            ev = self.obs("qrs_morphology", lead)
            if ev is not None:
                r = self.val("r_amplitude_mv", lead)
                sd = self.val("s_depth_mv", lead)
                sd_ev = self.obs("s_depth_mv", lead)
                if sd_ev is not None and not sd_ev.value:
                    sd = None  # no S wave: say nothing rather than "S 0.00 mV"
                r_ev = self.obs("r_amplitude_mv", lead)
                if r_ev is not None and not r_ev.value:
                    r = None  # QS complex: no R wave to quote
                amp = ", ".join(x for x in (f"R {r}" if r else "", f"S {sd}" if sd else "") if x)
                morph.append(f"{ev.value} in {lead}" + (f" ({amp})" if amp else ""))
        if morph:
            lead_in = self.pick("QRS morphology is", "The QRS complexes show", "QRS shapes are")
            s.append(f"{lead_in} {join_words(morph)}.")
        for st in self.stmts(2):
            s.append(self.statement_sentence(st))
        s.extend(self.exclusions_for_step(2))
        s.append(self.limits_sentence((2,), "conduction and axis statements"))
        return " ".join(s)

    # -------------------------------------------------------------- step 3
    def step3(self) -> str:
        s: list[str] = []
        parts = []
        for q, cid in (
            ("sokolow_lyon_mv", "lvh.sokolow_lyon"),
            ("cornell_voltage_mv", "lvh.cornell_voltage"),
        ):
            v = self.val(q)
            if v is not None:
                parts.append(f"{quantity_name(q)} {v}{_paren(self.thr(cid))}")
        ravl = self.val("r_amplitude_mv", "aVL")
        if ravl:
            parts.append(f"R in aVL {ravl}{_paren(self.thr('lvh.r_avl'))}")
        if parts:
            s.append(
                f"{self.pick('Voltage criteria:', 'Left ventricular voltage:')} {join_words(parts)}."
            )
        rv1 = self.val("r_amplitude_mv", "V1")
        rs = self.val("r_to_s_ratio", "V1")
        if rv1 or rs:
            bits = [x for x in (f"R {rv1}" if rv1 else "", f"R/S ratio {rs}" if rs else "") if x]
            s.append(f"In V1 {join_words(bits)} for right ventricular forces.")
        prog = self.lead_list("r_amplitude_mv", ("V1", "V2", "V3", "V4"))
        if prog:
            lead_in = self.pick(
                "R-wave progression across the precordium:", "Precordial R waves measure"
            )
            s.append(f"{lead_in} {prog}.")
        pii = self.val("p_duration_ms", "II")
        pamp = self.val("p_amplitude_mv", "II")
        term = self.val("p_terminal_negative_mv", "V1")
        patr = [
            x
            for x in (
                f"P duration {pii} in II" if pii else "",
                f"P amplitude {pamp} in II" if pamp else "",
                f"terminal negative P {term} in V1" if term else "",
            )
            if x
        ]
        if patr:
            s.append(
                f"{self.pick('Atrial assessment:', 'For atrial enlargement,')} {join_words(patr)}."
            )
        lim = self.val("max_limb_qrs_peak_to_peak_mv")
        pre = self.val("max_precordial_qrs_peak_to_peak_mv")
        if lim or pre:
            bits = [
                x
                for x in (
                    f"{lim} in the limb leads" if lim else "",
                    f"{pre} in the precordial leads" if pre else "",
                )
                if x
            ]
            s.append(f"The largest QRS amplitude is {join_words(bits)}.")
        for sup in self.i.suppressed:
            if sup.statement in ("lvh", "rvh", "poor_r_progression") and sup.by not in (
                "quality.poor",
                "quality.unusable",
            ):
                s.append(f"{sup.label.capitalize()} is not reported because {sup.reason}.")
        for st in self.stmts(3):
            s.append(self.statement_sentence(st))
        s.extend(self.exclusions_for_step(3))
        limits = self.limits_sentence((3,), "hypertrophy and voltage statements")
        if not self.stmts(3) and not any(x.startswith("No ") for x in s) and not limits:
            s.append(self.key("No hypertrophy pattern", 3) + " is identified.")
        s.append(limits)
        return " ".join(s)

    # -------------------------------------------------------------- step 4
    def step4(self) -> str:
        s: list[str] = []
        for name, leads in GROUPS:
            st = self.lead_list("st_deviation_mv", leads)
            tw = self.lead_list("t_amplitude_mv", leads)
            if st or tw:
                lead_in = self.pick(
                    f"In the {name} leads ST deviation at the J point is",
                    f"The {name} leads show J-point ST deviation of",
                )
                sent = f"{lead_in} {st or 'not measured'}"
                if tw:
                    sent += f", with T waves {tw}"
                s.append(sent + ".")
        avr = self.val("st_deviation_mv", "aVR")
        if avr:
            s.append(
                f"{self.pick('Lead aVR shows ST deviation of', 'In aVR the ST deviation is')} {avr}."
            )
        secondary = [
            sup
            for sup in self.i.suppressed
            if sup.by not in ("quality.poor", "quality.unusable")
            and self.i.measurements is not None
            and self.table_step(sup.statement) == 4
        ]
        if secondary:
            labels = join_words(sorted({sup.label for sup in secondary}))
            reciprocal = all("reciprocal" in sup.reason for sup in secondary)
            kind = "reciprocal changes" if reciprocal else "secondary repolarisation changes"
            s.append(
                f"ST-T and Q findings ({labels}) are regarded as "
                f"{self.key(kind, 2)} because {secondary[0].reason}."
            )
        if any(
            x.by in ("quality.poor", "quality.unusable") and self.table_step(x.statement) == 4
            for x in self.i.suppressed
        ):
            s.append(
                f"Because of {self.key('poor signal quality', 1)}, ST, T and Q-wave statements "
                "are withheld."
            )
        stmts = self.stmts(4)
        for st in stmts:
            s.append(self.statement_sentence(st))
        ste = [st for st in stmts if st.id.startswith("ste_") and st.id != "ste_avr"]
        # Depression withheld as reciprocal to a stated elevation is still depression (UDMI).
        std = [st.id for st in stmts if st.id.startswith("std_")]
        std += [sup.statement for sup in secondary if sup.statement.startswith("std_")]
        if ste and std:
            s.append(
                "ST elevation with reciprocal ST depression favours an ischaemic (injury) pattern over a benign mimic."
            )
        elif len(ste) >= 2:
            s.append(
                "ST elevation in several territories without reciprocal depression raises pericarditis or early repolarisation as mimics."
            )
        elif ste:
            s.append(
                "Without reciprocal depression, early repolarisation remains a differential for this ST elevation."
            )
        kinds = {
            "ste_": "ST elevation",
            "std_": "ST depression",
            "q_": "pathological Q waves",
            "tinv_": "T-wave inversion",
        }
        missing = []
        for prefix, text in kinds.items():
            excluded = [
                sid
                for ex in self.i.excluded
                for sid in ex.rules_out
                if sid.startswith(prefix) and sid != "ste_avr"
            ]
            fired = [st for st in stmts if st.id.startswith(prefix) and st.id != "ste_avr"]
            withheld = any(sup.statement.startswith(prefix) for sup in secondary)
            if excluded and not fired and not withheld:  # a withheld finding is not absent
                missing.append(text)
        upsloping = self._upsloping_depression()
        if upsloping and "ST depression" in missing:
            s.append(
                f"J-point depression with an up-sloping ST segment ({upsloping}) is not counted "
                "as ischaemic ST depression."
            )
        uncounted = self._uncounted_t_inversion(stmts, secondary)
        if uncounted:
            # Negative T waves are present, so the report must not say "no T-wave inversion".
            if "T-wave inversion" in missing:
                missing.remove("T-wave inversion")
            s.append(
                f"T waves of {uncounted} are not counted as T-wave inversion in two "
                "contiguous leads: a negative T after a small or mainly negative QRS, or in V1, "
                "is a normal variant (Minnesota Code T-wave items, AHA recommendations)."
            )
        limits = self.limits_sentence((4,), "ST, Q and T statements")
        if missing:
            negated = [self.key("no " + m, 3) for m in missing]
            s.append(
                "Against the contiguous-lead criteria of the Fourth Universal Definition of "
                "Myocardial Infarction and the AHA/ACCF/HRS recommendations there is "
                f"{join_words(negated)}"
                + (" in the territories that could be assessed." if limits else ".")
            )
        s.append(limits)
        if self.has("std_lateral") and self.has("lvh"):
            s.append("Lateral ST depression with LVH voltage may represent a strain pattern.")
        return " ".join(s)

    def _uncounted_t_inversion(self, stmts: list[Statement], secondary: list[Suppression]) -> str:
        """``-0.54 mV in II and -0.46 mV in aVF``: T waves past the T-inversion depth in two
        leads of a territory that the lead conditions (Minnesota Code 5, AHA Part IV) did not
        count, where no T-inversion statement is made or withheld."""
        if any(st.id.startswith("tinv_") for st in stmts) or any(
            sup.statement.startswith("tinv_") for sup in secondary
        ):
            return ""
        parts: dict[str, str] = {}
        for cid, res in self.i.criteria.items():
            if not cid.startswith("tinv.") or res.met is not True:
                continue
            for ev in res.evidence:
                if ev.met and ev.leads and ev.quantity == "t_amplitude_mv":
                    parts[ev.leads[0]] = (
                        f"{fmt_value(ev.value, ev.unit, ev.quantity)} in {ev.leads[0]}"
                    )
        return join_words([parts[ld] for ld in STANDARD_LEADS if ld in parts])

    def _upsloping_depression(self) -> str:
        """``-0.17 mV in V3 and -0.30 mV in V4``: leads depressed beyond the ST-depression
        threshold whose ST segment slopes upward (so the criterion does not count them)."""
        res = self.crit("std.inferior")
        if res is None or not res.evidence:
            return ""
        thr = res.evidence[0].threshold
        parts = []
        for lead in _ST_DEPRESSION_LEADS:
            st = self.obs("st_deviation_mv", lead)
            shape = self.obs("st_shape", lead)
            if st is None or shape is None or shape.value != "upsloping":
                continue
            if isinstance(thr, (int, float)) and st.value <= thr:
                parts.append(f"{fmt_value(st.value, st.unit, st.quantity)} in {lead}")
        return join_words(parts)

    # -------------------------------------------------------------- step 5
    def step5(self) -> str:
        s: list[str] = []
        qt = self.val("qt_interval_ms")
        long_ = self.crit("qt.long")
        if long_ is not None and long_.unavailable and long_.evidence:
            ev = long_.evidence[0]
            if ev.value is not None:
                s.append(
                    f"The QTc measured in the available leads is {fmt_value(ev.value, ev.unit)}, "
                    "which is not the global QT interval."
                )
            s.append(self.limits_sentence((5,), "QT statements"))
        elif long_ is not None and long_.evidence and long_.evidence[0].value is not None:
            ev = long_.evidence[0]
            qtc = fmt_value(ev.value, ev.unit)
            formula = quantity_name(ev.quantity).replace("QTc (", "").rstrip(")")
            s.append(
                (f"The QT interval is {qt} and the " if qt else "The ")
                + f"{self.key('QTc ' + qtc, 1)} ({formula} correction) is compared with "
                f"{self.thr('qt.long')} for prolongation and {self.thr('qt.short')} for shortening."
            )
            baz = self.val("qtc_bazett_ms")
            if baz and ev.quantity != "qtc_bazett_ms":
                s.append(f"Bazett correction gives {baz}.")
        else:
            s.append("The QT interval could not be measured reliably.")
        tv = self.lead_list("t_amplitude_mv", ("V2", "V3", "V4"))
        if tv:
            s.append(
                f"Precordial T waves measure {tv}, assessed for tenting (hyperkalaemia) or flattening (hypokalaemia)."
            )
        for st in self.stmts(5):
            s.append(self.statement_sentence(st))
        if self.has("long_qt") and self.i.statement("long_qt").certainty == "possible":
            s.append("QT prolongation is partly explained by the wide QRS.")
        s.extend(self.exclusions_for_step(5))
        return " ".join(s)

    # -------------------------------------------------------------- step 6
    def step6(self) -> str:
        s: list[str] = []
        main = [st for st in self.i.statements if st.id != "normal_ecg"]
        if self.has("normal_ecg"):
            s.append(
                f"All measured intervals, axis, voltages and ST-T values fall within the protocol limits, so this is a {self.key('normal ECG', 0)}"
                + (f" with {join_words([x.label for x in main])}" if main else "")
                + "."
            )
        elif main:
            labels = [CERTAINTY_PREFIX.get(x.certainty, "") + x.label for x in main]
            for x in main[:3]:
                self.key(x.label, 0)
            s.append(
                f"{self.pick('Synthesising the findings:', 'Taken together:', 'In synthesis:')} {join_labels(labels, 'and')}."
            )
        else:
            s.append("No diagnostic statement can be made from the available measurements.")
        lim = self.i.limits
        if lim is not None and lim.summary:
            normal_withheld = not self.i.assessable("normal_ecg")
            s.append(
                f"What this input cannot show: {lim.summary}"
                + (f", so the ECG is {self.key('not called normal', 0)}" if normal_withheld else "")
                + "."
            )
        ruled = []
        for ex in self.i.excluded:
            for label in ex.labels:
                if label not in ruled:
                    ruled.append(label)
        if ruled:
            s.append(
                f"{self.pick('Differentials considered and excluded by measurement:', 'Measured values rule out')} "
                f"{join_labels(ruled[:8], 'and')}."
            )
        others = [
            sup for sup in self.i.suppressed if sup.by not in ("quality.poor", "quality.unusable")
        ]
        if others:
            s.append(
                "Statements withheld by precedence: "
                + "; ".join(f"{join_words(v)} ({k})" for k, v in _by_reason(others).items())
                + "."
            )
        return " ".join(s)

    def narrative(self) -> str:
        main = [st for st in self.i.statements]
        rate = self.val("heart_rate_bpm")
        lead = self.pick("This ECG shows", "The tracing demonstrates", "Overall, the ECG shows")
        lim = self.i.limits
        limits = f" Not assessable from this input: {lim.summary}." if lim and lim.summary else ""
        rhythm = ""
        if self.unclassified_rhythm:
            which = " that this input can assess" if self.unassessed_rhythms else ""
            rhythm = f" The rhythm is unclassified: it meets no rhythm criterion{which}."
        if not main:
            return (
                f"{lead} no definite diagnostic findings from the available measurements."
                + rhythm
                + limits
            )
        labels = join_words(
            [
                ("" if x.category == "summary" else CERTAINTY_PREFIX.get(x.certainty, "")) + x.label
                for x in main
            ]
        )
        text = f"{lead} {labels}"
        if rate:
            text += f" at a ventricular rate of {rate}"
        text += "." + rhythm
        ruled = list(dict.fromkeys(label for ex in self.i.excluded for label in ex.labels))[:3]
        if ruled:
            text += f" Measured values argue against {join_words(ruled, 'or')}."
        return text + limits

    def build(self) -> Report:
        steps = []
        for idx, fn in enumerate(
            (self.step1, self.step2, self.step3, self.step4, self.step5, self.step6)
        ):
            self.phrases = []
            paragraph = _one_paragraph(fn())
            steps.append(
                StepText(STEP_KEYS[idx], STEP_TITLES[idx], paragraph, self.take_phrases(paragraph))
            )
        labels = self.i.labels or ["no definite diagnosis"]
        return Report(steps=steps, narrative=_one_paragraph(self.narrative()), labels=labels)


# Premature complexes are reported with the rhythm (step 1) but do not name it.
_ECTOPY = frozenset({"premature_atrial_contractions", "premature_ventricular_contractions"})


def _is_rhythm(table: CriteriaTable, statement_id: str) -> bool:
    """Whether ``statement_id`` names a rhythm (a rhythm-category statement, not ectopy)."""
    spec = table.statements.get(statement_id)
    return spec is not None and spec.category == "rhythm" and statement_id not in _ECTOPY


def _by_reason(sups: list) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for sup in sups:
        out.setdefault(sup.reason, []).append(sup.label)
    return out


def _paren(text: str) -> str:
    """`` (text)``, or nothing for empty text."""
    return f" ({text})" if text else ""


def _ucfirst(text: str) -> str:
    return text[:1].upper() + text[1:]


def _one_paragraph(text: str) -> str:
    text = " ".join(text.split())
    return text or "No findings."


def build_report(
    interpretation: Interpretation,
    *,
    style: str = "deterministic",
    seed: int | None = None,
    table: CriteriaTable | None = None,
) -> Report:
    """Write the six steps, narrative and answer for an interpretation.

    ``table`` is the criteria table the interpretation came from (default: the packaged one);
    pass the same table that was given to :func:`ecgr1.protocol.interpret`.

    Example
    -------
    >>> from ecgr1.measure import GlobalMeasurements, MeasurementResult
    >>> from ecgr1.protocol import interpret
    >>> g = GlobalMeasurements(heart_rate_bpm=72, p_wave_fraction=1.0, p_axis_deg=50,
    ...                        qrs_duration_ms=92, pr_interval_ms=160, rr_irregularity="regular")
    >>> rep = build_report(interpret(MeasurementResult("demo", 500.0, 10.0, [], global_=g)))
    >>> rep.labels
    ['sinus rhythm', 'normal ECG']
    >>> rep.solution.startswith("<|answer|>sinus rhythm; normal ECG<|/answer|>")
    True
    """
    return _Writer(interpretation, style, seed, table).build()


def write_report(
    interpretation: Interpretation,
    *,
    style: str = "deterministic",
    seed: int | None = None,
    table: CriteriaTable | None = None,
) -> str:
    """The ECG-R1 assistant turn (``<think>`` six steps, narrative, ``<answer>``) as text."""
    return build_report(interpretation, style=style, seed=seed, table=table).text


def write_solution(
    interpretation: Interpretation,
    *,
    style: str = "deterministic",
    seed: int | None = None,
    table: CriteriaTable | None = None,
) -> str:
    """The RL ``solution`` string for an interpretation (key phrases occur in the report)."""
    return build_report(interpretation, style=style, seed=seed, table=table).solution
