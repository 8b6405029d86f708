"""ECGBench scoring (`ecgr1.evaluate.ecgbench`): every bug case of the reference script, scored
right by us and reproduced by the reference-compatible mode; expected numbers are worked out by
hand in the comments."""

from __future__ import annotations

import ast
import csv
import math
import random
import re
from pathlib import Path

import pytest

from ecgr1.errors import InvalidInputError
from ecgr1.evaluate.ecgbench import (
    SynonymTable,
    _parse_synonyms,
    canonical_label,
    evaluate_ecgbench,
    load_synonyms,
    normalise_text,
    parse_choice,
    reference_extract,
    roc_auc,
    row_kind,
    to_markdown,
)

PTB = ["NORM", "MI", "STTC", "CD", "HYP"]


def _ml_ref(rid: str, labels: list[str], candidates=PTB, set_name="ptbxl_superclass") -> dict:
    """A corpus-builder multi-label row (ecgr1.corpus.splits.ecgbench_multilabel format)."""
    return {
        "id": rid,
        "messages": [
            {"role": "user", "content": "<ecg>\nWhich of the following diagnoses apply? ..."},
            {"role": "assistant", "content": f"<answer>{'; '.join(labels)}</answer>"},
        ],
        "labels": labels,
        "candidates": list(candidates),
        "meta": {"set": set_name, "task": "multilabel"},
    }


def _sc_ref(rid: str, options: list[str], letter: str, set_name="georgia") -> dict:
    """A corpus-builder single-choice row (ecgbench_single_choice format)."""
    text = options["ABCD".index(letter)]
    return {
        "id": rid,
        "messages": [
            {"role": "user", "content": "<ecg>\nWhich ... Choose one option.\nA. ..."},
            {"role": "assistant", "content": f"<answer>{letter}</answer>"},
        ],
        "options": options,
        "answer": letter,
        "answer_text": text,
        "labels": [text],
        "meta": {"set": set_name, "task": "single_choice"},
    }


# ------------------------------------------------------------------ multi-label fixture
MULTI_REFS = [
    _ml_ref("r1", ["NORM"]),
    _ml_ref("r2", ["MI", "STTC"]),
    _ml_ref("r3", ["CD"]),
    _ml_ref("r4", ["HYP"]),
    _ml_ref("r5", ["NORM"]),  # no prediction
    _ml_ref("r6", ["STTC", "HYP"]),
]
MULTI_PREDS = {
    # MI ruled out in the reasoning: only the answer counts
    "r1": "<think>No ST changes; MI is excluded.</think>\n<answer>NORM</answer>",
    # "NORM" inside "ABNORMAL"
    "r2": "<think>Q waves.</think>ABNORMAL ECG.<answer>ABNORMAL; MI</answer>",
    # HYP ruled out in the reasoning
    "r3": "<think>Conduction: RBBB pattern, so CD. Hypertrophy (HYP) ruled out.</think>"
    "<answer>CD</answer>",
    # a general LLM: no answer block (unparseable)
    "r4": "The ECG shows LVH consistent with HYP.",
    # synonyms: names instead of codes
    "r6": "<answer>ST/T change; hypertrophy</answer>",
    # an id the reference does not have
    "x9": "<answer>NORM</answer>",
}


def _shuffled_preds(texts: dict[str, str], seed: int = 3) -> list[dict]:
    rows = [{"id": k, "response": v} for k, v in texts.items()]
    random.Random(seed).shuffle(rows)
    return rows


