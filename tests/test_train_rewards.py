"""Reward functions on hand-written completions (right, wrong, malformed, missing parts)."""

from __future__ import annotations

import pytest

from ecgr1.train.rewards import (
    STEP_TITLES,
    diagnosis_reward,
    diagnosis_score,
    evidence_reward,
    evidence_score,
    format_reward,
    format_score,
    normalise_label,
    parse_completion,
    parse_solution,
)

SOLUTION = (
    "<|answer|>Sinus rhythm; Right bundle branch block<|/answer|>"
    "<|key_diagnostic_evidence|>"
    "step_1_technical_rate_rhythm: rate 72 bpm; regular RR "
    "step_2_conduction_axis_intervals: QRS 140 ms; rsR' in V1 "
    "step_6_final_medical_reasoning: wide QRS"
    "<|/key_diagnostic_evidence|>"
)

PARAGRAPHS = [
    "Good quality tracing. Rate 72 bpm with regular RR intervals and upright P waves.",
    "PR 160 ms. QRS 140ms, wide, with an rsR' in V1 and slurred S in V6. Normal axis.",
    "No voltage criteria for hypertrophy.",
    "No ST elevation; secondary T inversion in V1-V3.",
    "QTc 450 ms, acceptable given the wide QRS.",
    "A wide QRS with rsR' in V1 indicates right bundle branch block.",
]


def build(paragraphs=PARAGRAPHS, answer="sinus rhythm; RBBB", steps=range(1, 7), tail=""):
    body = "\n".join(f"**Step {i}: {STEP_TITLES[i - 1]}**\n{paragraphs[i - 1]}" for i in steps)
    answer_part = "" if answer is None else f"<answer>{answer}</answer>"
    return f"<think>\n{body}\n</think>\nNarrative paragraph.\n{answer_part}{tail}"


RIGHT = build()


def test_parse_solution_reads_labels_and_evidence_by_step():
    sol = parse_solution(SOLUTION)
    assert sol.labels == ["Sinus rhythm", "Right bundle branch block"]
    assert sol.evidence["step_1_technical_rate_rhythm"] == ["rate 72 bpm", "regular RR"]
    assert sol.evidence["step_2_conduction_axis_intervals"] == ["QRS 140 ms", "rsR' in V1"]
    assert sol.evidence["step_6_final_medical_reasoning"] == ["wide QRS"]
    assert "step_3_chamber_hypertrophy_voltage" not in sol.evidence


def test_parse_completion_cuts_steps_and_answer():
    parsed = parse_completion(RIGHT)
    assert parsed.step_order == [1, 2, 3, 4, 5, 6]
    assert parsed.steps[3] == PARAGRAPHS[2]
    assert parsed.answer == "sinus rhythm; RBBB"


def test_right_completion_scores_full_marks():
    assert format_score(RIGHT) == 1.0
    assert diagnosis_score(RIGHT, SOLUTION) == 1.0
    assert evidence_score(RIGHT, SOLUTION) == 1.0


def test_wrong_diagnosis_and_missing_evidence():
    wrong = build(
        paragraphs=["Rate 50 bpm.", "Narrow complexes.", "x", "y", "z", "Normal ECG."],
        answer="sinus bradycardia",
    )
    assert format_score(wrong) == 1.0  # well formed, just wrong
    assert diagnosis_score(wrong, SOLUTION) == 0.0
    assert evidence_score(wrong, SOLUTION) == 0.0


def test_partial_diagnosis_is_jaccard():
    partial = build(answer="Sinus rhythm; LAFB")
    # {sinus rhythm, left anterior fascicular block} vs {sinus rhythm, rbbb} -> 1/3
    assert diagnosis_score(partial, SOLUTION) == pytest.approx(1 / 3)


def test_partial_evidence_averages_over_evidence_steps():
    paragraphs = list(PARAGRAPHS)
    paragraphs[0] = "Rate 72 bpm."  # 1 of 2 phrases
    paragraphs[1] = "Nothing relevant."  # 0 of 2
    # steps with evidence: 1 (0.5), 2 (0.0), 6 (1.0) -> 0.5
    assert evidence_score(build(paragraphs=paragraphs), SOLUTION) == pytest.approx(0.5)


def test_evidence_in_the_wrong_step_does_not_count():
    paragraphs = list(PARAGRAPHS)
    paragraphs[0], paragraphs[1] = PARAGRAPHS[1], PARAGRAPHS[0]
    score = evidence_score(build(paragraphs=paragraphs), SOLUTION)
    assert score == pytest.approx(1 / 3)  # only step 6 keeps its evidence


def test_missing_steps():
    missing = build(steps=[1, 2, 3, 5, 6])
    assert format_score(missing) == 0.0
    out_of_order = build(steps=[2, 1, 3, 4, 5, 6])
    assert format_score(out_of_order) == 0.0
    no_steps_2 = build(steps=[1, 3, 4, 5, 6])
    # the step-2 evidence cannot be found anywhere: steps 1 and 6 full, step 2 zero
    assert evidence_score(no_steps_2, SOLUTION) == pytest.approx(2 / 3)
    empty_paragraph = build(paragraphs=["", *PARAGRAPHS[1:]])
    assert format_score(empty_paragraph) == 0.0


def test_missing_answer():
    no_answer = build(answer=None)
    assert format_score(no_answer) == 0.0
    assert diagnosis_score(no_answer, SOLUTION) == 0.0
    assert format_score(build(answer="  ")) == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "just some text without tags",
        "<think></think><answer>RBBB</answer>",
        "<think>**Step 1: x**\nonly one step</think><answer>RBBB</answer>",
        RIGHT.replace("</think>", ""),
        RIGHT + "\ntrailing chatter",
        "<answer>RBBB</answer>" + RIGHT,
    ],
)
def test_malformed_completions_fail_format(text):
    assert format_score(text) == 0.0


def test_malformed_but_answer_still_scored_for_diagnosis():
    assert diagnosis_score("<answer>RBBB; normal sinus rhythm</answer>", SOLUTION) == 1.0
    assert evidence_score("<answer>RBBB</answer>", SOLUTION) == 0.0


def test_label_normalisation_case_punctuation_synonyms():
    assert normalise_label("  Right Bundle-Branch Block. ") == "right bundle branch block"
    assert normalise_label("RBBB") == normalise_label("complete right bundle branch block")
    assert normalise_label("1st degree A-V block") == normalise_label("first-degree AV block")
    assert normalise_label("AF") == "atrial fibrillation"
    assert normalise_label("Sinus rhythm") != normalise_label("sinus bradycardia")


def test_no_evidence_gives_none():
    assert evidence_score(RIGHT, "<|answer|>RBBB<|/answer|>") is None


def test_trl_wrappers_accept_conversational_and_plain_completions():
    conversational = [
        [{"role": "assistant", "content": RIGHT}],
        [{"role": "assistant", "content": "x"}],
    ]
    plain = [RIGHT, "x"]
    blocks = [[{"role": "assistant", "content": [{"type": "text", "text": RIGHT}]}], "x"]
    for completions in (conversational, plain, blocks):
        solutions = [SOLUTION, SOLUTION]
        assert format_reward(completions, solution=solutions) == [1.0, 0.0]
        assert diagnosis_reward(completions, solutions, prompts=None) == [1.0, 0.0]
        assert evidence_reward(completions=completions, solution=solutions) == [1.0, 0.0]
