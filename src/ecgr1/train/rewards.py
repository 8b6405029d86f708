"""ECG Diagnostic Evidence Rewards: format, diagnosis and evidence (plain functions, no TRL).

Three rewards score one generated interpretation (``../shared/spec/interchange.md`` §2) against
the RL row's ``solution`` string (§1), and a fourth against the row's ECG itself:

* :func:`format_score` (0 or 1): a non-empty ``<think>`` block holding the six step headers in
  order, each followed by a non-empty paragraph, then a non-empty ``<answer>`` after
  ``</think>``, with nothing but whitespace after ``</answer>``.
* :func:`diagnosis_score` (0..1): Jaccard similarity of the normalised ``;``-separated labels of
  the completion's ``<answer>`` and the solution's ``<|answer|>``.
* :func:`evidence_score` (0..1, or None): for every step that has reference key-evidence
  phrases, the fraction of those phrases found in that step's paragraph of the completion;
  averaged over those steps. None when the solution has no evidence at all (TRL then leaves the
  completion out of that reward's mean instead of scoring it 0).

Label normalisation (:func:`normalise_label`): Unicode NFKC, lower case, every character that is
not a letter, digit or ``%`` becomes a space (so ``"1st-degree A-V block."`` and
``"1st degree AV block"`` differ only in the ``a v``/``av`` split, which is also removed: single
letters separated by spaces are joined), whitespace collapsed, then one look-up in the synonym
table ``label_synonyms.json`` (``"rbbb" -> "right bundle branch block"``), which is data and can
be extended without touching code.

Evidence matching (:func:`evidence_tokens`): both the phrase and the paragraph are cut into
tokens (letter runs, numbers, ``%``, comparison signs), so spacing, case and punctuation do not
matter (``"QRS 120ms"`` matches ``"qrs 120 ms"``, ``"ST-elevation"`` matches ``"ST elevation"``);
a phrase is found when its token sequence occurs contiguously in the paragraph's.

:func:`consistency_score` (0..1): 1 - contradicted / checkable for the completion's distinct
claims checked against the row's measured ECG (:mod:`ecgr1.verify`); 0.5 when nothing is
checkable. A repeated claim counts once, so repeating true sentences cannot dilute a false one
(adding *different* true claims still raises the score: weigh it with the other rewards).
:class:`ConsistencyReward` (name ``consistency``) measures each row's ECG once and caches it.

The ``solution`` parser (:class:`Solution`, :func:`parse_solution`, :func:`split_labels`) lives
in :mod:`ecgr1.report.solution` (the corpus checker uses it too) and is re-exported here.

:func:`format_reward`, :func:`diagnosis_reward` and :func:`evidence_reward` are the TRL-style
wrappers ``(completions, solution, **kwargs) -> list[float | None]`` that accept plain-text or
conversational completions.

Example
-------
>>> sol = "<|answer|>Sinus rhythm; RBBB<|/answer|><|key_diagnostic_evidence|>" \\
...       "step_1_technical_rate_rhythm: rate 72 bpm<|/key_diagnostic_evidence|>"
>>> parse_solution(sol).labels
['Sinus rhythm', 'RBBB']
>>> diagnosis_score("<answer>right bundle branch block; sinus rhythm</answer>", sol)
1.0
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ecgr1.errors import ECGR1Error
from ecgr1.report.solution import (  # noqa: F401  (re-exported: one definition, in report)
    Solution,
    normalise_text,
    parse_solution,
    split_labels,
)
from ecgr1.report.steps import STEP_KEYS, STEP_TITLES  # noqa: F401  (re-exported; one definition)

N_STEPS = len(STEP_KEYS)

_THINK_RE = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# "**Step 3: Chamber Hypertrophy & Voltage**" (bold markers optional, title free text)
_STEP_HEADER_RE = re.compile(r"^[ \t]*(?:\*\*)?[ \t]*Step[ \t]*(\d+)[ \t]*:[^\n]*$", re.MULTILINE)
_EVIDENCE_TOKEN_RE = re.compile(r"[a-z]+|\d+(?:\.\d+)?|[%<>=+]")


@dataclass
class ParsedCompletion:
    """A generated interpretation cut into its parts (any part may be missing).

    Attributes
    ----------
    think : text inside the first ``<think>...</think>``, or None.
    steps : step number (1..6) -> paragraph text, in the order found; duplicates keep the first.
    step_order : step numbers in the order their headers appear.
    answer : text inside the first ``<answer>...</answer>`` after ``</think>`` (or anywhere
        when there is no think block), or None.
    trailing : text after ``</answer>`` (should be empty).
    leading : text before ``<think>`` (should be empty).
    """

    think: str | None = None
    steps: dict[int, str] = field(default_factory=dict)
    step_order: list[int] = field(default_factory=list)
    answer: str | None = None
    trailing: str = ""
    leading: str = ""


def parse_completion(text: str) -> ParsedCompletion:
    """Cut a 6-step interpretation (interchange.md §2) into think, steps and answer.

    Example
    -------
    >>> p = parse_completion("<think>**Step 1: Technical, Rate & Rhythm**\\nok</think>"
    ...                      "<answer>AF</answer>")
    >>> p.steps, p.answer
    ({1: 'ok'}, 'AF')
    """
    text = text or ""
    parsed = ParsedCompletion()
    think = _THINK_RE.search(text)
    after = text
    if think:
        parsed.think = think.group(1)
        parsed.leading = text[: think.start()]
        after = text[think.end() :]
        headers = list(_STEP_HEADER_RE.finditer(parsed.think))
        for i, header in enumerate(headers):
            number = int(header.group(1))
            end = headers[i + 1].start() if i + 1 < len(headers) else len(parsed.think)
            parsed.step_order.append(number)
            parsed.steps.setdefault(number, parsed.think[header.end() : end].strip())
    answer = _ANSWER_RE.search(after)
    if answer:
        parsed.answer = answer.group(1).strip()
        parsed.trailing = after[answer.end() :]
    return parsed


@lru_cache(maxsize=1)
def label_synonyms() -> dict[str, str]:
    """The synonym table (normalised key -> normalised canonical label) from package data."""
    raw = json.loads(
        resources.files("ecgr1.train").joinpath("label_synonyms.json").read_text("utf-8")
    )
    return {normalise_text(k): normalise_text(v) for k, v in raw["synonyms"].items()}


def normalise_label(label: str) -> str:
    """Normalise one diagnosis label and map it through the synonym table.

    >>> normalise_label("RBBB"), normalise_label("Complete right bundle-branch block")
    ('right bundle branch block', 'right bundle branch block')
    """
    text = normalise_text(label)
    return label_synonyms().get(text, text)


def jaccard(a: set[str], b: set[str]) -> float:
    """Jaccard similarity |a & b| / |a | b|; two empty sets count as identical (1.0)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def format_score(completion: str) -> float:
    """1.0 when the completion follows the 6-step format of interchange.md §2, else 0.0.

    Required: a ``<think>`` block first (only whitespace before it) that is non-empty and holds the headers ``Step 1`` .. ``Step 6``
    exactly once each and in order, every step paragraph non-empty; then, after ``</think>``, a
    non-empty ``<answer>...</answer>``; nothing but whitespace after ``</answer>``. Header titles
    are free text (the number carries the order); the narrative paragraph is optional.
    """
    parsed = parse_completion(completion)
    if parsed.think is None or not parsed.think.strip() or parsed.leading.strip():
        return 0.0
    if parsed.step_order != list(range(1, N_STEPS + 1)):
        return 0.0
    if any(not parsed.steps.get(n, "").strip() for n in range(1, N_STEPS + 1)):
        return 0.0
    if not parsed.answer or parsed.trailing.strip():
        return 0.0
    return 1.0