def test_multilabel_ours_reads_the_answer_block_only():
    result = evaluate_ecgbench(_shuffled_preds(MULTI_PREDS), MULTI_REFS)
    assert result["reference_compatible"] is False
    assert result["missing_pred_ids"] == ["r5"] and result["missing_ref_ids"] == ["x9"]
    s = result["sets"]["ptbxl_superclass"]
    # truth r1 {N} r2 {MI,STTC} r3 {CD} r4 {HYP} r5 {N} r6 {STTC,HYP}
    # pred  r1 {N} r2 {MI}      r3 {CD} r4 {}    r5 {}  r6 {STTC,HYP}
    assert (s["n_rows"], s["n_predicted"], s["n_missing"], s["n_unparseable"]) == (6, 5, 1, 1)
    per = s["per_label"]
    assert (per["NORM"]["tp"], per["NORM"]["fp"], per["NORM"]["fn"], per["NORM"]["tn"]) == (
        1,
        0,
        1,
        4,
    )
    assert per["NORM"]["predicted"] == 1  # not 2: "ABNORMAL" is not NORM
    assert per["MI"]["predicted"] == 1  # not 2: ruled out in r1's reasoning
    assert per["HYP"]["predicted"] == 1  # not r3 (reasoning) nor r4 (no answer block)
    assert per["NORM"]["precision"] == 1.0 and per["NORM"]["recall"] == 0.5
    assert per["NORM"]["f1"] == pytest.approx(2 / 3)
    assert per["MI"]["f1"] == 1.0 and per["CD"]["f1"] == 1.0
    assert per["STTC"]["f1"] == pytest.approx(2 / 3) and per["HYP"]["f1"] == pytest.approx(2 / 3)
    assert [per[k]["support"] for k in PTB] == [2, 1, 2, 1, 2]
    # macro = (2/3 + 1 + 2/3 + 1 + 2/3) / 5 = 0.8
    assert s["macro_f1"] == pytest.approx(0.8)
    # sum tp 5, fp 0, fn 3: micro-F1 = 10/13, Hamming = 3/(6*5), exact r1 r3 r6 = 3/6
    assert s["micro_f1"] == pytest.approx(10 / 13)
    assert s["hamming_loss"] == pytest.approx(0.1)
    assert s["exact_match"] == pytest.approx(0.5)
    assert s["auc"] is None and s["auc_reason"] == "no scores"
    assert s["unmatched_labels"] == {"ABNORMAL": 1}


def test_multilabel_reference_compatible_reproduces_the_substring_search():
    preds = _shuffled_preds(MULTI_PREDS)
    result = evaluate_ecgbench(preds, MULTI_REFS, reference_compatible=True)
    s = result["sets"]["ptbxl_superclass"]
    assert result["reference_compatible"] and s["reference_compatible"] and s["note"]
    assert s["reference_split"] is None and s["label_space"] == PTB
    # r5 has no prediction row: the reference simply has 5 rows.
    # truth (substring of golden): r1 N, r2 MI STTC, r3 CD, r4 HYP, r6 STTC HYP
    # pred (substring of whole text): r1 N MI, r2 N MI, r3 CD HYP, r4 HYP, r6 -
    assert s["n_rows"] == 5 and s["classes"] == ["CD", "HYP", "MI", "NORM", "STTC"]
    per = s["per_label"]
    # CD tp1 -> F1 1, AUC (1+1-0)/2 = 1; HYP tp1 fp1 fn1 tn2 -> F1 .5, AUC (1+1/2-1/3)/2 = 7/12
    # MI tp1 fp1 tn3 -> 2/3, AUC (1+1-1/4)/2 = 7/8; NORM same; STTC fn2 -> 0, AUC 1/2
    assert [per[c]["f1"] for c in s["classes"]] == pytest.approx([1, 0.5, 2 / 3, 2 / 3, 0])
    assert [per[c]["auc"] for c in s["classes"]] == pytest.approx([1, 7 / 12, 7 / 8, 7 / 8, 0.5])
    assert s["macro_f1"] == pytest.approx(17 / 30)
    assert s["auc"] == pytest.approx(23 / 30)
    assert s["hamming_loss"] == pytest.approx(6 / 25)
    assert s["paper"] == {"F1": 56.7, "AUC": 76.7, "HL": 24.0}
    # same numbers under the published ptb-test profile (same label space)
    named = evaluate_ecgbench(
        preds, MULTI_REFS, reference_compatible=True, reference_split="ptb-test"
    )
    assert named["sets"]["ptbxl_superclass"]["reference_split"] == "ptb-test"
    assert named["sets"]["ptbxl_superclass"]["paper"] == s["paper"]


