"""Texts for the verifier benchmark (``verify_bench.py``): expert references, reports written from
cardiologists' marks and labels, and single-error perturbations of the protocol's own reports.

Everything here is independent of the verifier (extractor and checker), so it can be unit-tested
on its own (``tests/test_bench_verify.py``).

Expert references
-----------------
* LUDB (:func:`ludb_reference`): P duration, PR, QRS and QT exactly as ``measure_bench.py``
  (per lead the median over annotated beats, then the median over the 12 leads); RR = per lead
  the mean of the intervals between consecutive expert QRS peaks, then the median over leads;
  heart rate = 60000 / RR; QTc (Bazett) = QT / sqrt(RR in s).
* QTDB (:func:`qtdb_windows`): the record is cut into 10-s windows around its ``q1c`` marks
  (``_scoring.cover_with_windows``, 1.5 s lead-in, the windows of ``measure_bench.py``); per
  window the ``q1c`` waves whose peak lies in the window are grouped into beats and each interval
  is the median over beats. RR = mean of the gaps between consecutive marked QRS peaks, gaps
  longer than 1.6 x their median (beats the cardiologist skipped) left out. The cardiologist
  often marks only 2-5 scattered beats of a window, so where the record has the database's
  beat annotations (``.atr``, every beat) the RR and heart rate come from every ``atr`` beat of
  the window instead (``reference["rate_source"]`` says which).

Perturbations (:func:`numeric_perturbations`, :func:`negation_perturbations`,
:func:`invention_perturbations`, :func:`lead_swap_perturbations`,
:func:`rhythm_perturbations`) each return :class:`Perturbation` objects holding the new text and
the character span ``[start, end)`` of the injected error in the new text.
"""

from __future__ import annotations

import math
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _scoring as sc  # noqa: E402

LUDB_LEAD_FILES = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
RR_SKIP_FACTOR = 1.6  # an RR gap this many times the median is a skipped beat, not an RR

REF_KEYS = (
    "heart_rate_bpm",
    "rr_ms",
    "pr_interval_ms",
    "qrs_duration_ms",
    "qt_interval_ms",
    "p_duration_ms",
    "qtc_bazett_ms",
)


# --------------------------------------------------------------------------- references


def _mean_rr_ms(peaks: np.ndarray, fs: float, skip_factor: float | None = None) -> float:
    """Mean of the gaps (ms) between consecutive peaks; NaN with fewer than two peaks."""
    p = np.sort(np.asarray(peaks, float))
    if p.size < 2:
        return math.nan
    d = np.diff(p) * 1000.0 / fs
    if skip_factor is not None and d.size:
        d = d[d <= skip_factor * np.median(d)]
    return float(np.mean(d)) if d.size else math.nan


def _finish_reference(ref: dict[str, float], rr: float) -> dict[str, float]:
    ref = dict(ref)
    ref["rr_ms"] = rr
    ref["heart_rate_bpm"] = 60000.0 / rr if math.isfinite(rr) and rr > 0 else math.nan
    qt = ref.get("qt_interval_ms", math.nan)
    ref["qtc_bazett_ms"] = (
        qt / math.sqrt(rr / 1000.0) if math.isfinite(qt) and math.isfinite(rr) else math.nan
    )
    return ref


def ludb_waves(ludb_dir: Path, rec_id: str) -> dict[str, list[sc.Wave]]:
    """The expert waves of each LUDB lead (keys: the annotation extensions ``i`` … ``v6``)."""
    import wfdb

    base = str(Path(ludb_dir) / "data" / str(rec_id))
    out = {}
    for ext in LUDB_LEAD_FILES:
        ann = wfdb.rdann(base, ext)
        out[ext] = sc.parse_waves(ann.sample, ann.symbol)
    return out


def ludb_reference_from_waves(waves: dict[str, list[sc.Wave]], fs: float) -> dict[str, float]:
    """Record-level expert values of one LUDB record (see the module docstring)."""
    tables = [sc.beat_table_from_waves(w) for w in waves.values()]
    ref = sc.median_of_leads(sc.lead_intervals_ms(t, fs) for t in tables)
    rrs = [
        _mean_rr_ms(np.array([w.peak for w in ws if w.wave == "qrs"]), fs) for ws in waves.values()
    ]
    rrs = [r for r in rrs if math.isfinite(r)]
    return _finish_reference(ref, float(np.median(rrs)) if rrs else math.nan)


def ludb_reference(ludb_dir: Path, rec_id: str, fs: float = 500.0) -> dict[str, float]:
    """:func:`ludb_reference_from_waves` of record ``rec_id`` (LUDB is 500 Hz)."""
    return ludb_reference_from_waves(ludb_waves(ludb_dir, rec_id), fs)


def qtdb_reference_from_waves(waves: list[sc.Wave], fs: float) -> dict[str, float]:
    """Expert values of one QTDB window from its ``q1c`` waves (global marks, one "lead")."""
    table = sc.beat_table_from_waves(waves)
    ref = sc.lead_intervals_ms(table, fs)
    qrs = np.array([w.peak for w in waves if w.wave == "qrs"])
    ref = _finish_reference(ref, _mean_rr_ms(qrs, fs, RR_SKIP_FACTOR))
    ref["n_beats"] = int(qrs.size)
    return ref


