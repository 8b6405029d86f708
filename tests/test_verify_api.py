"""``ecgr1.verify`` end to end (extraction + checking): paraphrases agree, bad input gives a
clear result instead of an error, and every kind of input the API accepts is checked alike."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

import ecgr1
from ecgr1.errors import ECGR1Error


@cache
def case(pattern: str):
    record = ecgr1.simulate(pattern, seed=0).record
    return record, ecgr1.interpret_record(record)


def verdicts(pattern: str, text: str) -> list[tuple[str, str]]:
    _, out = case(pattern)
    return [(v.claim.concept, v.verdict) for v in ecgr1.verify(out, text).verdicts]


PARAPHRASES = {
    # (pattern, expected (concept, verdict)): five or more ways of writing one finding
    ("normal", ("qrs_duration_ms", "contradicted")): [
        "QRS duration 160 ms.",
        "QRS 0.16 s",
        "QRS width of 160 msec",
        "The QRS complex measures 160 milliseconds.",
        "QRSd: 160ms",
        "QRS interval is 0.160 sec",
    ],
    ("normal", ("heart_rate_bpm", "contradicted")): [
        "Heart rate 130 bpm.",
        "HR 130/min",
        "Ventricular rate of 130 beats per minute.",
        "rate 130 b/min",
        "Sinus rhythm at 130 bpm.",
    ],
    ("av_block_1", ("first_degree_av_block", "supported")): [
        "First-degree AV block.",
        "1st degree A-V block",
        "first degree atrioventricular block",
        "1° AV block",
        "AV block, type I",
    ],
    ("inferior_stemi", ("st_elevation", "supported")): [
        "ST elevation in II, III and aVF.",
        "ST-segment elevation in the inferior leads",
        "STE II, III, aVF",
        "inferior ST elevation",
        "ST segment elevation in leads II, III, aVF",
    ],
    ("lbbb", ("lvh", "not_checkable")): [
        "Left ventricular hypertrophy.",
        "LVH",
        "left-ventricular hypertrophy",
        "hypertrophy of the left ventricle",
        "Left ventricular enlargement.",
    ],
    ("inferior_stemi", ("ischemia", "supported")): [
        "Myocardial ischaemia.",
        "myocardial ischemia",
        "ischaemic changes",
        "ischemic changes",
        "inferior ischaemia",
    ],
}


@pytest.mark.parametrize(("key", "texts"), list(PARAPHRASES.items()), ids=lambda x: str(x)[:40])
def test_paraphrases_of_one_finding_get_the_same_verdict(key, texts):
    pattern, expected = key
    for text in texts:
        got = [v for v in verdicts(pattern, text) if v[0] == expected[0]]
        assert got == [expected], (text, verdicts(pattern, text))


def test_inputs_the_api_accepts_are_checked_alike(tmp_path):
    record, out = case("rbbb")
    text = "Complete right bundle branch block with QRS 90 ms and PR 164 ms."
    expected = [(v.claim.concept, v.verdict) for v in ecgr1.verify(out, text).verdicts]
    assert ("complete_rbbb", "supported") in expected
    assert ("qrs_duration_ms", "contradicted") in expected
    measured = out.measurements
    for data in (record, measured, measured.to_dict(), out.interpretation):
        got = [(v.claim.concept, v.verdict) for v in ecgr1.verify(data, text).verdicts]
        assert got == expected, type(data).__name__
    arr = ecgr1.verify(record.signal, text, fs=record.fs)
    assert [(v.claim.concept, v.verdict) for v in arr.verdicts] == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "The patient feels well today.",
        "Sinusrhythmus, Lagetyp normal, sonst unauffällig.",
        "正常心电图",
    ],
)
def test_texts_without_ecg_claims_give_an_empty_result_with_a_note(text):
    _, out = case("normal")
    result = ecgr1.verify(out, text)
    assert result.verdicts == []
    assert result.summary()["hallucination_rate"] is None
    assert any("no checkable ECG claims" in n for n in result.notes)


def test_an_unmeasurable_record_makes_every_claim_not_checkable_with_the_reason():
    result = ecgr1.verify(np.zeros((5000, 12)), "Sinus rhythm, QRS 90 ms.", fs=500)
    assert result.verdicts and {v.verdict for v in result.verdicts} == {"not_checkable"}
    assert all("could not be measured" in v.reason for v in result.verdicts)
    assert any("could not be measured" in n for n in result.notes)


def test_no_ecg_makes_every_claim_not_checkable():
    result = ecgr1.verify(None, "Atrial fibrillation at 110 bpm.")
    assert [v.verdict for v in result.verdicts] == ["not_checkable"] * 2
    assert all(v.reason.startswith("no ECG") for v in result.verdicts)


def test_bad_input_raises_one_clear_error(tmp_path):
    with pytest.raises(ECGR1Error, match="string"):
        ecgr1.verify(None, b"QRS 90 ms")
    with pytest.raises(ECGR1Error, match="limit"):
        ecgr1.verify(None, "QRS 90 ms. " * 50_000)
    with pytest.raises(ECGR1Error, match="measurement result"):
        ecgr1.verify({"id": "x"}, "QRS 90 ms")
    with pytest.raises((ECGR1Error, OSError)):
        ecgr1.verify(tmp_path / "missing.hea", "QRS 90 ms")


def test_spans_point_into_the_text_as_given():
    _, out = case("normal")
    text = "<think>\n**Step 2: Conduction**\nPR interval 300 ms.\n</think>\n<answer>x</answer>"
    (v,) = ecgr1.verify(out, text).verdicts
    assert text[v.claim.start : v.claim.end] == v.claim.text == "PR interval 300 ms"
    assert v.verdict == "contradicted" and v.to_dict()["measured"] == pytest.approx(164, abs=8)


def test_a_file_with_leads_rescaled_per_lead_has_uncalibrated_voltages(tmp_path):
    from ecgr1.io.writers import write_wfdb
    from ecgr1.pipeline import measure_record

    record = ecgr1.simulate("lvh", seed=0).record
    signal = np.array(record.signal, dtype=float)
    axis = 1 if signal.shape[1] > signal.shape[0] else 0  # the samples axis
    span = signal.max(axis=axis, keepdims=True) - signal.min(axis=axis, keepdims=True)
    record.signal = signal / span  # every lead 1 mV peak to peak, as LUDB stores them
    write_wfdb(record, tmp_path, "rescaled")
    path = tmp_path / "rescaled.hea"
    measured, _ = measure_record(ecgr1.read_record(path))
    assert measured.quality.amplitude_normalised
    assert any("normalised" in w for w in measured.warnings)
    (v,) = ecgr1.verify(path, "Left ventricular hypertrophy.").verdicts
    assert v.verdict == "not_checkable" and v.reason.startswith("amplitudes not calibrated")