# ------------------------------------------------------------------ AUC: scores vs 0/1
AUC_REFS = [
    _ml_ref("a1", ["AF"], ["AF", "NORM"], "s"),
    _ml_ref("a2", ["AF"], ["AF", "NORM"], "s"),
    _ml_ref("a3", ["NORM"], ["AF", "NORM"], "s"),
    _ml_ref("a4", ["NORM"], ["AF", "NORM"], "s"),
]
AUC_PREDS = [
    {"id": "a1", "response": "<answer>AF</answer>", "scores": {"AF": 0.9, "NORM": 0.2}},
    {
        "id": "a2",
        "response": "<answer>NORM</answer>",
        "scores": {"atrial fibrillation": 0.4, "NORM": 0.5},
    },
    {"id": "a3", "response": "<answer>NORM</answer>", "scores": {"AF": 0.6, "normal ECG": 0.5}},
    {"id": "a4", "response": "<answer>NORM</answer>", "scores": {"AF": 0.1, "NORM": 0.7}},
]


def test_auc_only_from_scores():
    s = evaluate_ecgbench(AUC_PREDS, AUC_REFS)["sets"]["s"]
    # AF: positives .9 .4 vs negatives .6 .1 -> 3 of 4 pairs ordered = .75
    # NORM: positives .5 .7 vs negatives .2 .5 -> 3 pairs + one tie (1/2) = 3.5/4 = .875
    assert s["per_label"]["AF"]["auc"] == pytest.approx(0.75)
    assert s["per_label"]["NORM"]["auc"] == pytest.approx(0.875)
    assert s["auc"] == pytest.approx(0.8125) and s["auc_reason"] is None
    # the reference computes "AUC" on the 0/1 answers: AF TPR .5 FPR 0 -> .75; NORM TPR 1 FPR .5 -> .75
    ref = evaluate_ecgbench(AUC_PREDS, AUC_REFS, reference_compatible=True)["sets"]["s"]
    assert ref["auc"] == pytest.approx(0.75)
    # without scores we report none, never the 0/1 figure
    bare = [{"id": p["id"], "response": p["response"]} for p in AUC_PREDS]
    s = evaluate_ecgbench(bare, AUC_REFS)["sets"]["s"]
    assert s["auc"] is None and s["auc_reason"] == "no scores"
    assert all(m["auc"] is None for m in s["per_label"].values())
    partial = bare[:1] + AUC_PREDS[1:]
    s = evaluate_ecgbench(partial, AUC_REFS)["sets"]["s"]
    assert s["auc"] is None and s["auc_reason"] == "scores missing on 1 of 4 rows"


def test_roc_auc_ties_and_one_class():
    assert roc_auc([1, 0], [0.3, 0.3]) == 0.5
    assert roc_auc([1, 1], [0.3, 0.4]) is None
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0


def test_reference_auc_is_nan_when_a_class_is_always_true():
    refs = [
        _ml_ref("b1", ["AF"], ["AF", "NORM"], "s"),
        _ml_ref("b2", ["AF", "NORM"], ["AF", "NORM"], "s"),
    ]
    preds = [{"id": "b1", "response": "AF"}, {"id": "b2", "response": "AF NORM"}]
    s = evaluate_ecgbench(preds, refs, reference_compatible=True)["sets"]["s"]
    assert s["per_label"]["AF"]["auc"] is None and s["auc"] is None and s["macro_f1"] == 1.0


# ------------------------------------------------------------------ single choice fixture
SC_REFS = [
    _sc_ref("s1", ["LBBB", "sinus rhythm", "AF", "RBBB"], "A"),
    _sc_ref("s2", ["sinus rhythm", "AF", "LBBB", "RBBB"], "B"),
    _sc_ref("s3", ["AF", "sinus rhythm", "RBBB", "LBBB"], "C"),
    _sc_ref("s4", ["sinus rhythm", "AF", "RBBB", "LBBB"], "A"),
    _sc_ref("s5", ["sinus rhythm", "AF", "RBBB", "LBBB"], "D"),  # no prediction
    _sc_ref("s6", ["AF", "LBBB", "RBBB", "sinus rhythm"], "D"),
]
SC_PREDS = {
    "s1": "<think>Wide QRS, LBBB.</think><answer>LBBB.</answer>",  # text of option A, not "B."
    "s2": "<answer>(B)</answer>",
    "s3": "Looking at this ECG I think it's C.",  # no answer block
    "s4": "<answer>A. Sinus rhythm</answer>",
    "s6": "<answer>sinus rhythm</answer>",
}