def diagnosis_score(completion: str, solution: str) -> float:
    """Jaccard of normalised answer labels vs the solution's ``<|answer|>`` labels (0..1).

    A completion without ``<answer>`` scores 0.0.
    """
    answer = parse_completion(completion).answer
    if answer is None:
        return 0.0
    predicted = {normalise_label(x) for x in split_labels(answer)} - {""}
    reference = {normalise_label(x) for x in parse_solution(solution).labels} - {""}
    return jaccard(predicted, reference)


def evidence_tokens(text: str) -> str:
    """Token string used for evidence matching, padded with spaces for whole-token search.

    >>> evidence_tokens("QRS 120ms, ST-elevation")
    ' qrs 120 ms st elevation '
    """
    text = unicodedata.normalize("NFKC", text or "").lower()
    return " " + " ".join(_EVIDENCE_TOKEN_RE.findall(text)) + " "


def evidence_score(completion: str, solution: str) -> float | None:
    """Mean over evidence-bearing steps of the fraction of key phrases found in that step.

    A step missing from the completion counts as an empty paragraph (fraction 0). Returns None
    when the solution carries no evidence phrases.
    """
    reference = parse_solution(solution).evidence
    if not reference:
        return None
    steps = parse_completion(completion).steps
    fractions = []
    for key, phrases in reference.items():
        number = STEP_KEYS.index(key) + 1 if key in STEP_KEYS else int(key.split("_")[1])
        paragraph = evidence_tokens(steps.get(number, ""))
        found = sum(
            1 for p in phrases if evidence_tokens(p).strip() and evidence_tokens(p) in paragraph
        )
        fractions.append(found / len(phrases))
    return sum(fractions) / len(fractions)


# ---------------------------------------------------------------------------------------------
# TRL-compatible wrappers: reward_func(prompts=..., completions=..., completion_ids=..., **columns)


def completion_text(completion: Any) -> str:
    """Text of one completion, plain (``str``) or conversational (list of messages).

    For conversational completions the last assistant message is used; list-of-blocks content
    (``[{"type": "text", "text": ...}]``) is joined.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    for message in reversed(list(completion or [])):
        if message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content", "")
        if isinstance(content, list):
            return "".join(
                b.get("text", "")
                for b in content
                if isinstance(b, dict) and b.get("type") == "text"
            )
        return str(content or "")
    return ""


def format_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """TRL reward: :func:`format_score` per completion."""
    return [format_score(completion_text(c)) for c in completions]


def diagnosis_reward(completions: list[Any], solution: list[str], **kwargs: Any) -> list[float]:
    """TRL reward: :func:`diagnosis_score` per completion against its row's ``solution``."""
    return [diagnosis_score(completion_text(c), s) for c, s in zip(completions, solution)]


