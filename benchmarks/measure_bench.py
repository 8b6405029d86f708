"""Measurement-engine benchmark: ecgr1 and neurokit2 against cardiologists, scored identically.

Usage::

    python benchmarks/measure_bench.py [--data DIR] [--records N] [--datasets ludb,qtdb]
        [--methods ecgr1,neurokit2_dwt,neurokit2_prominence] [--out results.json] [--markdown]
        [--cli-speed] [--p-sources] [--simulated PATTERNS [--sim-noise KINDS] [--sim-seeds N]]
        [--cpsc2019]

Data (from ``--data``, default :func:`ecgr1.paths.shared_data_dir`):

* LUDB (``ludb/data``, odd ids, 12 leads, 500 Hz, 10 s) with per-lead cardiologist annotation
  files ``.i .ii … .v6`` in the ecgpuwave convention: ``(`` onset, ``p``/``N``/``t`` peak, ``)``
  offset. An onset or offset belongs to the wave whose peak it is adjacent to
  (:func:`_scoring.parse_waves`).
* QTDB (``qtdb``, 2 leads, 250 Hz, 15 min) with ``q1c`` marks of cardiologist 1 on about 30 beats
  per record; the marks are global (one set for both leads).

What is scored (rules in ``benchmarks/_scoring.py``; every method goes through the same code):

1. LUDB per-lead fiducials (P/QRS/T onset, peak, offset): detections and expert marks of the same
   kind in the same lead are paired one-to-one, nearest first, within ±150 ms; error = algorithm -
   cardiologist in ms; sensitivity = paired expert marks / expert marks; PPV = paired detections /
   (paired detections + unpaired detections between the lead's first and last expert mark of any
   kind). Pooled over all leads of all records; mean and SD (ddof=1).
2. LUDB record-level intervals (P duration, PR, QRS duration, QT): reference = median over the
   12 leads of the per-lead expert value, itself the median over that lead's annotated beats of
   the interval between marks of the same beat. ecgr1 is judged on its own record-level values
   (``MeasurementResult.global_``); neurokit2, which has none, gets the same median-of-leads rule
   applied to its per-lead detections. Mean and SD of (method - reference), n; again with the
   paced records apart (LUDB diagnoses naming pacing), whose reference may cover another beat
   class than the dominant one (LUDB 95: no QRS onset marked on its paced beats).
3. P absence: LUDB records with no ``p`` mark in any lead. ecgr1 "says no P" when
   ``global_.p_wave_present`` is False. neurokit2 has no such output; it is taken to say "no P"
   when lead II has P peaks for fewer than half of its R peaks. P sensitivity (P onset, peak and
   offset pooled) is reported on the records that do have P marks.
4. QTDB (q1c): each record is cut into 10 s windows around its annotated beats; every window
   begins 1.5 s before the first expert mark it is responsible for and is responsible for the
   marks up to 8.5 s after its start, so each mark has >= 1.5 s of signal on both sides.
   Detections of a window are kept inside ``[start + 1 s, start + 9 s)`` and, between two
   windows, on their own side of the midpoint between their marks, so the merged detections come
   from exactly one window everywhere. Because q1c marks are global, each expert mark is compared
   with the lead whose detection is closest (the classic QTDB practice, Martinez et al. 2004);
   sensitivity = marks paired in at least one lead. For ecgr1 its global per-beat fiducials
   (``MeasurementResult.beats``, CSE convention: earliest onset / latest offset over leads) are
   scored as well, as the row "ecgr1 (global beats)". The ecgpuwave marks that PhysioNet ships
   with QTDB (``.pu0``/``.pu1``, one per lead, whole record) are scored by the same rule as a
   literature anchor (row "ecgpuwave (QTDB .pu0/.pu1 files)"); they are not a run of this script.
5. Speed: wall time per LUDB record (12 leads, 10 s, 500 Hz) of the whole ``measure()`` call for
   ecgr1 and of ``ecg_clean`` + ``ecg_peaks`` + ``ecg_delineate`` over the 12 leads for
   neurokit2, one thread (OMP/MKL/OPENBLAS set to 1 below), same process, same run.

6. ``--cli-speed``: the command line, ``ecgr1 measure`` (read + measure + JSON write) against a
   neurokit2 process (wfdb read + clean + peaks + prominence delineation of 12 leads), on the
   first 50 LUDB records, fresh processes on one core, start-up excluded by the difference of a
   1-record and a 50-record run, median of 3 runs (:func:`run_cli_speed`).
7. ``--p-sources``: "P waves present" on every AF, flutter and sinus-rhythm record of every
   labelled source (:func:`run_p_sources`).
8. ``--simulated PATTERNS [--sim-noise KINDS] [--sim-seeds N]``: ecgr1 on ``ecgr1.simulate``
   records, whose true boundaries are known: per pattern, the beats' QRS onset and offset
   errors, the record QRS duration's error (mean and largest), missed and false beats
   (:func:`run_simulated`; noise ``muscle`` by default, ``none`` for clean records).
9. ``--cpsc2019``: QRS detection of ecgr1 on the CPSC 2019 records (single lead, 500 Hz, 10 s,
   noisy) against their reference R peaks, scored as that challenge did: references in
   0.5-9.5 s, a detection within 75 ms of one pairs with it once (:func:`run_cpsc2019`).

If ``ecgr1.measure.engine`` cannot be imported the ecgr1 method is dropped with a warning and the
neurokit2 methods still run. A method that raises on a record contributes no detections for it
(its misses count) and the error is listed in the JSON.
"""

from __future__ import annotations

import os

