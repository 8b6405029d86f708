"""Simulate a 12-lead ECG with known truth: rhythm -> wave placement -> dipole -> leads -> noise.

See ``docs/simulator.md`` for what is physiological and what is stylised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError
from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.io.record import ECGRecord
from ecgr1.simulate.dipole import (
    Lobe,
    frontal_to_frank,
    project,
    pulse,
    twelve_from_independent,
)
from ecgr1.simulate.noise import ELECTRODES, NOISE_KINDS, electrode_noise, electrodes_to_leads
from ecgr1.simulate.patterns import (
    DEFAULT_QTC_FRIDERICIA_MS,
    ECTOPIC_P,
    FLUTTER_RHYTHMS,
    MIN_DIASTOLE_MS,
    MORPHOLOGIES,
    P_DURATION_MS,
    PARAMETER_LIMITS,
    PATTERNS,
    QT_LAST_RR_WEIGHT,
    RHYTHM,
    SINUS_P,
    ST_RAMP_MS,
    ST_SHIFTS,
    T_FRACTION_OF_ST_T,
    T_LOBE_SPANS,
    T_MIN_MS,
    STShift,
    VentricularMorphology,
)

WAVE_KINDS = ("p", "qrs", "t")
# MeasurementResult.lead_fiducials keys, in order.
FIDUCIAL_KEYS = (
    "p_on", "p_peak", "p_off", "qrs_on", "qrs_peak", "qrs_off", "t_on", "t_peak", "t_off",
)  # fmt: skip


@dataclass
class TrueWave:
    """One generated wave with its exact boundaries (s) and, per lead, its peak time (s)."""

    kind: str  # "p" | "qrs" | "t"
    onset_s: float
    offset_s: float
    peak_s: dict[str, float] = field(default_factory=dict)
    beat: int | None = None  # index of the ventricular beat it belongs to (None: non-conducted P)
    complete: bool = True  # False when the wave is cut by the record's edges

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "onset_s": round(self.onset_s, 6),
            "offset_s": round(self.offset_s, 6),
            "peak_s": {k: round(v, 6) for k, v in self.peak_s.items()},
            "beat": self.beat,
            "complete": self.complete,
        }


@dataclass
class Simulation:
    """A simulated record and everything that is true about it.

    Attributes
    ----------
    record : the ECG (12 standard leads, mV), noise included.
    clean : (12, n) float64, the same ECG before noise.
    waves : every generated P, QRS and T wave with exact onset/offset and per-lead peaks.
    beats : one dict per ventricular beat: ``qrs_on_s``, ``qrs_off_s``, ``t_off_s``, ``p_on_s``
        (the conducted P, or None), ``pr_ms``, ``qrs_ms``, ``qt_ms``, ``rr_prev_ms``,
        ``beat_class`` (MeasurementResult vocabulary) and ``morphology``.
    params : the parameters actually used (defaults resolved) and summary truths.
    """

    record: ECGRecord
    clean: np.ndarray
    waves: list[TrueWave]
    beats: list[dict[str, Any]]
    params: dict[str, Any]

    def lead_fiducials(self) -> dict[str, dict[str, list[int | None]]]:
        """True fiducials per lead and beat, in samples, in ``MeasurementResult`` form."""
        fs = self.record.fs
        out: dict[str, dict[str, list[int | None]]] = {
            lead: {key: [] for key in FIDUCIAL_KEYS} for lead in self.record.leads
        }
        by_beat: dict[int, dict[str, TrueWave]] = {}
        for wave in self.waves:
            if wave.beat is not None and wave.complete:
                by_beat.setdefault(wave.beat, {})[wave.kind] = wave
        for index in range(len(self.beats)):
            parts = by_beat.get(index, {})
            for lead in self.record.leads:
                for kind in WAVE_KINDS:
                    wave = parts.get(kind)
                    on = round(wave.onset_s * fs) if wave else None
                    peak = round(wave.peak_s[lead] * fs) if wave else None
                    off = round(wave.offset_s * fs) if wave else None
                    out[lead][f"{kind}_on"].append(on)
                    out[lead][f"{kind}_peak"].append(peak)
                    out[lead][f"{kind}_off"].append(off)
        return out

    def truth(self) -> dict[str, Any]:
        """The JSON of true parameters written next to the WFDB record."""
        return {
            "id": self.record.record_id,
            "generator": "ecgr1.simulate",
            "params": self.params,
            "beats": self.beats,
            "waves": [w.to_dict() for w in self.waves],
        }


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed)


def _qt_for_rr(rr_s: float, qt_ms: float | None, hr_ref: float) -> float:
    """QT (ms) of a beat that follows an RR of ``rr_s`` seconds (Fridericia rate dependence)."""
    if qt_ms is None:
        return DEFAULT_QTC_FRIDERICIA_MS * rr_s ** (1.0 / 3.0)
    rr_ref = 60.0 / hr_ref
    return qt_ms * (rr_s / rr_ref) ** (1.0 / 3.0)


# --- Rhythm: when do P waves and QRS complexes occur ------------------------------------------


@dataclass
class _Atrial:
    onset_s: float
    kind: str  # "sinus" | "ectopic"


@dataclass
class _Ventricular:
    onset_s: float
    morphology: str
    p_index: int | None
    beat_class: str


def _sinus_times(start: float, end: float, rr0: float, modulation: float, rng) -> list[float]:
    """Sinus P onsets with respiratory modulation and a little random jitter."""
    phase = rng.uniform(0, 2 * np.pi)
    times, t = [], start
    while t < end:
        times.append(t)
        resp = modulation * math.sin(2 * math.pi * RHYTHM["resp_hz"] * t + phase)
        t += rr0 * (1.0 + resp + rng.normal(0.0, RHYTHM["rr_jitter"]))
    return times


def _dissociated(
    start: float,
    duration: float,
    sinus: tuple[float, float],
    focus: tuple[float, float, tuple[float, float]],
    morph: str,
    rng,
) -> tuple[list[_Atrial], list[_Ventricular]]:
    """Atria and ventricles each at their own rate, no P wave conducted (AV dissociation).

    ``sinus`` is the sinus cycle (s) and its respiratory modulation; ``focus`` the ventricular
    (or junctional) cycle, its relative jitter, and the range its first beat falls in after
    ``start``."""
    atria = [_Atrial(t, "sinus") for t in _sinus_times(start, duration, *sinus, rng)]
    rr, jitter, first = focus
    vent: list[_Ventricular] = []
    t = start + rng.uniform(*first)
    while t < duration:
        vent.append(_Ventricular(t, morph, None, "dominant"))
        t += rr * (1.0 + rng.normal(0.0, jitter))
    return atria, vent


def _rhythm(pattern_rhythm: str, morph: str, duration: float, hr: float, pr_s: float,
            modulation: float, rng) -> tuple[list[_Atrial], list[_Ventricular]]:  # fmt: skip
    rr0 = 60.0 / hr
    atria: list[_Atrial] = []
    vent: list[_Ventricular] = []
    start = float(rng.uniform(0.12, 0.3))

    if pattern_rhythm == "af":
        n = int(duration / rr0) + 3
        dev = rng.normal(0.0, 1.0, n)
        dev = (dev - dev.mean()) / (dev.std() + 1e-12)
        rr = np.maximum(rr0 * (1.0 + RHYTHM["af_rr_cv"] * dev), RHYTHM["af_rr_min_s"])
        t = start + pr_s
        for interval in rr:
            vent.append(_Ventricular(t, morph, None, "dominant"))
            t += float(interval)
        return atria, vent

    if pattern_rhythm in FLUTTER_RHYTHMS:
        cycle = 60.0 / RHYTHM["flutter_rate_per_min"]
        ratios = RHYTHM["flutter_variable_ratios"]
        t = start
        while t < duration:
            vent.append(_Ventricular(t + RHYTHM["flutter_av_delay_s"], morph, None, "dominant"))
            # Fixed block, or variable block: each F wave train conducts after 2, 3 or 4 waves.
            k = RHYTHM["flutter_conduction"] if pattern_rhythm == "flutter" else rng.choice(ratios)
            t += k * cycle
        return atria, vent

    if pattern_rhythm == "avb3":
        # Complete AV block: the sinus at ``hr``, a junctional escape focus of its own.
        escape_rr = 60.0 / RHYTHM["avb3_escape_hr"]
        return _dissociated(start, duration, (rr0, modulation), (escape_rr, 0.005, (0.35, 0.6)),
                            morph, rng)  # fmt: skip

    if pattern_rhythm == "vt":
        # Ventricular tachycardia: the ventricles at ``hr``, the sinus at its own rate.
        atrial_rr = 60.0 / RHYTHM["vt_atrial_hr"]
        return _dissociated(start, duration, (atrial_rr, modulation),
                            (rr0, RHYTHM["rr_jitter"], (0.0, rr0)), morph, rng)  # fmt: skip

    premature = set(RHYTHM["premature_beats"]) if pattern_rhythm in ("pac", "pvc") else set()
    t = start
    beat = 0
    cycle_pos = 0
    while t < duration:
        resp = modulation * math.sin(2 * math.pi * RHYTHM["resp_hz"] * t)
        rr = rr0 * (1.0 + resp + rng.normal(0.0, RHYTHM["rr_jitter"]))
        if beat in premature and pattern_rhythm == "pac":
            t_pac = t - rr * (1.0 - RHYTHM["pac_coupling"])
            atria.append(_Atrial(t_pac, "ectopic"))
            vent.append(
                _Ventricular(t_pac + pr_s, morph, len(atria) - 1, "premature_supraventricular")
            )
            t = t_pac + rr  # the sinus node is reset by the premature beat
            beat += 1
            continue
        if beat in premature and pattern_rhythm == "pvc":
            prev_qrs = vent[-1].onset_s if vent else t - rr + pr_s
            vent.append(_Ventricular(prev_qrs + RHYTHM["pvc_coupling"] * rr, "pvc", None,
                                     "premature_ventricular"))  # fmt: skip
            t += rr  # the sinus P falls inside the PVC and is not conducted: compensatory pause
            beat += 1
            continue
        atria.append(_Atrial(t, "sinus"))
        p_index = len(atria) - 1
        if pattern_rhythm == "avb2_mobitz1":
            increments = RHYTHM["mobitz1_pr_increments_ms"]
            pos = cycle_pos % (len(increments) + 1)
            if pos < len(increments):
                vent.append(_Ventricular(t + pr_s + increments[pos] / 1000.0, morph, p_index,
                                         "dominant"))  # fmt: skip
            cycle_pos += 1
        elif pattern_rhythm == "avb2_mobitz2":
            if cycle_pos % RHYTHM["mobitz2_cycle"] != RHYTHM["mobitz2_cycle"] - 1:
                vent.append(_Ventricular(t + pr_s, morph, p_index, "dominant"))
            cycle_pos += 1
        else:
            vent.append(_Ventricular(t + pr_s, morph, p_index, "dominant"))
        t += rr
        beat += 1
    return atria, vent


# --- Waves: place dipole lobes in time ----------------------------------------------------------


class _Canvas:
    """Accumulates the VCG and remembers every wave's own contribution."""

    def __init__(self, n: int, fs: float) -> None:
        self.fs = fs
        self.n = n
        self.vcg = np.zeros((n, 3))
        self.waves: list[TrueWave] = []

    def add(self, kind: str, onset: float, offset: float, lobes: list[Lobe], beat: int | None,
            peak_window: tuple[float, float] | None = None) -> TrueWave:  # fmt: skip
        """Add a wave whose lobes have absolute times (s) and record it as a true wave."""
        i0 = max(int(math.ceil(onset * self.fs)), 0)
        i1 = min(int(math.floor(offset * self.fs)) + 1, self.n)
        wave = TrueWave(kind, onset, offset, beat=beat,
                        complete=onset >= 0.0 and offset <= (self.n - 1) / self.fs)  # fmt: skip
        if i1 <= i0:
            wave.complete = False
            self.waves.append(wave)
            return wave
        t = np.arange(i0, i1) / self.fs
        seg = np.zeros((i1 - i0, 3))
        for lobe in lobes:
            seg += (
                pulse(t, lobe.start, lobe.end)[:, None]
                * frontal_to_frank(lobe.angle_deg, lobe.frontal_mv, lobe.z_mv)[None, :]
            )
        self.vcg[i0:i1] += seg
        leads = twelve_from_independent(project(seg).T)
        if peak_window is not None:
            keep = (t >= peak_window[0]) & (t <= peak_window[1])
            if keep.any():
                leads, t = leads[:, keep], t[keep]
        peaks = np.argmax(np.abs(leads), axis=1)
        wave.peak_s = {name: float(t[i]) for name, i in zip(STANDARD_LEADS, peaks)}
        self.waves.append(wave)
        return wave

    def add_continuous(self, vcg: np.ndarray) -> None:
        """Add activity that is not a discrete wave (fibrillatory or flutter waves)."""
        self.vcg += vcg