def qtdb_windows(qtdb_dir: Path, name: str) -> list[dict[str, Any]]:
    """The 10-s windows of a QTDB record with their ``q1c`` expert reference.

    Each item: ``start``, ``stop`` (samples, stop exclusive), ``fs`` and ``reference``.
    """
    import wfdb

    base = str(Path(qtdb_dir) / name)
    header, waves, windows = sc.qtdb_q1c_windows(base)
    fs = float(header.fs)
    atr_peaks = None
    if (Path(qtdb_dir) / f"{name}.atr").exists():
        atr = wfdb.rdann(base, "atr")
        atr_peaks = np.array(
            [s for s, sym in zip(atr.sample, atr.symbol) if sym in sc.QRS_PEAK_SYMBOLS], np.int64
        )
    out = []
    for start, stop, _lo, _hi in windows:
        inside = [w for w in waves if start <= w.peak < stop]
        # keep a wave only when its onset and offset are inside the window too
        inside = [
            w
            for w in inside
            if (w.onset is None or w.onset >= start) and (w.offset is None or w.offset < stop)
        ]
        ref = qtdb_reference_from_waves(inside, fs)
        ref["rate_source"] = "q1c"
        if atr_peaks is not None:
            beats = atr_peaks[(atr_peaks >= start) & (atr_peaks < stop)]
            if beats.size >= 3:
                ref = _finish_reference(ref, _mean_rr_ms(beats, fs))
                ref["rate_source"] = "atr"
        out.append({"start": int(start), "stop": int(stop), "fs": fs, "reference": ref})
    return out


# --------------------------------------------------------------------------- expert texts


@dataclass
class ExpertText:
    """A text written from expert truth, with what each sentence states (for the tests)."""

    text: str
    stated: dict[str, float] = field(default_factory=dict)  # numeric concept -> stated value
    findings: list[str] = field(default_factory=list)  # categorical statements made


def _fmt_ms(value: float, rng: random.Random) -> tuple[str, float]:
    """``value`` (ms) as text, in ms (whole) or, one time in five, in s (two decimals), and the
    value that text states, in ms."""
    if rng.random() < 0.2:
        s = round(value / 1000.0, 2)
        return f"{s:.2f} s", s * 1000.0
    return f"{value:.0f} ms", float(round(value))


def _interval_sentence(concept: str, value: float, rng: random.Random) -> tuple[str, float]:
    names = {
        "pr_interval_ms": ["PR interval", "PR", "P-R interval"],
        "qrs_duration_ms": ["QRS duration", "QRS", "QRS width"],
        "qt_interval_ms": ["QT interval", "QT"],
        "p_duration_ms": ["P wave duration", "P duration"],
        "qtc_bazett_ms": ["QTc (Bazett)", "Bazett-corrected QTc", "QTcB"],
    }[concept]
    name = rng.choice(names)
    v, stated = _fmt_ms(value, rng)
    return rng.choice([f"{name} {v}.", f"{name} is {v}.", f"{name} measures {v}."]), stated


def _rate_sentence(hr: float, rng: random.Random) -> str:
    return rng.choice(
        [
            f"Heart rate {hr:.0f} bpm.",
            f"Ventricular rate {hr:.0f} bpm.",
            f"HR {hr:.0f}/min.",
            f"The heart rate is {hr:.0f} beats per minute.",
        ]
    )


# LUDB "Rhythms" label -> phrasings (each states that rhythm only)
LUDB_RHYTHM_TEXT = {
    "Sinus rhythm": ["Sinus rhythm.", "Rhythm: sinus.", "Sinus rhythm (SR)."],
    "Sinus bradycardia": ["Sinus bradycardia."],
    "Sinus tachycardia": ["Sinus tachycardia."],
    "Sinus arrhythmia": ["Sinus arrhythmia."],
    "Atrial fibrillation": ["Atrial fibrillation.", "AF."],
    "Atrial flutter, typical": ["Atrial flutter."],
}
LUDB_AXIS_TEXT = {
    "normal": ["Normal axis.", "QRS axis normal."],
    "left axis deviation": ["Left axis deviation.", "LAD."],
    "right axis deviation": ["Right axis deviation."],
    "vertical": ["Vertical electrical axis."],
    "horizontal": ["Horizontal electrical axis."],
}
LUDB_CONDUCTION_TEXT = {
    "I degree av block": ["First degree AV block.", "1st degree AV block."],
    "Incomplete right bundle branch block": ["Incomplete right bundle branch block.", "IRBBB."],
    "Complete right bundle branch block": ["Complete right bundle branch block.", "RBBB."],
    "Incomplete left bundle branch block": ["Incomplete left bundle branch block."],
    "Complete left bundle branch block": ["Complete left bundle branch block.", "LBBB."],
    "Left anterior hemiblock": ["Left anterior fascicular block.", "LAFB."],
    "Non-specific intravintricular conduction delay": [
        "Nonspecific intraventricular conduction delay."
    ],
    "Iii degree av-block": ["Third degree AV block."],
}
LUDB_HYPERTROPHY_TEXT = {
    "Left ventricular hypertrophy": ["Left ventricular hypertrophy.", "LVH."],
    "Right ventricular hypertrophy": ["Right ventricular hypertrophy.", "RVH."],
    "Left atrial hypertrophy": ["Left atrial enlargement.", "Left atrial abnormality."],
    "Left atrial overload": ["Left atrial abnormality."],
    "Right atrial overload": ["Right atrial abnormality.", "Right atrial enlargement."],
}


