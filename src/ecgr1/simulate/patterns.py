"""The simulator's data tables: wave templates (dipole lobes) and the pattern catalogue.

All numbers that shape a simulated ECG live here, one table per concept, so a reader can see
what each pattern changes. Lobe times are fractions of the wave's duration; angles are hexaxial
frontal-plane degrees (0 = lead I, +90 = aVF); amplitudes are millivolts (see
:class:`ecgr1.simulate.dipole.Lobe`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecgr1.simulate.dipole import Lobe

# --- Atrial waves -------------------------------------------------------------------------------
# Sinus P: right atrium first (inferior, anterior), then left atrium (leftward, posterior), which
# gives the upright P in II and the biphasic (+/-) P in V1.
SINUS_P: tuple[Lobe, ...] = (
    Lobe(0.00, 0.65, 70.0, 0.11, -0.05),
    Lobe(0.35, 1.00, 45.0, 0.08, 0.00),
)
# Ectopic atrial P (PAC): a single lobe from a low/lateral focus, smaller and differently aimed.
ECTOPIC_P: tuple[Lobe, ...] = (Lobe(0.00, 1.00, 5.0, 0.09, 0.02),)
P_DURATION_MS = 100.0


@dataclass(frozen=True)
class VentricularMorphology:
    """A QRS template plus how repolarisation (ST-T) relates to it.

    ``target_axis`` None keeps the template's own axis (ectopic beats); otherwise the QRS lobes
    are rotated so the net QRS area points at the requested frontal axis. ``t_rel_deg`` is the
    T direction relative to that axis (discordant T waves of bundle-branch blocks and PVCs are
    about 180 degrees away).
    """

    name: str
    qrs_lobes: tuple[Lobe, ...]
    qrs_ms: float
    t_rel_deg: float = -15.0
    t_frontal_mv: float = 0.36
    t_z_mv: float = -0.22
    st_rel_deg: float | None = None  # secondary ST shift (discordant), None when absent
    st_frontal_mv: float = 0.0
    st_z_mv: float = 0.0
    fixed_axis_deg: float | None = None  # morphology-imposed axis (LAFB), wins over --axis-deg
    axis_lobes: int | None = None  # axis from the first N lobes only (RBBB: initial forces)
    t_abs_deg: float | None = None  # absolute T direction, wins over t_rel_deg


NARROW = VentricularMorphology(
    "narrow",
    (
        Lobe(
            0.00, 0.40, -150.0, 0.15, -0.25
        ),  # septum, activated left-to-right: q in I/V6, r in V1
        Lobe(0.18, 0.80, 60.0, 1.15, 0.50),  # left-ventricular free wall: R in II/V5, S in V1
        Lobe(0.55, 1.00, -110.0, 0.30, 0.55),  # late basal forces: s in I/V6, deep S in V2
    ),
    90.0,
)
RBBB = VentricularMorphology(
    "rbbb",
    (
        Lobe(0.00, 0.25, -150.0, 0.15, -0.25),
        Lobe(0.10, 0.55, 60.0, 1.10, 0.35),
        Lobe(0.35, 0.62, -120.0, 0.20, 0.40),
        Lobe(
            0.50, 1.00, 175.0, 0.40, -0.70
        ),  # slow late right-ventricular forces: R' in V1, wide S in I/V6
    ),
    140.0,
    t_rel_deg=-20.0,
    t_frontal_mv=0.30,
    t_z_mv=0.25,  # T directed away from the late forces: inverted in V1-V2
    axis_lobes=3,  # the axis of RBBB is read from the unaffected initial forces
)
LBBB = VentricularMorphology(
    "lbbb",
    (
        Lobe(
            0.00, 0.35, 10.0, 0.35, 0.15
        ),  # septum activated from the right: no q in I/V6, no r in V1
        Lobe(0.15, 0.75, 0.0, 1.20, 1.30),
        Lobe(0.50, 1.00, -20.0, 0.95, 1.00),  # second hump: notched broad R in I/aVL/V6
    ),
    150.0,
    t_rel_deg=180.0,
    t_frontal_mv=0.35,
    t_z_mv=-0.50,
    st_rel_deg=180.0,
    st_frontal_mv=0.10,
    st_z_mv=-0.15,
)
LAFB = VentricularMorphology(
    "lafb",
    (
        Lobe(
            0.00, 0.35, 120.0, 0.25, -0.15
        ),  # initial inferior forces: r in II/III/aVF, q in I/aVL
        Lobe(0.20, 0.85, -60.0, 1.10, 0.15),
        Lobe(0.60, 1.00, -100.0, 0.25, 0.50),
    ),
    100.0,
    fixed_axis_deg=-60.0,
    t_abs_deg=40.0,  # repolarisation keeps its normal direction (no secondary T change)
)
PVC = VentricularMorphology(
    "pvc",
    (
        Lobe(0.00, 0.70, -70.0, 1.30, 0.70),
        Lobe(0.35, 1.00, -30.0, 0.90, 0.40),
    ),
    150.0,
    t_rel_deg=180.0,
    t_frontal_mv=0.45,
    t_z_mv=-0.40,
    st_rel_deg=180.0,
    st_frontal_mv=0.10,
    st_z_mv=-0.10,
)
MORPHOLOGIES: dict[str, VentricularMorphology] = {
    m.name: m for m in (NARROW, RBBB, LBBB, LAFB, PVC)
}

# T wave lobes (fractions of the T wave's duration): a broad ascending lobe and a later,
# narrower one give the asymmetric T (slow upstroke, faster downstroke).
T_LOBE_SPANS: tuple[tuple[float, float, float], ...] = ((0.00, 0.90, 0.62), (0.35, 1.00, 0.45))
T_FRACTION_OF_ST_T = 0.62  # T wave duration as a fraction of (QT - QRS)
T_MIN_MS = 100.0
ST_RAMP_MS = 20.0  # ST shifts build up over the last 20 ms of the QRS (J point displaced)

# QT follows the mean ventricular cycle (slow adaptation) and, with this weight, the last RR.
QT_LAST_RR_WEIGHT = 0.2
# Rate dependence of QT when --qt-ms is not given: Fridericia, QTcF that gives 380 ms at 72 bpm.
DEFAULT_QTC_FRIDERICIA_MS = 380.0 / (60.0 / 72.0) ** (1.0 / 3.0)


@dataclass(frozen=True)
class STShift:
    """An injury current: an ST-segment vector (frontal angle, amplitude, Z)."""

    angle_deg: float
    frontal_mv: float
    z_mv: float
    t_gain: float = 1.0  # hyperacute T waves accompany acute injury


ST_SHIFTS: dict[str, STShift] = {
    # Inferior injury: vector towards III/aVF; aVL (and I) show the reciprocal depression.
    "inferior_stemi": STShift(105.0, 0.32, 0.0, t_gain=1.3),
    # Anterior injury: vector anterior (V1-V4 up) and slightly superior (II/III/aVF down).
    "anterior_stemi": STShift(-90.0, 0.15, -0.35, t_gain=1.3),
    # Diffuse subendocardial ischaemia: vector towards aVR; depression in I, II, V4-V6.
    "st_depression": STShift(-150.0, 0.22, 0.05),
}


@dataclass(frozen=True)
class Pattern:
    """One simulated condition: rhythm, conduction, modifiers and the statements it implies."""

    name: str
    description: str
    labels: tuple[str, ...]  # the protocol statements (criteria.yaml labels) the pattern implies
    # sinus | af | flutter | flutter_variable | avb1 | avb2_mobitz1 | avb2_mobitz2 | avb3 | pac | pvc
    # | vt
    rhythm: str = "sinus"
    morphology: str = "narrow"
    defaults: dict[str, Any] = field(default_factory=dict)
    qrs_gain: float = 1.0
    qrs_z_gain: float | None = None
    t_gain: float = 1.0
    p_gain: float = 1.0
    st_shift: str | None = None
    t_inverted: bool = False
    resp_modulation: float = (
        0.015  # relative RR modulation by respiration (sinus arrhythmia: large)
    )


# Rhythms whose atria flutter (sawtooth F waves, no P waves).
FLUTTER_RHYTHMS = ("flutter", "flutter_variable")

PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        Pattern("normal", "Normal sinus rhythm", ("sinus rhythm", "normal ECG")),
        Pattern(
            "sinus_bradycardia", "Sinus bradycardia", ("sinus bradycardia",), defaults={"hr": 48.0}
        ),
        Pattern(
            "sinus_tachycardia",
            "Sinus tachycardia",
            ("sinus tachycardia",),
            defaults={"hr": 115.0, "pr_ms": 140.0},
        ),
        Pattern(
            "sinus_arrhythmia",
            "Sinus arrhythmia (respiratory RR modulation)",
            ("sinus arrhythmia",),
            defaults={"hr": 70.0},
            resp_modulation=0.11,
        ),
        Pattern(
            "atrial_fibrillation",
            "Atrial fibrillation: no P waves, fibrillatory baseline, irregularly irregular RR",
            ("atrial fibrillation",),
            rhythm="af",
            defaults={"hr": 95.0},
        ),
        Pattern(
            "atrial_flutter",
            "Typical atrial flutter, 300/min sawtooth F waves with 4:1 conduction",
            ("atrial flutter",),
            rhythm="flutter",
            defaults={"hr": 75.0},
        ),
        Pattern(
            "atrial_flutter_variable",
            "Typical atrial flutter, 300/min F waves with variable (2:1 to 4:1) conduction: "
            "irregular RR",
            ("atrial flutter",),
            rhythm="flutter_variable",
            defaults={"hr": 100.0},
        ),
        Pattern(
            "av_block_1",
            "Sinus rhythm with first-degree AV block (PR 260 ms)",
            ("sinus rhythm", "first degree AV block"),
            rhythm="avb1",
            defaults={"pr_ms": 260.0},
        ),
        Pattern(
            "av_block_2_mobitz1",
            "Second-degree AV block, Mobitz I (Wenckebach) 4:3",
            ("second degree AV block, Mobitz type I (Wenckebach)",),
            rhythm="avb2_mobitz1",
            defaults={"hr": 80.0},
        ),
        Pattern(
            "av_block_2_mobitz2",
            "Second-degree AV block, Mobitz II 3:2 with constant PR",
            ("second degree AV block, Mobitz type II",),
            rhythm="avb2_mobitz2",
            defaults={"hr": 80.0},
        ),
        Pattern(
            "av_block_3",
            "Third-degree (complete) AV block: atria 100/min, junctional escape 40/min",
            ("third degree AV block",),
            rhythm="avb3",
            # Not an integer multiple of the escape rate: at exactly 2:1 every other P wave
            # sits in the same place of every T wave and the strip cannot be told from 2:1
            # AV block with a long PR; here the P waves visibly march through the QRS-T.
            defaults={"hr": 100.0},
        ),
        Pattern(
            "pac",
            "Sinus rhythm with premature atrial complexes",
            ("sinus rhythm", "premature atrial contractions"),
            rhythm="pac",
        ),
        Pattern(
            "pvc",
            "Sinus rhythm with premature ventricular complexes",
            ("sinus rhythm", "premature ventricular contractions"),
            rhythm="pvc",
        ),
        Pattern(
            "ventricular_tachycardia",
            "Monomorphic ventricular tachycardia, 160/min, with AV dissociation (sinus P waves "
            "at 75/min marching through)",
            ("ventricular tachycardia",),
            rhythm="vt",
            morphology="pvc",
            defaults={"hr": 160.0},
        ),
        Pattern(
            "rbbb",
            "Right bundle branch block",
            ("sinus rhythm", "complete right bundle branch block"),
            morphology="rbbb",
        ),
        Pattern(
            "lbbb",
            "Left bundle branch block",
            ("sinus rhythm", "complete left bundle branch block"),
            morphology="lbbb",
            defaults={"axis_deg": 0.0},
        ),
        Pattern(
            "lafb",
            "Left anterior fascicular block (axis -60 degrees)",
            ("sinus rhythm", "left anterior fascicular block", "left axis deviation"),
            morphology="lafb",
        ),
        Pattern(
            "lvh",
            "Left ventricular hypertrophy by voltage",
            # voltage alone, no strain or other Romhilt-Estes support: the weaker statement
            ("sinus rhythm", "voltage criteria for LVH"),
            defaults={"qrs_ms": 100.0},
            qrs_gain=2.0,
            qrs_z_gain=2.2,
        ),
        Pattern(
            "low_voltage",
            "Low QRS voltage in limb and precordial leads",
            ("sinus rhythm", "low QRS voltage"),
            qrs_gain=0.28,
            t_gain=0.5,
            p_gain=0.7,
        ),
        Pattern(
            "inferior_stemi",
            "Inferior ST elevation with reciprocal depression in aVL",
            ("sinus rhythm", "inferior ST elevation"),
            st_shift="inferior_stemi",
        ),
        Pattern(
            "anterior_stemi",
            "Anterior ST elevation (V1-V4) with reciprocal inferior depression",
            # The inferior depression is reciprocal, part of the elevation finding (4th UDMI),
            # as for inferior_stemi: not a statement of its own.
            ("sinus rhythm", "anterior ST elevation"),
            st_shift="anterior_stemi",
        ),
        Pattern(
            "st_depression",
            "Diffuse ST depression with ST elevation in aVR",
            ("sinus rhythm", "inferior ST depression", "ST elevation in aVR"),
            st_shift="st_depression",
        ),
        Pattern(
            "t_inversion",
            "T-wave inversion (T vector turned 180 degrees)",
            ("sinus rhythm", "inferior T wave inversion", "lateral T wave inversion"),
            t_inverted=True,
        ),
        Pattern(
            "long_qt",
            "Long QT interval (QT 520 ms at 72/min)",
            ("sinus rhythm", "prolonged QT interval"),
            defaults={"qt_ms": 520.0},
        ),
    )
}

# Rhythm constants (one table: who changes what).
RHYTHM = {
    "default_hr": 72.0,
    "default_pr_ms": 160.0,
    "resp_hz": 0.25,  # respiratory frequency modulating sinus RR
    "rr_jitter": 0.01,  # beat-to-beat random RR variation (relative SD)
    "af_rr_cv": 0.20,  # AF: coefficient of variation of RR (exactly, per record)
    "af_rr_min_s": 0.33,
    "f_wave_mv": 0.07,  # AF fibrillatory wave amplitude along its axis
    "f_wave_hz": (5.2, 6.3, 7.1),
    "flutter_rate_per_min": 300.0,
    "flutter_conduction": 4,
    "flutter_variable_ratios": (2, 3, 4),  # variable block: F waves per QRS, drawn per beat
    "flutter_mv": 0.20,
    "flutter_av_delay_s": 0.26,
    "mobitz1_pr_increments_ms": (0.0, 100.0, 140.0),  # 4:3 Wenckebach: three conducted, one dropped
    "mobitz2_cycle": 3,  # 3:2: every third P is blocked
    "avb3_escape_hr": 40.0,
    # Ventricular tachycardia: the sinus node goes on at this rate, dissociated from the
    # ventricles (AV dissociation, the VT sign of Brugada's third step).
    "vt_atrial_hr": 75.0,
    "premature_beats": (3, 8),  # which beats are premature in the PAC/PVC patterns
    "pac_coupling": 0.62,  # PAC: premature P at this fraction of the sinus cycle
    "pvc_coupling": 0.60,  # PVC: premature QRS at this fraction of the RR
}

# Accepted parameter ranges (inclusive). Outside them the model stops being an ECG (waves
# overlapping their own beat, QRS sampled by a handful of points), so simulate() refuses.
PARAMETER_LIMITS: dict[str, tuple[float, float]] = {
    "seconds": (1.0, 3600.0),
    "fs": (100.0, 10000.0),  # below 100 Hz a 90 ms QRS has fewer than 9 samples
    "hr": (20.0, 250.0),
    "pr_ms": (P_DURATION_MS, 600.0),  # PR starts at P onset: shorter would put QRS inside P
    "qrs_ms": (40.0, 250.0),
    "qt_ms": (200.0, 800.0),
    "axis_deg": (-180.0, 180.0),
    "noise_level": (0.0, 100.0),
    "noise_floor_uv": (0.0, 1000.0),
}
# The QT (T end) must leave this much of the cycle before the next beat's P/QRS.
MIN_DIASTOLE_MS = 20.0
