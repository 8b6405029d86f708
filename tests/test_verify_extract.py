"""Claim extractor of ``ecgr1 verify``: spans, units, paraphrases, negation/hedge scope, leads,
and (on real records) that no threshold or reference range of the protocol's reports leaks in."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgr1.protocol.table import load_table
from ecgr1.verify.extract import extract_claims


def _one(text: str, concept: str):
    found = [c for c in extract_claims(text) if c.concept == concept]
    assert len(found) == 1, (text, [(c.concept, c.text) for c in extract_claims(text)])
    return found[0]


def _tuple(c) -> tuple:
    return (c.concept, c.value, c.upper, c.comparator, c.leads, c.negated)


# --------------------------------------------------------------------------- spans and contract

SPAN_TEXTS = [
    "<think>Sinus rhythm at 72 bpm. PR 160 ms.</think>\n<answer>sinus rhythm</answer>",
    "QT/QTc 458/409 ms. T waves +0.12 mV in II, -0.10 mV in III and -0.06 mV in aVF.",
    "Atrial fibrillation (AF) with rapid ventricular response; no ST elevation or depression.",
    "Sinus rhythm. Left anterior fascicular block. Otherwise normal ECG.",
]


@pytest.mark.parametrize("text", SPAN_TEXTS)
def test_every_span_is_the_source_slice_and_claims_are_sorted(text: str) -> None:
    claims = extract_claims(text)
    assert claims
    assert all(c.text == text[c.start : c.end] for c in claims)
    assert [c.start for c in claims] == sorted(c.start for c in claims)


def test_empty_foreign_and_claimless_text_give_nothing() -> None:
    assert extract_claims("") == []
    assert extract_claims("   \n") == []
    assert extract_claims("sinusrhythmus lagetyp normal normales ekg unbestätigter bericht") == []
    assert (
        extract_claims("Sure, please provide the ECG report that you would like translated.") == []
    )


def test_non_str_raises_type_error_and_odd_str_never_raises() -> None:
    with pytest.raises(TypeError):
        extract_claims(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        extract_claims(b"sinus rhythm")  # type: ignore[arg-type]
    odd_texts = ["(((", "QRS", "in V", "V1-", "1e999 ms", "\x00\uffff", "PR " * 500, "~~~ ≥≥ °°",
                 "QRS 1e308 ms", "<think><think></answer>", "No " * 2000 + "LBBB"]  # fmt: skip
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an internal failure warns: it must not happen here
        for odd in odd_texts:
            assert isinstance(extract_claims(odd), list)


def test_an_internal_failure_warns_and_reads_nothing(monkeypatch) -> None:
    import ecgr1.verify.extract as ex

    def broken(text):
        raise KeyError("lexicon")

    monkeypatch.setattr(ex, "_extract", broken)
    with pytest.warns(RuntimeWarning, match="claim extraction failed"):
        assert ex.extract_claims("QRS 120 ms") == []


# --------------------------------------------------------------------------- numeric claims


@pytest.mark.parametrize(
    ("text", "concept", "value"),
    [
        ("QRS duration 0.12 s", "qrs_duration_ms", 120.0),
        ("QRS width 120 msec", "qrs_duration_ms", 120.0),
        ("PR interval 0.16 seconds", "pr_interval_ms", 160.0),
        ("ventricular rate 72 /min", "heart_rate_bpm", 72.0),
        ("heart rate 72 beats per minute", "heart_rate_bpm", 72.0),
        ("QRS axis -45 degrees", "qrs_axis_deg", -45.0),
        ("frontal QRS axis 16°", "qrs_axis_deg", 16.0),
        ("ST depression of 1 mm in V5", "st_deviation_mv", -0.1),
        ("ST elevation 0.2 mV in V2", "st_deviation_mv", 0.2),
        ("ST deviation at the J point is -0.07 mV in V1", "st_deviation_mv", -0.07),
        ("R wave amplitude 1500 µV in V5", "r_amplitude_mv", 1.5),
        ("S wave depth 25 mm in V1", "s_amplitude_mv", 2.5),
        ("Sokolow-Lyon voltage 3.61 mV", "sokolow_lyon_mv", 3.61),
        ("mean RR 1321 ms", "rr_mean_ms", 1321.0),
    ],
)
def test_units_are_converted_to_canonical(text: str, concept: str, value: float) -> None:
    assert _one(text, concept).value == pytest.approx(value)


def test_qtc_formula_is_the_qualifier() -> None:
    assert _one("QTc (Bazett) 440 ms", "qtc_ms").qualifier == "bazett"
    assert _one("QTcF 420 ms", "qtc_ms").qualifier == "fridericia"
    assert _one("Bazett correction gives 398 ms", "qtc_ms").qualifier == "bazett"
    assert _one("the QTc 409 ms (Framingham correction)", "qtc_ms").qualifier == "framingham"
    assert _one("QTc 440 ms", "qtc_ms").qualifier is None


def test_compound_statements_give_one_claim_per_value() -> None:
    claims = extract_claims("QT/QTc 458/409 ms")
    assert [(c.concept, c.value) for c in claims] == [("qt_interval_ms", 458.0), ("qtc_ms", 409.0)]
    t = extract_claims("T waves +0.12 mV in II, -0.10 mV in III and -0.06 mV in aVF.")
    assert [(c.concept, c.value, c.leads) for c in t] == [
        ("t_amplitude_mv", 0.12, ("II",)),
        ("t_amplitude_mv", -0.1, ("III",)),
        ("t_amplitude_mv", -0.06, ("aVF",)),
    ]
    both = extract_claims("PR 148 ms and QRS 72 ms")
    assert [(c.concept, c.value) for c in both] == [
        ("pr_interval_ms", 148.0),
        ("qrs_duration_ms", 72.0),
    ]


@pytest.mark.parametrize(
    ("text", "concept", "comparator", "value", "upper"),
    [
        ("heart rate 60-70 bpm", "heart_rate_bpm", "between", 60.0, 70.0),
        ("QRS duration between 0.12 and 0.20 s", "qrs_duration_ms", "between", 120.0, 200.0),
        ("QRS < 120 ms", "qrs_duration_ms", "<", 120.0, None),
        ("PR over 200 ms", "pr_interval_ms", ">", 200.0, None),
        ("QTc of at least 480 ms", "qtc_ms", ">=", 480.0, None),
    ],
)
def test_ranges_and_bounds(text, concept, comparator, value, upper) -> None:
    c = _one(text, concept)
    assert (c.comparator, c.value, c.upper) == (comparator, value, upper)


def test_approximate_values_are_flagged() -> None:
    assert _one("heart rate of approximately 75 bpm", "heart_rate_bpm").approximate
    assert _one("The heart rate approximates 107 bpm", "heart_rate_bpm").approximate
    assert _one("rate ~75 bpm", "heart_rate_bpm").approximate
    assert not _one("rate 75 bpm", "heart_rate_bpm").approximate


def test_per_lead_values_without_a_lead_are_dropped() -> None:
    assert extract_claims("T wave amplitude 0.3 mV.") == []
    assert _one("In V1 R 0.13 mV and R/S ratio 0.25.", "r_to_s_ratio").leads == ("V1",)


@pytest.mark.parametrize(
    "text",
    [
        "normal PR of 120 ms to 200 ms",
        "heart rate (< 60 bpm)",
        "normal axis (-30 to 90°)",
        "QTc is compared with ≥ 460 ms for prolongation",
        "PR interval is not above 200 ms",
        "Net QRS (-0.85 mV in aVR) does not reach > 0.00 mV",
        "P waves per QRS 1.00 is below 1.20",
    ],
)
def test_thresholds_and_reference_ranges_are_not_claims(text: str) -> None:
    assert [c for c in extract_claims(text) if c.kind == "numeric"] == []


def test_measured_value_before_a_comparison_is_the_claim() -> None:
    claims = [
        c for c in extract_claims("PR interval 148 ms is not above 200 ms.") if c.kind == "numeric"
    ]
    assert [(c.concept, c.value, c.comparator) for c in claims] == [("pr_interval_ms", 148.0, "=")]


# --------------------------------------------------------------------------- paraphrases


@pytest.mark.parametrize(
    "text",
    [
        "QRS duration 120 ms",
        "QRS 120 msec",
        "QRS width of 0.12 s",
        "The QRS duration is 0.120 seconds",
        "QRS interval measures 120 milliseconds",
    ],
)
def test_numeric_paraphrases_agree(text: str) -> None:
    assert _tuple(_one(text, "qrs_duration_ms")) == ("qrs_duration_ms", 120.0, None, "=", (), False)


@pytest.mark.parametrize(
    "text",
    ["heart rate 72 bpm", "HR 72/min", "ventricular rate of 72 beats per minute", "rate 72 b/min",
     "pulse 72 bpm"],
)  # fmt: skip
def test_rate_paraphrases_agree(text: str) -> None:
    assert _tuple(_one(text, "heart_rate_bpm")) == ("heart_rate_bpm", 72.0, None, "=", (), False)


@pytest.mark.parametrize(
    "text",
    [
        "ST elevation in V1-V3.",
        "ST elevation in V1–V3.",
        "ST-segment elevation in leads V1 to V3.",
        "ST elevation in V1, V2 and V3.",
        "ST segments are elevated in V1, V2, and V3.",
        "Elevated ST segments in v1-3.",
    ],
)
def test_lead_list_paraphrases_agree(text: str) -> None:
    c = _one(text, "st_elevation")
    assert (c.leads, c.negated) == (("V1", "V2", "V3"), False)


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Ischaemic changes in the inferior leads.", "ischemia"),
        ("Ischemic changes in the inferior leads.", "ischemia"),
        ("Inferior myocardial ischaemia.", "ischemia"),
        ("Left atrial enlargement.", "left_atrial_abnormality"),
        ("LAE.", "left_atrial_abnormality"),
        ("P mitrale.", "left_atrial_abnormality"),
        ("Left anterior hemiblock.", "lafb"),
        ("LAFB.", "lafb"),
        ("Left ventricular hypertrophy (LVH).", "lvh"),
        ("Repolarisation abnormality.", "nonspecific_t_abnormality"),
        ("Repolarization abnormality.", "nonspecific_t_abnormality"),
    ],
)
def test_spelling_and_abbreviation_variants(text: str, concept: str) -> None:
    c = _one(text, concept)
    assert not c.negated and not c.hedged


def test_longest_match_wins() -> None:
    concepts = [
        c.concept for c in extract_claims("Complete right bundle branch block. Sinus tachycardia.")
    ]
    assert concepts == ["complete_rbbb", "sinus_tachycardia"]
    assert (
        _one("Second degree AV block, Mobitz type II.", "second_degree_av_block").qualifier
        == "mobitz_2"
    )
    assert _one("Wenckebach.", "second_degree_av_block").qualifier == "mobitz_1"
    assert _one("Low voltage in the limb leads.", "low_qrs_voltage").qualifier == "limb"


# --------------------------------------------------------------------------- leads from territories


def test_territories_come_from_the_protocol_table() -> None:
    terr = load_table().territories
    assert _one("Old inferior myocardial infarction.", "myocardial_infarction").leads == tuple(
        terr["inferior"]["leads"]
    )
    assert _one("T wave inversion in the high lateral leads.", "t_wave_inversion").leads == tuple(
        terr["high_lateral"]["leads"]
    )
    assert _one("Anteroseptal infarct.", "myocardial_infarction").leads == ("V1", "V2", "V3", "V4")
    assert _one("Lateral ischemia.", "ischemia").leads == ("I", "aVL", "V5", "V6")
    assert _one("ST depression in the precordial leads.", "st_depression").leads == tuple(
        f"V{k}" for k in range(1, 7)
    )
    assert _one("Sinus rhythm. ST depression.", "st_depression").leads == ()


# --------------------------------------------------------------------------- polarity


def test_negation_covers_or_lists_and_stops_at_clause_boundaries() -> None:
    claims = extract_claims("No ST elevation or depression. Sinus tachycardia.")
    assert {(c.concept, c.negated) for c in claims} == {
        ("st_elevation", True), ("st_depression", True), ("sinus_tachycardia", False)}  # fmt: skip
    c = extract_claims("Sinus rhythm without evidence of LVH, with normal axis.")
    assert [(x.concept, x.negated) for x in c] == [
        ("sinus_rhythm", False), ("lvh", True), ("normal_axis", False)]  # fmt: skip
    c = extract_claims("No LVH but right axis deviation.")
    assert [(x.concept, x.negated) for x in c] == [("lvh", True), ("right_axis_deviation", False)]
    assert _one("Absent P waves.", "p_waves_present").negated
    assert _one("There is no distinct P wave.", "p_waves_present").negated
    assert _one("ruling out anterior wall ischemia", "ischemia").negated


def test_list_negation_of_protocol_reports() -> None:
    text = (
        "P waves per QRS 1.00 is below 1.20, which excludes second degree AV block; second degree"
        " AV block, Mobitz type II; or third degree AV block. Differentials considered and excluded"
        " by measurement: atrial fibrillation, junctional rhythm and sinus arrhythmia. Findings"
        " support sinus bradycardia: heart rate 45 bpm (< 60 bpm)."
    )
    cat = [(c.concept, c.negated) for c in extract_claims(text) if c.kind == "categorical"]
    assert cat == [
        ("second_degree_av_block", True), ("second_degree_av_block", True),
        ("third_degree_av_block", True), ("atrial_fibrillation", True),
        ("junctional_rhythm", True), ("sinus_arrhythmia", True), ("sinus_bradycardia", False),
    ]  # fmt: skip


def test_varied_report_phrasing_negates_its_lists() -> None:
    # the report writer's varied style says "arguing against" where the plain one says
    # "which excludes": the denial runs down the list the same way
    text = "Fraction of beats with P waves 1.00, arguing against atrial fibrillation or junctional rhythm."
    cat = [(c.concept, c.negated) for c in extract_claims(text) if c.kind == "categorical"]
    assert cat == [("atrial_fibrillation", True), ("junctional_rhythm", True)]


def test_labels_attributed_to_an_annotation_are_not_claims() -> None:
    # a corpus row names a dataset label the measurements do not support: the text attributes
    # it to the source, so it is not asserted, however long the list
    text = (
        "The source annotation lists atrial fibrillation, left ventricular hypertrophy and "
        "complete right bundle branch block. Sinus rhythm is present."
    )
    assert [(c.concept, c.negated) for c in extract_claims(text)] == [("sinus_rhythm", False)]
    # ...but the attribution ends where the text speaks for itself again
    for text in (
        "The source annotation lists RBBB, and the measurements show LVH and ST elevation in V1.",
        "The tracing, labelled as abnormal, shows LVH and ST elevation in V1.",
        "The source annotation lists RBBB; LVH and ST elevation in V1.",
    ):
        concepts = [c.concept for c in extract_claims(text) if not c.negated]
        assert {"lvh", "st_elevation"} <= set(concepts), text


def test_withheld_statements_and_hypotheticals_are_not_claims() -> None:
    assert extract_claims("Statements withheld by precedence: low QRS voltage (rescaled).") == []
    assert extract_claims("Precordial T waves assessed for tenting (hyperkalaemia).") == []
    assert extract_claims("No ST elevation in aVR that would suggest left main disease.")[0].negated
    assert [
        c.concept for c in extract_claims("Changes not significant enough to suggest ischemia.")
    ] == []


def test_hedges_apply_to_their_own_finding() -> None:
    text = "Sinus rhythm, probable incomplete right bundle branch block and left ventricular hypertrophy."
    assert [(c.concept, c.hedged) for c in extract_claims(text)] == [
        ("sinus_rhythm", False), ("incomplete_rbbb", True), ("lvh", False)]  # fmt: skip
    assert _one("Possible old inferior infarction.", "myocardial_infarction").hedged
    assert _one("High lateral infarction possible.", "myocardial_infarction").hedged
    assert _one("Borderline short QT interval.", "short_qt").hedged
    c = _one("Inferior infarction cannot be ruled out.", "myocardial_infarction")
    assert (c.hedged, c.negated) == (True, False)
    assert not _one("Consistent with atrial fibrillation.", "atrial_fibrillation").hedged


# --------------------------------------------------------------------------- real protocol reports

_OBS_NAME = {"s_amplitude_mv": "s_depth_mv", "q_amplitude_mv": "q_depth_mv"}


def _records(ludb_dir: Path, cpsc2018_dir: Path) -> list[Path]:
    ludb = [ludb_dir / "data" / str(k) for k in range(1, 40, 2)]
    cpsc = [cpsc2018_dir / f"A{k:04d}" for k in range(1, 11)]
    return [p for p in ludb + cpsc if p.with_suffix(".hea").exists()]


def _observed(obs: dict, claim) -> list:
    name = _OBS_NAME.get(claim.concept, claim.concept)
    if claim.concept == "qtc_ms":
        keys = [f"qtc_{claim.qualifier}_ms"]
    elif claim.leads:
        keys = [f"{lead}.{name}" for lead in claim.leads]
    else:
        keys = [name]
    return [obs[k].value if k in obs else None for k in keys]


def test_protocol_report_numbers_are_measurements_not_thresholds(ludb_dir, cpsc2018_dir) -> None:
    import ecgr1

    records = _records(ludb_dir, cpsc2018_dir)
    if len(records) < 20:
        pytest.skip(f"only {len(records)} real records found")
    checked = 0
    for path in records:
        result = ecgr1.interpret_record(path)
        obs = dict(result.interpretation.observations)
        for ev in result.interpretation.all_evidence():  # values the report cites from criteria
            key = f"{ev.leads[0]}.{ev.quantity}" if len(ev.leads) == 1 else ev.quantity
            obs.setdefault(key, ev)
        for c in (c for c in extract_claims(result.report) if c.kind == "numeric"):
            got = _observed(obs, c)
            assert c.comparator == "=" and len(got) == 1 and got[0] is not None, (path, c)
            assert float(got[0]) == pytest.approx(c.value, abs=1e-9), (path.name, c.text, got)
            checked += 1
    assert checked > 40 * len(records)  # every report states dozens of measured values


def test_required_literals_are_the_mandatory_words_of_a_phrase() -> None:
    import re

    from ecgr1.verify.extract import _required_literals

    flags = re.IGNORECASE
    got = _required_literals(re.compile(r"Left[\s\-]*ventricular hypertrophy", flags))
    assert got == ("left", "ventricular hypertrophy")
    assert _required_literals(re.compile(r"(?:LVH|RVH)", flags)) == ()  # alternatives
    assert _required_literals(re.compile(r"QRS(?: complex)?", flags)) == ("qrs",)  # optional
    # a text without a phrase's mandatory words is not scanned for it, and nothing is lost
    assert [c.concept for c in extract_claims("LEFT-VENTRICULAR HYPERTROPHY")] == ["lvh"]


# --------------------------------------------------------------------------- review cases


def _polar(text: str) -> list[tuple[str, bool]]:
    return [(c.concept, c.negated) for c in extract_claims(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No LBBB, RBBB or LVH.", [("lbbb", True), ("rbbb", True), ("lvh", True)]),
        ("Absence of atrial fibrillation and atrial flutter.",
         [("atrial_fibrillation", True), ("atrial_flutter", True)]),
        ("No ST-segment elevation, depression or T wave inversion.",
         [("st_elevation", True), ("st_depression", True), ("t_wave_inversion", True)]),
        # a denial does not run onto a normal finding
        ("Sinus rhythm, no LVH, normal axis.",
         [("sinus_rhythm", False), ("lvh", True), ("normal_axis", False)]),
        ("AF: absent", [("atrial_fibrillation", True)]),
        ("RBBB (absent)", [("rbbb", True)]),
        ("LBBB is unlikely.", [("lbbb", True)]),
        ("Not consistent with LBBB.", [("lbbb", True)]),
    ],
)  # fmt: skip
def test_denials_run_down_lists_and_checklists(text, expected) -> None:
    assert _polar(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "If the QTc were 500 ms, this would be long QT.",
        "A QTc above 500 ms would indicate high risk.",
        "Tachycardia is defined as a heart rate over 100 bpm.",
        "Previous QRS 160 ms.",
        "Respiratory rate 16.",
        "Pacing rate 60 bpm.",
        "Flutter rate 300/min.",
    ],
)
def test_values_that_are_not_about_this_record_are_not_claims(text) -> None:
    assert [c for c in extract_claims(text) if c.kind == "numeric"] == []


def test_hedges_reach_values_and_leads_follow_a_denial() -> None:
    (c,) = extract_claims("Possible QTc 480 ms.")
    assert c.hedged and c.value == 480.0
    (c,) = extract_claims("ST elevation is not seen in V5-V6.")
    assert (c.concept, c.negated, c.leads) == ("st_elevation", True, ("V5", "V6"))


def test_cues_are_looked_for_within_a_bounded_reach() -> None:
    """A sentence of thousands of findings is read in linear time because each finding looks
    back at most CUE_REACH characters for its cue (timing: benchmarks/verify_bench.py, speed)."""
    from ecgr1.verify.extract import CUE_REACH

    claims = extract_claims("no ST elevation or " * 2000)
    assert len(claims) == 2000 and all(c.negated for c in claims)
    near = "No LBBB, " + "RBBB, " * 10 + "LVH."
    far = "No LBBB, " + "RBBB, " * 100 + "LVH."
    assert len(far) > CUE_REACH + 100
    assert extract_claims(near)[-1].negated
    assert not extract_claims(far)[-1].negated  # the denial is out of reach