def test_single_choice_ours():
    result = evaluate_ecgbench(_shuffled_preds(SC_PREDS), SC_REFS)
    s = result["sets"]["georgia"]
    # correct s1 (text), s2 (letter), s4 (letter+text), s6 (text); s3 unparseable, s5 missing
    assert (s["n_rows"], s["n_correct"], s["n_missing"], s["n_unparseable"]) == (6, 4, 1, 1)
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["unparseable_reasons"] == {"no answer block": 1}
    assert s["answer_forms"] == {"text": 2, "letter": 1, "letter+text": 1}
    # LBBB is the answer of s1 (right) and s5 (missing)
    assert s["per_answer"]["LBBB"] == {"support": 2, "correct": 1, "accuracy": 0.5}


def test_single_choice_reference_compatible_and_its_seeded_guess():
    preds = _shuffled_preds(SC_PREDS)
    s = evaluate_ecgbench(preds, SC_REFS, reference_compatible=True)["sets"]["georgia"]
    # extract: s1 "LBBB." -> B (wrong, golden A); s3 "C." -> C (right); s4 "A." -> A (right);
    # s2 "(B)" and s6 "sinus rhythm" -> None -> random.choice(A..H), seed 42, in file order.
    rng = random.Random(42)  # the reference: random.seed(42) at import, then random.choice
    guesses = {p["id"]: rng.choice(list("ABCDEFGH")) for p in preds if p["id"] in ("s2", "s6")}
    expected = (2 + (guesses["s2"] == "B") + (guesses["s6"] == "D")) / 5
    assert s["n_rows"] == 5 and s["n_guessed"] == 2 and not s["skipped"]
    assert s["accuracy"] == pytest.approx(expected)
    assert s["paper"] == {"Accuracy": round(expected * 100, 1)}


def test_reference_split_skipped_unless_the_row_count_is_exact():
    s = evaluate_ecgbench(
        _shuffled_preds(SC_PREDS),
        SC_REFS,
        reference_compatible=True,
        reference_split="csn-test-no-cot",
    )["sets"]["georgia"]
    assert s["reference_split"] == "csn-test" and s["skipped"] and s["accuracy"] is None
    assert s["expected_rows"] == 1611 and "not 1611" in s["reason"]
    assert s["n_guessed"] == 2  # drawn before the check, as the reference does
    # our scores never skip a set
    assert evaluate_ecgbench(_shuffled_preds(SC_PREDS), SC_REFS)["sets"]["georgia"]["accuracy"]
    # exactly 1611 rows: scored; 1000 bare letters, 611 unparsed guessed in file order
    options = ["sinus rhythm", "AF", "LBBB", "RBBB"]
    refs = [_sc_ref(f"c{i}", options, "ABCD"[i % 4], "csn-test-no-cot") for i in range(1611)]
    preds = [{"id": f"c{i}", "response": "ABCD"[i % 4] if i < 1000 else "?"} for i in range(1611)]
    s = evaluate_ecgbench(preds, refs, reference_compatible=True)["sets"]["csn-test-no-cot"]
    rng = random.Random(42)
    hits = sum(rng.choice(list("ABCDEFGH")) == "ABCD"[i % 4] for i in range(1000, 1611))
    assert not s["skipped"] and s["n_guessed"] == 611
    assert s["accuracy"] == pytest.approx((1000 + hits) / 1611)
    # one generator shared across calls continues the stream (CSN then G12 in the reference)
    shared = random.Random(42)
    evaluate_ecgbench(preds, refs, reference_compatible=True, seed=shared)
    rng = random.Random(42)
    for _ in range(611):
        rng.choice(list("ABCDEFGH"))
    assert shared.random() == rng.random()