# One core: set before numpy/scipy are imported anywhere.
for _var in (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import wfdb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _scoring as sc  # noqa: E402

from ecgr1.io.leads import canonical_lead_name  # noqa: E402
from ecgr1.io.record import ECGRecord  # noqa: E402
from ecgr1.paths import shared_data_dir  # noqa: E402

LUDB_LEAD_FILES = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
ALL_METHODS = ("ecgr1", "neurokit2_dwt", "neurokit2_prominence")
MAIN_KINDS = ("qrs_on", "qrs_off", "t_off", "p_on", "p_off")
QTDB_KINDS = ("p_on", "p_peak", "p_off", "qrs_on", "qrs_off", "t_peak", "t_off")
P_KINDS = ("p_on", "p_peak", "p_off")
SENS_GROUPS = {"QRS": ("qrs_on", "qrs_off"), "P": ("p_on", "p_off"), "T": ("t_on", "t_off")}

# Issue 3 acceptance thresholds (wavedet's LUDB SDs, |bias|, sensitivities, record-level SDs).
CRITERIA_SD_MS = {"qrs_on": 14.2, "qrs_off": 15.9, "t_off": 34.8, "p_on": 31.6, "p_off": 22.3}
CRITERIA_MAX_BIAS_MS = 8.0
CRITERIA_SENS = {"qrs_on": 0.99, "qrs_off": 0.99, "p_on": 0.95, "p_off": 0.95, "t_off": 0.95}
CRITERIA_INTERVAL_SD_MS = {"qrs_duration_ms": 15.0, "qt_interval_ms": 22.0, "pr_interval_ms": 11.0}
CRITERIA_P_ABSENT_FRACTION = 0.75
CRITERIA_SPEED_MEDIAN_MS = 20.0

# Issue 19 acceptance (shared LUDB, record level against the median-of-leads reference).
ISSUE19_INTERVAL_SD_MS = {"qrs_duration_ms": 9.0, "pr_interval_ms": 6.5, "qt_interval_ms": 14.0}
ISSUE19_MAX_BIAS_MS = 5.0
ISSUE19_P_PRESENT = 0.98
ISSUE19_SPEED_MEDIAN_MS = 12.0

ECGPUWAVE_ROW = "ecgpuwave (QTDB .pu0/.pu1 files)"
# the QTDB windows (10 s, 1.5 s lead-in, 1 s kept from the edges) are _scoring's
QTDB_WINDOW_S = sc.QTDB_WINDOW_S

# neurokit2 output key -> fiducial kind
NK_KEYS = {
    "p_on": "ECG_P_Onsets",
    "p_peak": "ECG_P_Peaks",
    "p_off": "ECG_P_Offsets",
    "qrs_on": "ECG_R_Onsets",
    "qrs_off": "ECG_R_Offsets",
    "t_on": "ECG_T_Onsets",
    "t_peak": "ECG_T_Peaks",
    "t_off": "ECG_T_Offsets",
}


# --------------------------------------------------------------------------- methods


@dataclass
class MethodOutput:
    """What a method returns for one record, in samples of that record."""

    lead_tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    intervals_ms: dict[str, float] = field(default_factory=dict)
    p_wave_present: bool | None = None
    global_table: dict[str, np.ndarray] | None = None
    lead_errors: list[str] = field(default_factory=list)
    # Seconds of the method's own computation, when the runner times it apart from turning its
    # result into the scoring tables (ecgr1: the ``measure`` call); else the whole runner counts.
    compute_s: float | None = None


def _ecgr1_runner() -> Callable[[ECGRecord], MethodOutput]:
    from ecgr1.measure.engine import measure  # raises ImportError when not there yet

    beat_fields = {
        "p_on": "p_onset_s",
        "p_peak": "p_peak_s",
        "p_off": "p_offset_s",
        "qrs_on": "qrs_onset_s",
        "qrs_peak": "r_peak_s",
        "qrs_off": "qrs_offset_s",
        "t_on": "t_onset_s",
        "t_peak": "t_peak_s",
        "t_off": "t_offset_s",
    }

    def run(record: ECGRecord) -> MethodOutput:
        t0 = time.perf_counter()
        res = measure(record)
        compute_s = time.perf_counter() - t0
        tables = {
            canonical_lead_name(lead): sc.beat_table_from_lists(fids)
            for lead, fids in (res.lead_fiducials or {}).items()
        }
        g = res.global_
        intervals = {
            name: (math.nan if getattr(g, name, None) is None else float(getattr(g, name)))
            for name in sc.INTERVALS
        }
        glob = {
            kind: [
                None if getattr(b, attr, None) is None else getattr(b, attr) * record.fs
                for b in res.beats
            ]
            for kind, attr in beat_fields.items()
        }
        return MethodOutput(
            lead_tables=tables,
            intervals_ms=intervals,
            p_wave_present=g.p_wave_present,
            global_table=sc.beat_table_from_lists(glob),
            compute_s=compute_s,
        )

    return run


def _neurokit_runner(method: str) -> Callable[[ECGRecord], MethodOutput]:
    import neurokit2 as nk

    def run(record: ECGRecord) -> MethodOutput:
        fs = record.fs
        out = MethodOutput()
        for i, lead in enumerate(record.leads):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clean = nk.ecg_clean(record.signal[i].astype(float), sampling_rate=fs)
                    _, info = nk.ecg_peaks(clean, sampling_rate=fs)
                    rpeaks = np.asarray(info["ECG_R_Peaks"])
                    _, waves = nk.ecg_delineate(clean, rpeaks, sampling_rate=fs, method=method)
            except Exception as exc:  # a lead nk cannot delineate: no detections there
                out.lead_errors.append(f"{lead}: {type(exc).__name__}: {exc}")
                continue
            # neurokit2 returns lists, or arrays (possibly empty) on some paths
            fids = {
                kind: [] if waves.get(key) is None else list(waves[key])
                for kind, key in NK_KEYS.items()
            }
            fids["qrs_peak"] = [int(r) for r in rpeaks]
            out.lead_tables[lead] = sc.beat_table_from_lists(fids)
        out.intervals_ms = sc.median_of_leads(
            sc.lead_intervals_ms(t, fs) for t in out.lead_tables.values()
        )
        ref = out.lead_tables.get("II") or next(iter(out.lead_tables.values()), None)
        if ref is not None:
            n_r = int(np.isfinite(ref["qrs_peak"]).sum())
            n_p = int(np.isfinite(ref["p_peak"]).sum())
            out.p_wave_present = bool(n_r and n_p >= 0.5 * n_r)
        return out

    return run


def build_methods(names: list[str]) -> tuple[dict[str, Callable[[ECGRecord], MethodOutput]], list]:
    """Runners for the requested methods; unavailable ones are skipped with a note."""
    runners: dict[str, Callable[[ECGRecord], MethodOutput]] = {}
    skipped = []
    for name in names:
        try:
            if name == "ecgr1":
                runners[name] = _ecgr1_runner()
            elif name.startswith("neurokit2_"):
                runners[name] = _neurokit_runner(name.split("_", 1)[1])
            else:
                raise ValueError(f"unknown method {name!r} (choose from {ALL_METHODS})")
        except Exception as exc:
            msg = f"{name}: {type(exc).__name__}: {exc}"
            print(f"warning: method skipped: {msg}", file=sys.stderr)
            skipped.append(msg)
    return runners, skipped


def timed_run(
    runner: Callable[[ECGRecord], MethodOutput], record: ECGRecord
) -> tuple[MethodOutput, float, str | None]:
    """Run a method; return its output, elapsed seconds (its own computation when the runner
    times it: :attr:`MethodOutput.compute_s`) and an error string (or None)."""
    t0 = time.perf_counter()
    try:
        out = runner(record)
        err = None
    except Exception as exc:
        out = MethodOutput()
        err = f"{type(exc).__name__}: {exc}"
        if os.environ.get("ECGR1_BENCH_TRACEBACK"):
            traceback.print_exc()
    elapsed = time.perf_counter() - t0
    return out, elapsed if out.compute_s is None else out.compute_s, err


# --------------------------------------------------------------------------- LUDB


def ludb_ids(ludb_dir: Path) -> list[str]:
    """Record ids present in ``ludb/data``, in numeric order."""
    ids = [p.stem for p in (ludb_dir / "data").glob("*.hea")]
    return sorted(ids, key=lambda s: (len(s), s))


def ludb_paced(comments: list[str]) -> bool:
    """Whether a LUDB header's diagnoses name cardiac pacing ("UNIpolar ventricular pacing.",
    "Biventricular pacing.", ...; "Wandering atrial pacemaker" is a rhythm, not pacing).

    >>> ludb_paced(["Rhythm: Atrial fibrillation.", "UNIpolar ventricular pacing. "])
    True
    >>> ludb_paced(["Rhythm: Sinus rhythm.", "Wandering atrial pacemaker."])
    False
    """
    return any(re.search(r"\bpacing\b", c, re.IGNORECASE) for c in comments)


def load_ludb(ludb_dir: Path, rec_id: str) -> tuple[ECGRecord, dict[str, list[sc.Wave]]]:
    """The record (mV) and the expert waves of each lead, keyed by canonical lead name."""
    base = str(ludb_dir / "data" / rec_id)
    rec = wfdb.rdrecord(base)
    sig = np.nan_to_num(rec.p_signal.T.astype(np.float32))
    record = ECGRecord(sig, rec.fs, rec.sig_name, record_id=rec_id, source_path=base)
    waves = {}
    for ext in LUDB_LEAD_FILES:
        ann = wfdb.rdann(base, ext)
        waves[canonical_lead_name(ext)] = sc.parse_waves(ann.sample, ann.symbol)
    return record, waves


def run_ludb(
    ludb_dir: Path,
    runners: dict,
    n_records: int | None,
    tolerance_ms: float,
    progress: bool,
    timing_repeats: int = 1,
    only_ids: set[str] | None = None,
) -> dict:
    """Score every method on LUDB; returns the JSON-ready section.

    With ``timing_repeats`` > 1 each method is run that many times per record and the fastest
    run is its time (less noise from other processes); the first run's output is scored.
    """
    ids = ludb_ids(ludb_dir)
    if only_ids:
        ids = [i for i in ids if i in only_ids]
    ids = ids[:n_records] if n_records else ids
    tallies = {m: sc.Tally() for m in runners}
    tallies_p_records = {m: sc.Tally() for m in runners}
    times = {m: [] for m in runners}
    errors = {m: [] for m in runners}
    refs: list[dict[str, float]] = []
    measured = {m: [] for m in runners}
    measured_from_leads = {m: [] for m in runners}
    p_absent_records: list[str] = []
    paced_records: list[str] = []
    says_no_p = {m: [] for m in runners}
    p_records: list[str] = []
    misses_p = {m: [] for m in runners}
    per_record = []
    for k, rec_id in enumerate(ids):
        if progress:
            print(f"\rLUDB {k + 1}/{len(ids)} ({rec_id})   ", end="", file=sys.stderr, flush=True)
        record, waves = load_ludb(ludb_dir, rec_id)
        if ludb_paced(wfdb.rdheader(str(ludb_dir / "data" / rec_id)).comments or []):
            paced_records.append(rec_id)
        fs = record.fs
        expert_marks = {lead: sc.marks_from_waves(w) for lead, w in waves.items()}
        expert_tables = {lead: sc.beat_table_from_waves(w) for lead, w in waves.items()}
        ref = sc.median_of_leads(sc.lead_intervals_ms(t, fs) for t in expert_tables.values())
        refs.append(ref)
        has_p = any(len(m["p_peak"]) for m in expert_marks.values())
        if not has_p:
            p_absent_records.append(rec_id)
        else:
            p_records.append(rec_id)
        row: dict = {"id": rec_id, "expert_p": has_p, "reference_intervals_ms": ref}
        for name, runner in runners.items():
            out, dt, err = timed_run(runner, record)
            for _ in range(max(0, timing_repeats - 1)):
                dt = min(dt, timed_run(runner, record)[1])
            times[name].append(dt)
            if err:
                errors[name].append(f"{rec_id}: {err}")
            errors[name].extend(f"{rec_id} {e}" for e in out.lead_errors)
            rec_tally = sc.Tally()
            for lead, emarks in expert_marks.items():
                table = out.lead_tables.get(lead)
                dmarks = sc.marks_from_table(table) if table is not None else {}
                scores = sc.score_lead(emarks, dmarks, fs, tolerance_ms)
                tallies[name].add(scores)
                rec_tally.add(scores)
                if has_p:
                    tallies_p_records[name].add({k2: scores[k2] for k2 in P_KINDS})
            measured[name].append(out.intervals_ms)
            measured_from_leads[name].append(
                sc.median_of_leads(sc.lead_intervals_ms(t, fs) for t in out.lead_tables.values())
            )
            if not has_p and out.p_wave_present is False:
                says_no_p[name].append(rec_id)
            if has_p and out.p_wave_present is not True:
                misses_p[name].append(rec_id)
            row[name] = {
                "seconds": dt,
                "error": err,
                "intervals_ms": out.intervals_ms,
                "p_wave_present": out.p_wave_present,
                "fiducials": {
                    kind: {
                        "n_expert": s["n_expert"],
                        "n_matched": s["n_matched"],
                        "mean_ms": s["mean_ms"],
                        "sd_ms": s["sd_ms"],
                        "ppv": s["ppv"],
                    }
                    for kind, s in rec_tally.summary().items()
                },
            }
        per_record.append(row)
    if progress:
        print(file=sys.stderr)

    section: dict = {
        "records": ids,
        "p_absent_records": p_absent_records,
        "paced_records": paced_records,
        "methods": {},
    }
    # Paced records apart: the IEC 60601-2-51 limits and Glasgow's figures are on the CSE set,
    # which has no paced ECGs, and LUDB's reference for a paced record need not describe its
    # dominant beat (LUDB 95: QRS onsets marked on the conducted beats only, none on the paced).
    unpaced = [k for k, rec_id in enumerate(ids) if rec_id not in paced_records]
    for name in runners:
        t_ms = np.asarray(times[name]) * 1000.0
        section["methods"][name] = {
            "fiducials": tallies[name].summary(),
            "sensitivity_groups": {
                g: tallies[name].group_sensitivity(kinds) for g, kinds in SENS_GROUPS.items()
            },
            "ppv_groups": _group_ppv(tallies[name], SENS_GROUPS),
            "intervals": {
                iname: sc.interval_agreement(
                    [r[iname] for r in refs], [m.get(iname) for m in measured[name]]
                )
                for iname in sc.INTERVALS
            },
            "intervals_without_paced": {
                iname: sc.interval_agreement(
                    [refs[k][iname] for k in unpaced],
                    [measured[name][k].get(iname) for k in unpaced],
                )
                for iname in sc.INTERVALS
            },
            # Diagnostic: the neurokit2 rule (median over leads of per-lead medians) applied to
            # the method's own per-lead fiducials; for neurokit2 identical to "intervals".
            "intervals_from_lead_fiducials": {
                iname: sc.interval_agreement(
                    [r[iname] for r in refs], [m.get(iname) for m in measured_from_leads[name]]
                )
                for iname in sc.INTERVALS
            },
            "p_absence": {
                "n_records_without_p": len(p_absent_records),
                "says_no_p": says_no_p[name],
                "fraction": (
                    len(says_no_p[name]) / len(p_absent_records) if p_absent_records else None
                ),
                "n_records_with_p": len(p_records),
                # Records with P marks where the method does not say "P waves present".
                "misses_p_on_records_with_p": misses_p[name],
                "says_p_fraction_on_records_with_p": (
                    1.0 - len(misses_p[name]) / len(p_records) if p_records else None
                ),
                "p_sensitivity_on_records_with_p": tallies_p_records[name].group_sensitivity(
                    P_KINDS
                ),
                "p_fiducials_on_records_with_p": tallies_p_records[name].summary(),
            },
            "timing_ms_per_record": {
                "median": float(np.median(t_ms)) if t_ms.size else None,
                "p90": float(np.percentile(t_ms, 90)) if t_ms.size else None,
                "n": int(t_ms.size),
            },
            "errors": errors[name],
        }
    section["per_record"] = per_record
    return section


def _group_ppv(tally: sc.Tally, groups: dict) -> dict:
    out = {}
    for g, kinds in groups.items():
        num = sum(tally.scores[k].n_detected_matched for k in kinds if k in tally.scores)
        den = sum(tally.scores[k].n_detected_counted for k in kinds if k in tally.scores)
        out[g] = num / den if den else None
    return out


# --------------------------------------------------------------------------- QTDB


def _keep_shifted(table: dict[str, np.ndarray], offset: int, lo: int, hi: int) -> dict:
    marks = sc.marks_from_table(table)
    out = {}
    for kind, m in marks.items():
        m = m + offset
        out[kind] = m[(m >= lo) & (m < hi)]
    return out


def run_qtdb(
    qtdb_dir: Path,
    runners: dict,
    n_records: int | None,
    tolerance_ms: float,
    progress: bool,
    only_ids: set[str] | None = None,
) -> dict:
    """Score every method on QTDB q1c (best lead per mark); returns the JSON-ready section."""
    names = (qtdb_dir / "RECORDS").read_text().split()
    names = [n for n in names if (qtdb_dir / f"{n}.q1c").exists()]
    if only_ids:
        names = [n for n in names if n in only_ids]
    if n_records:
        names = names[:n_records]
    variants = list(runners) + (["ecgr1 (global beats)"] if "ecgr1" in runners else [])
    variants.append(ECGPUWAVE_ROW)
    tallies = {m: sc.Tally() for m in variants}
    errors = {m: [] for m in runners}
    n_windows = 0
    for k, rec_name in enumerate(names):
        if progress:
            print(
                f"\rQTDB {k + 1}/{len(names)} ({rec_name})   ", end="", file=sys.stderr, flush=True
            )
        base = str(qtdb_dir / rec_name)
        header, waves, windows = sc.qtdb_q1c_windows(base)
        fs = float(header.fs)
        expert = sc.marks_from_waves(waves)
        n_windows += len(windows)
        merged: dict[str, dict[str, list[np.ndarray]]] = {m: {} for m in variants}
        for start, stop, lo, hi in windows:
            seg = wfdb.rdrecord(base, sampfrom=start, sampto=stop)
            sig = np.nan_to_num(seg.p_signal.T.astype(np.float32))
            record = ECGRecord(sig, fs, seg.sig_name, record_id=f"{rec_name}_{start}")
            for name, runner in runners.items():
                out, _, err = timed_run(runner, record)
                if err:
                    errors[name].append(f"{record.record_id}: {err}")
                errors[name].extend(f"{record.record_id} {e}" for e in out.lead_errors)
                for lead, table in out.lead_tables.items():
                    kept = _keep_shifted(table, start, lo, hi)
                    merged[name].setdefault(lead, []).append(kept)
                if name == "ecgr1" and out.global_table is not None:
                    kept = _keep_shifted(out.global_table, start, lo, hi)
                    merged["ecgr1 (global beats)"].setdefault("global", []).append(kept)
        # Literature anchor: PhysioNet's precomputed ecgpuwave marks, whole record, per lead.
        for k_lead, ext in enumerate(("pu0", "pu1")):
            if (qtdb_dir / f"{rec_name}.{ext}").exists():
                pu = wfdb.rdann(base, ext)
                marks = sc.marks_from_waves(sc.parse_waves(pu.sample, pu.symbol))
                merged[ECGPUWAVE_ROW][f"lead{k_lead}"] = [marks]
        for variant in variants:
            per_lead = {
                lead: {kind: np.concatenate([p[kind] for p in parts]) for kind in sc.FIDUCIAL_KINDS}
                for lead, parts in merged[variant].items()
            }
            tallies[variant].add(
                {
                    kind: sc.score_kind_best_lead(
                        expert[kind], [d[kind] for d in per_lead.values()], fs, tolerance_ms
                    )
                    for kind in sc.FIDUCIAL_KINDS
                }
            )
    if progress:
        print(file=sys.stderr)
    return {
        "records": names,
        "n_windows": n_windows,
        "methods": {
            v: {
                "fiducials": tallies[v].summary(),
                "errors": errors.get(v, []),
            }
            for v in variants
        },
    }


# --------------------------------------------------------------------------- reporting


def _fmt_err(s: dict | None) -> str:
    if not s or s.get("mean_ms") is None:
        return "–"
    sd = s.get("sd_ms")
    mean = s["mean_ms"]
    sign = "+" if mean >= 0 else "−"
    return f"{sign}{abs(mean):.1f} ± {sd:.1f}" if sd is not None else f"{sign}{abs(mean):.1f}"


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}"


