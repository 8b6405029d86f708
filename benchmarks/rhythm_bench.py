"""Beat classes, ectopy and AF statements against beat-by-beat Holter annotations.

Usage::

    python benchmarks/rhythm_bench.py                 # markdown tables
    python benchmarks/rhythm_bench.py --json out.json

Every record of ``../shared/data`` that carries cardiologist beat labels (``.atr``) is cut
into consecutive, non-overlapping 10-s windows, each measured and interpreted on its own as a
12-lead record would be:

* QTDB records with an ``.atr`` file (excerpts of the MIT-BIH arrhythmia, supraventricular
  arrhythmia, ST change, long-term ST and European ST-T databases; 2 leads, 250 Hz, 15 min);
* MIT-BIH arrhythmia record 100 (2 leads, 360 Hz, 30 min);
* CPSC 2021 (2 leads, 200 Hz, rhythm changes ``(AFIB`` / ``(N`` in the beat annotations),
  for AF only: its beats are labelled for the AF challenge, nearly all "N".

Beats: each annotated beat is paired with the nearest detected beat within 150 ms; annotation
groups N (N, L, R, e, j, n), S (A, a, J, S), V (V, E) are tabulated against the engine's beat
classes. The first and last detected beat of a window are left out of this table: one of
their RR intervals is unseen (the engine classes a first beat only when a pause follows it).

Windows: a window is PAC-positive when it holds an S beat, PVC-positive with a V beat (edge
beats included: the statements are about the whole window), and AF-positive when it lies
entirely inside an ``(AFIB``/``(AFL`` episode (windows that straddle a rhythm change, or belong
to records without rhythm labels, are skipped for AF). Sensitivity, positive predictive value
and specificity of the statements premature atrial contractions, premature ventricular
contractions and atrial fibrillation (or flutter) follow; ``--json`` lists every window whose
statement disagrees with the labels. On two leads the PAC/PVC statements are not assessable
(the protocol asks one lead per orthogonal direction for beat classes), so the rows
``PAC:classes`` / ``PVC:classes`` score the engine's beat classes instead: a window with a
beat classed premature supraventricular / ventricular.

None of these data were used to choose a threshold or a rule.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_root, markdown_table

from ecgr1.io import read_record
from ecgr1.io.record import ECGRecord
from ecgr1.pipeline import interpret_record

WINDOW_S = 10.0
MATCH_S = 0.15
GROUPS = {
    **dict.fromkeys("NLRejn", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
}
CLASSES = (
    "dominant",
    "premature_supraventricular",
    "premature_ventricular",
    "paced",
    "other",
    "missed",
)
AF_RHYTHMS = ("(AFIB", "(AFL")
# Sources whose beat labels classify every beat (N/S/V...). CPSC 2021 labels nearly every beat
# "N" (it was annotated for AF episodes: 4 of its 3,322 beats carry another label), so it is
# scored for AF only.
BEAT_SOURCES = ("qtdb", "mitdb")
# Rhythm labels of the MIT-BIH family (aux notes of "+" annotations); other notes that start
# with "(" (ST and T episodes of the European ST-T database) are not rhythms.
RHYTHM_LABELS = {
    "(AB", "(AFIB", "(AFL", "(B", "(BII", "(IVR", "(N", "(NOD", "(P", "(PREX", "(SBR",
    "(SVTA", "(T", "(VFL", "(VT",
}  # fmt: skip


def _records(root: Path) -> list[tuple[str, Path]]:
    out = []
    for hea in sorted((root / "qtdb").glob("*.hea")):
        if hea.with_suffix(".atr").exists():
            out.append(("qtdb", hea))
    for hea in sorted((root / "mitdb").glob("*.hea")):
        if hea.with_suffix(".atr").exists():
            out.append(("mitdb", hea))
    for hea in sorted((root / "cpsc2021").glob("*.hea")):
        if hea.with_suffix(".atr").exists():
            out.append(("cpsc2021", hea))
    return out


def _annotations(hea: Path) -> tuple[np.ndarray, list[str], list[tuple[float, bool]]]:
    """(beat times s, beat groups, rhythm changes as (time s, is AF))."""
    import wfdb

    ann = wfdb.rdann(str(hea.with_suffix("")), "atr")
    fs = float(ann.fs)
    times, groups, rhythm = [], [], []
    aux = ann.aux_note or [""] * len(ann.sample)
    for s, sym, note in zip(ann.sample, ann.symbol, aux, strict=False):
        note = (note or "").strip("\x00").strip()
        if sym in GROUPS:
            times.append(s / fs)
            groups.append(GROUPS[sym])
        elif sym in ("Q", "F", "/", "f"):
            times.append(s / fs)
            groups.append("other")
        if note in RHYTHM_LABELS:
            rhythm.append((s / fs, note in AF_RHYTHMS))
    return np.asarray(times), groups, rhythm


def _af_state(rhythm: list[tuple[float, bool]], t0: float, t1: float) -> bool | None:
    """True/False when the whole window is inside / outside AF; None when it straddles a change
    or no rhythm is annotated."""
    if not rhythm:
        return None
    state = None
    for t, is_af in rhythm:
        if t <= t0:
            state = is_af
        elif t < t1:
            return None
    return state


def _window(rec: ECGRecord, t0: float) -> ECGRecord:
    i0 = int(round(t0 * rec.fs))
    i1 = i0 + int(round(WINDOW_S * rec.fs))
    return ECGRecord(
        rec.signal[:, i0:i1],
        rec.fs,
        list(rec.leads),
        record_id=f"{rec.record_id}@{t0:g}",
        metadata=dict(rec.metadata),
    )


def run(root: Path, progress: bool = True) -> dict[str, Any]:
    beats = Counter()
    # The statements, and (":classes") whether any beat of the window is classed so: on two
    # leads the PAC/PVC statements are not assessable (the protocol's "intervals" lead set),
    # while the beat classes still say what the engine found.
    names = ("PAC", "PVC", "AF", "PAC:classes", "PVC:classes")
    windows: dict[str, Counter] = {k: Counter() for k in names}
    per_source: dict[str, int] = Counter()
    errors: list[dict[str, Any]] = []  # windows whose statement disagrees with the labels
    t_start = time.perf_counter()
    items = _records(root)
    bar = None
    if progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(items), unit="record", file=sys.stderr)
    for source, hea in items:
        rec = read_record(hea)
        times, groups, rhythm = _annotations(hea)
        for t0 in np.arange(0.0, rec.duration_s - WINDOW_S + 1e-9, WINDOW_S):
            t1 = t0 + WINDOW_S
            res = interpret_record(_window(rec, t0))
            per_source[source] += 1
            ids = {s.id for s in res.interpretation.statements if s.certainty != "borderline"}
            found = res.measurements.beats
            r_s = np.array([b.r_peak_s for b in found]) + t0
            inner = slice(1, max(1, len(found) - 1))
            inner_r = r_s[inner]
            af = _af_state(rhythm, t0, t1)
            if af is not None:
                said = bool(ids & {"atrial_fibrillation", "atrial_flutter"})
                windows["AF"][(af, said)] += 1
                if said != af:
                    errors.append({"record": hea.stem, "t0_s": float(t0), "statement": "AF",
                                   "labelled": af})  # fmt: skip
            if source not in BEAT_SOURCES:
                continue
            sel = (times >= t0) & (times < t1)
            has = {"S": False, "V": False}
            for t, grp in zip(times[sel], np.asarray(groups, object)[sel], strict=False):
                if grp not in ("N", "S", "V"):
                    continue
                j = int(np.argmin(np.abs(r_s - t))) if r_s.size else -1
                if j < 0 or abs(r_s[j] - t) > MATCH_S:
                    beats[(grp, "missed")] += 1
                    continue
                # The window's statements cover every beat in it, its edge beats too.
                if grp in has:
                    has[grp] = True
                if not (inner_r.size and np.min(np.abs(inner_r - t)) <= MATCH_S):
                    continue  # an edge beat of the window: not in the beat table
                beats[(grp, found[j].beat_class)] += 1
            classes = {b.beat_class for b in found}
            for name, truth, said in (
                ("PAC", has["S"], "premature_atrial_contractions" in ids),
                ("PVC", has["V"], "premature_ventricular_contractions" in ids),
                ("PAC:classes", has["S"], "premature_supraventricular" in classes),
                ("PVC:classes", has["V"], "premature_ventricular" in classes),
            ):
                windows[name][(truth, said)] += 1
                if said != truth and ":" not in name:
                    errors.append({"record": hea.stem, "t0_s": float(t0), "statement": name,
                                   "labelled": truth})  # fmt: skip
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()

    def rates(c: Counter) -> dict[str, Any]:
        tp, fn = c[(True, True)], c[(True, False)]
        fp, tn = c[(False, True)], c[(False, False)]
        return {
            "positive_windows": tp + fn,
            "negative_windows": fp + tn,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
            "ppv": tp / (tp + fp) if tp + fp else float("nan"),
            "specificity": tn / (tn + fp) if tn + fp else float("nan"),
        }

    return {
        "windows_by_source": dict(per_source),
        "beats": {f"{a}->{b}": n for (a, b), n in sorted(beats.items())},
        "beat_table": {g: {c: beats[(g, c)] for c in CLASSES} for g in ("N", "S", "V")},
        "statements": {k: rates(v) for k, v in windows.items()},
        "errors": errors,
        "elapsed_s": time.perf_counter() - t_start,
    }


def markdown(out: dict[str, Any]) -> str:
    src = ", ".join(f"{k} {v}" for k, v in out["windows_by_source"].items())
    beat_rows = []
    for g, row in out["beat_table"].items():
        total = sum(row.values())
        cells = [f"{row[c]} ({100 * row[c] / total:.1f} %)" if total else "0" for c in CLASSES]
        beat_rows.append([f"{g} ({total})", *cells])
    window_rows = [
        [k, f"{v['positive_windows']} / {v['negative_windows']}"]
        + [f"{v[m]:.3f}" for m in ("sensitivity", "ppv", "specificity")]
        for k, v in out["statements"].items()
    ]
    return "\n".join(
        [
            f"#### Holter windows (10 s; {src}; {out['elapsed_s']:.0f} s)",
            "",
            markdown_table(["annotated beat", *CLASSES], beat_rows),
            "",
            markdown_table(
                ["statement", "positive / negative windows", "sensitivity", "PPV", "specificity"],
                window_rows,
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    root = data_root()
    if root is None:
        return 2
    out = run(root, progress=not args.no_progress)
    print(markdown(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