def test_reference_code15_rules():
    question = (
        "<image>\nOptions: 1dAVb, RBBB, LBBB, SB, ST, AF, NORM, ABNORMAL. Select all that apply."
    )

    def row(rid, golden):
        return {
            "id": rid,
            "messages": [
                {"role": "user", "content": question},
                {"role": "assistant", "content": golden},
            ],
        }

    refs = [row("c1", "NORM"), row("c2", "ABNORMAL"), row("c3", "RBBB, 1dAVb")]
    preds = [
        {"id": "c1", "response": "Answer: NORM"},
        {"id": "c2", "response": "ABNORMAL ECG with ST"},
        {"id": "c3", "response": "<think>NORM excluded</think> Answer: RBBB"},
    ]
    result = evaluate_ecgbench(
        preds, refs, reference_compatible=True, reference_split="code15-test"
    )
    (s,) = result["sets"].values()
    # truth c1 NORM, c2 ABNORMAL, c3 1dAVb RBBB; pred c1 NORM, c2 ABNORMAL ST, c3 RBBB
    # classes 1dAVb (F1 0, AUC .5), ABNORMAL, NORM, RBBB (F1 1, AUC 1); ST is not a class
    assert s["reference_split"] == "code15-test"
    assert s["classes"] == ["1dAVb", "ABNORMAL", "NORM", "RBBB"]
    assert s["macro_f1"] == pytest.approx(0.75) and s["auc"] == pytest.approx(0.875)
    assert s["hamming_loss"] == pytest.approx(1 / 12)
    # ours: candidates from the question, answers from <answer> only: none here
    ours = evaluate_ecgbench(preds, refs)
    (o,) = ours["sets"].values()
    assert o["candidates_from"] == "question" and o["n_unparseable"] == 3
    assert o["macro_f1"] == 0.0 and o["per_label"]["NORM"]["support"] == 1


def test_reference_extract_bugs():
    assert reference_extract("LBBB.") == "B"  # "LBBB." is option B
    # alphabetical, not positional: the model answered D, the reference reads "B." of "LBBB."
    assert reference_extract("D. sinus rhythm (not AF, not LBBB.)") == "B"
    assert reference_extract("Sinus rhythm. ECG.") == "G"
    assert reference_extract("The correct option is D") == "D"
    assert reference_extract("Answer: Sinus (option C)") == "C"
    assert reference_extract("<answer>A</answer>") is None  # ECG-R1's own format is unread
    assert reference_extract("The correct option is ") is None  # the reference crashes here


# ------------------------------------------------------------------ parsing and kinds
def test_parse_choice_forms():
    opts = ["LBBB", "sinus rhythm", "AF", "RBBB"]
    assert parse_choice("B", opts) == (1, "letter")
    assert parse_choice("B.", opts) == (1, "letter")
    assert parse_choice("Option D", opts) == (3, "letter")
    assert parse_choice("B) sinus rhythm", opts) == (1, "letter+text")
    assert parse_choice("B. normal sinus rhythm", opts) == (1, "letter+text")
    assert parse_choice("right bundle branch block", opts) == (3, "text")
    assert parse_choice("LBBB.", opts) == (0, "text")
    assert parse_choice("E", opts) == (None, "letter out of range")
    assert parse_choice("A. atrial fibrillation", opts) == (None, "letter contradicts its text")
    assert parse_choice("ST elevation", opts) == (None, "matches no option")
    assert parse_choice(None, opts) == (None, "no answer block")


def test_synonyms_exact_after_normalisation():
    assert canonical_label("NORM") == canonical_label("normal ECG") == "normal ecg"
    assert canonical_label("ABNORMAL") != canonical_label("NORM")
    assert (
        canonical_label("I-AVB")
        == canonical_label("1dAVb")
        == canonical_label("first-degree A-V block")
    )
    assert (
        canonical_label("AF") == "atrial fibrillation"
        and canonical_label("AFL") == "atrial flutter"
    )
    assert canonical_label("RBBB") == canonical_label("Right bundle branch block.")
    assert canonical_label("STTC") == canonical_label("ST/T change")
    # one normalisation for the diagnosis reward and for ECGBench scoring
    from ecgr1.train.rewards import normalise_text as reward_normalise

    assert reward_normalise is normalise_text
    table = load_synonyms()
    assert isinstance(table, SynonymTable) and len(table.mapping) < 120  # small, audited
    with pytest.raises(InvalidInputError, match="listed under"):
        _parse_synonyms({"synonyms": {"a x": ["q"], "b y": ["Q"]}}, "t")
    with pytest.raises(InvalidInputError, match="canonical name and a spelling"):
        _parse_synonyms({"synonyms": {"a x": ["b y"], "b y": ["c"]}}, "t")
    refs = [_ml_ref("z", ["AF"], ["AF", "atrial fibrillation"], "s")]
    with pytest.raises(InvalidInputError, match="one canonical form"):
        evaluate_ecgbench([], refs)