def criteria(results: dict) -> list[dict]:
    """Issue 3 acceptance checks for ecgr1 (empty when ecgr1 was not run on LUDB)."""
    ludb = results.get("ludb", {}).get("methods", {}).get("ecgr1")
    if not ludb:
        return []
    rows = []
    fid = ludb["fiducials"]
    for kind, limit in CRITERIA_SD_MS.items():
        sd = fid[kind]["sd_ms"]
        rows.append(
            {"check": f"{kind} SD < {limit} ms", "value": sd, "pass": sd is not None and sd < limit}
        )
        mean = fid[kind]["mean_ms"]
        rows.append(
            {
                "check": f"{kind} bias within ±{CRITERIA_MAX_BIAS_MS:g} ms",
                "value": mean,
                "pass": mean is not None and abs(mean) <= CRITERIA_MAX_BIAS_MS,
            }
        )
    for kind, limit in CRITERIA_SENS.items():
        sens = fid[kind]["sensitivity"]
        rows.append(
            {
                "check": f"{kind} sensitivity ≥ {100 * limit:g} %",
                "value": sens,
                "pass": sens is not None and sens >= limit,
            }
        )
    for iname, limit in CRITERIA_INTERVAL_SD_MS.items():
        sd = ludb["intervals"][iname]["sd_ms"]
        rows.append(
            {
                "check": f"record {iname} SD ≤ {limit:g} ms",
                "value": sd,
                "pass": sd is not None and sd <= limit,
            }
        )
    pa = ludb["p_absence"]
    rows.append(
        {
            "check": f"'no P' on ≥ {100 * CRITERIA_P_ABSENT_FRACTION:g} % of records without P",
            "value": pa["fraction"],
            "pass": pa["fraction"] is not None and pa["fraction"] >= CRITERIA_P_ABSENT_FRACTION,
        }
    )
    ps = pa["p_sensitivity_on_records_with_p"]
    rows.append(
        {
            "check": "P sensitivity ≥ 95 % on records with P",
            "value": ps,
            "pass": ps is not None and ps >= 0.95,
        }
    )
    med = ludb["timing_ms_per_record"]["median"]
    rows.append(
        {
            "check": f"median time ≤ {CRITERIA_SPEED_MEDIAN_MS:g} ms / record",
            "value": med,
            "pass": med is not None and med <= CRITERIA_SPEED_MEDIAN_MS,
        }
    )
    # Issue 19: record-level intervals toward the Glasgow program, P presence, speed.
    for iname, limit in ISSUE19_INTERVAL_SD_MS.items():
        agree = ludb["intervals"][iname]
        sd, mean = agree["sd_ms"], agree["mean_ms"]
        rows.append(
            {
                "check": f"(issue 19) record {iname} SD ≤ {limit:g} ms",
                "value": sd,
                "pass": sd is not None and sd <= limit,
            }
        )
        rows.append(
            {
                "check": f"(issue 19) record {iname} bias within ±{ISSUE19_MAX_BIAS_MS:g} ms",
                "value": mean,
                "pass": mean is not None and abs(mean) <= ISSUE19_MAX_BIAS_MS,
            }
        )
    paced = results["ludb"].get("paced_records") or []
    for iname, limit in ISSUE19_INTERVAL_SD_MS.items():
        agree = ludb.get("intervals_without_paced", {}).get(iname)
        if not agree or not paced:
            continue
        sd, mean = agree["sd_ms"], agree["mean_ms"]
        apart = f"paced records ({', '.join(paced)}) apart"
        rows.append(
            {
                "check": f"(issue 19) record {iname} SD ≤ {limit:g} ms, {apart}",
                "value": sd,
                "pass": sd is not None and sd <= limit,
            }
        )
        rows.append(
            {
                "check": f"(issue 19) record {iname} bias within ±{ISSUE19_MAX_BIAS_MS:g} ms, "
                f"{apart}",
                "value": mean,
                "pass": mean is not None and abs(mean) <= ISSUE19_MAX_BIAS_MS,
            }
        )
    says_p = pa.get("says_p_fraction_on_records_with_p")
    rows.append(
        {
            "check": f"(issue 19) P present on ≥ {100 * ISSUE19_P_PRESENT:g} % of records with P",
            "value": says_p,
            "pass": says_p is not None and says_p >= ISSUE19_P_PRESENT,
        }
    )
    rows.append(
        {
            "check": f"(issue 19) median time ≤ {ISSUE19_SPEED_MEDIAN_MS:g} ms / record",
            "value": med,
            "pass": med is not None and med <= ISSUE19_SPEED_MEDIAN_MS,
        }
    )
    speedup = results.get("cli_speed", {}).get("speedup")
    if speedup is not None:
        rows.append(
            {
                "check": f"(issue 19) command line ≥ {CRITERIA_CLI_SPEEDUP:g}× neurokit2 prominence",
                "value": speedup,
                "pass": speedup >= CRITERIA_CLI_SPEEDUP,
            }
        )
    return rows


