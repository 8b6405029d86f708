"""The rhythm of a paced record is its underlying atrial rhythm (constructed signals).

Ventricular pacing over atrial fibrillation keeps a regular RR (the pacemaker's lower rate), so
the irregular-RR half of the AF criterion cannot hold; the f waves (no P waves) carry the
diagnosis alone and must show in two of the f-wave leads (II, III, aVF, V1, V2). Sinus P waves
before the paced QRS (atrial-sensed ventricular pacing) are sinus rhythm with ventricular pacing.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt
from synthetic_ecg import LEADS, bump

from ecgr1.io.record import ECGRecord
from ecgr1.measure.config import DEFAULT_CONFIG
from ecgr1.measure.engine import measure
from ecgr1.measure.flutter import paced_atrial_activity, regular_atrial_cycle, stimulus_anchors
from ecgr1.measure.result import GlobalMeasurements
from ecgr1.protocol import interpret

FS = 500.0
N = int(10 * FS)
# The statements a clean ventricular-paced record may carry besides its rhythm: paced
# activation withholds QRS, axis and ST-T criteria (criteria.yaml precedence), so nothing else.
RHYTHM_IDS = {
    "atrial_fibrillation",
    "atrial_flutter",
    "sinus_rhythm",
    "sinus_bradycardia",
    "sinus_tachycardia",
    "sinus_arrhythmia",
    "junctional_rhythm",
    "ectopic_atrial_rhythm",
    "supraventricular_tachycardia",
}


def _f_waves(rng: np.random.Generator, mv: float) -> np.ndarray:
    """Fibrillatory waves: noise band-limited to 4.5-8 Hz (a broad dominant atrial frequency,
    not the one sharp line of flutter), RMS ``mv``."""
    sos = butter(4, [4.5, 8.0], btype="bandpass", fs=FS, output="sos")
    out = sosfiltfilt(sos, rng.standard_normal(N))
    return mv * out / out.std()


def _vvi_paced(
    seed: int,
    *,
    f_wave_leads: tuple[str, ...] = (),
    f_mv: float = 0.04,
    sinus_pr_ms: float | None = None,
) -> ECGRecord:
    """12-lead ECG of ventricular pacing at 60 /min (sharp stimulus, wide QRS, discordant T),
    with f waves in ``f_wave_leads`` or, with ``sinus_pr_ms``, a sinus P wave (upright in II)
    that many ms before each ventricular stimulus (atrial-sensed ventricular pacing)."""
    rng = np.random.default_rng(seed)
    t = np.arange(N) / FS
    x = np.zeros((len(LEADS), N))
    gains = np.linspace(-1.0, 1.0, len(LEADS))
    gains[np.abs(gains) < 0.3] = 0.6  # every lead sees the complexes
    for vs in np.arange(0.7, 9.6, 1.0):
        x[:, int(round(vs * FS))] += 2.0  # one-sample ventricular stimulus
        qrs = 1.2 * bump(t, vs + 0.004, 0.08) - 0.8 * bump(t, vs + 0.084, 0.08)
        tw = -0.35 * bump(t, vs + 0.24, 0.2)
        x += gains[:, None] * (qrs + tw)[None, :]
        if sinus_pr_ms is not None:
            pw = 0.15 * bump(t, vs - sinus_pr_ms / 1000.0, 0.1)
            x += np.abs(gains)[:, None] * pw[None, :]
    for lead in f_wave_leads:
        x[LEADS.index(lead)] += _f_waves(rng, f_mv)
    x += 0.005 * rng.standard_normal(x.shape)
    return ECGRecord(x.astype(np.float32), FS, list(LEADS), record_id=f"vvi_{seed}")


def _vvi_over_dissociated_p(atrial_bpm: float, p_mv: float) -> ECGRecord:
    """Ventricular pacing at 60 /min over sinus P waves at ``atrial_bpm`` that the blocked AV
    node does not conduct (complete heart block): the P waves march through the paced cycle."""
    rec = _vvi_paced(0)
    x = np.asarray(rec.signal, float).copy()
    t = np.arange(N) / FS
    gains = np.abs(np.linspace(-1.0, 1.0, len(LEADS)))
    gains[gains < 0.3] = 0.6
    for start in np.arange(0.3, 9.8, 60.0 / atrial_bpm):
        x += gains[:, None] * (p_mv * bump(t, start, 0.1))[None, :]
    return ECGRecord(x.astype(np.float32), FS, list(LEADS), record_id="vvi_chb")


def _ids(rec: ECGRecord) -> tuple[set[str], object]:
    m = measure(rec)
    return {s.id for s in interpret(m).statements}, m


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_ventricular_pacing_over_f_waves_is_atrial_fibrillation(seed: int) -> None:
    ids, m = _ids(_vvi_paced(seed, f_wave_leads=("II", "III", "aVF", "V1", "V2"), f_mv=0.02))
    g = m.global_
    assert g.pacing_spikes_detected and g.rr_irregularity == "regular"
    assert g.atrial_activity == "fibrillatory"
    # The rhythm named is the atrial one, with the pacing; nothing else appears.
    assert ids == {"paced_rhythm", "atrial_fibrillation"}


@pytest.mark.parametrize("seed", [0, 1])
def test_ventricular_pacing_over_a_flat_baseline_is_not_af(seed: int) -> None:
    ids, m = _ids(_vvi_paced(seed))
    assert m.global_.pacing_spikes_detected
    assert m.global_.atrial_activity == "none"
    assert ids == {"paced_rhythm"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f_waves_in_one_lead_of_a_paced_record_do_not_make_af(seed: int) -> None:
    """Without the irregular RR, activity in V1 alone (a lead's T-wave mismatch or artefact
    looks the same) is not enough: the activity is not called fibrillatory."""
    ids, m = _ids(_vvi_paced(seed, f_wave_leads=("V1",)))
    assert m.global_.pacing_spikes_detected
    assert m.global_.atrial_activity != "fibrillatory"
    assert ids == {"paced_rhythm"}


@pytest.mark.parametrize("pr_ms", [150.0, 200.0])
def test_sinus_p_waves_before_paced_qrs_are_sinus_rhythm_with_pacing(pr_ms: float) -> None:
    """Atrial-sensed ventricular pacing (VAT/DDD): the P waves the pacemaker tracks are sinus,
    so the rhythm is sinus rhythm with ventricular pacing, not AF nor an undecided rhythm."""
    ids, m = _ids(_vvi_paced(0, sinus_pr_ms=pr_ms))
    assert m.global_.pacing_spikes_detected
    assert m.global_.p_wave_present
    assert ids & RHYTHM_IDS == {"sinus_rhythm"}
    assert "paced_rhythm" in ids
    assert not ids - RHYTHM_IDS - {"paced_rhythm"}


def test_stimulus_anchors_move_the_window_before_the_ventricular_stimulus() -> None:
    """The beat-locked test reads 250-60 ms before each anchor; for a paced beat the window
    must end at its stimulus (the paced QRS anchor lies 100-200 ms after it), while a beat
    without a stimulus in that window keeps its anchor."""

    class Det:
        k = 2
        fs_detect = 250.0
        anchors = np.array([500, 750, 1000])
        spikes = np.array([2 * 710, 2 * 995])  # full rate: 160 ms and 20 ms before anchors 2, 3

    gap = int(round(DEFAULT_CONFIG.atrial["fwave_locked_gap_ms"] * 250.0 / 1000.0))
    assert stimulus_anchors(Det, DEFAULT_CONFIG).tolist() == [500, 710 + gap, 995 + gap]


def _paced_det(atrial: np.ndarray) -> SimpleNamespace:
    """A detection (250 Hz) of ventricular stimuli at 0.7 + k s, each paced QRS anchored 150 ms
    after its stimulus, whose QRST-cancelled residual is ``atrial`` in II, III, aVF, V1, V2."""
    fs = 250.0
    stim = np.arange(0.7, 9.6, 1.0)
    return SimpleNamespace(
        fs_detect=fs,
        k=2,
        anchors=np.round((stim + 0.15) * fs).astype(int),
        spikes=np.round(stim * 2 * fs).astype(int),
        clean=np.tile(atrial, (len(F_LEADS), 1)),
        usable=np.ones(len(F_LEADS), bool),
    )


F_LEADS = ["II", "III", "aVF", "V1", "V2"]


def test_tracked_p_waves_before_each_stimulus_are_not_fibrillatory() -> None:
    """Missed P waves at a fixed distance (200 ms) before every ventricular stimulus hold
    4-9 Hz power like f waves, but repeat beat after beat: atrial-sensed pacing of a sinus
    rhythm, so the atrial activity is undecided, not fibrillatory."""
    t = np.arange(2500) / 250.0
    p = sum(0.1 * bump(t, s - 0.2, 0.08) for s in np.arange(0.7, 9.6, 1.0))
    det = _paced_det(p)
    g = GlobalMeasurements()
    paced_atrial_activity(g, det, det.clean, F_LEADS, det.usable, DEFAULT_CONFIG)
    assert g.atrial_activity is None
    assert "tracked P waves" in g.reasons["atrial_activity"]
    # The same leads with f waves at a random phase to the stimuli are fibrillatory.
    rng = np.random.default_rng(0)
    sos = butter(4, [4.5, 8.0], btype="bandpass", fs=250.0, output="sos")
    f = sosfiltfilt(sos, rng.standard_normal(t.size))
    det = _paced_det(0.03 * f / f.std())
    g = GlobalMeasurements()
    paced_atrial_activity(g, det, det.clean, F_LEADS, det.usable, DEFAULT_CONFIG)
    assert g.atrial_activity == "fibrillatory"


@pytest.mark.parametrize(("atrial_bpm", "p_mv"), [(50, 0.08), (75, 0.05), (90, 0.15), (110, 0.05)])
def test_dissociated_p_waves_under_ventricular_pacing_are_not_af(atrial_bpm, p_mv) -> None:
    """Complete heart block with a ventricular pacemaker: the sinus P waves hold 4-9 Hz power in
    every lead and keep no distance from the stimuli, like f waves, but repeat at one P-P
    interval; the atrial activity is not fibrillatory and AF is not stated."""
    ids, m = _ids(_vvi_over_dissociated_p(atrial_bpm, p_mv))
    assert m.global_.pacing_spikes_detected
    assert m.global_.atrial_activity != "fibrillatory"
    assert "atrial_fibrillation" not in ids
    assert "paced_rhythm" in ids
    assert not ids & (RHYTHM_IDS - {"sinus_rhythm"})


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_regular_atrial_cycle_sees_small_p_waves_through_noise_not_f_waves(seed: int) -> None:
    """0.05 mV P waves every 700 ms under 0.03 mV broadband noise repeat at their cycle (the
    noise above the f-wave band is left out); f waves do not repeat at a cycle and at its
    double (seed 3 correlates 0.39 at one lag by chance, 0.31 at the lag and its double)."""
    fs = 250.0
    t = np.arange(2500) / fs
    anchors = np.arange(60, 2500, 250)
    rng = np.random.default_rng(seed)
    p = sum(0.05 * bump(t, s, 0.1) for s in np.arange(0.3, 10, 0.7))
    cycle, ac = regular_atrial_cycle((p + 0.03 * rng.standard_normal(t.size))[None, :], fs, anchors)
    assert ac >= DEFAULT_CONFIG.atrial["fwave_paced_max_autocorr"]
    assert abs(cycle - 700.0) <= 20.0
    sos = butter(4, [4.5, 8.0], btype="bandpass", fs=fs, output="sos")
    f = sosfiltfilt(sos, rng.standard_normal(t.size))
    _, ac_f = regular_atrial_cycle((0.02 * f / f.std())[None, :], fs, anchors)
    assert ac_f < DEFAULT_CONFIG.atrial["fwave_paced_max_autocorr"]