def test_corpus_candidate_names_are_distinct_after_synonyms():
    from ecgr1.corpus.labels import PTBXL_SUPERCLASSES, candidate_names

    for names in (candidate_names("cpsc"), candidate_names("code15"), list(PTBXL_SUPERCLASSES)):
        assert len({canonical_label(n) for n in names}) == len(names)
    # the published label spaces land on the corpus names
    cpsc = {canonical_label(n) for n in candidate_names("cpsc")}
    for code in ["NORM", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE"]:
        assert canonical_label(code) in cpsc, code
    code15 = {canonical_label(n) for n in candidate_names("code15")}
    for code in ["1dAVb", "RBBB", "LBBB", "SB", "ST", "AF", "NORM"]:
        assert canonical_label(code) in code15, code


def test_mixed_file_ms_swift_rows_scored_per_kind():
    refs = [
        {
            "id": "m1",
            "messages": [
                {
                    "role": "user",
                    "content": "<image>\nOptions: NORM, MI, STTC, CD, HYP. Choose all that apply.",
                },
                {"role": "assistant", "content": "NORM"},
            ],
        },
        {
            "id": "q1",
            "messages": [
                {
                    "role": "user",
                    "content": "<image>\nWhat is the diagnosis? Options: A. sinus rhythm B. atrial "
                    "fibrillation C. LBBB D. RBBB\nOnly answer based on the given Options.",
                },
                {"role": "assistant", "content": "B"},
            ],
        },
        {"id": "junk", "messages": [{"role": "user", "content": "hello"}]},
    ]
    assert [row_kind(r) for r in refs] == ["multilabel", "single_choice", None]
    preds = [
        {"id": "q1", "response": "<answer>AF</answer>"},
        {"id": "m1", "response": "<answer>NORM</answer>"},
    ]
    result = evaluate_ecgbench(preds, refs)
    assert set(result["sets"]) == {"multilabel", "single_choice"}
    assert result["sets"]["single_choice"]["accuracy"] == 1.0
    assert result["sets"]["multilabel"]["macro_f1"] == 1.0
    assert result["sets"]["multilabel"]["candidates"] == PTB
    assert result["unscorable_ref_ids"] == {
        "junk": "not an ECGBench-style row (no labels, options or answer)"
    }
    assert result["rows"]["unscorable_ref"] == 1 and result["missing_pred_ids"] == ["junk"]


def test_macro_f1_over_labels_with_positives_only():
    refs = [_ml_ref("h1", ["MI"]), _ml_ref("h2", ["CD"])]
    preds = [
        {"id": "h1", "response": "<answer>MI; HYP</answer>"},
        {"id": "h2", "response": "<answer>CD</answer>"},
    ]
    s = evaluate_ecgbench(preds, refs)["sets"]["ptbxl_superclass"]
    # HYP: no positive (F1 = 0/(0+1+0) = 0, left out of the macro); its false positive counts
    # in micro-F1 = 4/(4+1+0) and Hamming = 1/(2*5)
    assert s["macro_f1_labels"] == ["MI", "CD"] and s["macro_f1"] == 1.0
    assert s["per_label"]["HYP"]["f1"] == 0.0 and s["per_label"]["NORM"]["f1"] is None
    assert s["per_label"]["HYP"]["precision"] == 0.0 and s["per_label"]["HYP"]["recall"] is None
    assert s["micro_f1"] == pytest.approx(0.8) and s["hamming_loss"] == pytest.approx(0.1)
    assert s["exact_match"] == 0.5


def test_comma_separated_answer_and_markdown():
    refs = [_ml_ref("k1", ["MI", "CD"])]
    preds = [{"id": "k1", "response": "<answer>MI, CD</answer>"}]
    result = evaluate_ecgbench(preds, refs)
    assert result["sets"]["ptbxl_superclass"]["exact_match"] == 1.0
    md = to_markdown(result)
    assert "| macro-F1 (2 labels with positives) | 1.000 |" in md
    assert "| AUC (from scores) | n/a (no scores) |" in md
    assert "| MI | 1 | 1 | 1.000 | 1.000 | 1.000 | n/a |" in md
    ref_md = to_markdown(
        evaluate_ecgbench(_shuffled_preds(SC_PREDS), SC_REFS, reference_compatible=True)
    )
    assert "reference-compatible" in ref_md and "| random guesses | 2 |" in ref_md


def test_perfect_predictions_score_one():
    refs = MULTI_REFS + SC_REFS
    preds = [{"id": r["id"], "response": r["messages"][-1]["content"]} for r in refs]
    result = evaluate_ecgbench(preds, refs)
    ml, sc = result["sets"]["ptbxl_superclass"], result["sets"]["georgia"]
    assert (
        ml["macro_f1"] == ml["micro_f1"] == ml["exact_match"] == 1.0 and ml["hamming_loss"] == 0.0
    )
    assert sc["accuracy"] == 1.0
    ref = evaluate_ecgbench(preds, refs, reference_compatible=True)["sets"]
    assert (
        ref["ptbxl_superclass"]["macro_f1"] == 1.0
        and ref["ptbxl_superclass"]["hamming_loss"] == 0.0
    )


# ------------------------------------------------------------------ end to end on shared data
def _bench_input(rid: str, path: Path, meta: dict) -> dict:
    return {
        "id": rid,
        "messages": [{"role": "user", "content": "<ecg>\nInterpret this ECG."}],
        "images": [],
        "objects": {"ecg": [str(path)]},
        "meta": meta,
    }


@pytest.fixture(scope="module")
def protocol_sets(shared_data):
    """ECGBench-style reference rows (the corpus builder's functions) for every shared record of
    CPSC 2018 (#Dx -> CPSC candidate names) and PTB-XL (superclasses), with the protocol
    engine's predictions: its report, whose <answer> is rewritten to the set's candidates from
    the positive statements (concepts_of_statements(..., vocabulary=...)); the protocol's own
    answer ("lateral ST elevation", "inferior myocardial infarction") names findings more
    narrowly than the candidates, which a synonym table must not bridge."""
    from ecgr1.corpus.build import labels_in_vocabulary
    from ecgr1.corpus.labels import (
        PTBXL_SUPERCLASSES,
        candidate_names,
        concepts_of_statements,
        get_concept,
        map_labels,
        ptbxl_superclasses,
    )
    from ecgr1.corpus.splits import ecgbench_multilabel
    from ecgr1.corpus.text import positive_statements
    from ecgr1.pipeline import interpret_record

    cpsc_dir, ptb_dir = shared_data / "cpsc2018", shared_data / "extra" / "ptbxl"
    if not cpsc_dir.is_dir() or not (ptb_dir / "ptbxl_database.csv").is_file():
        pytest.skip("CPSC 2018 or PTB-XL (extra/ptbxl) not in the shared data folder")
    rows = []
    for hea in sorted(cpsc_dir.glob("*.hea")):
        dx = next(x for x in hea.read_text().splitlines() if x.startswith("#Dx"))
        labels = [x.strip() for x in dx.split(":", 1)[1].split(",")]
        rows.append(
            _bench_input(
                hea.stem, hea.with_suffix(""), {"vocabulary": "cpsc", "source_labels": labels}
            )
        )
    cpsc_names = candidate_names("cpsc")
    cpsc = list(
        ecgbench_multilabel(rows, cpsc_names, "cpsc2018", label_key=labels_in_vocabulary("cpsc"))
    )

    superclass_codes: dict[str, set[str]] = {}
    with open(ptb_dir / "scp_statements.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["diagnostic_class"]:
                superclass_codes[row[""]] = set(map_labels("scp", [row[""]]).concepts)
    rows = []
    with open(ptb_dir / "ptbxl_database.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            path = ptb_dir / row["filename_hr"]
            if path.with_suffix(".hea").is_file():
                sup = ptbxl_superclasses(ast.literal_eval(row["scp_codes"]))
                rows.append(
                    _bench_input(f"ptbxl{int(float(row['ecg_id']))}", path, {"superclasses": sup})
                )
    ptb = list(
        ecgbench_multilabel(
            rows, list(PTBXL_SUPERCLASSES), "ptbxl_superclass", label_key="meta.superclasses"
        )
    )

    def cpsc_answer(positive):
        names = {get_concept(c).name for c in concepts_of_statements(positive, vocabulary="cpsc")}
        return [n for n in cpsc_names if n in names]

    def ptb_answer(positive):
        stated = concepts_of_statements(positive, vocabulary="scp")
        return ptbxl_superclasses([c for c, cs in superclass_codes.items() if cs and cs <= stated])

    refs, mapped, own = [], [], []
    for bench, answer in ((cpsc, cpsc_answer), (ptb, ptb_answer)):
        for ref in bench:
            res = interpret_record(ref["objects"]["ecg"][0])
            labels = answer([s.id for s in positive_statements(res.interpretation)])
            text = re.sub(
                r"<answer>.*?</answer>",
                f"<answer>{'; '.join(labels)}</answer>",
                res.report,
                flags=re.S,
            )
            refs.append(ref)
            mapped.append({"id": ref["id"], "response": text})
            own.append({"id": ref["id"], "response": res.report})
    return refs, mapped, own


def _check_set(s: dict) -> None:
    n = s["n_rows"]
    assert s["n_predicted"] + s["n_missing"] == n and s["n_missing"] == 0
    for key in ("macro_f1", "micro_f1", "hamming_loss", "exact_match"):
        assert s[key] is None or 0.0 <= s[key] <= 1.0, key
    for m in s["per_label"].values():
        assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == n
        for key in ("precision", "recall", "f1"):
            assert m[key] is None or 0.0 <= m[key] <= 1.0
    assert s["auc"] is None and s["auc_reason"] == "no scores"


@pytest.mark.slow
@pytest.mark.shared_data
def test_end_to_end_protocol_engine_on_cpsc2018_and_ptbxl(protocol_sets):
    refs, mapped, own = protocol_sets
    assert {r["meta"]["set"] for r in refs} == {"cpsc2018", "ptbxl_superclass"}
    for preds in (mapped, own):
        result = evaluate_ecgbench(preds, refs)
        assert set(result["sets"]) == {"cpsc2018", "ptbxl_superclass"}
        assert sum(s["n_rows"] for s in result["sets"].values()) == len(refs)
        assert result["rows"]["pairs"] == len(refs) and not result["missing_pred_ids"]
        for s in result["sets"].values():
            _check_set(s)
            assert s["n_unparseable"] == 0  # every protocol report has an <answer>
            support = sum(m["support"] for m in s["per_label"].values())
            refs_of_set = [r for r in refs if r["meta"]["set"] == s["name"]]
            assert support == sum(len(r["labels"]) for r in refs_of_set)
        ref_mode = evaluate_ecgbench(preds, refs, reference_compatible=True)
        for s in ref_mode["sets"].values():
            for key in ("macro_f1", "auc", "hamming_loss"):
                assert s[key] is None or 0.0 <= s[key] <= 1.0
    # the mapped answers score at least as well as the protocol's own wording
    ours_mapped = evaluate_ecgbench(mapped, refs)["sets"]
    ours_own = evaluate_ecgbench(own, refs)["sets"]
    for name in ours_mapped:
        assert ours_mapped[name]["micro_f1"] >= (ours_own[name]["micro_f1"] or 0.0)
    # answers = references: 1.0
    perfect = [{"id": r["id"], "response": r["messages"][-1]["content"]} for r in refs]
    for s in evaluate_ecgbench(perfect, refs)["sets"].values():
        assert s["macro_f1"] == 1.0 and s["exact_match"] == 1.0 and s["hamming_loss"] == 0.0
    for s in evaluate_ecgbench(perfect, refs, reference_compatible=True)["sets"].values():
        assert s["macro_f1"] == 1.0 and math.isclose(s["hamming_loss"], 0.0)