def markdown(results: dict) -> str:
    """All result tables as markdown."""
    lines: list[str] = []
    ludb = results.get("ludb")
    if ludb:
        n = len(ludb["records"])
        lines += [
            f"### LUDB per-lead fiducials ({n} records × 12 leads; algorithm − cardiologist, "
            "mean ± SD in ms; ±150 ms matching)",
            "",
            "| tool | QRS on | QRS off | T off | P on | P off | sens QRS / P / T (%)¹ "
            "| PPV QRS / P / T (%)¹ | ms / record (median, p90) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, m in ludb["methods"].items():
            f = m["fiducials"]
            sg, pg, t = m["sensitivity_groups"], m["ppv_groups"], m["timing_ms_per_record"]
            lines.append(
                f"| {name} | "
                + " | ".join(_fmt_err(f.get(k)) for k in MAIN_KINDS)
                + f" | {_pct(sg['QRS'])} / {_pct(sg['P'])} / {_pct(sg['T'])}"
                + f" | {_pct(pg['QRS'])} / {_pct(pg['P'])} / {_pct(pg['T'])}"
                + f" | {t['median']:.1f}, {t['p90']:.1f} |"
            )
        lines += [
            "",
            "¹ onsets and offsets pooled (QRS on+off, P on+off, T on+off).",
            "",
            "Every fiducial kind (sens = paired expert marks / expert marks, PPV inside the "
            "lead's expert span, n = expert marks):",
            "",
            "| tool | " + " | ".join(sc.FIDUCIAL_KINDS) + " |",
            "|---|" + "---|" * len(sc.FIDUCIAL_KINDS),
        ]
        for name, m in ludb["methods"].items():
            f = m["fiducials"]
            cells = [
                f"{_fmt_err(f[k])}<br>sens {_pct(f[k]['sensitivity'])} · PPV {_pct(f[k]['ppv'])}"
                f"<br>n {f[k]['n_expert']}"
                for k in sc.FIDUCIAL_KINDS
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "### LUDB record-level intervals (method − median over 12 leads of the per-lead "
            "expert values; mean ± SD in ms, n records)",
            "",
            "| tool | P duration | PR | QRS duration | QT |",
            "|---|---|---|---|---|",
        ]
        rows = [(name, m["intervals"]) for name, m in ludb["methods"].items()]
        paced = ludb.get("paced_records") or []
        if paced:
            rows += [
                (f"{name}, paced records ({', '.join(paced)}) apart", m["intervals_without_paced"])
                for name, m in ludb["methods"].items()
                if "intervals_without_paced" in m
            ]
        if "ecgr1" in ludb["methods"]:
            rows.append(
                (
                    "ecgr1, from its per-lead fiducials (diagnostic: the neurokit2 rule)",
                    ludb["methods"]["ecgr1"]["intervals_from_lead_fiducials"],
                )
            )
        for name, intervals in rows:
            cells = []
            for iname in sc.INTERVALS:
                a = intervals[iname]
                miss = f", {a['n_missing']} missing" if a["n_missing"] else ""
                cells.append(f"{_fmt_err(a)} (n {a['n']}{miss})")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        absent = ludb["p_absent_records"]
        lines += [
            "",
            f"### LUDB P absence ({len(absent)} records without any P mark: "
            f"{', '.join(absent) or 'none'})",
            "",
            "| tool | says “no P” | records | says “P” on records with P "
            "| records with P it misses | P sensitivity on records with P (%) |",
            "|---|---|---|---|---|---|",
        ]
        for name, m in ludb["methods"].items():
            pa = m["p_absence"]
            frac = pa["fraction"]
            n_p, missed = pa.get("n_records_with_p", 0), pa.get("misses_p_on_records_with_p", [])
            lines.append(
                f"| {name} | {len(pa['says_no_p'])}/{pa['n_records_without_p']}"
                f" ({_pct(frac, 0)} %) | {', '.join(pa['says_no_p']) or '–'}"
                f" | {n_p - len(missed)}/{n_p} ({_pct(pa.get('says_p_fraction_on_records_with_p'))} %)"
                f" | {', '.join(missed) or '–'}"
                f" | {_pct(pa['p_sensitivity_on_records_with_p'])} |"
            )
        errs = {name: len(m["errors"]) for name, m in ludb["methods"].items() if m["errors"]}
        if errs:
            lines += ["", "Errors (records or leads a method raised on): " + str(errs)]
    qtdb = results.get("qtdb")
    if qtdb:
        lines += [
            "",
            f"### QTDB q1c ({len(qtdb['records'])} records, {qtdb['n_windows']} windows of "
            f"{QTDB_WINDOW_S:g} s; best lead per mark; mean ± SD in ms, sensitivity %)",
            "",
            "| tool | " + " | ".join(QTDB_KINDS) + " |",
            "|---|" + "---|" * len(QTDB_KINDS),
        ]
        for name, m in qtdb["methods"].items():
            f = m["fiducials"]
            cells = [f"{_fmt_err(f[k])} ({_pct(f[k]['sensitivity'])})" for k in QTDB_KINDS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        n_exp = {
            k: next(iter(qtdb["methods"].values()))["fiducials"][k]["n_expert"] for k in QTDB_KINDS
        }
        lines += ["", "Expert marks: " + ", ".join(f"{k} {v}" for k, v in n_exp.items())]
    if results.get("cli_speed"):
        lines += ["", cli_speed_markdown(results["cli_speed"])]
    if results.get("p_sources"):
        lines += ["", p_sources_markdown(results["p_sources"])]
    if results.get("simulated"):
        lines += ["", simulated_markdown(results["simulated"])]
    if results.get("cpsc2019"):
        lines += ["", cpsc2019_markdown(results["cpsc2019"])]
    crit = results.get("criteria")
    if crit:
        lines += [
            "",
            "### Acceptance checks of issues 3 and 19 (ecgr1, LUDB)",
            "",
            "| check | value | pass |",
            "|---|---|---|",
        ]
        for c in crit:
            v = c["value"]
            if v is None:
                vs = "–"
            elif "sensitivity" in c["check"] or "no P" in c["check"] or "P present" in c["check"]:
                vs = f"{100 * v:.1f} %"
            elif "×" in c["check"]:
                vs = f"{v:.1f}×"
            else:
                vs = f"{v:.1f}"
            lines.append(f"| {c['check']} | {vs} | {'yes' if c['pass'] else '**no**'} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- P across sources

# Rhythm labels of every labelled source: atrial fibrillation, atrial flutter, sinus rhythm.
SNOMED_RHYTHM = {"164889003": "af", "164890007": "flutter", "426783006": "sinus"}
PTBXL_RHYTHM = {"AFIB": "af", "AFLT": "flutter", "SR": "sinus"}


def _rhythm_label(labels: set[str]) -> str | None:
    """One rhythm per record: AF, then flutter, then sinus (a record labelled with two counts
    as the atrial arrhythmia)."""
    return next((lab for lab in ("af", "flutter", "sinus") if lab in labels), None)


P_SOURCES_SECONDS = 10.0  # each record is measured on its first 10 s (an AF episode's first 10 s)


def _labelled_records(data: Path) -> list[tuple[str, str, str, Path, int]]:
    """(source, id, label, record path, first sample) of every record labelled AF, flutter or
    sinus rhythm: LUDB (``ludb.csv`` Rhythms), CPSC 2018 (``#Dx`` AF / Normal), every
    ``extra/cinc_*`` tree (``#Dx`` SNOMED CT), PTB-XL (``scp_codes``) and CPSC 2021 (10 s from
    the start of each ``(AFIB``/``(AFL`` episode of at least 10 s, non-AF records from 0)."""
    import ast
    import csv
    import re

    out: list[tuple[str, str, str, Path, int]] = []
    lud = data / "ludb" / "ludb.csv"
    if lud.is_file():
        for row in csv.DictReader(lud.open()):
            rh = row["Rhythms"].lower()
            lab = "af" if "fibrillation" in rh else "flutter" if "flutter" in rh else "sinus"
            out.append(("ludb", row["ID"], lab, data / "ludb" / "data" / row["ID"], 0))

    def dx(hea: Path) -> list[str]:
        m = re.search(r"#\s*Dx:\s*(.*)", hea.read_text(errors="replace"))
        return [c.strip() for c in m.group(1).split(",")] if m else []

    for hea in sorted((data / "cpsc2018").glob("*.hea")):
        codes = dx(hea)
        lab = "af" if "AF" in codes else "sinus" if codes == ["Normal"] else None
        if lab:
            out.append(("cpsc2018", hea.stem, lab, hea.with_suffix(""), 0))
    for hea in sorted((data / "extra").glob("cinc_*/*.hea")):
        labs = {SNOMED_RHYTHM[c] for c in dx(hea) if c in SNOMED_RHYTHM}
        lab = _rhythm_label(labs)
        if lab:
            out.append((hea.parent.name, hea.stem, lab, hea.with_suffix(""), 0))
    db = data / "extra" / "ptbxl" / "ptbxl_database.csv"
    if db.is_file():
        for row in csv.DictReader(db.open()):
            labs = {
                PTBXL_RHYTHM[c] for c in ast.literal_eval(row["scp_codes"]) if c in PTBXL_RHYTHM
            }
            lab = _rhythm_label(labs)
            if lab:
                rec = data / "extra" / "ptbxl" / row["filename_hr"]
                out.append(("ptbxl", row["ecg_id"], lab, rec, 0))
    for hea in sorted((data / "cpsc2021").glob("*.hea")):
        base = hea.with_suffix("")
        ann = wfdb.rdann(str(base), "atr")
        n_sig = wfdb.rdheader(str(base)).sig_len
        fs = float(wfdb.rdheader(str(base)).fs)
        episodes, start = [], None
        for smp, note in zip(ann.sample, ann.aux_note):
            if note.startswith(("(AFIB", "(AFL")):
                start = int(smp) if start is None else start
            elif note.startswith("(") and start is not None:
                episodes.append((start, int(smp)))
                start = None
        if start is not None:
            episodes.append((start, n_sig))
        if not episodes:
            out.append(("cpsc2021", base.name, "sinus", base, 0))
        for a, b in episodes:
            if b - a >= P_SOURCES_SECONDS * fs:
                out.append(("cpsc2021", f"{base.name}@{a}", "af", base, a))
    return out


def run_p_sources(data: Path) -> dict:
    """ "P waves present" on every labelled AF, flutter and sinus-rhythm record of every source
    (first 10 s; LUDB whole). AF and flutter records have no P waves; the LUDB paced records
    labelled sinus rhythm (45, 111) are listed apart, not scored."""
    from ecgr1.io import read_record
    from ecgr1.measure.engine import measure

    paced = {("ludb", "45"), ("ludb", "111")}
    rows = []
    for src, rid, lab, path, start in _labelled_records(data):
        rec = read_record(str(path))
        n = int(P_SOURCES_SECONDS * rec.fs)
        if src != "ludb" and rec.n_samples > n:
            rec = ECGRecord(rec.signal[:, start : start + n], rec.fs, rec.leads, record_id=rid)
        try:
            p = bool(measure(rec).global_.p_wave_present)
        except Exception as exc:  # noqa: BLE001 - reported, not scored
            p = f"{type(exc).__name__}: {exc}"
        rows.append({"source": src, "id": rid, "label": lab, "p_wave_present": p,
                     "paced": (src, rid) in paced})  # fmt: skip
    return {"records": rows}


def run_simulated(patterns: list[str], noise: str, seeds: int) -> dict:
    """ecgr1 on simulated records (``seeds`` seeds of 10 s per pattern, ``noise`` added):
    beat-level QRS onset/offset error against the simulator's truth (each detected beat paired
    with the true QRS it falls in, +-40 ms), record QRS duration minus the simulated one, and
    missed and false beats."""
    import ecgr1
    from ecgr1.simulate import simulate

    out = {}
    for name in patterns:
        on, off, rec, missed, false = [], [], [], 0, 0
        for seed in range(seeds):
            sim = simulate(name, seconds=10, seed=seed, noise="" if noise == "none" else noise)
            res = ecgr1.measure(sim.record)
            spans = [(b["qrs_on_s"], b["qrs_off_s"]) for b in sim.beats]
            hit = [False] * len(spans)
            for beat in res.beats:
                j = next(
                    (k for k, (a, b) in enumerate(spans) if a - 0.04 <= beat.r_peak_s <= b + 0.04),
                    None,
                )
                if j is None:
                    false += 1
                    continue
                hit[j] = True
                if beat.qrs_onset_s is not None and beat.qrs_offset_s is not None:
                    on.append(1000 * (beat.qrs_onset_s - spans[j][0]))
                    off.append(1000 * (beat.qrs_offset_s - spans[j][1]))
            missed += hit.count(False)
            qrs = res.global_.qrs_duration_ms
            if qrs is not None:
                rec.append(qrs - sim.params["qrs_ms"])
        out[name] = {
            "records": seeds,
            "qrs_on_ms": [float(np.mean(on)), float(np.std(on))] if on else None,
            "qrs_off_ms": [float(np.mean(off)), float(np.std(off))] if off else None,
            "record_qrs_error_ms": [float(np.mean(rec)), float(np.max(np.abs(rec)))]
            if rec
            else None,
            "missed_beats": missed,
            "false_beats": false,
        }
    return {"noise": noise, "seeds": seeds, "patterns": out}


def score_detections(ref: np.ndarray, det: np.ndarray, fs: float) -> tuple[int, int, int]:
    """(TP, FP, FN) of detected R peaks ``det`` against reference ``ref`` (samples), the CPSC
    2019 way: references in 0.5-9.5 s count, detections up to 75 ms outside that span may pair;
    each reference takes the nearest unpaired detection within 75 ms."""
    tol = 0.075 * fs
    ref = ref[(ref >= 0.5 * fs) & (ref <= 9.5 * fs)]
    det = det[(det >= 0.5 * fs - tol) & (det <= 9.5 * fs + tol)]
    used = np.zeros(det.size, bool)
    tp = 0
    for r in ref:
        free = np.flatnonzero(~used & (np.abs(det - r) <= tol))
        if free.size:
            used[free[np.argmin(np.abs(det[free] - r))]] = True
            tp += 1
    return tp, int((~used).sum()), int(ref.size - tp)


def run_cpsc2019(folder: Path) -> dict:
    """ecgr1's beats on every CPSC 2019 record (``data/data_*.mat``, ``ref/R_*.mat``) scored by
    :func:`score_detections`; records with an error are listed."""
    import scipy.io as sio

    import ecgr1

    def only_array(mat: dict) -> np.ndarray:
        return np.asarray(next(v for k, v in mat.items() if not k.startswith("__")), float).ravel()

    fs = 500.0
    tp = fp = fn = 0
    errors = {}
    paths = sorted((folder / "data").glob("data_*.mat"))
    for path in paths:
        rid = path.stem.split("_", 1)[1]
        sig = only_array(sio.loadmat(path))
        ref = only_array(sio.loadmat(folder / "ref" / f"R_{rid}.mat"))
        try:
            res = ecgr1.measure(sig[None, :], fs=fs, leads=["II"])
            det = np.array([b.r_peak_s * fs for b in res.beats])
        except ecgr1.errors.MeasurementError:
            det = np.zeros(0)
        t, f, n = score_detections(ref, det, fs)
        tp, fp, fn = tp + t, fp + f, fn + n
        if f or n:
            errors[rid] = {"false": f, "missed": n}
    return {
        "records": len(paths),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "ppv": tp / (tp + fp) if tp + fp else float("nan"),
        "f1": 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        "errors": errors,
    }


def cpsc2019_markdown(c: dict) -> str:
    """The ``--cpsc2019`` line."""
    return (
        f"### CPSC 2019 QRS detection ({c['records']} records, single lead; ±75 ms)\n\n"
        f"TP {c['tp']}, FP {c['fp']}, FN {c['fn']}: sensitivity {c['sensitivity']:.4f}, "
        f"PPV {c['ppv']:.4f}, F1 {c['f1']:.4f}; records with an error: {len(c['errors'])}"
    )


def simulated_markdown(sm: dict) -> str:
    """The ``--simulated`` table."""

    def ms(v: list[float] | None) -> str:
        return "-" if v is None else f"{v[0]:+.1f} ± {v[1]:.1f}"

    lines = [
        f"### Simulated records ({sm['seeds']} seeds × 10 s per pattern, noise: {sm['noise']}; "
        "ecgr1 − simulator truth, ms)",
        "",
        "| pattern | beats' QRS onset | beats' QRS offset "
        "| record QRS duration (mean error, largest absolute error) | missed / false beats |",
        "|---|---|---|---|---|",
    ]
    for name, v in sm["patterns"].items():
        rq = v["record_qrs_error_ms"]
        rq_text = "-" if rq is None else f"{rq[0]:+.1f}, {rq[1]:.1f}"
        lines.append(
            f"| {name} | {ms(v['qrs_on_ms'])} | {ms(v['qrs_off_ms'])} | {rq_text} "
            f"| {v['missed_beats']} / {v['false_beats']} |"
        )
    return "\n".join(lines)


def p_sources_markdown(ps: dict) -> str:
    """One row per rhythm label: records, how many say "P present", which."""
    lines = [
        "### P waves on the labelled records of every source (first 10 s)",
        "",
        "| label | records | say “P present” | which | errors |",
        "|---|---|---|---|---|",
    ]
    for lab in ("af", "flutter", "sinus"):
        rows = [r for r in ps["records"] if r["label"] == lab and not r["paced"]]
        yes = [f"{r['source']}:{r['id']}" for r in rows if r["p_wave_present"] is True]
        no = [f"{r['source']}:{r['id']}" for r in rows if r["p_wave_present"] is False]
        err = [f"{r['source']}:{r['id']}" for r in rows if isinstance(r["p_wave_present"], str)]
        which = ", ".join(yes) if lab != "sinus" else "without P: " + (", ".join(no) or "–")
        lines.append(
            f"| {lab} | {len(rows)} | {len(yes)} | {which or '–'} | {', '.join(err) or '–'} |"
        )
    paced = [r for r in ps["records"] if r["paced"]]
    lines += ["", "Paced, labelled sinus rhythm (reported, not scored): " + ", ".join(
        f"{r['source']}:{r['id']} P {'present' if r['p_wave_present'] is True else 'absent'}"
        for r in paced)]  # fmt: skip
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI speed

CLI_SPEED_RECORDS = 50  # LUDB records of the command-line comparison (issue 19)
CLI_SPEED_REPEATS = 3  # runs; the median per-record time is reported
CRITERIA_CLI_SPEEDUP = 5.0  # ecgr1 command line at least this many times faster than neurokit2


def neurokit_command_line(paths: list[str]) -> None:
    """The neurokit2 side of the command-line comparison, run as its own process: per record,
    ``wfdb.rdrecord`` then ``ecg_clean`` + ``ecg_peaks`` + ``ecg_delineate`` (prominence) on
    each of the 12 leads; a lead neurokit2 raises on is skipped, as in the accuracy runs."""
    import neurokit2 as nk

    for path in paths:
        rec = wfdb.rdrecord(str(Path(path).with_suffix("")))
        fs = float(rec.fs)
        for i in range(rec.p_signal.shape[1]):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    clean = nk.ecg_clean(rec.p_signal[:, i], sampling_rate=fs)
                    _, info = nk.ecg_peaks(clean, sampling_rate=fs)
                    nk.ecg_delineate(
                        clean, info["ECG_R_Peaks"], sampling_rate=fs, method="prominence"
                    )
            except Exception:  # noqa: BLE001 - the lead counts as delineated (time spent)
                continue


def run_cli_speed(
    ludb_dir: Path, n_records: int = CLI_SPEED_RECORDS, repeats: int = CLI_SPEED_REPEATS
) -> dict:
    """Per-record wall time through the command line: ``ecgr1 measure RECORDS --json-dir D``
    (read + measure + JSON write) against :func:`neurokit_command_line` (wfdb read + clean +
    peaks + prominence delineation of 12 leads), each a fresh process on one core (``taskset``
    where available, one BLAS/OpenMP thread). Interpreter start-up and imports are excluded:
    per record = (time for ``n_records`` - time for 1) / (``n_records`` - 1). The tools
    alternate within each of ``repeats`` runs; the median over runs is reported."""
    import shutil
    import statistics
    import subprocess
    import tempfile

    heads = [str(ludb_dir / "data" / f"{i}.hea") for i in ludb_ids(ludb_dir)[:n_records]]
    if len(heads) < 2:
        return {}
    env = dict(os.environ)
    pin: list[str] = []
    if shutil.which("taskset") and hasattr(os, "sched_getaffinity"):
        pin = ["taskset", "-c", str(min(os.sched_getaffinity(0)))]
    tools = {
        "ecgr1": lambda paths, out: [sys.executable, "-m", "ecgr1", "measure", *paths,
                                     "--json-dir", out],
        "neurokit2_prominence": lambda paths, out: [sys.executable, str(Path(__file__).resolve()),
                                                    "--neurokit-command-line", *paths],
    }  # fmt: skip

    def wall(argv: list[str]) -> float:
        t0 = time.perf_counter()
        proc = subprocess.run(pin + argv, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])} ...: exit {proc.returncode}: {proc.stderr}")
        return elapsed

    runs: dict[str, list[dict]] = {name: [] for name in tools}
    for _ in range(repeats):
        for name, cmd in tools.items():
            with tempfile.TemporaryDirectory() as out:
                t1 = wall(cmd(heads[:1], out))
                tn = wall(cmd(heads, out))
            per = (tn - t1) / (len(heads) - 1)
            runs[name].append({"t_1_s": t1, "t_n_s": tn, "ms_per_record": 1000.0 * per})
    med = {n: statistics.median(r["ms_per_record"] for r in v) for n, v in runs.items()}
    return {
        "n_records": len(heads),
        "repeats": repeats,
        "one_core": bool(pin),
        "runs": runs,
        "median_ms_per_record": med,
        "speedup": med["neurokit2_prominence"] / med["ecgr1"] if med["ecgr1"] > 0 else None,
    }


def cli_speed_markdown(cs: dict) -> str:
    """The command-line speed table: every run, then the medians and the ratio."""
    n = cs["n_records"]
    lines = [
        f"### Command line, {n} LUDB records (per record = (t{n} − t1) / {n - 1}; "
        f"{'one core (taskset)' if cs['one_core'] else 'one BLAS thread'})",
        "",
        f"| run | ecgr1 t1 / t{n} (s) | ecgr1 ms / record | neurokit2 prominence t1 / t{n} (s) "
        "| neurokit2 ms / record | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for k, (a, b) in enumerate(zip(cs["runs"]["ecgr1"], cs["runs"]["neurokit2_prominence"])):
        lines.append(
            f"| {k + 1} | {a['t_1_s']:.2f} / {a['t_n_s']:.2f} | {a['ms_per_record']:.1f} | "
            f"{b['t_1_s']:.2f} / {b['t_n_s']:.2f} | {b['ms_per_record']:.1f} | "
            f"{b['ms_per_record'] / a['ms_per_record']:.1f}× |"
        )
    med = cs["median_ms_per_record"]
    lines.append(
        f"| median | | **{med['ecgr1']:.1f}** | | **{med['neurokit2_prominence']:.1f}** | "
        f"**{cs['speedup']:.1f}×** |"
    )
    return "\n".join(lines)


def _versions() -> dict:
    out = {"python": platform.python_version(), "numpy": np.__version__, "wfdb": wfdb.__version__}
    try:
        import neurokit2

        out["neurokit2"] = neurokit2.__version__
    except Exception:
        pass
    try:
        import ecgr1

        out["ecgr1"] = getattr(ecgr1, "__version__", "?")
    except Exception:
        pass
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=None,
        help="shared data folder (default: ecgr1.paths.shared_data_dir())",
    )
    ap.add_argument("--records", type=int, default=None, help="first N records of each data set")
    ap.add_argument("--datasets", default="ludb,qtdb", help="comma list: ludb, qtdb")
    ap.add_argument(
        "--methods", default=",".join(ALL_METHODS), help="comma list of " + ", ".join(ALL_METHODS)
    )
    ap.add_argument("--tolerance-ms", type=float, default=sc.DEFAULT_TOLERANCE_MS)
    ap.add_argument("--out", type=Path, default=None, help="write the full results as JSON here")
    ap.add_argument("--markdown", action="store_true", help="print the markdown tables")
    ap.add_argument(
        "--timing-repeats",
        type=int,
        default=1,
        help="run each LUDB record K times and keep the fastest time (default 1)",
    )
    ap.add_argument(
        "--ids",
        default=None,
        help="comma list of record ids to run (LUDB numbers and/or QTDB names, e.g. 45,sel100)",
    )
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument(
        "--cli-speed",
        action="store_true",
        help="also time the command line against neurokit2 prominence (50 LUDB records, "
        "3 runs, fresh processes on one core)",
    )
    ap.add_argument(
        "--p-sources",
        action="store_true",
        help="also check P presence on the AF, flutter and sinus records of every labelled source",
    )
    ap.add_argument(
        "--simulated",
        default=None,
        metavar="PATTERNS",
        help="also score ecgr1 on simulated records of these patterns (comma list of "
        "ecgr1.simulate patterns) against their true QRS boundaries",
    )
    ap.add_argument(
        "--sim-noise",
        default="muscle",
        help="noise of the simulated records: the simulator's kinds, comma-separated, or none",
    )
    ap.add_argument("--sim-seeds", type=int, default=8, help="seeds per simulated pattern")
    ap.add_argument(
        "--cpsc2019",
        action="store_true",
        help="also score ecgr1's QRS detection on the CPSC 2019 records (single lead)",
    )
    ap.add_argument("--neurokit-command-line", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.neurokit_command_line:  # the neurokit2 process of --cli-speed
        neurokit_command_line(args.neurokit_command_line)
        return 0

    data = args.data or shared_data_dir()
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    runners, skipped = build_methods([m.strip() for m in args.methods.split(",") if m.strip()])
    if not runners:
        print("error: no method available", file=sys.stderr)
        return 2
    results: dict = {
        "meta": {
            "command": "python benchmarks/measure_bench.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "data": str(data),
            "methods": list(runners),
            "skipped_methods": skipped,
            "tolerance_ms": args.tolerance_ms,
            "versions": _versions(),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "threads": 1,
            "timing_repeats": args.timing_repeats,
            "cpu_count": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        }
    }
    progress = not args.no_progress and sys.stderr.isatty()
    only_ids = {i.strip() for i in args.ids.split(",") if i.strip()} if args.ids else None
    if "ludb" in datasets:
        if (data / "ludb" / "data").is_dir():
            results["ludb"] = run_ludb(
                data / "ludb",
                runners,
                args.records,
                args.tolerance_ms,
                progress,
                timing_repeats=args.timing_repeats,
                only_ids=only_ids,
            )
        else:
            print(f"warning: LUDB not found under {data}", file=sys.stderr)
    if "qtdb" in datasets:
        if (data / "qtdb" / "RECORDS").is_file():
            results["qtdb"] = run_qtdb(
                data / "qtdb", runners, args.records, args.tolerance_ms, progress, only_ids
            )
        else:
            print(f"warning: QTDB not found under {data}", file=sys.stderr)
    if args.p_sources:
        results["p_sources"] = run_p_sources(data)
    if args.simulated:
        from ecgr1.simulate import PATTERNS
        from ecgr1.simulate.noise import NOISE_KINDS

        patterns = [p.strip() for p in args.simulated.split(",") if p.strip()]
        kinds = [k.strip() for k in args.sim_noise.split(",") if k.strip()]
        unknown = [p for p in patterns if p not in PATTERNS] + [
            k for k in kinds if k not in (*NOISE_KINDS, "all", "none")
        ]
        if unknown or args.sim_seeds < 1:
            ap.error(
                f"unknown pattern or noise {', '.join(unknown) or '-'} (patterns: "
                f"{', '.join(PATTERNS)}; noise: {', '.join(NOISE_KINDS)}, all or none), "
                "and --sim-seeds >= 1"
            )
        results["simulated"] = run_simulated(patterns, args.sim_noise, args.sim_seeds)
    if args.cpsc2019:
        if (data / "cpsc2019" / "data").is_dir():
            results["cpsc2019"] = run_cpsc2019(data / "cpsc2019")
        else:
            print(f"warning: CPSC 2019 not found under {data}", file=sys.stderr)
    if args.cli_speed and (data / "ludb" / "data").is_dir():
        results["cli_speed"] = run_cli_speed(data / "ludb")
    results["criteria"] = criteria(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(_json_safe(results), indent=1))
    text = markdown(results)
    if args.markdown:
        print(text)
    else:
        # Plain summary: everything but the wide every-kind table.
        head, _, rest = text.partition("\n\nEvery fiducial kind")
        print(head + ("\n\n###" + rest.split("\n\n###", 1)[1] if "\n\n###" in rest else ""))
        if results.get("criteria"):
            failed = [c["check"] for c in results["criteria"] if not c["pass"]]
            print(
                f"\nacceptance checks failed: {len(failed)}"
                + (": " + "; ".join(failed) if failed else "")
            )
    return 0


def _json_safe(obj):
    """Numpy to Python, NaN/inf to None (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


if __name__ == "__main__":
    raise SystemExit(main())
