"""WFDB annotation files of the measurement: one per lead (wave boundaries) and one per record
(beats).

Per lead, each wave is written as three marks: ``(`` onset, a peak symbol (``p`` P wave, the
beat's WFDB code at the QRS peak, ``t`` T wave) and ``)`` offset; the annotator (file
extension) is the lower-case lead name, so ``wfdb.rdann(str(out_dir / record_id), "ii")`` reads
lead II back (the LUDB/ecgpuwave convention).

Per record (:func:`write_beat_annotations`, annotator :data:`BEAT_ANNOTATOR` = ``beats``), one
mark per beat at its R peak (the global QRS fiducial of ``MeasurementResult.beats``), in the
MIT-BIH convention of beat-by-beat files such as ``atr``.

The code of a beat is its class as the engine found it (:data:`BEAT_CODES`), so a beat the JSON
calls a PVC is a ``V`` in both files: ``N`` dominant (normal), ``V`` premature ventricular,
``S`` premature supraventricular (the classifier does not tell atrial from junctional origin,
so MIT-BIH's ``S``, "supraventricular premature or ectopic beat, atrial or nodal", not ``A``),
``/`` paced, ``Q`` unclassifiable. The fusion codes ``F`` (ventricular and normal) and ``f``
(paced and normal) are never written: the beat classifier has no fusion class (a fusion beat is
classed by its shape, usually ``Q`` or ``N``).
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
    "premature_supraventricular": "S",
    "paced": "/",
    "other": "Q",
}
BEAT_ANNOTATOR = "beats"  # the record-level annotation file: <id>.beats


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
    waves: list[tuple[int, int | None, str, int | None]] = []  # (peak, onset, symbol, offset)

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
            symbol = peak_symbol
            if wave == "qrs" and beat_codes is not None and b < len(beat_codes):
                symbol = beat_codes[b]
            waves.append(
                (
                    int(pk),
                    int(o) if inside(o) and o < pk else None,
                    symbol,
                    int(f) if inside(f) and f > pk else None,
                )
            )
    # Each wave's marks in a row, waves in the order of their peaks (the LUDB convention that
    # readers pair a parenthesis with the adjacent peak by). Where two waves' marks coincide
    # (a QRS offset on the T onset's sample) the earlier wave's come first; where they cross (a
    # lead's T onset a few samples before its QRS offset) the later onset is written on the
    # earlier offset's sample, and an offset beyond the next wave's peak is left out.
    waves.sort(key=lambda w: w[0])
    marks: list[tuple[int, str]] = []
    for pk, o, symbol, f in waves:
        if marks and marks[-1][0] >= pk:
            if marks[-1][1] != ")":
                continue  # two peaks on one sample: the first one stands
            marks.pop()
        last = marks[-1][0] if marks else -1
        if o is not None and max(o, last) < pk:
            marks.append((max(o, last), "("))
        marks.append((pk, symbol))
        if f is not None:
            marks.append((f, ")"))
    samples = np.array([m[0] for m in marks], dtype=np.int64)
    symbols = [m[1] for m in marks]
    return samples, symbols


def beat_codes(result: MeasurementResult) -> list[str]:
    """The WFDB code of every beat of ``result`` (:data:`BEAT_CODES`; an unknown class: ``Q``)."""
    return [BEAT_CODES.get(b.beat_class, "Q") for b in result.beats]


def write_beat_annotations(result: MeasurementResult, out_dir: str | Path) -> Path | None:
    """Write the record-level beat file ``<id>.beats``: one mark per beat at its R peak, whose
    symbol is the beat's class (:data:`BEAT_CODES`); returns its path (None without beats).

    ``wfdb.rdann(str(out_dir / result.id), "beats")`` reads it back.
    """
    n_samples = int(round(result.duration_s * result.fs))
    marks = sorted(
        (int(round(b.r_peak_s * result.fs)), code)
        for b, code in zip(result.beats, beat_codes(result))
        if b.r_peak_s is not None and 0 <= round(b.r_peak_s * result.fs) < n_samples
    )
    if not marks:
        return None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wfdb.wrann(
        result.id,
        BEAT_ANNOTATOR,
        np.array([m[0] for m in marks], dtype=np.int64),
        symbol=[m[1] for m in marks],
        fs=result.fs,
        write_dir=str(out),
    )
    return out / f"{result.id}.{BEAT_ANNOTATOR}"


def write_annotations(result: MeasurementResult, out_dir: str | Path) -> list[Path]:
    """Write one WFDB annotation file per lead; returns the paths written.

    The record name is ``result.id``; leads without any mark get no file. The record-level
    beat file is :func:`write_beat_annotations`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for lead in result.lead_names:
        fid = result.lead_fiducials.get(lead)
        if not fid:
            continue
        n_samples = int(round(result.duration_s * result.fs))
        codes = beat_codes(result)
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
