"""The protocol benchmark (benchmarks/protocol_bench.py) scores through the package's label
table (ecgr1.corpus.labels)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import protocol_bench as pb  # noqa: E402


def test_cpsc_classes_map_to_the_table_concepts() -> None:
    assert pb.CPSC_CONCEPTS == {
        "Normal": "normal_ecg",
        "AF": "atrial_fibrillation",
        "I-AVB": "first_degree_av_block",
        "LBBB": "complete_lbbb",
        "RBBB": "right_bundle_branch_block",
        "PAC": "premature_atrial_contractions",
        "PVC": "premature_ventricular_contractions",
        "STD": "st_depression",
        "STE": "st_elevation",
    }


def test_statements_score_through_the_table() -> None:
    def pred(*ids: str) -> set[str]:
        return pb.cpsc_predicted(set(ids))

    assert pred("atrial_fibrillation", "premature_ventricular_contractions") == {"AF", "PVC"}
    assert pred("atrial_flutter") == set()  # flutter is a different diagnosis from AF
    assert pred("sinus_rhythm", "incomplete_rbbb") == {"RBBB"}
    assert pred("sinus_rhythm", "complete_lbbb") == {"LBBB"}
    assert pred("sinus_rhythm", "incomplete_lbbb") == {"Normal"}  # not CPSC's LBBB
    assert pred("sinus_bradycardia") == {"Normal"}  # none of the eight abnormal classes
    assert pred("sinus_rhythm", "std_lateral") == {"STD"}  # Normal only alone
    assert pred("sinus_rhythm", "first_degree_av_block") == {"I-AVB"}
    assert pred("sinus_rhythm", "ste_avr") == {"STE"}
    assert pred("sinus_rhythm", "premature_atrial_contractions") == {"PAC"}
    assert pred("ectopic_atrial_rhythm") == set()


def test_ludb_rhythm_from_statements() -> None:
    assert pb.predicted_rhythm({"sinus_rhythm"}) == "Sinus rhythm"
    assert pb.predicted_rhythm({"sinus_bradycardia", "sinus_arrhythmia"}) == "Sinus bradycardia"
    assert pb.predicted_rhythm({"atrial_flutter"}) == "Atrial flutter"
    assert pb.predicted_rhythm({"paced_rhythm"}) == "other"


def test_ludb_labels_come_from_the_row_items() -> None:
    row = {
        "Rhythms": "Sinus rhythm",
        "Conduction abnormalities": "Incomplete right bundle branch block\nLeft anterior hemiblock",
        "Hypertrophies": "Left ventricular hypertrophy",
    }
    concepts = pb.ludb_concepts(row)
    assert {pb.LUDB_LABELS[k] for k in ("incomplete RBBB", "LAFB", "LVH")} <= concepts
    assert pb.LUDB_LABELS["complete RBBB"] not in concepts


# ---------------------------------------------------------------- cross-source scoring (--data)
def test_rhythm_within_5_bpm_of_a_limit_counts_as_either_label() -> None:
    assert pb.rhythm_correct("Sinus rhythm", "Sinus bradycardia", 57.0)
    assert pb.rhythm_correct("Sinus bradycardia", "Sinus rhythm", 64.0)
    assert not pb.rhythm_correct("Sinus rhythm", "Sinus bradycardia", 54.0)
    assert pb.rhythm_correct("Sinus tachycardia", "Sinus rhythm", 96.0)
    assert not pb.rhythm_correct("Sinus tachycardia", "Sinus rhythm", 94.0)
    assert not pb.rhythm_correct("Atrial fibrillation", "Sinus rhythm", 60.0)


def test_snomed_sources_score_exact_concepts_cpsc_through_broader() -> None:
    irbbb = pb.predicted_concepts({"incomplete_rbbb"}, "snomed")
    assert {pb._unit(c) for c in irbbb} == {"713426002"}  # not the Challenge's RBBB class
    # Complete RBBB is not also the Challenge's unspecified "bundle branch block" (6374002).
    assert pb.predicted_concepts({"complete_rbbb"}, "snomed") == {"complete_rbbb"}
    assert "right_bundle_branch_block" in pb.predicted_concepts({"incomplete_rbbb"}, "cpsc")
    assert pb._unit("complete_rbbb") == "713427006|59118001"
    assert pb.unit_name("713427006|59118001") == "complete right bundle branch block"


def _row(truth: set[str], pred: set[str], hr: float | None = 75.0) -> dict:
    units = {"164889003", "427084000"}
    return {"truth": truth, "pred": pred, "expressible": units, "heart_rate_bpm": hr}


def test_units_are_scored_per_class_and_rate_classes_skip_the_limit_margin() -> None:
    af, tach = "164889003", "427084000"
    rows = [
        _row({af}, {af}),
        _row(set(), {af}),
        _row({af}, set()),
        _row({tach}, set(), hr=103.0),  # within 5 bpm of 100: either label, not scored
        _row({tach}, {tach}, hr=120.0),
    ]
    t = pb.score_units(rows, [af, tach])
    assert (t[af]["tp"], t[af]["fp"], t[af]["fn"]) == (1, 1, 1)
    assert (t[tach]["tp"], t[tach]["fp"], t[tach]["fn"]) == (1, 0, 0)
    assert abs(pb.macro_f1(t) - (0.5 + 1.0) / 2) < 1e-9
    # One record's worth: the largest F1 change one record makes (the tachycardia class's only
    # positive missed: 1 -> 0), over the 2 classes averaged.
    assert abs(pb.one_record_worth(t) - 1.0 / 2) < 1e-9


def test_error_lists_name_the_records_the_scores_count() -> None:
    af, tach = "164889003", "427084000"
    rows = [
        {**_row({tach}, set(), hr=103.0), "source": "s", "id": "near_limit"},
        {**_row({tach}, set(), hr=120.0), "source": "s", "id": "missed"},
        {**_row(set(), {af}), "source": "s", "id": "false_af"},
        {**_row(set(), {af}), "source": "s", "id": "cannot_say", "expressible": {tach}},
    ]
    assert pb._errors(rows, tach) == {"fp": [], "fn": ["s/missed"]}
    assert pb._errors(rows, af) == {"fp": ["s/false_af"], "fn": []}
    t = pb.score_units(rows, [tach, af])
    assert t[tach]["fn"] == 1 and t[af]["fp"] == 1


def test_keep_rule_flags_a_drop_of_more_than_one_record() -> None:
    before = {"per_source": {"a": {"macro_f1": 0.60, "one_record": 0.05}}}
    assert pb.compare(before, {"per_source": {"a": {"macro_f1": 0.56}}}) == []
    assert pb.compare(before, {"per_source": {"a": {"macro_f1": 0.50}}}) == ["a: 0.600 -> 0.500"]


def test_every_labelled_source_of_the_shared_data_is_read() -> None:
    import pytest

    from ecgr1.paths import shared_data_dir

    root = shared_data_dir()
    if not (root / "extra" / "ptbxl").is_dir():
        pytest.skip(f"shared data with extra/ptbxl not found at {root}")
    sources = pb.source_records(root)
    assert {"cpsc2018", "ludb", "ptbxl", "cinc_georgia"} <= set(sources)
    ptbxl = {r["hea"].stem: r for r in sources["ptbxl"]}
    # PTB-XL record 1: NORM 100, LVOLT 0 (likelihood not given), SR 0 -> low QRS voltage.
    assert "251146004" in ptbxl["00001_hr"]["truth"]
    a1 = next(r for r in sources["cpsc2018"] if r["hea"].stem == "A0001")
    assert a1["truth"] == {"right_bundle_branch_block"}


def test_sim_noise_names_the_simulators_kinds_and_refuses_others(capsys) -> None:
    import pytest

    assert pb._noise_kinds("muscle,baseline") == "muscle,baseline"
    assert pb._noise_kinds("all") == "all"
    with pytest.raises(SystemExit) as exc:
        pb.main(["--dataset", "sim", "--sim-noise", "musle"])
    assert exc.value.code == 2
    assert "unknown noise musle; choose from baseline, muscle, powerline or all" in (
        capsys.readouterr().err
    )
