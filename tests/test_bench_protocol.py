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
