"""The checks and repairs every reader applies before handing out an :class:`ECGRecord`.

In order: unit conversion to millivolts, lead-name canonicalisation (duplicates renamed,
``-aVR`` turned into ``aVR``), non-finite samples repaired, limb leads derived, flat leads and
implausible amplitudes flagged. Each repair adds one human-readable line to
``record.warnings``; nothing is changed silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError
from ecgr1.io.leads import LIMB_LEADS, STANDARD_LEADS, map_lead_names, numbered_lead
from ecgr1.io.record import ECGRecord

#: Multiply a value in the key's unit by this factor to get millivolts.
UNIT_TO_MV: dict[str, float] = {
    "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0,
    "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3,
    "v": 1e3, "volt": 1e3, "volts": 1e3,
    "nv": 1e-6, "nanovolt": 1e-6, "nanovolts": 1e-6,
}  # fmt: skip

#: Signal-quality limits used for warnings (millivolts). A lead whose peak-to-peak range over
#: the whole record is below ``flat_lead_ptp_mv`` is reported as flat (disconnected or
#: zero-filled); a record whose median lead range exceeds ``implausible_ptp_mv`` is reported as
#: probably in the wrong units. When every lead's range equals the others' to within
#: ``normalised_ptp_rel_spread`` (relative), amplitudes were normalised per lead.
QUALITY_LIMITS: dict[str, float] = {
    "flat_lead_ptp_mv": 0.01,
    "implausible_ptp_mv": 50.0,
    "normalised_ptp_rel_spread": 0.002,
    # Limb leads against Einthoven/Goldberger (III = II - I, aVR = -(I + II)/2, ...): a lead
    # whose waveform matches what I and II imply (correlation >= limb_corr_min) but whose
    # scale is off by more than limb_gain_max (either way) has a wrong gain. Real records:
    # 0.79-1.05 (correlation >= 0.8); amplitude-normalised copies are not checked.
    "limb_corr_min": 0.9,
    "limb_gain_max": 1.5,
    "limb_min_rms_mv": 0.03,  # ... and the implied lead must be this large (rms)
}

NAN_POLICIES = ("interpolate", "zero")

#: Largest magnitude a record stores (float32); larger samples are clipped, with a warning.
FLOAT32_MAX_MV = float(np.finfo(np.float32).max)


def unit_factor(unit: str | None) -> float | None:
    """Factor converting ``unit`` to millivolts, None when the unit is not a voltage we know.

    >>> unit_factor("uV"), unit_factor("mV"), unit_factor("V"), unit_factor("bpm")
    (0.001, 1.0, 1000.0, None)
    """
    if unit is None:
        return 1.0
    key = unit.strip().lower().replace(" ", "")
    if key == "":
        return 1.0
    return UNIT_TO_MV.get(key)


def _runs(mask: np.ndarray) -> int:
    """Number of contiguous True runs in a 1-D boolean array."""
    if not mask.any():
        return 0
    edges = np.diff(mask.astype(np.int8), prepend=0)
    return int((edges == 1).sum())


def repair_nonfinite(
    signal: np.ndarray, leads: Sequence[str], policy: str = "interpolate"
) -> tuple[np.ndarray, list[str]]:
    """Replace NaN/inf samples lead by lead, returning the repaired copy and warnings (a signal
    with every sample finite comes back as it is: nothing to repair, no copy).

    ``policy="interpolate"`` fills each run linearly between its finite neighbours (a run at an
    edge takes the nearest finite value); a lead with no finite sample becomes zero.
    ``policy="zero"`` writes 0 mV (the model-input convention of the interchange spec).

    >>> sig, w = repair_nonfinite(np.array([[0.0, np.nan, 2.0]]), ["I"])
    >>> sig.tolist(), len(w)
    ([[0.0, 1.0, 2.0]], 1)
    """
    if policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {policy!r}")
    if np.isfinite(signal).all():
        return signal, []
    sig = np.array(signal, dtype=np.float64, copy=True)
    warnings: list[str] = []
    for k, name in enumerate(leads):
        bad = ~np.isfinite(sig[k])
        n_bad = int(bad.sum())
        if not n_bad:
            continue
        runs = _runs(bad)
        if policy == "zero" or n_bad == bad.size:
            sig[k, bad] = 0.0
            how = "set to 0 mV"
        else:
            idx = np.flatnonzero(~bad)
            sig[k, bad] = np.interp(np.flatnonzero(bad), idx, sig[k, idx])
            how = "linearly interpolated"
        warnings.append(f"lead {name}: {n_bad} non-finite (NaN/inf) samples in {runs} run(s) {how}")
    return sig, warnings


def clip_to_float32(signal: np.ndarray, leads: Sequence[str]) -> list[str]:
    """Clip, in place, samples beyond the float32 range a record is stored in (they would
    become inf silently), returning one warning per lead clipped.

    >>> sig = np.array([[0.0, 1e39]])
    >>> clip_to_float32(sig, ["I"])
    ['lead I: 1 sample(s) beyond the float32 range (±3.4e+38 mV) clipped']
    """
    # Two reductions settle the usual case without a whole-record temporary (a NaN fails the
    # comparisons and goes on to the sample-by-sample check, where it counts as in range).
    if signal.size == 0 or (signal.max() <= FLOAT32_MAX_MV and signal.min() >= -FLOAT32_MAX_MV):
        return []
    big = np.abs(signal) > FLOAT32_MAX_MV
    if not big.any():
        return []
    warnings = [
        f"lead {leads[k]}: {int(big[k].sum())} sample(s) beyond the float32 range "
        f"(±{FLOAT32_MAX_MV:.2g} mV) clipped"
        for k in np.flatnonzero(big.any(axis=1))
    ]
    np.clip(signal, -FLOAT32_MAX_MV, FLOAT32_MAX_MV, out=signal)
    return warnings


def derive_limb_leads(
    signal: np.ndarray, leads: list[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """Add missing limb leads computed from two of I, II, III.

    Einthoven: II = I + III. Goldberger: aVR = -(I + II)/2, aVL = I - II/2, aVF = II - I/2.
    Returns ``(signal, leads, derived)``; standard leads come out in standard order, then any
    other leads in their original order. Nothing changes when fewer than two of I/II/III exist
    or when all six limb leads are present.

    >>> sig, leads, derived = derive_limb_leads(np.array([[1.0], [2.0]]), ["I", "II"])
    >>> leads, sig[:, 0].tolist()
    (['I', 'II', 'III', 'aVR', 'aVL', 'aVF'], [1.0, 2.0, 1.0, -1.5, 0.0, 1.5])
    """
    rows = {name: signal[k] for k, name in enumerate(leads)}
    limb = [n for n in ("I", "II", "III") if n in rows]
    wanted = LIMB_LEADS
    if len(limb) < 2 or all(n in rows for n in wanted):
        return signal, leads, []
    derived: list[str] = []
    if "I" not in rows:
        rows["I"] = rows["II"] - rows["III"]
        derived.append("I")
    if "II" not in rows:
        rows["II"] = rows["I"] + rows["III"]
        derived.append("II")
    lead_i, lead_ii = rows["I"], rows["II"]
    formulas = {
        "III": lambda: lead_ii - lead_i,
        "aVR": lambda: -(lead_i + lead_ii) / 2.0,
        "aVL": lambda: lead_i - lead_ii / 2.0,
        "aVF": lambda: lead_ii - lead_i / 2.0,
    }
    for name, formula in formulas.items():
        if name not in rows:
            rows[name] = formula()
            derived.append(name)
    order = [n for n in STANDARD_LEADS if n in rows] + [n for n in leads if n not in STANDARD_LEADS]
    return np.stack([rows[n] for n in order]), order, derived


def normalised_amplitude_warning(
    signal: np.ndarray, leads: Sequence[str], ptp: np.ndarray | None = None
) -> str | None:
    """The warning for amplitudes normalised per lead in the source, or None.

    Normalised copies give every lead the same peak-to-peak range (to within
    ``normalised_ptp_rel_spread``). One damaged lead (a spike, a step, a flat lead) must not
    hide it: when at least three leads and 75% of them span the same range, the record is
    still flagged, and the leads that do not are named.

    >>> sig = np.vstack([np.linspace(0, 1, 50)] * 4)
    >>> sig[3, 10] += 2.0
    >>> normalised_amplitude_warning(sig, ["I", "II", "III", "V1"])[:48]
    '3 of 4 leads span the same 1.000 mV peak-to-peak'

    ``ptp`` is ``np.ptp(signal, axis=1)`` when the caller has it already.
    """
    if ptp is None:
        ptp = np.ptp(signal, axis=1) if signal.size else np.zeros(0)
    if len(ptp) < 3:
        return None
    live = ptp > QUALITY_LIMITS["flat_lead_ptp_mv"]
    if not live.any():
        return None
    tol = QUALITY_LIMITS["normalised_ptp_rel_spread"]
    tail = "amplitudes appear normalised per lead, so absolute voltages are unreliable"
    if live.all() and float(np.ptp(ptp)) < tol * float(np.median(ptp)):
        return f"every lead spans the same {float(np.median(ptp)):.3f} mV peak-to-peak: {tail}"
    # The common range, if any, is the median of the leads that share it (>= 75% of them).
    ref = float(np.median(ptp[live]))
    same = live & (np.abs(ptp - ref) <= 0.5 * tol * ref)
    if same.sum() < 3 or same.sum() < 0.75 * len(ptp):
        return None
    ref = float(np.median(ptp[same]))
    if float(np.ptp(ptp[same])) >= tol * ref:
        return None
    others = ", ".join(str(leads[k]) for k in np.flatnonzero(~same))
    return (
        f"{int(same.sum())} of {len(ptp)} leads span the same {ref:.3f} mV peak-to-peak "
        f"(not: {others}, damaged or flat?): {tail}"
    )


def _scale_against(rec: np.ndarray, pred: np.ndarray) -> tuple[float, float] | None:
    """(least-squares scale, correlation) of ``rec`` on ``pred``; None when ``pred`` is too
    small to judge (rms below ``limb_min_rms_mv``) or either is constant."""
    pp, rr = float(pred @ pred), float(rec @ rec)
    if pp <= 0 or rr <= 0 or np.sqrt(pp / pred.size) < QUALITY_LIMITS["limb_min_rms_mv"]:
        return None
    return float(rec @ pred) / pp, float(rec @ pred) / np.sqrt(pp * rr)


def limb_gain_warning(signal: np.ndarray, leads: Sequence[str]) -> str | None:
    """A warning when a recorded limb lead disagrees in scale with what the others imply.

    Einthoven (II = I + III) gives each of I, II and III from the other two; Goldberger gives
    aVR, aVL and aVF from I and II (checked when I and II themselves agree). A lead of the
    shape implied (correlation at least ``limb_corr_min``) at a scale beyond
    ``limb_gain_max`` either way was stored or declared with a wrong ADC gain. (A wrong lead
    distorts the values implied for the others, which then no longer match in shape.)

    >>> t = np.linspace(0, 1, 500)
    >>> i, ii = np.sin(2 * np.pi * 3 * t), np.cos(2 * np.pi * 2 * t)
    >>> sig = np.vstack([i, ii, 2.0 * (ii - i)])
    >>> limb_gain_warning(sig, ["I", "II", "III"])[:62]
    'limb lead scale disagrees with Einthoven/Goldberger: III 2.00x'
    """
    pos = {name: k for k, name in enumerate(leads)}
    if "I" not in pos or "II" not in pos:
        return None
    x = np.asarray(signal, np.float64)
    lead = {n: x[k] - np.median(x[k]) for n, k in pos.items() if n in LIMB_LEADS}
    lim = QUALITY_LIMITS

    def off(name: str, pred: np.ndarray) -> str | None:
        found = _scale_against(lead[name], pred)
        if found is None:
            return None
        scale, corr = found
        wrong = not (1 / lim["limb_gain_max"] <= scale <= lim["limb_gain_max"])
        return f"{name} {scale:.2f}x" if corr >= lim["limb_corr_min"] and wrong else None

    one, two = lead["I"], lead["II"]
    bad: list[str | None] = []
    if "III" in lead:
        # Einthoven: the one lead whose rescaling best restores II = I + III is the culprit.
        three = lead["III"]
        implied = {"I": two - three, "II": one + three, "III": two - one}
        rest: dict[str, float] = {}
        for name, pred in implied.items():
            found = _scale_against(lead[name], pred)
            if found and found[1] >= lim["limb_corr_min"]:
                fixed = {**lead, name: lead[name] / found[0]}
                rest[name] = float(np.std(fixed["II"] - fixed["I"] - fixed["III"]))
        if rest:
            best = min(rest, key=rest.__getitem__)
            bad = [off(best, implied[best])]
    if not any(b and b.split()[0] in ("I", "II") for b in bad):  # else aVx implied wrongly
        implied = {"aVR": -(one + two) / 2, "aVL": one - two / 2, "aVF": two - one / 2}
        bad += [off(n, p) for n, p in implied.items() if n in lead]
    found = [b for b in bad if b]
    if not found:
        return None
    return (
        f"limb lead scale disagrees with Einthoven/Goldberger: {', '.join(found)} what the "
        "other limb leads imply; an ADC gain in the source is probably wrong, so limb-lead "
        "voltages are unreliable"
    )


def finalize_record(
    signal: np.ndarray,
    fs: float,
    leads: Sequence[str],
    *,
    units: str | Sequence[str | None] | None = "mV",
    record_id: str = "record",
    metadata: dict[str, Any] | None = None,
    source_path: str | None = None,
    warnings: Sequence[str] = (),
    nan_policy: str = "interpolate",
    derive_leads: bool = True,
    lead_map: str | None = None,
) -> ECGRecord:
    """Turn raw reader output into a checked :class:`ECGRecord` in millivolts.

    Parameters
    ----------
    signal : array (n_leads, n_samples) in ``units``.
    fs : sampling rate in Hz.
    leads : lead names as found in the source (canonicalised here).
    units : one unit for all leads or one per lead (``mV``, ``uV``/``µV``, ``V``, ``nV``).
    nan_policy : ``"interpolate"`` (default) or ``"zero"``; see :func:`repair_nonfinite`.
    derive_leads : derive missing III/aVR/aVL/aVF (and I or II) from the other limb leads.
    lead_map : ``"standard-order"`` reads ``lead_1`` ... ``lead_12`` as I ... V6 (see
        :func:`ecgr1.io.leads.map_lead_names`); None keeps them, with a warning.

    Example
    -------
    >>> rec = finalize_record(np.array([[1000.0, 0.0], [0.0, 1000.0]]), 500, ["I", "II"], units="uV")
    >>> rec.leads, rec.lead("aVF").tolist()
    (['I', 'II', 'III', 'aVR', 'aVL', 'aVF'], [-0.5, 1.0])
    """
    sig = np.array(signal, dtype=np.float64, copy=True)
    if sig.ndim == 1:
        sig = sig[None, :]
    if sig.ndim != 2:
        raise InvalidInputError(
            f"signal must be 2-D (leads x samples), got {sig.shape}", source_path
        )
    if sig.shape[1] == 0:
        raise InvalidInputError("record holds no samples", source_path)
    if len(leads) != sig.shape[0]:
        raise InvalidInputError(f"{len(leads)} lead names for {sig.shape[0]} signals", source_path)
    warns = list(warnings)
    meta = dict(metadata or {})

    # Units -> mV, lead by lead (WFDB allows a unit per signal).
    if units is None or isinstance(units, str) or not isinstance(units, (Sequence, np.ndarray)):
        unit_list = [units] * sig.shape[0]
    else:
        unit_list = list(units)
    if len(unit_list) != sig.shape[0]:
        raise InvalidInputError(f"{len(unit_list)} units for {sig.shape[0]} signals", source_path)
    bad_units = [u for u in unit_list if u is not None and not isinstance(u, str)]
    if bad_units:
        raise InvalidInputError(
            f"units must be a unit name such as 'mV' or 'uV' (one, or one per lead), "
            f"got {bad_units[0]!r}",
            source_path,
        )
    converted: set[str] = set()
    for k, unit in enumerate(unit_list):
        factor = unit_factor(unit)
        if factor is None:
            warns.append(
                f"lead {leads[k]}: unit {unit!r} is not a voltage unit ecgr1 knows; values kept as is"
            )
        elif factor != 1.0:
            with np.errstate(over="ignore"):
                sig[k] *= factor
            converted.add(str(unit))
    if converted:
        meta.setdefault("source_units", sorted(converted))

    # Names: canonical spelling (assumed aliases and numbered names warned), inverted aVR
    # restored, duplicates made unique.
    mapped, name_warns = map_lead_names(["" if x is None else str(x) for x in leads], lead_map)
    warns.extend(name_warns)
    names: list[str] = []
    for k, name in enumerate(mapped):
        name = name or f"lead{k + 1}"
        if name == "-aVR" and "aVR" not in mapped:
            sig[k] = -sig[k]
            warns.append("lead -aVR inverted and stored as aVR")
            name = "aVR"
        if name in names:
            new = f"{name}#{names.count(name) + 1}"
            while new in names:
                new += "'"
            warns.append(f"duplicate lead name {name!r}; second one renamed {new!r}")
            name = new
        names.append(name)
    # Numbered names kept as given already have their own warning (map_lead_names).
    unknown = [n for n in names if n not in STANDARD_LEADS and numbered_lead(n) is None]
    if unknown:
        warns.append(f"non-standard lead name(s) kept as given: {', '.join(unknown)}")

    sig, nan_warns = repair_nonfinite(sig, names, nan_policy)
    warns.extend(nan_warns)
    warns.extend(clip_to_float32(sig, names))

    # Some distributed copies rescale every lead to the same range (each lead's gain chosen so
    # that its peak-to-peak is exactly 1 mV, say). Timing survives, absolute voltage does not:
    # say so, so that voltage criteria are not applied to meaningless millivolts.
    # Each lead's range, read by the normalisation check and (unless leads are derived below,
    # which adds rows) by the flat and implausible-range checks.
    ptp = np.ptp(sig, axis=1)
    normalised = normalised_amplitude_warning(sig, names, ptp)
    if normalised:
        meta["amplitude_normalised"] = True
        warns.append(normalised)
    else:
        # Recorded limb leads are I and II plus arithmetic: a lead at another scale was stored
        # (or declared) with a wrong gain.
        gain = limb_gain_warning(sig, names)
        if gain:
            warns.append(gain)

    if derive_leads:
        sig, names, derived = derive_limb_leads(sig, names)
        if derived:
            base = [n for n in ("I", "II", "III") if n not in derived]
            warns.append(
                f"derived lead(s) {', '.join(derived)} from {' and '.join(base)} "
                "(Einthoven/Goldberger)"
            )
            meta["derived_leads"] = derived
            ptp = np.ptp(sig, axis=1)  # the derived rows too

    for name, value in zip(names, ptp):
        if value < QUALITY_LIMITS["flat_lead_ptp_mv"]:
            warns.append(f"lead {name} is flat (peak-to-peak {value:.4f} mV)")
    if len(ptp) and float(np.median(ptp)) > QUALITY_LIMITS["implausible_ptp_mv"]:
        warns.append(
            f"median lead range {float(np.median(ptp)):.1f} mV is implausible for an ECG; "
            "check the units (microvolts stored as millivolts?)"
        )
    warns.extend(clip_to_float32(sig, names))  # derived leads can add up beyond it
    return ECGRecord(
        signal=sig.astype(np.float32),
        fs=float(fs),
        leads=names,
        record_id=str(record_id),
        metadata=meta,
        source_path=source_path,
        warnings=warns,
    )