def _place(template: tuple[Lobe, ...] | list[Lobe], onset: float, duration: float,
           rotate: float = 0.0, gain: float = 1.0, z_gain: float | None = None) -> list[Lobe]:  # fmt: skip
    out = []
    for lobe in template:
        placed = Lobe(onset + lobe.start * duration, onset + lobe.end * duration,
                      lobe.angle_deg + rotate, lobe.frontal_mv * gain,
                      lobe.z_mv * (gain if z_gain is None else z_gain))  # fmt: skip
        out.append(placed)
    return out


def _net_axis(lobes: tuple[Lobe, ...]) -> float:
    """Frontal axis of a lobe set's net area (every lobe has the same shape, area ~ m * width)."""
    x = sum(
        lb.frontal_mv * (lb.end - lb.start) * math.cos(math.radians(lb.angle_deg)) for lb in lobes
    )
    y = sum(
        lb.frontal_mv * (lb.end - lb.start) * math.sin(math.radians(lb.angle_deg)) for lb in lobes
    )
    return math.degrees(math.atan2(y, x))


def _st_profile(t: np.ndarray, j: float, t_peak: float, t_off: float) -> np.ndarray:
    """Injury-current profile: rises during the last ST_RAMP_MS of the QRS so that the J point
    itself is displaced, flat to the T peak, then falls smoothly to 0 at the T offset."""
    ramp = ST_RAMP_MS / 1000.0
    out = np.zeros_like(t)
    rise = (t >= j - ramp) & (t < j)
    out[rise] = 0.5 - 0.5 * np.cos(np.pi * (t[rise] - (j - ramp)) / ramp)
    out[(t >= j) & (t <= t_peak)] = 1.0
    fall = (t > t_peak) & (t < t_off)
    out[fall] = 0.5 + 0.5 * np.cos(np.pi * (t[fall] - t_peak) / max(t_off - t_peak, 1e-6))
    return out