def _label_items(cell: str) -> list[str]:
    return [s.strip() for s in str(cell or "").split("\n") if s.strip()]


def ludb_text(ref: dict[str, float], labels: dict[str, str], rng: random.Random) -> ExpertText:
    """A short report of one LUDB record from its expert reference and its ``ludb.csv`` row.

    Intervals are stated rounded to whole ms (or as seconds with two decimals, ``0.15 s``);
    the heart rate to whole bpm. Labels without a phrasing here (ischaemia wall labels,
    extrasystoles, pacing, "overload") are not stated: their wording in LUDB does not map to a
    single verifiable claim.
    """
    parts: list[str] = []
    out = ExpertText("")
    rhythm = _label_items(labels.get("Rhythms", ""))
    if rhythm and rhythm[0] in LUDB_RHYTHM_TEXT:
        parts.append(rng.choice(LUDB_RHYTHM_TEXT[rhythm[0]]))
        out.findings.append(rhythm[0])
    hr = ref.get("heart_rate_bpm", math.nan)
    if math.isfinite(hr):
        parts.append(_rate_sentence(hr, rng))
        out.stated["heart_rate_bpm"] = round(hr)
    order = ["pr_interval_ms", "qrs_duration_ms", "qt_interval_ms", "p_duration_ms"]
    for concept in order:
        v = ref.get(concept, math.nan)
        if not math.isfinite(v):
            continue
        s, stated = _interval_sentence(concept, v, rng)
        parts.append(s)
        out.stated[concept] = stated
    axis = labels.get("Electric axis of the heart", "").split(":")[-1].strip().lower()
    if axis in LUDB_AXIS_TEXT:
        parts.append(rng.choice(LUDB_AXIS_TEXT[axis]))
        out.findings.append(axis)
    for item in _label_items(labels.get("Conduction abnormalities", "")):
        if item in LUDB_CONDUCTION_TEXT:
            parts.append(rng.choice(LUDB_CONDUCTION_TEXT[item]))
            out.findings.append(item)
    said = set()
    for item in _label_items(labels.get("Hypertrophies", "")):
        if item in LUDB_HYPERTROPHY_TEXT:
            s = rng.choice(LUDB_HYPERTROPHY_TEXT[item])
            if s not in said:
                parts.append(s)
                said.add(s)
                out.findings.append(item)
    out.text = " ".join(parts)
    return out


def qtdb_text(ref: dict[str, float], rng: random.Random) -> ExpertText:
    """A short report of one QTDB window from its ``q1c`` reference (no rhythm labels)."""
    parts: list[str] = []
    out = ExpertText("")
    hr = ref.get("heart_rate_bpm", math.nan)
    if math.isfinite(hr):
        parts.append(_rate_sentence(hr, rng))
        out.stated["heart_rate_bpm"] = round(hr)
    for concept in ("pr_interval_ms", "qrs_duration_ms", "qt_interval_ms"):
        v = ref.get(concept, math.nan)
        if not math.isfinite(v):
            continue
        s, stated = _interval_sentence(concept, v, rng)
        parts.append(s)
        out.stated[concept] = stated
    out.text = " ".join(parts)
    return out


# --------------------------------------------------------------------------- PTB-XL texts

GERMAN_RE = re.compile(
    r"[äöüÄÖÜß]|\b(sinusrhythmus|lagetyp|linkstyp|rechtstyp|ekg|normales|niederspannung|"
    r"unbest\w*|abnorm|wahrscheinlich|verbreiterung|leitungsst\w*|myokardschaden|"
    r"linkshypertrophie|schenkelblock|infarkt|ueberdrehter|bericht)\b",
    re.IGNORECASE,
)


def is_german(text: str) -> bool:
    """PTB-XL reports are German or English; German ones have umlauts (written ``Ä``/``Ö``/``Ü``
    in the database) or German ECG words (``sinusrhythmus``, ``lagetyp``, ``ekg`` …).

    >>> is_german("sinusrhythmus normales ekg"), is_german("sinus rhythm. normal ecg.")
    (True, False)
    """
    return bool(GERMAN_RE.search(text or ""))


# --------------------------------------------------------------------------- perturbations


