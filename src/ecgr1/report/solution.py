"""The RL ``solution`` string (``../shared/spec/interchange.md`` §1): parse and write it.

``<|answer|>l1; l2<|/answer|><|key_diagnostic_evidence|>step_1_technical_rate_rhythm: e1; e2
step_2_conduction_axis_intervals: e3 ... step_6_final_medical_reasoning: e9
<|/key_diagnostic_evidence|>``

The report writer produces it, the RL rewards (``ecgr1.train.rewards``) score completions
against it, and the corpus checker (``ecgr1.corpus.check``) validates it; all three use this one
module, which sits in the report stage so that neither the corpus nor the train stage has to
import the other.

* :func:`parse_solution` is lenient (what a reward needs): missing parts give empty results,
  a key repeated adds its phrases to the first, ``none``/``n/a``/``-`` placeholders are dropped.
* :func:`evidence_entries` is literal (what a checker needs): every ``step_<n>_<name>:`` key as
  written, in order, with its phrases, plus any text before the first key, so unknown or repeated
  keys can be reported.

Example
-------
>>> sol = format_solution(["AF"], {"step_1_technical_rate_rhythm": ["irregular RR"]})
>>> sol
'<|answer|>AF<|/answer|><|key_diagnostic_evidence|>step_1_technical_rate_rhythm: irregular RR<|/key_diagnostic_evidence|>'
>>> parse_solution(sol).evidence
{'step_1_technical_rate_rhythm': ['irregular RR']}
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ecgr1.report.steps import STEP_KEYS

ANSWER_OPEN, ANSWER_CLOSE = "<|answer|>", "<|/answer|>"
EVIDENCE_OPEN, EVIDENCE_CLOSE = "<|key_diagnostic_evidence|>", "<|/key_diagnostic_evidence|>"

# ECG-R1's own reward code also accepts ``<|\answer|>`` (a backslash) as a closing tag, as it
# occurs in its data; both spellings close the answer and the evidence block.
_SOL_ANSWER_RE = re.compile(r"<\|answer\|>(.*?)<\|[/\\]answer\|>", re.DOTALL)
_SOL_EVIDENCE_RE = re.compile(
    r"<\|key_diagnostic_evidence\|>(.*?)<\|[/\\]key_diagnostic_evidence\|>", re.DOTALL
)
# The keys parse_solution recognises (steps 1..6; the name part is not checked here).
_SOL_KEY_RE = re.compile(r"(step_[1-6]_[a-z_]+?)\s*:")
# Anything shaped like a step key, for the literal reading (unknown numbers/names included).
_ANY_KEY_RE = re.compile(r"\b(step_\d+_[A-Za-z0-9_]+?)\s*:")
_PLACEHOLDERS = ("none", "n/a", "-")


@dataclass
class Solution:
    """A parsed RL ``solution`` string.

    Attributes
    ----------
    labels : reference diagnosis labels, as written (not normalised).
    evidence : step key -> list of key-evidence phrases (steps without evidence are absent).
    """

    labels: list[str] = field(default_factory=list)
    evidence: dict[str, list[str]] = field(default_factory=dict)


def split_labels(text: str) -> list[str]:
    """Split an answer into labels on ``;`` (and newlines); empty pieces are dropped.

    >>> split_labels(" sinus rhythm ;LAD;; ")
    ['sinus rhythm', 'LAD']
    """
    return [p.strip() for p in re.split(r"[;\n]", text or "") if p.strip()]


def _phrases(text: str) -> list[str]:
    phrases = [p.strip() for p in text.split(";")]
    return [p for p in phrases if p and p.lower() not in _PLACEHOLDERS]


def parse_solution(solution: str) -> Solution:
    """Parse the RL ``solution`` string of interchange.md §1.

    Parameters
    ----------
    solution : ``<|answer|>l1; l2<|/answer|><|key_diagnostic_evidence|>step_1_...: e1; e2
        step_2_...: e3 ...<|/key_diagnostic_evidence|>``. Either part may be missing.

    Returns
    -------
    Solution with the labels and the evidence phrases per step key.

    Example
    -------
    >>> s = parse_solution("<|answer|>AF<|/answer|><|key_diagnostic_evidence|>"
    ...     "step_1_technical_rate_rhythm: irregular RR; no P waves "
    ...     "step_5_electrolytes_qt: QTc 440 ms<|/key_diagnostic_evidence|>")
    >>> s.labels, s.evidence["step_1_technical_rate_rhythm"]
    (['AF'], ['irregular RR', 'no P waves'])
    """
    solution = solution or ""
    answer = _SOL_ANSWER_RE.search(solution)
    labels = split_labels(answer.group(1)) if answer else []
    evidence: dict[str, list[str]] = {}
    block = _SOL_EVIDENCE_RE.search(solution)
    if block:
        text = block.group(1)
        keys = list(_SOL_KEY_RE.finditer(text))
        for i, match in enumerate(keys):
            end = keys[i + 1].start() if i + 1 < len(keys) else len(text)
            phrases = _phrases(text[match.end() : end])
            if phrases:
                evidence.setdefault(match.group(1), []).extend(phrases)
    return Solution(labels=labels, evidence=evidence)


@dataclass
class SolutionParts:
    """A ``solution`` string read literally (see :func:`evidence_entries`).

    Attributes
    ----------
    answer : the text inside ``<|answer|>...<|/answer|>``, or None when absent.
    evidence_block : the text inside the key-evidence block, or None when absent.
    entries : ``(key, phrases)`` for every key-shaped ``step_<n>_<name>:`` in the block, in
        order, repeats and unknown keys included.
    preamble : text in the block before its first key (should be empty).
    outside : text outside both blocks (should be empty).
    """

    answer: str | None = None
    evidence_block: str | None = None
    entries: list[tuple[str, list[str]]] = field(default_factory=list)
    preamble: str = ""
    outside: str = ""


def evidence_entries(solution: str) -> SolutionParts:
    """Read a ``solution`` string literally, for validation.

    >>> p = evidence_entries("<|answer|>AF<|/answer|><|key_diagnostic_evidence|>"
    ...     "step_1_technical_rate_rhythm: a; b step_9_x: c<|/key_diagnostic_evidence|>")
    >>> p.answer, p.entries
    ('AF', [('step_1_technical_rate_rhythm', ['a', 'b']), ('step_9_x', ['c'])])
    """
    solution = solution or ""
    parts = SolutionParts()
    rest = solution
    answer = _SOL_ANSWER_RE.search(solution)
    if answer:
        parts.answer = answer.group(1)
        rest = rest.replace(answer.group(0), "", 1)
    block = _SOL_EVIDENCE_RE.search(solution)
    if block:
        text = block.group(1)
        parts.evidence_block = text
        rest = rest.replace(block.group(0), "", 1)
        keys = list(_ANY_KEY_RE.finditer(text))
        parts.preamble = text[: keys[0].start()] if keys else text
        for i, match in enumerate(keys):
            end = keys[i + 1].start() if i + 1 < len(keys) else len(text)
            parts.entries.append((match.group(1), _phrases(text[match.end() : end])))
    parts.outside = rest
    return parts


def format_solution(labels: Sequence[str], evidence: Mapping[str, Sequence[str]]) -> str:
    """Write a ``solution`` string: labels joined by ``'; '``, evidence keys in step order.

    Keys of ``evidence`` must be step keys (:data:`ecgr1.report.steps.STEP_KEYS`); steps with
    no phrases are left out.

    >>> format_solution(["AF", "LAD"], {})
    '<|answer|>AF; LAD<|/answer|><|key_diagnostic_evidence|><|/key_diagnostic_evidence|>'
    """
    unknown = set(evidence) - set(STEP_KEYS)
    if unknown:
        raise ValueError(f"unknown evidence keys {sorted(unknown)}; expected {STEP_KEYS}")
    body = " ".join(f"{key}: {'; '.join(evidence[key])}" for key in STEP_KEYS if evidence.get(key))
    return f"{ANSWER_OPEN}{'; '.join(labels)}{ANSWER_CLOSE}{EVIDENCE_OPEN}{body}{EVIDENCE_CLOSE}"


def normalise_text(text: str) -> str:
    """Lower case, NFKC, non-alphanumerics (except ``%``) to spaces, collapse whitespace: the
    form in which diagnosis labels are compared (the diagnosis reward, ECGBench scoring).

    Single letters separated by spaces are joined (``"a v block"`` -> ``"av block"``) so that
    ``A-V`` and ``AV`` agree.

    >>> normalise_text("  1st-Degree  A-V block. "), normalise_text("ST/T change")
    ('1st degree av block', 'st t change')
    """
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"[^0-9a-z%]+", " ", text).strip()
    # join runs of single letters ("a v" -> "av") that punctuation split apart
    text = re.sub(r"\b([a-z])\s(?=[a-z]\b)", r"\1", text)
    return re.sub(r"\s+", " ", text)