def _f_waves(n: int, fs: float, rng) -> np.ndarray:
    """Fibrillatory atrial activity: a few 5-7 Hz oscillations with wandering amplitude and axis."""
    t = np.arange(n) / fs
    sig = np.zeros(n)
    for hz in RHYTHM["f_wave_hz"]:
        drift = 1.0 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6.3))
        sig += drift * np.sin(2 * np.pi * (hz + 0.15 * np.sin(2 * np.pi * 0.3 * t)) * t
                              + rng.uniform(0, 2 * np.pi))  # fmt: skip
    sig *= RHYTHM["f_wave_mv"] / (np.std(sig) * np.sqrt(2) + 1e-12)
    angle = 80.0 + 25.0 * np.sin(2 * np.pi * 0.2 * t)
    vcg = np.zeros((n, 3))
    for a in (60.0, 80.0, 100.0):
        weight = np.exp(-((angle - a) ** 2) / (2 * 15.0**2))
        vcg += (sig * weight)[:, None] * frontal_to_frank(a, 1.0, -0.8)[None, :] / 1.5
    return vcg


def _flutter_waves(n: int, fs: float, rng) -> np.ndarray:
    """Typical flutter: a sawtooth (slow descent, fast return) seen best in II, III, aVF."""
    from scipy.ndimage import gaussian_filter1d

    cycle = 60.0 / RHYTHM["flutter_rate_per_min"]
    phase = ((np.arange(n) / fs) / cycle + rng.uniform(0, 1)) % 1.0
    saw = np.where(phase < 0.75, 0.5 - phase / 0.75, -0.5 + (phase - 0.75) / 0.25)
    saw = gaussian_filter1d(saw, sigma=0.008 * fs)
    saw *= RHYTHM["flutter_mv"]
    return saw[:, None] * frontal_to_frank(90.0, 1.0, -0.3)[None, :]