@dataclass
class Perturbation:
    """One copy of a text with one injected error at ``text[start:end]``."""

    kind: str  # numeric | negation | invention | lead_swap | wrong_rhythm
    text: str
    start: int
    end: int
    original: str  # the replaced piece of the original text ("" for insertions)
    new: str  # what stands at text[start:end]
    concept: str | None = None  # the intended concept (numeric concept or finding)
    old_value: float | None = None
    new_value: float | None = None
    factor: float | None = None  # new = old * factor (numeric; relative to the base, see below)
    note: str = ""
    # the measurements refute the injected finding beyond the criteria tolerance (inventions,
    # wrong rhythms and lead swaps are drawn that way; a negation only sometimes is)
    clear: bool = True


_NUM = r"[+\-−]?\d+(?:\.\d+)?"
# (concept, regex with group "v" the stated value); the lead list is read after amplitudes.
NUMERIC_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "heart_rate_bpm",
        re.compile(
            r"(?:ventricular rate is|ventricular rate of|rate of|heart rate) (?P<v>\d+) bpm"
        ),
    ),
    ("rr_mean_ms", re.compile(r"mean RR (?P<v>\d+) ms")),
    ("pr_interval_ms", re.compile(r"\bPR(?: interval)? (?P<v>\d+) ms")),
    ("qrs_duration_ms", re.compile(r"\bQRS(?: duration)? (?P<v>\d+) ms")),
    ("qt_interval_ms", re.compile(r"QT interval is (?P<v>\d+) ms")),
    ("qtc_ms", re.compile(r"\bQTc (?P<v>\d+) ms")),
    ("qtc_ms", re.compile(r"Bazett correction gives (?P<v>\d+) ms")),
    ("qrs_axis_deg", re.compile(r"Frontal QRS axis (?P<v>" + _NUM + r")°")),
    ("p_axis_deg", re.compile(r"P axis of (?P<v>" + _NUM + r")°")),
    ("sokolow_lyon_mv", re.compile(r"Sokolow-Lyon voltage (?P<v>\d+\.\d+) mV")),
    ("cornell_voltage_mv", re.compile(r"Cornell voltage (?P<v>\d+\.\d+) mV")),
    ("p_duration_ms", re.compile(r"P duration (?P<v>\d+) ms")),
]
_AMP_LIST = re.compile(r"(?P<v>[+\-]?\d+\.\d+) mV in (?P<lead>I|II|III|aVR|aVL|aVF|V[1-6])\b")
# the ST part of the ischaemia step: "ST deviation at the J point is +0.01 mV in II, 0.00 mV in
# III and +0.01 mV in aVF, with T waves …"
_ST_LIST = re.compile(
    r"ST deviation (?:at the J point )?(?:is|of) (?P<list>[^.]*?(?:\d\.\d+[^.]*?)*?)(?=, with T waves|\. |\.$|\.\n)"
)
# floors (in the value's unit) of the base a relative change is applied to, so that a stated
# 0.00 mV or 2° still moves by a clear amount
_BASE_FLOOR = {"mv": 0.2, "deg": 30.0}


def _unit(concept: str) -> str:
    if concept.endswith("_mv"):
        return "mv"
    if concept.endswith("_deg"):
        return "deg"
    return "other"


def _format_like(template: str, value: float) -> str:
    """``value`` written with the decimals and sign style of ``template``."""
    decimals = len(template.split(".")[1]) if "." in template else 0
    s = f"{abs(value):.{decimals}f}"
    if value < 0 and float(s) != 0:
        return ("−" if template.startswith("−") else "-") + s
    if template.startswith("+") or (template.startswith(("-", "−")) and float(s) == 0):
        return "+" + s if float(s) != 0 or template.startswith("+") else s
    return s


def find_numeric_mentions(text: str) -> list[tuple[str, int, int, float]]:
    """``(concept, start, end, value)`` of each measured value the protocol report states (the
    value's characters only). Criteria thresholds ("(≥ 3.50 mV)", "from 120 ms") are not
    matched: every pattern is anchored on the measurement's own name."""
    seen = set()
    out = []
    for concept, pat in NUMERIC_PATTERNS:
        for m in pat.finditer(text):
            s, e = m.span("v")
            if (s, e) not in seen:
                seen.add((s, e))
                out.append((concept, s, e, float(m.group("v").replace("−", "-"))))
    for m in _ST_LIST.finditer(text):
        for am in _AMP_LIST.finditer(m.group("list")):
            s, e = m.start("list") + am.start("v"), m.start("list") + am.end("v")
            if (s, e) not in seen:
                seen.add((s, e))
                out.append(("st_deviation_mv", s, e, float(am.group("v"))))
    return sorted(out, key=lambda x: x[1])


