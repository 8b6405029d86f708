"""The ECG-R1 reference reward formulas (``--reward-mode reference``), written out from their
description in the reference implementation (PKUDigitalHealth/ECG-R1, ``ecg_r1/plugin.py``).

They reproduce the published training signal exactly; :mod:`ecgr1.train.rewards` holds the
project's default formulas, which differ on purpose (see ``docs/training.md``, "Reward
modes"). Every function returns a float (never None) and treats a malformed input as 0.0.

* :func:`format_score`: 1.0 when the completion holds ``<think>...</think>`` (case-sensitive)
  whose text is not blank, else 0.0. Nothing else is checked: no step headers, no answer.
* :func:`diagnosis_score`: Jaccard similarity of the label sets of the completion's first
  ``<answer>...</answer>`` (anywhere in the text, case-sensitive tags) and of the solution's
  ``<|answer|>...<|/answer|>`` (``<|\\answer|>`` also closes it). Labels are the text lower-cased
  and split on ``;``, each stripped, empty pieces dropped; no other normalisation and no
  synonyms. Two empty sets score 1.0, one empty set 0.0; a missing tag on either side 0.0.
* :func:`evidence_score`: the solution's key-evidence block (case-insensitive tags, either
  closing slash; the whole solution when there is no block) is read as
  ``step_<n>_<name>: e1; e2 ...`` entries. The completion's ``<think>`` (case-insensitive) is
  cut into steps at every ``**Step N`` (bold opening required, any case): a step's text runs from
  just after the first ``**``, ``:`` or newline that follows the number up to the next
  ``**Step`` or the end, so it *includes the rest of the header line* (its title). For each of
  the six step keys that has phrases, the share of its phrases found as case-insensitive
  substrings of that step's text; a missing step counts 0; the mean over those keys. A
  completion without ``<think>`` or without any parsable step, or a solution without any
  entry, scores 0.0 (never None).

Example
-------
>>> sol = "<|answer|>Sinus rhythm; RBBB<|\\\\answer|>"
>>> diagnosis_score("<answer>sinus rhythm; rbbb</answer>", sol)
1.0
>>> diagnosis_score("<answer>sinus rhythm; right bundle branch block</answer>", sol)
0.3333333333333333
"""

from __future__ import annotations

import re
from typing import Any

from ecgr1.report.steps import STEP_KEYS

_THINK = re.compile(r"<think>(?P<body>.*?)</think>", re.DOTALL)
_THINK_ANY_CASE = re.compile(_THINK.pattern, re.DOTALL | re.IGNORECASE)
_ANSWER = re.compile(r"<answer>(?P<body>.*?)</answer>", re.DOTALL)
# the reference accepts a closing tag with either slash: <|/answer|> and <|\answer|>
_SOLUTION_ANSWER = re.compile(r"<\|answer\|>(?P<body>.*?)<\|[\\/]answer\|>", re.DOTALL)
_SOLUTION_EVIDENCE = re.compile(
    r"<\|key_diagnostic_evidence\|>(?P<body>.*?)<\|[\\/]key_diagnostic_evidence\|>",
    re.DOTALL | re.IGNORECASE,
)
# "step_3_chamber_hypertrophy_voltage: e1; e2" up to the next "step_<digits>" or the end
_EVIDENCE_ENTRY = re.compile(
    r"(?P<key>step_\d+_[a-z_]+):\s*(?P<phrases>.*?)(?=\s*step_\d+|$)", re.DOTALL | re.IGNORECASE
)
# "**Step 2: title**\ntext": the step text starts after the first "**", ":" or newline that
# follows the number and runs to the next "**Step" (so the title is part of the text)
_STEP = re.compile(
    r"\*\*Step\s+(?P<number>\d+).*?(?:\*\*|:|\n)(?P<text>.*?)(?=\*\*Step|\Z)",
    re.DOTALL | re.IGNORECASE,
)


def format_score(completion: str) -> float:
    """1.0 when ``<think>...</think>`` is present with non-blank text, else 0.0.

    >>> format_score("<think> x </think>"), format_score("<think> </think><answer>AF</answer>")
    (1.0, 0.0)
    """
    match = _THINK.search(completion or "")
    return 1.0 if match and match.group("body").strip() else 0.0


