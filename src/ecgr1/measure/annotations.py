"""WFDB annotation files of the delineation, one per lead, in the LUDB/ecgpuwave convention.

Each wave is written as three marks: ``(`` onset, a peak symbol (``p`` P wave, the beat's WFDB
code at the QRS peak, ``t`` T wave) and ``)`` offset; the annotator (file extension) is the
lower-case lead name, so ``wfdb.rdann(str(out_dir / record_id), "ii")`` reads lead II back. The
QRS code is the beat's class as the engine found it (:data:`BEAT_CODES`: ``N`` normal/dominant,
``V`` premature ventricular, ``A`` premature supraventricular, ``/`` paced, ``Q``
unclassifiable), so a beat the JSON calls a PVC is a ``V`` in the annotation file too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from ecgr1.measure.result import MeasurementResult

_WAVES = (("p", "p"), ("qrs", "N"), ("t", "t"))
# Beat classes of MeasurementResult.beats -> WFDB beat annotation codes (MIT-BIH convention).
BEAT_CODES: dict[str, str] = {
    "dominant": "N",
    "premature_ventricular": "V",
    "premature_supraventricular": "A",
    "paced": "/",
    "other": "Q",
}


def lead_annotation_marks(
    fiducials: dict[str, list[int | None]],
    n_samples: int | None = None,
    beat_codes: list[str] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Sorted sample indices and symbols of one lead's marks (waves without a peak are skipped).

    With ``n_samples``, marks outside the record (e.g. the onset of a P wave cut by the start of
    the recording) are left out: a WFDB annotation must lie inside its record. ``beat_codes``
    (one per beat, as :data:`BEAT_CODES`) replace the plain ``N`` at each QRS peak.

    Example
    -------
    >>> s, sym = lead_annotation_marks({"qrs_on": [10], "qrs_peak": [20], "qrs_off": [30]})
    >>> s.tolist(), sym
    ([10, 20, 30], ['(', 'N', ')'])
    """
    marks: list[tuple[int, int, str]] = []

    def inside(v: int | None) -> bool:
        return v is not None and v >= 0 and (n_samples is None or v < n_samples)

    for wave, peak_symbol in _WAVES:
        on = fiducials.get(f"{wave}_on") or []
        peak = fiducials.get(f"{wave}_peak") or []
        off = fiducials.get(f"{wave}_off") or []
        for b, pk in enumerate(peak):
            if not inside(pk):
                continue
            o = on[b] if b < len(on) else None
            f = off[b] if b < len(off) else None
            if inside(o) and o < pk:
                marks.append((int(o), 0, "("))
            symbol = peak_symbol
            if wave == "qrs" and beat_codes is not None and b < len(beat_codes):
                symbol = beat_codes[b]
            marks.append((int(pk), 1, symbol))
            if inside(f) and f > pk:
                marks.append((int(f), 2, ")"))
    marks.sort()
    samples = np.array([m[0] for m in marks], dtype=np.int64)
    symbols = [m[2] for m in marks]
    return samples, symbols


def write_annotations(result: MeasurementResult, out_dir: str | Path) -> list[Path]:
    """Write one WFDB annotation file per lead; returns the paths written.

    The record name is ``result.id``; leads without any mark get no file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for lead in result.lead_names:
        fid = result.lead_fiducials.get(lead)
        if not fid:
            continue
        n_samples = int(round(result.duration_s * result.fs))
        codes = [BEAT_CODES.get(b.beat_class, "Q") for b in result.beats]
        # the per-lead fiducials are indexed like the beats; anything else keeps plain "N"
        aligned = len(fid.get("qrs_peak") or []) == len(codes)
        samples, symbols = lead_annotation_marks(fid, n_samples, codes if aligned else None)
        if samples.size == 0:
            continue
        ext = lead.lower()
        # wfdb only accepts letters in an annotator name ("v1" is refused) although readers
        # accept any; write under a letters-only name and rename (the content is the same).
        tmp_ext = "ecgrtmp"
        wfdb.wrann(
            result.id,
            tmp_ext,
            samples,
            symbol=symbols,
            fs=result.fs,
            write_dir=str(out),
        )
        target = out / f"{result.id}.{ext}"
        (out / f"{result.id}.{tmp_ext}").replace(target)
        written.append(target)
    return written