def perturb_value(
    text: str, start: int, end: int, concept: str, rng: random.Random
) -> Perturbation:
    """Change the number at ``text[start:end]`` by 30–100 %: up by a factor 1.3–2.0, or down by
    0.3–0.7 (a 100 % decrease would state zero). For mV and degree values the change is applied
    to ``max(|value|, floor)`` (0.2 mV, 30°) so that a stated 0.00 mV still changes."""
    old_s = text[start:end]
    old = float(old_s.replace("−", "-"))
    up = rng.random() < 0.5
    f = rng.uniform(0.3, 1.0) if up else rng.uniform(0.3, 0.7)
    floor = _BASE_FLOOR.get(_unit(concept), 0.0)
    base = max(abs(old), floor)
    delta = f * base * (1 if up else -1)
    if old < 0 and _unit(concept) != "other":
        delta = -delta  # "up" means larger in magnitude for negative deflections
    new = old + delta
    if _unit(concept) == "other":
        new = max(new, 1.0)
    new_s = _format_like(old_s, new)
    if float(new_s.replace("−", "-")) == old:  # rounding ate the change
        new_s = _format_like(old_s, old + (1 if delta >= 0 else -1) * max(abs(delta), 1.0))
    new_text = text[:start] + new_s + text[end:]
    return Perturbation(
        "numeric",
        new_text,
        start,
        start + len(new_s),
        old_s,
        new_s,
        concept=concept,
        old_value=old,
        new_value=float(new_s.replace("−", "-")),
        factor=(1 + f) if up else (1 - f),
        note=f"base {base:g}",
    )


def numeric_perturbations(text: str, rng: random.Random, max_n: int = 8) -> list[Perturbation]:
    """Up to ``max_n`` copies of ``text`` with one stated value changed (at most two per
    concept, chosen at random)."""
    mentions = find_numeric_mentions(text)
    by_concept: dict[str, list] = {}
    for m in mentions:
        by_concept.setdefault(m[0], []).append(m)
    chosen = []
    for concept in sorted(by_concept):
        items = by_concept[concept]
        chosen += rng.sample(items, min(2 if concept == "st_deviation_mv" else 1, len(items)))
    rng.shuffle(chosen)
    return [perturb_value(text, s, e, c, rng) for c, s, e, _ in chosen[:max_n]]


# Negations: turn a stated exclusion into an affirmation, and an affirmation into "no X".
_NO_LIST = re.compile(r"there is no (?P<list>[^.]+)\.")
_EXCLUDES = re.compile(r", which excludes (?P<what>[^.;]+)")


def _n_leads(meas: Any) -> int:
    """Usable leads of a measurement (12 when it does not say)."""
    leads = getattr(meas, "leads", None) or {}
    q_leads = getattr(getattr(meas, "quality", None), "leads", None) or {}
    usable = [ld for ld in leads if getattr(q_leads.get(ld), "usable", True)]
    return len(usable) or len(leads) or 12


def _margin(quantity: str, meas: Any) -> float:
    """How far beyond a criterion's threshold a measurement must lie to refute the finding:
    the verifier's own criterion tolerance for this record (few-lead records get more)."""
    from ecgr1.verify.tolerances import load_tolerances

    return load_tolerances().tolerance(quantity, None, n_leads=_n_leads(meas), criterion=True)


def _concept_of(label: str) -> str | None:
    """The verifier's concept of a finding's label ("first degree AV block")."""
    from ecgr1.verify.extract import extract_claims

    claims = [c for c in extract_claims(label) if c.kind == "categorical"]
    return claims[0].concept if claims else None


def clearly_false(concept: str | None, meas: Any) -> bool:
    """Whether the record's measurements refute ``concept`` beyond the criterion tolerance
    (the same margins as the inventions; False when no margin rule exists for it)."""
    g = lambda name: _g(meas, name)  # noqa: E731
    qrs, pr, hr = g("qrs_duration_ms"), g("pr_interval_ms"), g("heart_rate_bpm")
    qtc, ax = g("qtc_framingham_ms"), g("qrs_axis_deg")
    calibrated = not getattr(getattr(meas, "quality", None), "amplitude_normalised", False)
    under = getattr(getattr(meas, "global_", None), "underlying_rr_irregularity", None)
    rules = {
        "complete_lbbb": qrs is not None and qrs < 120 - _margin("qrs_duration_ms", meas),
        "complete_rbbb": qrs is not None and qrs < 120 - _margin("qrs_duration_ms", meas),
        "first_degree_av_block": pr is not None and pr < 200 - _margin("pr_interval_ms", meas),
        "short_pr": pr is not None and pr > 120 + _margin("pr_interval_ms", meas),
        "sinus_tachycardia": hr is not None and hr < 100 - _margin("heart_rate_bpm", meas),
        "sinus_bradycardia": hr is not None and hr > 60 + _margin("heart_rate_bpm", meas),
        "atrial_fibrillation": under is not None and under != "irregularly_irregular",
        "long_qt": qtc is not None and qtc < 450 - _margin("qtc_ms", meas),
        "short_qt": qtc is not None and qtc > 390 + _margin("qtc_ms", meas),
        "premature_atrial_contractions": g("n_premature_supraventricular") == 0,
        "premature_ventricular_contractions": g("n_premature_ventricular") == 0,
        "left_axis_deviation": calibrated and ax is not None and ax > -30 + 20,
        "right_axis_deviation": calibrated and ax is not None and ax < 90 - 20,
    }
    return bool(rules.get(concept or "", False))


