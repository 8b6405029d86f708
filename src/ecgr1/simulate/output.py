"""Write a simulation: WFDB record, per-lead WFDB annotations (LUDB convention), truth JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ecgr1.errors import InvalidInputError
from ecgr1.simulate.core import Simulation

# 2000 adu/mV with limb leads I and II on even integers: III, aVR, aVL and aVF are then exact
# integers too, so Einthoven/Goldberger relations survive storage to the last bit (1 uV grid
# for I/II, 0.5 uV for the others); 16-bit range is +-16.4 mV.
ADC_GAIN = 2000.0
PEAK_SYMBOL = {"p": "p", "qrs": "N", "t": "t"}


def annotation_extension(lead: str) -> str:
    """LUDB-style extension of a lead's annotation file: lower-case lead name."""
    return lead.lower()


def _digital(sim: Simulation) -> np.ndarray:
    leads = sim.record.leads
    sig = sim.record.signal.astype(np.float64)
    d = np.zeros(sig.shape, np.int64)
    i, ii = leads.index("I"), leads.index("II")
    d[i] = 2 * np.round(sig[i] * ADC_GAIN / 2)
    d[ii] = 2 * np.round(sig[ii] * ADC_GAIN / 2)
    derived = {
        "III": d[ii] - d[i],
        "aVR": -(d[i] + d[ii]) // 2,
        "aVL": d[i] - d[ii] // 2,
        "aVF": d[ii] - d[i] // 2,
    }
    for k, name in enumerate(leads):
        if name in derived:
            d[k] = derived[name]
        elif k not in (i, ii):
            d[k] = np.round(sig[k] * ADC_GAIN)
    return np.clip(d, -32767, 32767)


def _header_comments(sim: Simulation) -> list[str]:
    """Provenance and the pattern's statements as labels, in the conventions ecgr1's readers
    take back (``Dx:``; a LUDB ``<diagnoses>:`` block when a label holds a comma)."""
    out = [f"ecgr1 simulated: pattern={sim.params['pattern']} seed={sim.params['seed']}"]
    labels = [str(x) for x in sim.params.get("labels", [])]
    if labels and not any("," in x for x in labels):
        out.append("Dx: " + ",".join(labels))
    elif labels:
        out += ["<diagnoses>:", *labels]
    return out


def write_simulation(
    sim: Simulation, out_dir: str | Path, name: str | None = None
) -> dict[str, Path]:
    """Write ``<name>.hea/.dat``, ``<name>.<lead>`` annotations and ``<name>.json``.

    Annotations follow LUDB: for every complete wave a triplet ``(`` onset, peak symbol
    (``p``, ``N`` or ``t``) at the lead's own peak, ``)`` offset. A wave that overlaps an
    earlier annotated wave in time (a P hidden in a T wave, say) is left out of the WFDB files,
    as an annotator could not mark it; it stays in the JSON truth.

    Returns the paths written (``header``, ``json``, and one per lead).
    """
    import wfdb

    from ecgr1.io.writers import safe_record_name

    rec = sim.record
    name = name or rec.record_id
    if safe_record_name(name) != name:
        raise InvalidInputError(
            f"record name {name!r} is not WFDB-legal (letters, digits, _ and - only); "
            f"try {safe_record_name(name)!r}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    digital = _digital(sim)
    wfdb.wrsamp(
        name,
        fs=rec.fs,
        units=["mV"] * rec.n_leads,
        sig_name=list(rec.leads),
        d_signal=digital.T.astype(np.int64),
        fmt=["16"] * rec.n_leads,
        adc_gain=[ADC_GAIN] * rec.n_leads,
        baseline=[0] * rec.n_leads,
        comments=_header_comments(sim),
        write_dir=str(out),
    )
    paths: dict[str, Path] = {"header": out / f"{name}.hea"}
    fs = rec.fs
    waves = sorted((w for w in sim.waves if w.complete), key=lambda w: w.onset_s)
    kept, last_end = [], -1
    for w in waves:
        on, off = round(w.onset_s * fs), round(w.offset_s * fs)
        if on <= last_end:
            continue
        kept.append((w, on, off))
        last_end = off
    for lead in rec.leads:
        samples, symbols = [], []
        for w, on, off in kept:
            peak = min(max(round(w.peak_s[lead] * fs), on), off)
            samples += [on, peak, off]
            symbols += ["(", PEAK_SYMBOL[w.kind], ")"]
        if not samples:
            continue
        ext = annotation_extension(lead)
        # wfdb.wrann accepts letters-only extensions but LUDB's are "v1".."v6": write under a
        # temporary letters-only name and rename (the file content does not hold the name).
        tmp = "ecgrsimtmp"
        wfdb.wrann(name, tmp, np.asarray(samples), symbol=symbols, write_dir=str(out), fs=fs)
        target = out / f"{name}.{ext}"
        (out / f"{name}.{tmp}").replace(target)
        paths[lead] = target
    truth = out / f"{name}.json"
    truth.write_text(json.dumps(sim.truth(), indent=1))
    paths["json"] = truth
    return paths
