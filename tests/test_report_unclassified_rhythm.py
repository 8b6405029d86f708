"""A record whose rhythm meets no rhythm criterion says so in the report, with the facts.

The case is a simulated complete RBBB at 120/min whose P waves are taken out (each P wave's
span replaced by the straight line between its ends): a regular wide-QRS rhythm without P
waves is neither supraventricular tachycardia (narrow QRS), junctional rhythm (not at 120/min)
nor ventricular tachycardia (QRS under 140 ms), so no rhythm statement holds; the same record
with its P waves is sinus tachycardia.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ecgr1.io import as_record
from ecgr1.protocol import interpret
from ecgr1.report import build_report
from ecgr1.simulate import simulate
from ecgr1.verify import verify

SENTENCE = "No rhythm criterion is met, so the rhythm is unclassified"


def _without_p_waves(sim):
    x = sim.record.signal.copy()
    fs = sim.record.fs
    for wave in sim.waves:
        if wave.kind != "p":
            continue
        a = max(int(round(wave.onset_s * fs)) - 2, 0)
        b = min(int(round(wave.offset_s * fs)) + 2, x.shape[1] - 1)
        x[:, a : b + 1] = np.linspace(x[:, a], x[:, b], b - a + 1, axis=1)
    return dataclasses.replace(sim.record, signal=x)


@pytest.fixture(scope="module")
def wide_tachycardia():
    sim = simulate("rbbb", hr=120, qrs_ms=130, seed=0)
    return sim.record, _without_p_waves(sim)


def test_no_rhythm_statement_is_written_as_an_unclassified_rhythm(wide_tachycardia) -> None:
    _, record = wide_tachycardia
    interp = interpret(record)
    assert not [s.id for s in interp.statements if s.category == "rhythm"]
    report = build_report(interp)
    step1 = report.steps[0].paragraph
    assert SENTENCE in step1
    # the facts that decide a rhythm, each from the measurement
    assert "the RR pattern is regular" in step1
    assert "the QRS is wide (" in step1
    assert "no P waves are identified (no consistent P wave before the QRS complexes)" in step1
    assert "the baseline shows no atrial activity" in step1
    # a regular wide-QRS rhythm at 120/min without P waves: its origin is left open
    assert "wide-QRS tachycardia whose origin, ventricular or supraventricular" in step1
    assert "The rhythm is unclassified" in report.narrative
    assert "rhythm is unclassified" in report.steps[0].evidence_phrases


def test_a_stated_rhythm_gets_no_such_sentence(wide_tachycardia) -> None:
    record, _ = wide_tachycardia
    interp = interpret(record)
    assert interp.has("sinus_tachycardia")
    report = build_report(interp)
    assert "unclassified" not in report.text


def test_premature_complexes_alone_do_not_name_the_rhythm() -> None:
    # PVCs are reported in step 1 with the rhythm; with the P waves gone they are the only
    # rhythm-category statement left, and the rhythm is still unclassified.
    sim = simulate("pvc", hr=120, seed=0)
    interp = interpret(_without_p_waves(sim))
    assert interp.has("premature_ventricular_contractions")
    rhythm = [s.id for s in interp.statements if s.category == "rhythm"]
    assert rhythm == ["premature_ventricular_contractions"], rhythm
    step1 = build_report(interp).steps[0].paragraph
    assert SENTENCE in step1
    assert "the QRS is narrow (" in step1
    assert "wide-QRS tachycardia" not in step1  # narrow dominant QRS at 120/min


def test_the_verifier_finds_the_sentence_consistent_with_the_signal(wide_tachycardia) -> None:
    _, record = wide_tachycardia
    text = build_report(interpret(record)).text
    result = verify(record, text)
    start = text.index(SENTENCE)
    end = text.index(".", start)
    in_sentence = [v for v in result.verdicts if start <= v.claim.start < end]
    assert in_sentence, "the sentence's facts are checkable claims"
    verdicts = [(v.claim.text, v.verdict) for v in in_sentence]
    assert all(v.verdict == "supported" for v in in_sentence), verdicts
    assert not result.contradicted()


def test_rhythms_the_input_cannot_assess_are_not_called_unmet() -> None:
    # Lead V1 alone: the P waves are there, but sinus rhythm needs lead II or the P axis, and
    # junctional rhythm or SVT the global intervals. Those statements are not assessable, so
    # the report must not say that no rhythm criterion is met.
    sim = simulate("normal", seed=0)
    k = sim.record.leads.index("V1")
    record = as_record(sim.record.signal[k : k + 1], fs=sim.record.fs, leads=["V1"])
    interp = interpret(record)
    assert not [s.id for s in interp.statements if s.category == "rhythm"]
    report = build_report(interp)
    step1 = report.steps[0].paragraph
    assert SENTENCE not in step1
    assert "No rhythm criterion that this input can assess is met" in step1
    assert "P waves are present" in step1
    start = step1.index("Not assessable from this input: ")
    named = step1[start : step1.index(".", start)]
    assert "sinus rhythm" in named and "junctional rhythm" in named
    assert "meets no rhythm criterion that this input can assess" in report.narrative