def clearly_true(concept: str | None, meas: Any) -> bool:
    """Whether the measurements establish ``concept`` beyond the criterion tolerance."""
    g = lambda name: _g(meas, name)  # noqa: E731
    pf, hr, pax = g("p_wave_fraction"), g("heart_rate_bpm"), g("p_axis_deg")
    pr, qtc = g("pr_interval_ms"), g("qtc_framingham_ms")
    sinus = pf is not None and pf >= 0.95 and pax is not None and 0 <= pax <= 60
    t_hr = _margin("heart_rate_bpm", meas)
    rules = {
        "sinus_rhythm": sinus,
        "normal_sinus_rhythm": sinus and hr is not None and 60 + t_hr < hr < 100 - t_hr,
        "sinus_tachycardia": sinus and hr is not None and hr > 100 + t_hr,
        "sinus_bradycardia": sinus and hr is not None and hr < 60 - t_hr,
        "first_degree_av_block": (pf or 0) >= 0.9
        and pr is not None
        and pr > 200 + _margin("pr_interval_ms", meas),
        "long_qt": qtc is not None and qtc > 460 + _margin("qtc_ms", meas),
    }
    return bool(rules.get(concept or "", False))


def _st_clearly_absent(meas: Any) -> bool:
    """No ST elevation anywhere, beyond the tolerance: every lead's J point <= +0.02 mV."""
    if getattr(getattr(meas, "quality", None), "amplitude_normalised", False):
        return False
    st = [getattr(ld, "st_j_mv", None) for ld in (getattr(meas, "leads", None) or {}).values()]
    return bool(st) and all(v is not None and v <= 0.02 for v in st)


def negation_perturbations(text: str, meas: Any, rng: random.Random) -> list[Perturbation]:
    """(a) remove one "no" of the ischaemia sentence's "there is no ST elevation, no ST
    depression, …" list; (b) turn one "which excludes X" into "which indicates X"; (c) put "no"
    before the first finding of the summary sentence ("This ECG shows X" → "This ECG shows no
    X") unless that finding is hedged ("possible", "probable", "borderline", "suspected") or
    already negative. One copy for each kind that applies.

    Unlike the inventions, a negation is not drawn with a margin: ``clear`` says whether the
    measurements refute the new text beyond the criterion tolerance (:func:`clearly_false`,
    :func:`clearly_true`; ``meas`` None: never clear)."""
    out = []
    m = _NO_LIST.search(text)
    if m:
        items = list(re.finditer(r"\bno (?P<f>[^,]+?)(?=,| and |$)", m.group("list")))
        if items:
            it = rng.choice(items)
            s = m.start("list") + it.start()
            f_s, f_e = m.start("list") + it.start("f"), m.start("list") + it.end("f")
            finding = text[f_s:f_e]
            new_text = text[:s] + text[f_s:]
            out.append(
                Perturbation(
                    "negation",
                    new_text,
                    s,
                    s + len(finding),
                    text[s:f_e],
                    finding,
                    concept=finding,
                    note="'no X' -> 'X'",
                    clear=meas is not None
                    and (
                        clearly_false(_concept_of(finding), meas)
                        or (_concept_of(finding) == "st_elevation" and _st_clearly_absent(meas))
                    ),
                )
            )
    ex = list(_EXCLUDES.finditer(text))
    if ex:
        m = rng.choice(ex)
        what = m.group("what")
        first = re.split(r",| or ", what)[0].strip()
        s = m.start()
        new_piece = f", which indicates {first}"
        new_text = text[:s] + new_piece + text[m.end() :]
        out.append(
            Perturbation(
                "negation",
                new_text,
                s + len(", which indicates "),
                s + len(new_piece),
                m.group(0),
                first,
                concept=first,
                note="'excludes X' -> 'indicates X'",
                clear=meas is not None and clearly_false(_concept_of(first), meas),
            )
        )
    m = re.search(r"This ECG shows (?P<f>[a-z][^.,;]*?)(?= at | and |[.,;])", text)
    if m and not re.match(r"(possible|probable|borderline|no |suspected)", m.group("f")):
        s = m.start("f")
        new_text = text[:s] + "no " + text[s:]
        out.append(
            Perturbation(
                "negation",
                new_text,
                s,
                m.end("f") + 3,
                m.group("f"),
                "no " + m.group("f"),
                concept=m.group("f"),
                note="'X' -> 'no X'",
                clear=meas is not None and clearly_true(_concept_of(m.group("f")), meas),
            )
        )
    return out


def _g(meas: Any, name: str) -> float | None:
    v = getattr(meas.global_, name, None)
    return None if v is None else float(v)


def _lead_value(meas: Any, lead: str, name: str) -> float | None:
    """A per-lead measurement (``meas.leads`` is ``{lead name: LeadMeasurements}``)."""
    leads = getattr(meas, "leads", None) or {}
    for k, ld in leads.items():
        if str(k).upper() == lead.upper():
            v = getattr(ld, name, None)
            return None if v is None else float(v)
    return None


TERRITORIES = {
    "inferior": ("II", "III", "aVF"),
    "lateral": ("I", "aVL", "V5", "V6"),
    "anterior": ("V2", "V3", "V4"),
    "septal": ("V1", "V2"),
}


