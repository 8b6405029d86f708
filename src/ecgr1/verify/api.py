"""``ecgr1.verify(data, text)``: check every claim of an ECG text against the record's signal.

``data`` is what the text is about: a record (path, :class:`~ecgr1.io.ECGRecord`, or an array
with ``fs``), its measurements (:class:`~ecgr1.measure.MeasurementResult` or the dict that
``ecgr1 measure --json-dir`` writes), a protocol :class:`~ecgr1.protocol.types.Interpretation`
or a :class:`~ecgr1.report.record.RecordInterpretation`; ``None`` when there is no ECG (every
claim is then "not checkable").

Example
-------
>>> import ecgr1
>>> record = ecgr1.simulate("normal", seed=0).record
>>> result = ecgr1.verify(record, "Sinus rhythm at 72 bpm. QRS duration 160 ms.")
>>> [(v.claim.concept, v.verdict) for v in result.verdicts]
[('sinus_rhythm', 'supported'), ('heart_rate_bpm', 'supported'), ('qrs_duration_ms', 'contradicted')]
"""

from __future__ import annotations

from typing import Any

from ecgr1.errors import ECGR1Error, MeasurementError
from ecgr1.io import as_record
from ecgr1.measure import engine as measure_engine
from ecgr1.measure.result import MeasurementResult
from ecgr1.protocol.engine import interpret
from ecgr1.protocol.table import CriteriaTable, load_table
from ecgr1.protocol.types import Interpretation
from ecgr1.report.record import RecordInterpretation
from ecgr1.verify.check import check_claims
from ecgr1.verify.claims import REASON_NO_ECG, ClaimVerdict
from ecgr1.verify.extract import extract_claims
from ecgr1.verify.result import VerificationResult
from ecgr1.verify.tolerances import ToleranceTable, load_tolerances

MAX_TEXT_CHARS = 200_000  # longer texts are refused: no ECG interpretation is that long


def interpretation_for(
    data: Any,
    *,
    fs: float | None = None,
    age: float | None = None,
    sex: str | None = None,
    table: CriteriaTable | None = None,
) -> tuple[Interpretation | None, list[str]]:
    """The protocol interpretation of ``data`` (measuring it when needed) and notes.

    None (with a note saying why) when there is no ECG or the record cannot be measured; a
    record that cannot be read raises :class:`~ecgr1.errors.ECGR1Error` or ``OSError``.
    Callers that verify many texts against one record compute this once (the consistency
    reward caches it per ECG).
    """
    table = table or load_table()
    if data is None:
        return None, [REASON_NO_ECG]
    if isinstance(data, RecordInterpretation):
        return data.interpretation, []
    if isinstance(data, Interpretation):
        return data, []
    if isinstance(data, dict):
        try:
            data = MeasurementResult.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ECGR1Error(f"not a measurement result ({type(exc).__name__}: {exc})") from exc
    if isinstance(data, MeasurementResult):
        return interpret(data, table=table, age=age, sex=sex), []
    record = as_record(data, fs=fs)
    try:
        measured = measure_engine.measure(record, age=age, sex=sex, config=table.measure_config())
    except MeasurementError as exc:
        return None, [f"the record could not be measured ({exc.message})"]
    measure_engine.carry_record_notes(measured, record)
    return interpret(measured, table=table, age=age, sex=sex), []


def verify(
    data: Any,
    text: str,
    *,
    fs: float | None = None,
    age: float | None = None,
    sex: str | None = None,
    table: CriteriaTable | None = None,
    tolerances: ToleranceTable | None = None,
) -> VerificationResult:
    """Find the claims of ``text`` and check each against ``data``'s measurements.

    Parameters
    ----------
    data : record, path, array (with ``fs``), MeasurementResult, dict, Interpretation,
        RecordInterpretation, or None (no ECG).
    text : the interpretation to check (any English ECG text; tags such as ``<think>`` are
        kept and character offsets refer to ``text`` as given).
    table, tolerances : the criteria table and tolerance table (default: the packaged ones).

    Raises
    ------
    ecgr1.errors.ECGR1Error
        ``text`` is not a string or is longer than :data:`MAX_TEXT_CHARS`, or ``data`` cannot be
        read. A record that cannot be *measured* is not an error: every claim is then
        "not checkable" and ``notes`` says why.
    """
    _check_text(text)
    table = table or load_table()
    interp, notes = interpretation_for(data, fs=fs, age=age, sex=sex, table=table)
    result = verify_interpretation(interp, text, notes=notes, table=table, tolerances=tolerances)
    if result.id is None:
        result.id = getattr(data, "record_id", None)
    return result


def _check_text(text: Any) -> None:
    if not isinstance(text, str):
        raise ECGR1Error(f"the text to verify must be a string, not {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ECGR1Error(f"the text is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}")


def verify_interpretation(
    interpretation: Interpretation | None,
    text: str,
    *,
    notes: list[str] | None = None,
    table: CriteriaTable | None = None,
    tolerances: ToleranceTable | None = None,
) -> VerificationResult:
    """:func:`verify` for an interpretation already computed (rewards, benchmarks, batches):
    call :func:`interpretation_for` once per record, then this for every text. ``notes`` are
    the ones :func:`interpretation_for` returned; without an interpretation the first of them
    is every claim's reason (no ECG, or the record could not be measured)."""
    _check_text(text)
    notes = list(notes or ([] if interpretation is not None else [REASON_NO_ECG]))
    claims = extract_claims(text)
    unavailable = REASON_NO_ECG
    if interpretation is None and notes and notes[0] != REASON_NO_ECG:
        unavailable = f"not measured: {notes[0]}"
    verdicts: list[ClaimVerdict] = check_claims(
        claims,
        interpretation,
        table=table or load_table(),
        tolerances=tolerances or load_tolerances(),
        unavailable_reason=unavailable,
    )
    if not claims:
        notes.append("no checkable ECG claims were found in the text")
    record_id = interpretation.id if interpretation is not None else None
    quality = interpretation.measurements.quality.overall if interpretation is not None else None
    return VerificationResult(record_id, text, verdicts, notes=notes, quality=quality)