def _label_set(text: str) -> set[str]:
    return {label.strip() for label in text.strip().lower().split(";") if label.strip()}


def diagnosis_score(completion: str, solution: str) -> float:
    """Jaccard of the lower-cased ``;``-split labels (see module docstring).

    >>> diagnosis_score("<answer>AF; LAD</answer>", "<|answer|>af<|/answer|>")
    0.5
    """
    predicted = _ANSWER.search(completion or "")
    reference = _SOLUTION_ANSWER.search(solution or "")
    if not predicted or not reference:
        return 0.0
    a, b = _label_set(predicted.group("body")), _label_set(reference.group("body"))
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def solution_evidence(solution: str) -> dict[str, list[str]]:
    """Step key (lower case) -> evidence phrases, read as the reference reads them.

    A key written twice keeps its last phrases.

    >>> solution_evidence("step_1_technical_rate_rhythm: rate 72 bpm; regular")
    {'step_1_technical_rate_rhythm': ['rate 72 bpm', 'regular']}
    """
    solution = solution or ""
    block = _SOLUTION_EVIDENCE.search(solution)
    text = block.group("body").strip() if block else solution.strip()
    entries: dict[str, list[str]] = {}
    for match in _EVIDENCE_ENTRY.finditer(text):
        phrases = [p.strip() for p in match.group("phrases").split(";") if p.strip()]
        entries[match.group("key").lower()] = phrases
    return entries


def completion_steps(completion: str) -> dict[int, str]:
    """Step number -> step text (header title included) of the completion's ``<think>``.

    Steps whose text is blank are left out; a number written twice keeps its last text.

    >>> completion_steps("<think>**Step 1: Rate & Rhythm**\\nRate 72 bpm</think>")
    {1: 'Rate & Rhythm**\\nRate 72 bpm'}
    """
    think = _THINK_ANY_CASE.search(completion or "")
    if not think:
        return {}
    steps: dict[int, str] = {}
    for match in _STEP.finditer(think.group("body").strip()):
        text = match.group("text").strip()
        if text:
            steps[int(match.group("number"))] = text
    return steps


def evidence_score(completion: str, solution: str) -> float:
    """Mean over evidence-bearing steps of the share of phrases found as case-insensitive
    substrings of the step text (see module docstring); 0.0 when nothing can be scored.

    >>> sol = "step_1_technical_rate_rhythm: regular; 72 bpm"
    >>> evidence_score("<think>**Step 1: Rhythm**\\nirregular, 72bpm</think>", sol)
    0.5
    """
    if not _THINK_ANY_CASE.search(completion or ""):
        return 0.0
    steps = completion_steps(completion)
    evidence = solution_evidence(solution)
    if not steps or not evidence:
        return 0.0
    shares = []
    for number, key in enumerate(STEP_KEYS, start=1):
        phrases = evidence.get(key)
        if not phrases:
            continue
        text = steps.get(number, "")
        hits = sum(bool(re.search(re.escape(p), text, re.IGNORECASE)) for p in phrases)
        shares.append(hits / len(phrases) if text else 0.0)
    return sum(shares) / len(shares) if shares else 0.0


# ---------------------------------------------------------------------------------------------
# TRL-compatible wrappers (same call shape as ecgr1.train.rewards')


def _text(completion: Any) -> str:
    from ecgr1.train.rewards import completion_text

    return completion_text(completion)


def format_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """TRL reward: reference :func:`format_score` per completion."""
    return [format_score(_text(c)) for c in completions]


def diagnosis_reward(completions: list[Any], solution: list[str], **kwargs: Any) -> list[float]:
    """TRL reward: reference :func:`diagnosis_score` per completion."""
    return [diagnosis_score(_text(c), s) for c, s in zip(completions, solution)]


def evidence_reward(completions: list[Any], solution: list[str], **kwargs: Any) -> list[float]:
    """TRL reward: reference :func:`evidence_score` per completion."""
    return [evidence_score(_text(c), s) for c, s in zip(completions, solution)]


REWARD_FUNCTIONS = {
    "format": format_reward,
    "diagnosis": diagnosis_reward,
    "evidence": evidence_reward,
}