def simulate(
    pattern: str = "normal",
    *,
    seconds: float = 10.0,
    fs: float = 500.0,
    hr: float | None = None,
    pr_ms: float | None = None,
    qrs_ms: float | None = None,
    qt_ms: float | None = None,
    axis_deg: float | None = None,
    noise: tuple[str, ...] | list[str] | str = (),
    noise_level: float = 1.0,
    powerline_hz: float = 50.0,
    noise_floor_uv: float = 3.0,
    seed: int | None = 0,
    record_id: str | None = None,
) -> Simulation:
    """Simulate a 12-lead ECG of a named pattern, with its true fiducials and parameters.

    Parameters
    ----------
    pattern : a key of :data:`ecgr1.simulate.patterns.PATTERNS` (``ecgr1 simulate --list``).
    seconds, fs : record length (s) and sampling rate (Hz).
    hr : sinus (atrial for AV blocks, ventricular for AF/flutter) rate in beats/min;
        the pattern's default when None (72/min for normal sinus rhythm).
    pr_ms, qrs_ms : PR interval and QRS duration (pattern defaults when None).
    qt_ms : QT at ``hr``; None uses 380 ms at 72/min corrected by Fridericia for the rate.
    axis_deg : frontal QRS axis (net-area, hexaxial); 60 when None.
    noise : any of ``baseline``, ``muscle``, ``powerline`` (or ``all``), added at the
        electrodes so that lead relations still hold.
    noise_level : multiplies every noise amplitude.
    noise_floor_uv : RMS of the white instrument noise at each electrode (always present in a
        real recorder; 0 gives mathematically clean leads, which ``Simulation.clean`` always is).
    seed : random seed (rhythm jitter, AF, noise); the same seed gives the same record.

    Returns
    -------
    Simulation

    Example
    -------
    >>> sim = simulate("normal", seconds=4, seed=1)
    >>> rec = sim.record
    >>> bool(np.allclose(rec.lead("III"), rec.lead("II") - rec.lead("I"), atol=1e-6))
    True
    """
    if pattern not in PATTERNS:
        raise InvalidInputError(
            f"unknown pattern {pattern!r}; choose one of: {', '.join(sorted(PATTERNS))}"
        )
    _check_range("seconds", seconds, "s")
    _check_range("fs", fs, "Hz")
    for name, value in (("noise_level", noise_level), ("noise_floor_uv", noise_floor_uv)):
        _check_range(name, value)
    kinds = _parse_noise(noise)
    if "powerline" in kinds and not 0 < powerline_hz < fs / 2:
        raise InvalidInputError(f"powerline_hz {powerline_hz:g} must lie between 0 and fs/2")
    spec = PATTERNS[pattern]
    rng = _rng(seed)
    hr_used = float(hr if hr is not None else spec.defaults.get("hr", RHYTHM["default_hr"]))
    pr_used = float(
        pr_ms if pr_ms is not None else spec.defaults.get("pr_ms", RHYTHM["default_pr_ms"])
    )
    morph: VentricularMorphology = MORPHOLOGIES[spec.morphology]
    qrs_used = float(qrs_ms if qrs_ms is not None else spec.defaults.get("qrs_ms", morph.qrs_ms))
    qt_given = qt_ms if qt_ms is not None else spec.defaults.get("qt_ms")
    axis_used = float(
        morph.fixed_axis_deg
        if morph.fixed_axis_deg is not None
        else (axis_deg if axis_deg is not None else spec.defaults.get("axis_deg", 60.0))
    )
    if not 20 <= hr_used <= 250:
        raise InvalidInputError(f"heart rate {hr_used} bpm is outside 20-250")
    _check_range("pr_ms", pr_used, "ms")
    _check_range("qrs_ms", qrs_used, "ms")
    _check_range("axis_deg", axis_used, "deg")
    if qt_given is not None:
        _check_range("qt_ms", qt_given, "ms")
    qt_at_hr = _qt_for_rr(60.0 / hr_used, qt_given, hr_used)
    if qt_at_hr < qrs_used + T_MIN_MS:
        raise InvalidInputError(
            f"QT {qt_at_hr:.0f} ms leaves no room for a T wave after a {qrs_used:g} ms QRS "
            f"(needs at least QRS + {T_MIN_MS:g} ms)"
        )
    if qt_at_hr > 60000.0 / hr_used - MIN_DIASTOLE_MS:
        raise InvalidInputError(
            f"QT {qt_at_hr:.0f} ms does not fit the {60000.0 / hr_used:.0f} ms cycle at "
            f"{hr_used:g}/min (the T wave would run into the next beat); give a shorter "
            "qt_ms or a lower hr"
        )
    n = int(round(seconds * fs))
    canvas = _Canvas(n, fs)
    atria, vent = _rhythm(spec.rhythm, spec.morphology, seconds, hr_used, pr_used / 1000.0,
                          spec.resp_modulation, rng)  # fmt: skip

    # Atrial activity.
    p_dur = P_DURATION_MS / 1000.0
    p_waves: dict[int, TrueWave] = {}
    conducted = {v.p_index: i for i, v in enumerate(vent) if v.p_index is not None}
    for i, atrial in enumerate(atria):
        template = SINUS_P if atrial.kind == "sinus" else ECTOPIC_P
        lobes = _place(template, atrial.onset_s, p_dur, gain=spec.p_gain)
        p_waves[i] = canvas.add(
            "p", atrial.onset_s, atrial.onset_s + p_dur, lobes, conducted.get(i)
        )
    if spec.rhythm == "af":
        canvas.add_continuous(_f_waves(n, fs, rng))
    elif spec.rhythm in FLUTTER_RHYTHMS:
        canvas.add_continuous(_flutter_waves(n, fs, rng))

    # Ventricular activity.
    st: STShift | None = ST_SHIFTS.get(spec.st_shift) if spec.st_shift else None
    beats: list[dict[str, Any]] = []
    prev_onset: float | None = None
    onsets = [v.onset_s for v in vent]
    mean_rr = float(np.mean(np.diff(onsets))) if len(onsets) > 1 else 60.0 / hr_used
    for index, v in enumerate(vent):
        m = MORPHOLOGIES[v.morphology]
        ectopic = v.morphology == "pvc"
        d = (m.qrs_ms if ectopic else qrs_used) / 1000.0
        axis_set = m.qrs_lobes[: m.axis_lobes] if m.axis_lobes else m.qrs_lobes
        rotate = 0.0 if ectopic else axis_used - _net_axis(axis_set)
        beat_axis = _net_axis(axis_set) + rotate
        gain = 1.0 if ectopic else spec.qrs_gain
        qrs_lobes = _place(m.qrs_lobes, v.onset_s, d, rotate, gain, None if ectopic else
                           (spec.qrs_z_gain if spec.qrs_z_gain is not None else None))  # fmt: skip
        rr_prev = (v.onset_s - prev_onset) if prev_onset is not None else mean_rr
        # QT adapts to the rate over minutes: mostly the mean cycle, a little the last one.
        rr_eff = (1.0 - QT_LAST_RR_WEIGHT) * mean_rr + QT_LAST_RR_WEIGHT * rr_prev
        qt = _qt_for_rr(rr_eff, qt_given, hr_used) / 1000.0
        if ectopic and v.beat_class != "dominant":
            # A premature ventricular beat's wide QRS lengthens its QT; the beats of a
            # ventricular rhythm keep the QT of their cycle (at 160/min a 410 ms QT would run
            # the T wave into the next QRS).
            qt = max(qt, d + 0.26)
        j = v.onset_s + d
        t_dur = max(T_FRACTION_OF_ST_T * (qt - d), T_MIN_MS / 1000.0)
        t_off = v.onset_s + qt
        t_on = t_off - t_dur
        t_angle = m.t_abs_deg if m.t_abs_deg is not None else beat_axis + m.t_rel_deg
        t_amp = m.t_frontal_mv * (1.0 if ectopic else spec.t_gain)
        t_z = m.t_z_mv * (1.0 if ectopic else spec.t_gain)
        if spec.t_inverted and not ectopic:
            t_angle, t_z = t_angle + 180.0, -t_z
        if st is not None and not ectopic:
            t_amp *= st.t_gain
            t_z *= st.t_gain
        t_lobes = [
            Lobe(t_on + a * t_dur, t_on + b * t_dur, t_angle, t_amp * g, t_z * g)
            for a, b, g in T_LOBE_SPANS
        ]
        qrs_wave = canvas.add("qrs", v.onset_s, j, qrs_lobes, index)
        t_wave = canvas.add("t", t_on, t_off, t_lobes, index)
        # ST shifts: primary (injury) and secondary (bundle-branch block / PVC, discordant).
        shifts = []
        if st is not None and not ectopic:
            shifts.append((st.angle_deg, st.frontal_mv, st.z_mv))
        if m.st_rel_deg is not None:
            shifts.append((beat_axis + m.st_rel_deg, m.st_frontal_mv, m.st_z_mv))
        if shifts:
            t_peak_time = t_on + 0.6 * t_dur
            j0 = j - ST_RAMP_MS / 1000.0
            i0, i1 = max(int(math.ceil(j0 * fs)), 0), min(int(t_off * fs) + 1, n)
            if i1 > i0:
                tt = np.arange(i0, i1) / fs
                profile = _st_profile(tt, j, t_peak_time, t_off)
                for angle, amp, z in shifts:
                    canvas.vcg[i0:i1] += profile[:, None] * frontal_to_frank(angle, amp, z)[None, :]
        p_on = atria[v.p_index].onset_s if v.p_index is not None else None
        beats.append(
            {
                "index": index,
                "qrs_on_s": round(v.onset_s, 6),
                "qrs_off_s": round(j, 6),
                "t_on_s": round(t_on, 6),
                "t_off_s": round(t_off, 6),
                "p_on_s": None if p_on is None else round(p_on, 6),
                "p_off_s": None if p_on is None else round(p_on + p_dur, 6),
                "pr_ms": None if p_on is None else round((v.onset_s - p_on) * 1000.0, 3),
                "qrs_ms": round(d * 1000.0, 3),
                "qt_ms": round(qt * 1000.0, 3),
                "rr_prev_ms": None if prev_onset is None else round(rr_prev * 1000.0, 3),
                "beat_class": v.beat_class,
                "morphology": v.morphology,
                "qrs_axis_deg": round(beat_axis, 3),
                "complete": qrs_wave.complete and t_wave.complete,
            }
        )
        prev_onset = v.onset_s

    eight = project(canvas.vcg).T  # (8, n)
    clean = twelve_from_independent(eight)
    signal = clean.copy()
    if kinds:
        signal += electrode_noise(n, fs, kinds, noise_level, powerline_hz, rng)
    if noise_floor_uv > 0:
        floor = rng.normal(0.0, noise_floor_uv / 1000.0, (len(ELECTRODES), n))
        signal += electrodes_to_leads(floor)

    rr = np.diff([b["qrs_on_s"] for b in beats]) if len(beats) > 1 else np.array([])
    params: dict[str, Any] = {
        "pattern": pattern,
        "description": spec.description,
        "labels": list(spec.labels),
        "seconds": seconds,
        "fs": fs,
        "seed": seed,
        "hr_bpm": hr_used,
        "pr_ms": None if spec.rhythm in ("af", "vt", *FLUTTER_RHYTHMS) else pr_used,
        "qrs_ms": qrs_used,
        "qt_ms_at_hr": qt_given
        if qt_given is not None
        else round(_qt_for_rr(60.0 / hr_used, None, hr_used), 3),
        "axis_deg": axis_used,
        "morphology": spec.morphology,
        "rhythm": spec.rhythm,
        "st_shift": spec.st_shift,
        "noise": list(kinds),
        "noise_level": noise_level,
        "noise_floor_uv": noise_floor_uv,
        "powerline_hz": powerline_hz if "powerline" in kinds else None,
        "ventricular_rate_bpm": round(60.0 / float(np.mean(rr)), 3) if rr.size else None,
        "rr_cv": round(float(np.std(rr) / np.mean(rr)), 6) if rr.size > 1 else None,
        "n_p_waves": len(atria),
        "n_beats": len(beats),
        "atrial_activity": (
            "fibrillatory"
            if spec.rhythm == "af"
            else "flutter"
            if spec.rhythm in FLUTTER_RHYTHMS
            else "p_waves"
        ),
    }
    rid = record_id or f"sim_{pattern}_{seed if seed is not None else 'x'}"
    record = ECGRecord(
        signal.astype(np.float32),
        fs,
        list(STANDARD_LEADS),
        record_id=rid,
        metadata={
            "age": None,
            "sex": None,
            "labels": list(spec.labels),
            "report": None,
            "simulated": True,
            "pattern": pattern,
        },
    )
    return Simulation(record, clean, canvas.waves, beats, params)


def _check_range(name: str, value: float, unit: str = "") -> None:
    """Refuse a parameter outside :data:`PARAMETER_LIMITS` with a message naming it."""
    low, high = PARAMETER_LIMITS[name]
    if not (np.isfinite(value) and low <= value <= high):
        raise InvalidInputError(
            f"{name} {value:g}{' ' + unit if unit else ''} is outside {low:g}-{high:g}"
        )


def _parse_noise(noise: tuple[str, ...] | list[str] | str | None) -> tuple[str, ...]:
    if not noise:
        return ()
    items = noise.split(",") if isinstance(noise, str) else list(noise)
    out: list[str] = []
    for item in items:
        key = item.strip().lower()
        if key in ("", "none"):
            continue
        if key == "all":
            out.extend(NOISE_KINDS)
            continue
        if key not in NOISE_KINDS:
            raise InvalidInputError(f"unknown noise {item!r}; choose from {', '.join(NOISE_KINDS)}")
        out.append(key)
    return tuple(dict.fromkeys(out))