def evidence_reward(
    completions: list[Any], solution: list[str], **kwargs: Any
) -> list[float | None]:
    """TRL reward: :func:`evidence_score` per completion (None where no evidence exists)."""
    return [evidence_score(completion_text(c), s) for c, s in zip(completions, solution)]


# ---------------------------------------------------------------------------------------------
# Measurement consistency: the completion's claims checked against the row's ECG (ecgr1.verify)

# Score of a completion with no checkable claim: halfway between "every claim contradicted" (0)
# and "every claim supported" (1), so that neither saying nothing nor hallucinating pays.
NO_CHECKABLE_CLAIMS_SCORE = 0.5


def consistency_score(completion: str, interpretation: Any) -> float:
    """1 - contradicted / checkable for the claims of ``completion`` checked against a protocol
    interpretation (:func:`ecgr1.verify.api.interpretation_for`); the neutral
    :data:`NO_CHECKABLE_CLAIMS_SCORE` when no claim is checkable (or there is no ECG)."""
    from ecgr1.verify.api import verify_interpretation

    # one vote per distinct claim: repeating a true sentence must not dilute a false one
    verdicts = {}
    for v in verify_interpretation(interpretation, completion).verdicts:
        c = v.claim
        key = (c.concept, c.leads, c.negated, c.value, c.upper, c.comparator, c.qualifier)
        if v.verdict != "not_checkable":
            verdicts[key] = min(verdicts.get(key, v.verdict), v.verdict)  # "contradicted" wins
    if not verdicts:
        return NO_CHECKABLE_CLAIMS_SCORE
    contradicted = sum(v == "contradicted" for v in verdicts.values())
    return 1.0 - contradicted / len(verdicts)


class ConsistencyReward:
    """TRL reward: :func:`consistency_score` of each completion against its row's ECG.

    The row's first ECG (the ``ecgr1_ecg`` column of the GRPO dataset, relative to
    ``ecg_root``) is measured and interpreted once and cached, so the ``num_generations``
    completions of a prompt, and later epochs, reuse it. A row without an ECG, or whose ECG
    cannot be read or measured, scores every completion neutrally.
    """

    __name__ = "consistency"

    def __init__(self, ecg_root: str | None = None, cache_size: int = 4096) -> None:
        self.ecg_root = ecg_root
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Any] = OrderedDict()  # least recently used first

    def interpretation(self, ecg_paths: Any) -> Any:
        """The cached protocol interpretation of a row's first ECG, or None."""
        from ecgr1.verify.api import interpretation_for

        paths = list(ecg_paths or [])
        if not paths or not isinstance(paths[0], str):
            return None
        # one cache entry per file however the rows spell its path ("a/../b", "./b")
        key = os.path.normpath(str(Path(self.ecg_root) / paths[0]) if self.ecg_root else paths[0])
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if len(self._cache) >= self.cache_size:
            self._cache.popitem(last=False)
        try:
            self._cache[key] = interpretation_for(key)[0]
        except (ECGR1Error, OSError):
            self._cache[key] = None  # unreadable: neutral, like a row without an ECG
        return self._cache[key]

    def __call__(self, completions: list[Any], **kwargs: Any) -> list[float]:
        ecgs = kwargs.get("ecgr1_ecg") or [None] * len(completions)
        return [
            consistency_score(completion_text(c), self.interpretation(e))
            for c, e in zip(completions, ecgs)
        ]


consistency_reward = ConsistencyReward()

REWARD_FUNCTIONS = {
    "format": format_reward,
    "diagnosis": diagnosis_reward,
    "evidence": evidence_reward,
    "consistency": consistency_reward,
}

# Reward modes: "ecgr1" (the formulas above, the default) and "reference" (the ECG-R1 reference
# implementation's formulas, ecgr1.train.reference_rewards); docs/training.md lists the
# differences. "consistency" is the same in both modes.
DEFAULT_REWARD_MODE = "ecgr1"
REWARD_MODES = ("ecgr1", "reference")


def reward_functions(mode: str = DEFAULT_REWARD_MODE) -> dict[str, Any]:
    """Reward name -> TRL reward function for a reward mode (``ecgr1`` or ``reference``).

    >>> sorted(reward_functions("reference"))
    ['consistency', 'diagnosis', 'evidence', 'format']
    """
    if mode == "ecgr1":
        return dict(REWARD_FUNCTIONS)
    if mode == "reference":
        from ecgr1.train import reference_rewards

        return {**reference_rewards.REWARD_FUNCTIONS, "consistency": consistency_reward}
    raise ValueError(f"unknown reward mode {mode!r}; known: {', '.join(REWARD_MODES)}")