def invention_rules(meas: Any) -> list[tuple[str, str, str]]:
    """Inventions that are clearly false by the record's measurements: ``(sentence, concept,
    why)``. Each rule asks a margin well beyond the diagnostic threshold, so the invented
    diagnosis is false whatever reasonable criterion a checker uses."""
    out = []
    qrs = _g(meas, "qrs_duration_ms")
    pr = _g(meas, "pr_interval_ms")
    hr = _g(meas, "heart_rate_bpm")
    pf = _g(meas, "p_wave_fraction")
    cv = _g(meas, "rr_cv")
    ax = _g(meas, "qrs_axis_deg")
    qtc = _g(meas, "qtc_framingham_ms")  # the formula the QT criteria use first
    if qrs is not None and qrs <= min(90, 115 - _margin("qrs_duration_ms", meas)):
        out.append(
            ("Complete left bundle branch block.", "complete_lbbb", f"QRS {qrs:.0f} ms ≤ 90")
        )
        out.append(
            ("Complete right bundle branch block.", "complete_rbbb", f"QRS {qrs:.0f} ms ≤ 90")
        )
    if (
        pr is not None
        and pr <= min(170, 195 - _margin("pr_interval_ms", meas))
        and (pf or 0) >= 0.9
    ):
        out.append(("First degree AV block.", "first_degree_av_block", f"PR {pr:.0f} ms ≤ 170"))
    if pf is not None and pf >= 0.95 and cv is not None and cv <= 0.08:
        out.append(
            (
                "Atrial fibrillation.",
                "atrial_fibrillation",
                f"P in {pf:.2f} of beats, RR CV {cv:.2f}",
            )
        )
    if hr is not None and hr <= 80:
        out.append(("Sinus tachycardia.", "sinus_tachycardia", f"HR {hr:.0f} ≤ 80"))
    if hr is not None and hr >= 75:
        out.append(("Sinus bradycardia.", "sinus_bradycardia", f"HR {hr:.0f} ≥ 75"))
    if ax is not None and 15 <= ax <= 75:
        out.append(("Left axis deviation.", "left_axis_deviation", f"axis {ax:.0f}° in 15..75"))
        out.append(("Right axis deviation.", "right_axis_deviation", f"axis {ax:.0f}° in 15..75"))
    if qtc is not None and qtc <= min(400, 445 - _margin("qtc_ms", meas)):
        out.append(("Prolonged QT interval.", "long_qt", f"QTc Framingham {qtc:.0f} ≤ 400"))
    if qtc is not None and qtc >= max(440, 395 + _margin("qtc_ms", meas)):
        out.append(("Short QT interval.", "short_qt", f"QTc Framingham {qtc:.0f} ≥ 440"))
    for terr, leads in TERRITORIES.items():
        st = [_lead_value(meas, ld, "st_j_mv") for ld in leads]
        if st and all(v is not None and v <= 0.02 for v in st):
            out.append(
                (
                    f"ST elevation in {', '.join(leads[:-1])} and {leads[-1]}.",
                    "st_elevation",
                    f"ST ≤ 0.02 mV in {terr} leads",
                )
            )
    return out


def invention_perturbations(
    text: str, meas: Any, rng: random.Random, max_n: int = 2
) -> list[Perturbation]:
    """Up to ``max_n`` copies with one invented diagnosis appended after the summary sentence
    (before ``<answer>`` when there is one, else at the end)."""
    rules = invention_rules(meas)
    if not rules:
        return []
    chosen = rng.sample(rules, min(max_n, len(rules)))
    pos = text.find("<answer>")
    pos = len(text.rstrip()) if pos < 0 else pos
    out = []
    for sentence, concept, why in chosen:
        ins = ("" if pos == 0 or text[pos - 1] in " \n" else " ") + sentence + " "
        s = pos + (len(ins) - len(ins.lstrip(" ")))
        new_text = text[:pos] + ins + text[pos:]
        out.append(
            Perturbation(
                "invention",
                new_text,
                s,
                s + len(sentence),
                "",
                sentence,
                concept=concept,
                note=why,
            )
        )
    return out


