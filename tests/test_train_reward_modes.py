"""``--reward-mode reference`` vs the default ``ecgr1`` mode on the cases where they disagree.

Expected values are worked out by hand from the reference formulas (PKUDigitalHealth/ECG-R1,
``ecg_r1/plugin.py``: format = a non-blank ``<think>``; diagnosis = Jaccard of lower-cased
``;``-split labels; evidence = mean over evidence-bearing steps of the share of phrases found
as case-insensitive substrings of the step text, header title included, steps found only at a
bold ``**Step N``) and from the ecgr1 formulas (docs/training.md).
"""

from __future__ import annotations

import pytest

from ecgr1.train import reference_rewards as ref
from ecgr1.train import rewards as ours
from ecgr1.train.rewards import STEP_KEYS, STEP_TITLES, reward_functions

SCORERS = {
    "reference": {
        "format": lambda c, s: ref.format_score(c),
        "diagnosis": ref.diagnosis_score,
        "evidence": ref.evidence_score,
    },
    "ecgr1": {
        "format": lambda c, s: ours.format_score(c),
        "diagnosis": ours.diagnosis_score,
        "evidence": ours.evidence_score,
    },
}


def header(n: int, bold: bool = True) -> str:
    text = f"Step {n}: {STEP_TITLES[n - 1]}"
    return f"**{text}**" if bold else text


def completion(paragraphs: dict[int, str], answer: str | None = "sinus rhythm", bold=()) -> str:
    """A 6-step completion; steps not in ``paragraphs`` get a neutral sentence."""
    body = "\n".join(
        f"{header(n, bold=n not in bold)}\n{paragraphs.get(n, 'Unremarkable.')}"
        for n in range(1, 7)
    )
    tail = "" if answer is None else f"\n<answer>{answer}</answer>"
    return f"<think>\n{body}\n</think>{tail}"


def solution(labels: str, evidence: dict[int, str] | None = None, close="<|/answer|>") -> str:
    ev = " ".join(f"{STEP_KEYS[n - 1]}: {text}" for n, text in (evidence or {}).items())
    block = f"<|key_diagnostic_evidence|>{ev}<|/key_diagnostic_evidence|>" if ev else ""
    return f"<|answer|>{labels}{close}{block}"


# (case, reward, completion, solution, reference value, ecgr1 value)
CASES = [
    (
        # the reference compares lower-cased strings: "rbbb" != "right bundle branch block";
        # ecgr1 maps the abbreviation through label_synonyms.json
        "abbreviated label",
        "diagnosis",
        completion({}, answer="Sinus rhythm; RBBB"),
        solution("sinus rhythm; right bundle branch block"),
        1 / 3,  # {sinus rhythm, rbbb} vs {sinus rhythm, right bundle branch block}
        1.0,
    ),
    (
        # the reference rewards any non-blank <think>; ecgr1 also needs an answer
        "think-only answer, format",
        "format",
        completion({}, answer=None),
        solution("sinus rhythm"),
        1.0,
        0.0,
    ),
    (
        "think-only answer, diagnosis",
        "diagnosis",
        completion({}, answer=None),
        solution("sinus rhythm"),
        0.0,
        0.0,
    ),
    (
        # substring search finds "regular rhythm" inside "Irregular rhythm"; ecgr1 matches
        # whole tokens
        "irregular contains regular",
        "evidence",
        completion({1: "Irregular rhythm without P waves, rate 110 bpm."}),
        solution("atrial fibrillation", {1: "regular rhythm"}),
        1.0,
        0.0,
    ),
    (
        # "Rhythm" appears only in the title "Technical, Rate & Rhythm": the reference's step
        # text includes the header line, ecgr1's paragraph does not
        "evidence in a step title",
        "evidence",
        completion({1: "Sinus at 72 bpm."}),
        solution("sinus rhythm", {1: "rhythm; 72 bpm"}),
        1.0,  # both phrases found
        0.5,  # only "72 bpm"
    ),
    (
        # "72 bpm" is not a substring of "72bpm"; ecgr1 tokenises both to "72 bpm"
        "72bpm",
        "evidence",
        completion({1: "Sinus at 72bpm."}),
        solution("sinus rhythm", {1: "72 bpm"}),
        0.0,
        1.0,
    ),
    (
        # the reference finds steps only at a bold "**Step N"; step 1 written "Step 1:" is
        # missing for it (share 0), step 2 is found (share 1): mean 0.5. ecgr1 reads both.
        "unbolded Step 1 header",
        "evidence",
        completion({1: "Rate 72 bpm.", 2: "QRS 140 ms."}, bold=(1,)),
        solution("sinus rhythm", {1: "rate 72 bpm", 2: "QRS 140 ms"}),
        0.5,
        1.0,
    ),
    (
        # the reference scores 0.0 where there is no evidence; ecgr1 returns None (TRL leaves
        # the completion out of that reward's mean)
        "solution without evidence",
        "evidence",
        completion({1: "Rate 72 bpm."}),
        solution("sinus rhythm"),
        0.0,
        None,
    ),
    (
        "a full 6-step answer",
        "format",
        completion({1: "Rate 72 bpm."}),
        solution("sinus rhythm"),
        1.0,
        1.0,
    ),
]


