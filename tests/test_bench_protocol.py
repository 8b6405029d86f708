"""SNOMED CT scoring of the protocol benchmark (benchmarks/protocol_bench.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import protocol_bench as pb  # noqa: E402

from ecgr1.protocol.table import load_table  # noqa: E402


@pytest.fixture(scope="module")
def class_codes(shared_data):
    if not (shared_data / "formats" / "physionet_challenge2021_evaluation").is_dir():
        pytest.skip("Challenge 2021 SNOMED CT mapping not in the shared data")
    return pb.cpsc_class_codes(shared_data)


def _codes(*statement_ids: str) -> set[str]:
    table = load_table()
    return {table.statements[s].code for s in statement_ids if table.statements[s].code}


def test_cpsc_labels_take_the_challenge_codes_and_their_equivalents(class_codes) -> None:
    assert class_codes["AF"] == {"164889003"}
    assert {"59118001", "713427006", "713426002"} <= class_codes["RBBB"]
    assert {"164909002", "733534002"} <= class_codes["LBBB"]
    assert {"284470004", "63593006"} <= class_codes["PAC"]
    assert "164884008" in class_codes["PVC"]


def test_statements_score_through_their_codes(class_codes) -> None:
    def pred(*ids: str) -> set[str]:
        return pb.cpsc_predicted(_codes(*ids), class_codes)

    assert pred("atrial_fibrillation", "premature_ventricular_contractions") == {"AF", "PVC"}
    assert pred("atrial_flutter") == set()  # flutter is a different diagnosis from AF
    assert pred("sinus_rhythm", "incomplete_rbbb") == {"RBBB"}
    assert pred("sinus_rhythm", "complete_lbbb") == {"LBBB"}
    assert pred("sinus_bradycardia") == {"Normal"}  # none of the eight abnormal classes
    assert pred("sinus_rhythm", "std_lateral") == {"STD"}  # Normal only alone
    assert pred("sinus_rhythm", "first_degree_av_block") == {"I-AVB"}
    assert pred("sinus_rhythm", "ste_avr") == {"STE"}
    assert pred("ectopic_atrial_rhythm") == set()


def test_ludb_rhythm_from_codes() -> None:
    assert pb.predicted_rhythm(_codes("sinus_rhythm")) == "Sinus rhythm"
    assert pb.predicted_rhythm(_codes("sinus_bradycardia", "sinus_arrhythmia")) == (
        "Sinus bradycardia"
    )
    assert pb.predicted_rhythm(_codes("atrial_flutter")) == "Atrial flutter"
    assert pb.predicted_rhythm(_codes("paced_rhythm")) == "other"