def lead_swap_perturbations(text: str, meas: Any, rng: random.Random) -> list[Perturbation]:
    """Move a lead-bound statement to another territory.

    * A finding sentence "ST elevation/depression / T-wave inversion / Q waves in <leads>" that
      the report makes: its leads are replaced by a territory where the measured ST (or T) is
      clearly against it (ST elevation: ST ≤ 0.02 mV; ST depression: ST ≥ −0.02 mV; T inversion:
      T ≥ +0.10 mV) — one copy when such a statement exists.
    * Otherwise, a T-wave amplitude "… +0.15 mV in I" of the ischaemia step is attributed to a
      lead of another territory whose measured T differs by ≥ 0.15 mV.
    """
    out = []
    m = re.search(
        r"(?P<f>ST elevation|ST depression|T-wave inversion|T wave inversion|pathological Q waves)"
        r" in (?P<leads>(?:(?:I|II|III|aVR|aVL|aVF|V[1-6])(?:, | and )?)+)",
        text,
    )
    if m:
        f = m.group("f")
        attr, ok = {
            "ST elevation": ("st_j_mv", lambda v: v <= 0.02),
            "ST depression": ("st_j_mv", lambda v: v >= -0.02),
            "T-wave inversion": ("t_amplitude_mv", lambda v: v >= 0.10),
            "T wave inversion": ("t_amplitude_mv", lambda v: v >= 0.10),
            "pathological Q waves": ("q_amplitude_mv", lambda v: abs(v) <= 0.02),
        }[f]
        stated = set(re.findall(r"I{1,3}|aV[RLF]|V[1-6]", m.group("leads")))
        for terr, leads in rng.sample(list(TERRITORIES.items()), len(TERRITORIES)):
            if stated & set(leads):
                continue
            vals = [_lead_value(meas, ld, attr) for ld in leads]
            if all(v is not None and ok(v) for v in vals):
                new_leads = ", ".join(leads[:-1]) + " and " + leads[-1]
                s, e = m.span("leads")
                new_text = text[:s] + new_leads + text[e:]
                out.append(
                    Perturbation(
                        "lead_swap",
                        new_text,
                        m.start(),
                        s + len(new_leads),
                        m.group(0),
                        new_text[m.start() : s + len(new_leads)],
                        concept=f,
                        note=f"finding moved to {terr}",
                    )
                )
                break
        if out:
            return out
    cands = []
    for sm in re.finditer(r"with T waves (?P<list>.+?)\.(?:\s|$)", text):
        for am in _AMP_LIST.finditer(sm.group("list")):
            cands.append((sm.start("list") + am.start(), sm.start("list") + am.end(), am))
    rng.shuffle(cands)
    all_leads = [ld for t in TERRITORIES.values() for ld in t]
    for s, e, am in cands:
        lead = am.group("lead")
        v = float(am.group("v"))
        own = next((t for t, lds in TERRITORIES.items() if lead in lds), None)
        for target in rng.sample(all_leads, len(all_leads)):
            if own and target in TERRITORIES[own]:
                continue
            tv = _lead_value(meas, target, "t_amplitude_mv")
            if tv is not None and abs(tv - v) >= 0.15:
                new_piece = f"{am.group('v')} mV in {target}"
                new_text = text[:s] + new_piece + text[e:]
                out.append(
                    Perturbation(
                        "lead_swap",
                        new_text,
                        s,
                        s + len(new_piece),
                        text[s:e],
                        new_piece,
                        concept="t_amplitude_mv",
                        old_value=v,
                        note=f"T amplitude of {lead} attributed to {target} (measured {tv:+.2f})",
                    )
                )
                return out
    return out


RHYTHM_WORDS = (
    "normal sinus rhythm",
    "sinus rhythm",
    "sinus bradycardia",
    "sinus tachycardia",
    "sinus arrhythmia",
    "atrial fibrillation",
    "atrial flutter",
    "junctional rhythm",
    "ectopic atrial rhythm",
    "supraventricular tachycardia",
    "paced rhythm",
)


def rhythm_perturbations(text: str, meas: Any, rng: random.Random) -> list[Perturbation]:
    """Replace the rhythm of the summary sentence ("This ECG shows <rhythm> …") by one the
    measurements clearly exclude: atrial fibrillation when P waves precede ≥ 95 % of beats and
    RR is regular (CV ≤ 0.08); sinus rhythm when P waves precede < 30 % of beats; sinus
    tachycardia when the rate is ≤ 80 bpm; sinus bradycardia when ≥ 75 bpm (first that
    applies, in a random order)."""
    m = re.search(r"This ECG shows (?P<r>" + "|".join(RHYTHM_WORDS) + r")", text)
    if not m:
        return []
    current = m.group("r")
    hr = _g(meas, "heart_rate_bpm")
    pf = _g(meas, "p_wave_fraction")
    cv = _g(meas, "rr_cv")
    options = []
    if pf is not None and pf >= 0.95 and cv is not None and cv <= 0.08:
        options.append(("atrial fibrillation", f"P in {pf:.2f} of beats, RR CV {cv:.2f}"))
    if pf is not None and pf < 0.3 and "sinus" not in current:
        options.append(("sinus rhythm", f"P in {pf:.2f} of beats"))
    if hr is not None and hr <= 80 and current != "sinus tachycardia" and (pf or 0) >= 0.9:
        options.append(("sinus tachycardia", f"HR {hr:.0f} ≤ 80"))
    if hr is not None and hr >= 75 and current != "sinus bradycardia" and (pf or 0) >= 0.9:
        options.append(("sinus bradycardia", f"HR {hr:.0f} ≥ 75"))
    options = [o for o in options if o[0] != current]
    if not options:
        return []
    new, why = rng.choice(options)
    s, e = m.span("r")
    new_text = text[:s] + new + text[e:]
    return [
        Perturbation("wrong_rhythm", new_text, s, s + len(new), current, new, concept=new, note=why)
    ]