@pytest.mark.parametrize("mode", ["reference", "ecgr1"])
@pytest.mark.parametrize(
    "case, reward, text, sol, expected_reference, expected_ecgr1", CASES, ids=[c[0] for c in CASES]
)
def test_differential_cases(mode, case, reward, text, sol, expected_reference, expected_ecgr1):
    expected = expected_reference if mode == "reference" else expected_ecgr1
    got = SCORERS[mode][reward](text, sol)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def test_reference_accepts_a_backslash_closing_tag():
    text = completion({}, answer="Atrial fibrillation")
    assert ref.diagnosis_score(text, solution("atrial fibrillation", close="<|\\answer|>")) == 1.0
    sol = (
        "<|answer|>AF<|\\answer|><|key_diagnostic_evidence|>step_1_technical_rate_rhythm: "
        "irregular<|\\key_diagnostic_evidence|>"
    )
    assert ref.solution_evidence(sol) == {"step_1_technical_rate_rhythm": ["irregular"]}


def test_ecgr1_mode_reads_a_backslash_closing_tag_too():
    from ecgr1.report.solution import parse_solution

    sol = (
        "<|answer|>AF; RBBB<|\\answer|><|key_diagnostic_evidence|>step_1_technical_rate_rhythm: "
        "irregular RR<|\\key_diagnostic_evidence|>"
    )
    parsed = parse_solution(sol)
    assert parsed.labels == ["AF", "RBBB"]
    assert parsed.evidence == {"step_1_technical_rate_rhythm": ["irregular RR"]}


def test_reference_reads_steps_and_evidence_as_written():
    text = "<think>**Step 2** QRS 140 ms **step 1: Rate**\nregular\n**Step 2: again** late</think>"
    # a number written twice keeps the last text; the header's remainder is part of the text
    assert ref.completion_steps(text) == {2: "again** late", 1: "Rate**\nregular"}
    sol = "step_1_technical_rate_rhythm: a; b STEP_2_conduction_axis_intervals: c;; d"
    assert ref.solution_evidence(sol) == {
        "step_1_technical_rate_rhythm": ["a", "b"],
        "step_2_conduction_axis_intervals": ["c", "d"],
    }
    # a solution without the block is read whole; an unknown step key is ignored
    assert ref.evidence_score(
        "<think>**Step 1: x**\nA</think>", "step_1_technical_rate_rhythm: a step_7_extra: zzz"
    ) == pytest.approx(1.0)


def test_reference_diagnosis_edge_cases():
    assert ref.diagnosis_score("<answer> </answer>", "<|answer|>;<|/answer|>") == 1.0
    assert ref.diagnosis_score("<answer>AF</answer>", "<|answer|> <|/answer|>") == 0.0
    assert ref.diagnosis_score("<ANSWER>AF</ANSWER>", "<|answer|>af<|/answer|>") == 0.0
    assert ref.diagnosis_score("<answer>AF</answer>", "no tags") == 0.0
    # labels are compared after lower-casing and stripping only
    assert ref.diagnosis_score("<answer>AF ; LAD</answer>", "<|answer|>lad;af<|/answer|>") == 1.0


def test_reward_functions_by_mode_share_names_and_call_shape():
    conversational = [[{"role": "assistant", "content": completion({}, answer=None)}]]
    for mode in ("ecgr1", "reference"):
        funcs = reward_functions(mode)
        assert set(funcs) == {"format", "diagnosis", "evidence", "consistency"}
    got = reward_functions("reference")["format"](conversational, solution=["x"])
    assert got == [1.0]
    assert reward_functions("ecgr1")["format"](conversational, solution=["x"]) == [0.0]
    with pytest.raises(ValueError, match="unknown reward mode"):
        reward_functions("paper")
