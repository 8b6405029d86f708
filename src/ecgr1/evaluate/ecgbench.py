"""ECGBench scoring: multi-label diagnosis sets (F1, Hamming loss, AUC from scores) and
single-choice sets (accuracy), read from the ``<answer>`` block only.

Rows
----
Predictions are spec §4 rows: ``id``, the generated text in ``response`` (else the last
assistant turn) and optionally ``scores`` ({label: probability}). References are the corpus
builder's ECGBench files (:func:`ecgr1.corpus.splits.ecgbench_multilabel` /
:func:`~ecgr1.corpus.splits.ecgbench_single_choice`: ``labels`` + ``candidates``, or
``options`` + ``answer`` letter + ``answer_text``; the truth also in the assistant turn as
``<answer>...</answer>``) or ms-swift rows (ECG-R1's ``ecg_bench/*.jsonl``) whose assistant turn
holds the answer and whose question lists the options. Rows are paired **by id**
(:func:`ecgr1.evaluate.rows.pair_by_id`); a reference row without a prediction is scored as a
failure (no label predicted / a wrong answer) and counted as ``n_missing``.

Each reference row is one of two kinds (:func:`row_kind`), tried in this order:

* single choice: an ``options`` list; else multi-label: a ``candidates`` list, or a question
  asking for every option that applies ("all that apply", "select all", "one or more",
  "every option that applies", "... apply to this ECG");
* single choice: an ``answer`` letter, or a question listing lettered options (``A. x`` /
  ``A) x`` / ``(A) x``, at least A and B);
* multi-label: a ``labels`` list or labels in the assistant's ``<answer>`` (or RL solution).

Rows of one kind (and one ``meta.set``, and for multi-label one candidate list) form a *set*,
scored and reported separately, so a file mixing kinds or sets gives one result per set.

Reading an answer (ours)
------------------------
Only the **last** ``<answer>…</answer>`` block of the response counts; the reasoning and the
narrative are never searched. A response without one (e.g. a general LLM) is *unparseable*:
for multi-label it predicts nothing (every label negative) and for single choice it is wrong;
both are counted (``n_unparseable``).

* Multi-label: the block is split on ``;`` and newlines; each piece is normalised
  (:func:`canonical_label`: :func:`normalise_text`, then one look-up in the
  synonym table ``synonyms.yaml``) and must EQUAL a candidate's canonical form. A piece matching
  no candidate is split once more on commas (answers written "AF, RBBB"); pieces that still
  match nothing are listed in ``unmatched_labels`` and predict nothing. So "ABNORMAL" never
  predicts NORM and "AFL" never predicts AF.
* Single choice (:func:`parse_choice`): the block is a letter standing alone ("B", "B.",
  "(B)", "B)", "Option B"), a letter then its option's text ("B. Sinus rhythm"; a letter whose
  text is another option's is contradictory, hence unparseable; a text matching no option
  leaves the letter), or exactly one option's text (canonical forms equal). "LBBB." is read as
  the option whose text is LBBB, never as option B; a letter outside the options is unparseable.

Formulas (ours)
---------------
For candidate label ``l`` over the set's ``n`` reference rows (missing predictions included):
``tp, fp, fn, tn`` counted on the candidate labels; ``precision = tp/(tp+fp)``,
``recall = tp/(tp+fn)``, ``F1 = 2tp/(2tp+fp+fn)`` (each None when its denominator is 0);
``support = tp+fn``.

* ``macro_f1``: mean F1 over the candidate labels with ``support >= 1`` (a label never true in
  the set has no defined recall; its false positives still count in the micro and Hamming
  figures). ``macro_f1_labels`` lists them.
* ``micro_f1 = 2·Σtp / (2·Σtp + Σfp + Σfn)`` (``micro_precision``/``micro_recall`` likewise).
* ``hamming_loss = (Σfp + Σfn) / (n · L)``, ``L`` = number of candidate labels.
* ``exact_match``: fraction of rows whose predicted candidate set equals the true one.
* ``auc``: only from ``scores``. Per label, ROC AUC = Mann-Whitney ``U/(n_pos·n_neg)`` with tied
  scores counting one half (midranks, :func:`roc_auc`); defined when every row has a numeric
  score for the label and the label has both classes. ``auc`` = mean over those labels
  (``auc_labels``); None with ``auc_reason`` ("no scores", "scores missing on k of n rows",
  "no label with both classes") otherwise. Never computed from 0/1 answers.
* single choice: ``accuracy = correct / n`` (missing and unparseable rows are wrong).

Reference-compatible mode (``reference_compatible=True``)
---------------------------------------------------------
Reproduces ECG-R1's ``scripts/evaluation/ecgbench/compute_metrics.py`` where it is defined, so
numbers compare with the paper; results carry ``reference_compatible: true`` and a ``note``.
Its behaviour, bugs included (line numbers of that file):

* labels: substring search of each label-space name, case-sensitive, over the WHOLE response
  (reasoning included, L145-147, L185-187): "NORM" is found in "ABNORMAL", a label ruled out in
  the reasoning counts as predicted. The truth is found the same way in the golden answer
  (L127, L167); here in the reference row's ``<answer>`` content (else its assistant text, else
  its ``labels`` joined), since ECGBench's golden answer is bare text. Label space: the
  published one for ``ptb-test`` (L120), ``cpsc-test`` (L160) and ``code15-test`` (L262, with
  its NORM/ABNORMAL rules L269-273, L301-308 and the ``Answer:`` split), else the set's
  candidates.
* metrics (``compute_f1_auc``, L35-61): classes = labels present in the truth
  (``MultiLabelBinarizer`` fitted on the truth, predicted labels outside them ignored);
  F1 = mean per-class F1; Hamming loss over those classes; "AUC" = ``roc_auc_score`` on the
  0/1 predictions, i.e. ``(1 + TPR - FPR)/2`` (balanced accuracy), NaN (reported None) when a
  class is positive on every row, and the mean is then NaN too (L53-61).
* single choice (``extract``, L11-33): the whole response equal to a letter A-H; else the first
  of "A." … "H." (alphabetical, not positional) found ANYWHERE ("LBBB." is option B); else the
  letter after "The correct option is "; else the first of A-H (alphabetical) found anywhere
  after the last "Answer:". An unparsed answer is replaced by ``random.choice`` of A-H (A-D for
  ``mmmu-ecg``) from a generator seeded 42 once (L4, L347, L388, L91), drawn in prediction-file
  order. Golden letter: the first character of the golden answer (L324, L366).
* a split is skipped unless its prediction row count is exact: 1611 ``csn-test`` (L353),
  2026 ``g12-test`` (L394), 200 ``mmmu-ecg`` (L97). Draws happen before the check, as there.
* rows are the prediction file's rows (in file order, duplicates kept) whose id is in the set;
  missing predictions are simply absent (the reference pairs by id through a dict, L93).
* ``paper``: F1/AUC/HL or Accuracy ×100 rounded to one decimal, as the reference prints them.

Example
-------
>>> ref = [{"id": "1", "labels": ["NORM"], "candidates": ["NORM", "MI"]},
...        {"id": "2", "labels": ["MI"], "candidates": ["NORM", "MI"]}]
>>> pred = [{"id": "2", "response": "<think>not normal</think><answer>MI</answer>"},
...         {"id": "1", "response": "<answer>ABNORMAL</answer>"}]
>>> result = evaluate_ecgbench(pred, ref)
>>> s = result["sets"]["multilabel"]
>>> s["macro_f1"], s["per_label"]["NORM"]["predicted"], s["auc"], s["auc_reason"]
(0.5, 0, None, 'no scores')
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.stats import rankdata

from ecgr1.errors import InvalidInputError
from ecgr1.evaluate.rows import (
    answer_block,
    pair_by_id,
    reference_labels,
    reference_text,
    response_text,
    row_id,
)
from ecgr1.report.solution import normalise_text, split_labels

__all__ = [
    "DEFAULT_SYNONYMS",
    "MULTILABEL",
    "REFERENCE_SEED",
    "REFERENCE_SPLITS",
    "SINGLE_CHOICE",
    "SynonymTable",
    "canonical_label",
    "evaluate_ecgbench",
    "load_synonyms",
    "normalise_text",
    "parse_choice",
    "reference_extract",
    "roc_auc",
    "row_kind",
    "to_markdown",
]

MULTILABEL = "multilabel"
SINGLE_CHOICE = "single_choice"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: The packaged synonym table.
DEFAULT_SYNONYMS = Path(__file__).with_name("synonyms.yaml")

#: The seed of the reference script's ``random.seed(42)`` (compute_metrics.py L4).
REFERENCE_SEED = 42

#: The reference script's splits, matched as it does, by substring of the set name (its file
#: path): label space of the multi-label ones, exact row count and guess letters of the
#: single-choice ones.
REFERENCE_SPLITS: dict[str, dict[str, Any]] = {
    "ptb-test": {"kind": MULTILABEL, "label_space": ["NORM", "MI", "STTC", "CD", "HYP"]},
    "cpsc-test": {
        "kind": MULTILABEL,
        "label_space": ["NORM", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE"],
    },
    "code15-test": {
        "kind": MULTILABEL,
        "label_space": ["1dAVb", "RBBB", "LBBB", "SB", "ST", "AF"],
        "code15": True,
    },
    "csn-test": {"kind": SINGLE_CHOICE, "rows": 1611, "letters": "ABCDEFGH"},
    "g12-test": {"kind": SINGLE_CHOICE, "rows": 2026, "letters": "ABCDEFGH"},
    "mmmu-ecg": {"kind": SINGLE_CHOICE, "rows": 200, "letters": "ABCD"},
}
#: Guess letters of a single-choice split the reference does not name (those of CSN and G12).
_DEFAULT_GUESS_LETTERS = "ABCDEFGH"

_REFERENCE_NOTE = (
    "reference-compatible: reproduces ECG-R1 compute_metrics.py (labels by case-sensitive "
    "substring over the whole response, 'X.' option matching anywhere, a seeded random guess for "
    "unparsed answers, 'AUC' on 0/1 predictions = balanced accuracy, splits skipped unless the "
    "row count is exact); compare with the paper, not with the corrected scores"
)


# ---------------------------------------------------------------------------- synonyms


@dataclass(frozen=True)
class SynonymTable:
    """Normalised spelling -> canonical name (both in :func:`normalise_text` form)."""

    mapping: dict[str, str] = field(default_factory=dict)

    def canonical(self, label: str) -> str:
        """The canonical form of one label (normalised, then one look-up)."""
        key = normalise_text(label)
        return self.mapping.get(key, key)


def _parse_synonyms(data: Any, where: str) -> SynonymTable:
    if not isinstance(data, Mapping) or not isinstance(data.get("synonyms"), Mapping):
        raise InvalidInputError("a synonym table needs a 'synonyms' mapping", where)
    mapping: dict[str, str] = {}
    canonicals: set[str] = set()
    problems = []
    for canonical, spellings in data["synonyms"].items():
        canon = normalise_text(str(canonical))
        if not canon:
            problems.append(f"empty canonical name {canonical!r}")
            continue
        canonicals.add(canon)
        if not isinstance(spellings, list):
            problems.append(f"{canonical!r}: spellings must be a list")
            continue
        for spelling in spellings:
            key = normalise_text(str(spelling))
            if not key or key == canon:
                continue
            if mapping.get(key, canon) != canon:
                problems.append(f"{spelling!r} listed under {mapping[key]!r} and {canon!r}")
            mapping[key] = canon
    for key, canon in mapping.items():
        if key in canonicals:
            problems.append(f"{key!r} is a canonical name and a spelling of {canon!r}")
    if problems:
        raise InvalidInputError("; ".join(problems), where)
    return SynonymTable(mapping)


@lru_cache(maxsize=4)
def _load(path: str) -> SynonymTable:
    with open(path, encoding="utf-8") as fh:
        return _parse_synonyms(yaml.safe_load(fh), path)


def load_synonyms(path: str | Path | None = None) -> SynonymTable:
    """The synonym table (default: the packaged ``synonyms.yaml``), validated and cached."""
    return _load(str(Path(path or DEFAULT_SYNONYMS).resolve()))


def canonical_label(label: str, table: SynonymTable | None = None) -> str:
    """A label's canonical form: :func:`normalise_text`, then the synonym table.

    >>> canonical_label("RBBB") == canonical_label("right bundle-branch block")
    True
    >>> canonical_label("NORM"), canonical_label("ABNORMAL"), canonical_label("AF")
    ('normal ecg', 'abnormal ecg', 'atrial fibrillation')
    """
    return (table or load_synonyms()).canonical(label)


def _candidate_index(candidates: Sequence[str], table: SynonymTable) -> dict[str, str]:
    index: dict[str, str] = {}
    for name in candidates:
        canon = table.canonical(name)
        if canon in index and index[canon] != name:
            raise InvalidInputError(
                f"candidates {index[canon]!r} and {name!r} have one canonical form {canon!r}"
            )
        index[canon] = name
    return index


# ---------------------------------------------------------------------------- row kinds

_MULTI_HINT = re.compile(
    r"all that apply|(?:select|choose|pick|list|mark) all\b|every option that applies|"
    r"one or more|\b(?:diagnoses|labels|options|statements) apply\b",
    re.IGNORECASE,
)
_OPTION_MARK = re.compile(r"(?:(?<=\s)|^)\(?([A-Z])[.)]\s+", re.MULTILINE)
_OPTIONS_LIST = re.compile(r"\boptions?\s*:\s*([^\n]+)", re.IGNORECASE)
# "B", "B.", "(B)", "B)", "Option B", "Answer: B", "The correct option is B."
_LETTER_ONLY = re.compile(
    r"^(?:(?:the\s+)?(?:correct\s+)?(?:option|answer|choice)\s*(?:is\s*)?[:\-]?\s*)?"
    r"\(?([A-Za-z])\)?\s*[.):]?$",
    re.IGNORECASE,
)
# "B. Sinus rhythm", "(B) Sinus rhythm", "B) Sinus rhythm", "B: Sinus rhythm"
_LETTER_TEXT = re.compile(r"^(?:\(([A-Z])\)|([A-Z])[.):])\s*(.*\S)?\s*$", re.DOTALL)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI-style parts
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("text")
        )
    return ""


def question_text(row: Mapping[str, Any]) -> str:
    """The last user turn's text ("" when none)."""
    for message in reversed(row.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def question_options(question: str) -> list[str] | None:
    """The lettered options a question lists (``A. x`` / ``A) x`` / ``(A) x``, on separate
    lines or inline; the longest run A, B, C... with at least A and B), or None.

    >>> question_options("Which? Choose one.\\nA. AF\\nB. sinus rhythm\\nAnswer with the letter.")
    ['AF', 'sinus rhythm']
    """
    marks = list(_OPTION_MARK.finditer(question or ""))
    best: list[re.Match[str]] = []
    for i, mark in enumerate(marks):
        if mark.group(1) != "A":
            continue
        run = [mark]
        for nxt in marks[i + 1 :]:
            if len(run) < len(LETTERS) and nxt.group(1) == LETTERS[len(run)]:
                run.append(nxt)
        if len(run) > len(best):
            best = run
    if len(best) < 2:
        return None
    texts = []
    for j, mark in enumerate(best):
        end = best[j + 1].start() if j + 1 < len(best) else len(question)
        text = question[mark.end() : end]
        if j + 1 == len(best):
            text = text.split("\n")[0]
        texts.append(text.strip().rstrip(",;").strip())
    return texts


def question_candidates(question: str) -> list[str] | None:
    """The candidate labels after ``Options:`` in a multi-label question (split on commas or
    semicolons, up to the first sentence end), or None.

    >>> question_candidates("Which apply? Options: NORM, MI, STTC. Answer with every option.")
    ['NORM', 'MI', 'STTC']
    """
    m = _OPTIONS_LIST.search(question or "")
    if not m:
        return None
    text = re.split(r"\.\s", m.group(1).strip())[0].strip().rstrip(".")
    found = [p.strip() for p in re.split(r"[;,]", text) if p.strip()]
    return list(dict.fromkeys(found)) or None


def row_kind(row: Mapping[str, Any]) -> str | None:
    """``"multilabel"``, ``"single_choice"`` or None (not an ECGBench-style row); see the
    module documentation for the order of the rules.

    >>> row_kind({"labels": ["AF"], "candidates": ["AF", "NORM"]})
    'multilabel'
    >>> row_kind({"options": ["AF", "NORM"], "answer": "A", "labels": ["AF"]})
    'single_choice'
    """
    if isinstance(row.get("options"), list) and row["options"]:
        return SINGLE_CHOICE
    if isinstance(row.get("candidates"), list) and row["candidates"]:
        return MULTILABEL
    question = question_text(row)
    if _MULTI_HINT.search(question):
        return MULTILABEL
    answer = row.get("answer")
    if isinstance(answer, str) and _LETTER_ONLY.match(answer.strip()):
        return SINGLE_CHOICE
    if question_options(question):
        return SINGLE_CHOICE
    if isinstance(row.get("labels"), list) or reference_labels(dict(row)) is not None:
        return MULTILABEL
    return None


def _set_name(row: Mapping[str, Any]) -> str | None:
    meta = row.get("meta")
    name = meta.get("set") if isinstance(meta, Mapping) else None
    return str(name) if name else None


# ---------------------------------------------------------------------------- answers


def parse_choice(
    text: str | None, options: Sequence[str], table: SynonymTable | None = None
) -> tuple[int | None, str]:
    """Read a single-choice answer: (option index or None, how it was read / why not).

    >>> opts = ["LBBB", "sinus rhythm", "AF"]
    >>> parse_choice("(B)", opts), parse_choice("B. Sinus rhythm", opts)
    ((1, 'letter'), (1, 'letter+text'))
    >>> parse_choice("LBBB.", opts), parse_choice("atrial fibrillation", opts)
    ((0, 'text'), (2, 'text'))
    >>> parse_choice("C. sinus rhythm", opts)
    (None, 'letter contradicts its text')
    """
    if text is None:
        return None, "no answer block"
    table = table or load_synonyms()
    text = text.strip()
    if not text:
        return None, "empty answer"
    canon_options = [table.canonical(o) for o in options]

    def by_text(t: str) -> int | None:
        canon = table.canonical(t)
        hits = [i for i, c in enumerate(canon_options) if c and c == canon]
        return hits[0] if len(hits) == 1 else None

    m = _LETTER_ONLY.match(text)
    if m:
        index = LETTERS.index(m.group(1).upper())
        return (index, "letter") if index < len(options) else (None, "letter out of range")
    m = _LETTER_TEXT.match(text)
    if m:
        index = LETTERS.index(m.group(1) or m.group(2))
        if index >= len(options):
            return None, "letter out of range"
        said = by_text(m.group(3) or "")
        if said is not None and said != index:
            return None, "letter contradicts its text"
        return index, "letter+text"
    index = by_text(text)
    if index is not None:
        return index, "text"
    return None, "matches no option"


def _multilabel_answer(
    response: str, index: Mapping[str, str], table: SynonymTable
) -> tuple[set[str] | None, list[str]]:
    """(predicted candidates or None without an answer block, unmatched pieces)."""
    block = answer_block(response)
    if block is None:
        return None, []
    found: set[str] = set()
    unmatched: list[str] = []
    for part in split_labels(block):
        name = index.get(table.canonical(part))
        if name is not None:
            found.add(name)
            continue
        pieces = [p.strip() for p in part.split(",") if p.strip()]
        for piece in pieces if len(pieces) > 1 else [part]:
            name = index.get(table.canonical(piece))
            if name is None:
                unmatched.append(piece)
            else:
                found.add(name)
    return found, unmatched


# ---------------------------------------------------------------------------- metrics


def roc_auc(y_true: Sequence[int | bool], scores: Sequence[float]) -> float | None:
    """ROC AUC = Mann-Whitney U / (n_pos · n_neg), ties counting one half (midranks); None
    when one class is absent.

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 1, 1], [0.5, 0.5, 0.9])
    0.75
    """
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(scores, dtype=float)
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return float(sum(values) / len(values)) if values else None


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _row_scores(
    pred: Mapping[str, Any] | None, index: Mapping[str, str], table: SynonymTable
) -> dict[str, float] | None:
    """A prediction's ``scores`` keyed by candidate (keys canonicalised); None without."""
    raw = pred.get("scores") if pred is not None else None
    if not isinstance(raw, Mapping):
        return None
    out: dict[str, float] = {}
    for key, value in raw.items():
        name = index.get(table.canonical(str(key)))
        number = _numeric(value)
        if name is not None and number is not None:
            out[name] = number
    return out


def _multilabel_metrics(
    truth: list[set[str]],
    pred: list[set[str]],
    candidates: list[str],
    scores: list[dict[str, float] | None],
) -> dict[str, Any]:
    n, n_labels = len(truth), len(candidates)
    per_label: dict[str, dict[str, Any]] = {}
    tp_all = fp_all = fn_all = 0
    for label in candidates:
        tp = sum(1 for t, p in zip(truth, pred) if label in t and label in p)
        fp = sum(1 for t, p in zip(truth, pred) if label not in t and label in p)
        fn = sum(1 for t, p in zip(truth, pred) if label in t and label not in p)
        tn = n - tp - fp - fn
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        per_label[label] = {
            "support": tp + fn,
            "predicted": tp + fp,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "auc": None,
        }
    macro_labels = [label for label in candidates if per_label[label]["support"] > 0]
    out: dict[str, Any] = {
        "per_label": per_label,
        "macro_f1": _mean(per_label[label]["f1"] for label in macro_labels),
        "macro_f1_labels": macro_labels,
        "micro_precision": _ratio(tp_all, tp_all + fp_all),
        "micro_recall": _ratio(tp_all, tp_all + fn_all),
        "micro_f1": _ratio(2 * tp_all, 2 * tp_all + fp_all + fn_all),
        "hamming_loss": _ratio(fp_all + fn_all, n * n_labels),
        "exact_match": _ratio(sum(1 for t, p in zip(truth, pred) if t == p), n),
    }
    out.update(_auc(truth, candidates, scores, per_label))
    return out


def _auc(
    truth: list[set[str]],
    candidates: list[str],
    scores: list[dict[str, float] | None],
    per_label: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    n = len(truth)
    lacking = sum(1 for s in scores if s is None)
    if n == 0 or lacking == n:
        return {"auc": None, "auc_reason": "no scores", "auc_labels": [], "auc_excluded": {}}
    if lacking:
        return {
            "auc": None,
            "auc_reason": f"scores missing on {lacking} of {n} rows",
            "auc_labels": [],
            "auc_excluded": {},
        }
    excluded: dict[str, str] = {}
    used: list[str] = []
    for label in candidates:
        column = [s.get(label) for s in scores if s is not None]
        if len(column) < n or any(v is None for v in column):
            excluded[label] = "score missing on some rows"
            continue
        value = roc_auc([label in t for t in truth], column)  # type: ignore[arg-type]
        if value is None:
            excluded[label] = "one class only"
            continue
        per_label[label]["auc"] = value
        used.append(label)
    macro = _mean(per_label[label]["auc"] for label in used)
    return {
        "auc": macro,
        "auc_reason": None if used else "no label with both classes and complete scores",
        "auc_labels": used,
        "auc_excluded": excluded,
    }


# ---------------------------------------------------------------------------- reference mode


def reference_extract(text: str) -> str | None:
    """The reference script's ``extract`` (compute_metrics.py L11-33), bugs included: "X."
    anywhere (alphabetical order), then "The correct option is ", then any capital A-H after
    the last "Answer:". (Where the reference would crash, an empty text after "The correct
    option is ", None is returned.)

    >>> reference_extract("Right bundle branch block; no LBBB."), reference_extract("C")
    ('B', 'C')
    """
    letters = list("ABCDEFGH")
    if text in letters:
        return text
    for letter in letters:
        if letter + "." in text:
            return letter
    if "The correct option is " in text:
        tail = text.split("The correct option is ")[-1]
        return tail[0] if tail and tail[0] in letters else None
    if "Answer:" in text:
        answer = text.split("Answer:")[-1].strip()
        for letter in letters:
            if letter in answer:
                return letter
        return None
    return None


def _reference_response(row: Mapping[str, Any]) -> str:
    """The text the reference reads: ``text``, else ``response`` (else the assistant turn)."""
    if isinstance(row.get("text"), str):
        return row["text"]
    return response_text(dict(row))


def _golden_text(ref: Mapping[str, Any]) -> str:
    """The bare golden answer of a reference row (ECGBench's assistant value)."""
    text = reference_text(dict(ref))
    block = answer_block(text)
    if block is not None:
        return block
    if text.strip():
        return text.strip()
    labels = ref.get("labels")
    return "; ".join(str(x) for x in labels) if isinstance(labels, list) else ""


def _reference_split(name: str | None, kind: str, given: str | None) -> str | None:
    """The reference split of a set: ``given`` if it names one of this kind, else by
    substring of the set name as the reference matches file paths."""
    for candidate in (given, name):
        if not candidate:
            continue
        for key, profile in REFERENCE_SPLITS.items():
            if key in candidate and profile["kind"] == kind:
                if key == "ptb-test" and "report" in candidate:
                    continue
                return key
    return None


def _reference_labels_found(label_space: Sequence[str], text: str) -> list[str]:
    return [label for label in label_space if label in text]


def _reference_multilabel(
    rows: list[tuple[dict[str, Any], dict[str, Any]]],
    label_space: list[str],
    code15: bool,
) -> dict[str, Any]:
    y_true: list[list[str]] = []
    y_pred: list[list[str]] = []
    for pred, ref in rows:
        golden = _golden_text(ref)
        text = _reference_response(pred)
        if code15:
            if golden == "NORM":
                truth = ["NORM"]
            elif golden == "ABNORMAL":
                truth = ["ABNORMAL"]
            else:
                truth = _reference_labels_found(label_space, golden)
            if "Answer:" in text:
                text = text.split("Answer:")[-1]
            found = _reference_labels_found(label_space, text)
            if "NORM" in text and "ABNORMAL" not in text:
                guess = ["NORM"] + found
            elif "ABNORMAL" in text:
                guess = ["ABNORMAL"] + found
            else:
                guess = found
        else:
            truth = _reference_labels_found(label_space, golden)
            guess = _reference_labels_found(label_space, text)
        y_true.append(truth)
        y_pred.append(guess)
    classes = sorted({label for labels in y_true for label in labels})
    out: dict[str, Any] = {"n_rows": len(rows), "label_space": list(label_space)}
    out["classes"] = classes
    if not rows or not classes:
        out.update(
            macro_f1=None,
            auc=None,
            hamming_loss=None,
            per_label={},
            paper=None,
            reason="no rows" if not rows else "no label in the truth (the reference fails here)",
        )
        return out
    truth_m = np.array([[c in t for c in classes] for t in y_true], dtype=bool)
    pred_m = np.array([[c in p for c in classes] for p in y_pred], dtype=bool)
    per_label: dict[str, dict[str, Any]] = {}
    f1s: list[float] = []
    aucs: list[float | None] = []
    for j, label in enumerate(classes):
        t, p = truth_m[:, j], pred_m[:, j]
        tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
        tn = int((~t & ~p).sum())
        f1 = 2 * tp / (2 * tp + fp + fn)
        if tn + fp == 0:  # one class in the truth: roc_auc_score raises, the script keeps NaN
            auc = None
        else:
            auc = (1 + tp / (tp + fn) - fp / (fp + tn)) / 2
        f1s.append(f1)
        aucs.append(auc)
        per_label[label] = {"support": tp + fn, "predicted": tp + fp, "f1": f1, "auc": auc}
    macro_auc = None if any(a is None for a in aucs) else float(np.mean(aucs))
    hl = float((truth_m != pred_m).mean())
    f1 = float(np.mean(f1s))
    out.update(
        per_label=per_label,
        macro_f1=f1,
        auc=macro_auc,
        auc_reason=None
        if macro_auc is not None
        else "NaN in the reference (a class true on every row)",
        hamming_loss=hl,
        paper={
            "F1": round(f1 * 100, 1),
            "AUC": None if macro_auc is None else round(macro_auc * 100, 1),
            "HL": round(hl * 100, 1),
        },
    )
    return out


def _reference_single_choice(
    rows: list[tuple[dict[str, Any], dict[str, Any]]],
    letters: str,
    expected: int | None,
    rng: random.Random,
) -> dict[str, Any]:
    correct = guessed = 0
    for pred, ref in rows:
        guess = reference_extract(_reference_response(pred))
        if guess is None:
            guess = rng.choice(list(letters))
            guessed += 1
        golden = _golden_text(ref)
        if not golden and isinstance(ref.get("answer"), str):
            golden = ref["answer"]
        correct += int(bool(golden) and guess == golden[0])
    out: dict[str, Any] = {
        "n_rows": len(rows),
        "n_guessed": guessed,
        "expected_rows": expected,
        "guess_letters": letters,
    }
    if expected is not None and len(rows) != expected:
        out.update(
            skipped=True,
            accuracy=None,
            n_correct=None,
            paper=None,
            reason=f"{len(rows)} prediction rows, not {expected}: the reference skips the split",
        )
        return out
    accuracy = correct / len(rows) if rows else None
    out.update(
        skipped=False,
        accuracy=accuracy,
        n_correct=correct,
        paper=None if accuracy is None else {"Accuracy": round(accuracy * 100, 1)},
    )
    return out


# ---------------------------------------------------------------------------- sets


@dataclass
class _Set:
    name: str | None
    kind: str
    candidates: tuple[str, ...] | None
    candidates_from: str
    refs: list[dict[str, Any]] = field(default_factory=list)


def _row_candidates(
    row: Mapping[str, Any], given: Sequence[str] | None
) -> tuple[tuple[str, ...] | None, str]:
    if given:
        return tuple(dict.fromkeys(str(c) for c in given)), "argument"
    if isinstance(row.get("candidates"), list) and row["candidates"]:
        return tuple(dict.fromkeys(str(c) for c in row["candidates"])), "row"
    found = question_candidates(question_text(row))
    if found:
        return tuple(found), "question"
    return None, "reference labels"


def _truth_labels(ref: Mapping[str, Any]) -> list[str]:
    labels = reference_labels(dict(ref))
    if labels is not None:
        return labels
    text = reference_text(dict(ref)).strip()
    return [p.strip() for p in re.split(r"[;,\n]", text) if p.strip()]


def _row_options(ref: Mapping[str, Any]) -> list[str] | None:
    if isinstance(ref.get("options"), list) and ref["options"]:
        return [str(o) for o in ref["options"]]
    return question_options(question_text(ref))


def _reference_choice(
    ref: Mapping[str, Any], options: Sequence[str], table: SynonymTable
) -> int | None:
    answer = ref.get("answer")
    if isinstance(answer, str):
        index, _ = parse_choice(answer, options, table)
        if index is not None:
            return index
    text = ref.get("answer_text")
    if isinstance(text, str):
        index, how = parse_choice(text, options, table)
        if index is not None and how == "text":
            return index
    golden = reference_text(dict(ref))
    block = answer_block(golden)
    index, _ = parse_choice(block if block is not None else golden, options, table)
    if index is not None:
        return index
    first = (block if block is not None else golden).strip()[:1]  # ECGBench: value[0]
    if first and first in LETTERS[: len(options)]:
        return LETTERS.index(first)
    return None


def _group(
    refs: Sequence[dict[str, Any]], candidates: Sequence[str] | None
) -> tuple[dict[str, _Set], dict[str, str]]:
    """Reference rows grouped into named sets; unscorable reference ids -> reason."""
    groups: dict[tuple[Any, ...], _Set] = {}
    unscorable: dict[str, str] = {}
    for ref in refs:
        rid = row_id(ref)
        if rid is None:
            continue
        kind = row_kind(ref)
        if kind is None:
            unscorable[rid] = "not an ECGBench-style row (no labels, options or answer)"
            continue
        cands, source = (None, "")
        if kind == MULTILABEL:
            cands, source = _row_candidates(ref, candidates)
        key = (_set_name(ref), kind, cands)
        if key not in groups:
            groups[key] = _Set(_set_name(ref), kind, cands, source)
        groups[key].refs.append(ref)
    named: dict[str, _Set] = {}
    for (name, kind, _), group in groups.items():
        base = name or kind
        if name and sum(1 for k in groups if k[0] == name) > 1:
            base = f"{name}_{kind}"
        unique, i = base, 2
        while unique in named:
            unique, i = f"{base}_{i}", i + 1
        named[unique] = group
    return named, unscorable


def _score_multilabel(
    name: str,
    group: _Set,
    preds: Mapping[str, dict[str, Any]],
    table: SynonymTable,
) -> dict[str, Any]:
    truths_raw = [_truth_labels(ref) for ref in group.refs]
    if group.candidates is None:
        candidates = list(dict.fromkeys(label for labels in truths_raw for label in labels))
    else:
        candidates = list(group.candidates)
    index = _candidate_index(candidates, table)
    truth: list[set[str]] = []
    outside = 0
    for labels in truths_raw:
        row_truth = set()
        for label in labels:
            match = index.get(table.canonical(label))
            if match is None:
                outside += 1
            else:
                row_truth.add(match)
        truth.append(row_truth)
    pred_sets: list[set[str]] = []
    scores: list[dict[str, float] | None] = []
    unmatched: Counter[str] = Counter()
    missing = unparseable = no_candidate = 0
    for ref in group.refs:
        pred = preds.get(str(row_id(ref)))
        if pred is None:
            missing += 1
            pred_sets.append(set())
            scores.append(None)
            continue
        found, pieces = _multilabel_answer(response_text(pred), index, table)
        unmatched.update(pieces)
        if found is None:
            unparseable += 1
            found = set()
        elif not found:
            no_candidate += 1
        pred_sets.append(found)
        scores.append(_row_scores(pred, index, table))
    out: dict[str, Any] = {
        "name": name,
        "kind": MULTILABEL,
        "reference_compatible": False,
        "candidates": candidates,
        "candidates_from": group.candidates_from,
        "n_rows": len(group.refs),
        "n_predicted": len(group.refs) - missing,
        "n_missing": missing,
        "n_unparseable": unparseable,
        "n_no_candidate_answer": no_candidate,
        "reference_labels_outside_candidates": outside,
        "unmatched_labels": dict(unmatched.most_common(20)),
    }
    out.update(_multilabel_metrics(truth, pred_sets, candidates, scores))
    return out


def _score_single_choice(
    name: str,
    group: _Set,
    preds: Mapping[str, dict[str, Any]],
    table: SynonymTable,
) -> tuple[dict[str, Any], dict[str, str]]:
    per_answer: dict[str, dict[str, Any]] = {}
    reasons: Counter[str] = Counter()
    forms: Counter[str] = Counter()
    unscorable: dict[str, str] = {}
    n = correct = missing = unparseable = 0
    for ref in group.refs:
        rid = str(row_id(ref))
        options = _row_options(ref)
        truth = _reference_choice(ref, options, table) if options else None
        if options is None or truth is None:
            unscorable[rid] = "single choice without readable options or correct answer"
            continue
        n += 1
        answer_name = options[truth]
        slot = per_answer.setdefault(answer_name, {"support": 0, "correct": 0})
        slot["support"] += 1
        pred = preds.get(rid)
        if pred is None:
            missing += 1
            continue
        index, how = parse_choice(answer_block(response_text(pred)), options, table)
        if index is None:
            unparseable += 1
            reasons[how] += 1
            continue
        forms[how] += 1
        if index == truth:
            correct += 1
            slot["correct"] += 1
    for slot in per_answer.values():
        slot["accuracy"] = _ratio(slot["correct"], slot["support"])
    result = {
        "name": name,
        "kind": SINGLE_CHOICE,
        "reference_compatible": False,
        "n_rows": n,
        "n_predicted": n - missing,
        "n_missing": missing,
        "n_unparseable": unparseable,
        "unparseable_reasons": dict(reasons),
        "answer_forms": dict(forms),
        "n_correct": correct,
        "accuracy": _ratio(correct, n),
        "per_answer": per_answer,
    }
    return result, unscorable


def evaluate_ecgbench(
    pred_rows: Iterable[dict[str, Any]],
    ref_rows: Iterable[dict[str, Any]],
    *,
    reference_compatible: bool = False,
    seed: int | random.Random | None = None,
    candidates: Sequence[str] | None = None,
    reference_split: str | None = None,
    expected_rows: int | None = None,
    synonyms: str | Path | None = None,
) -> dict[str, Any]:
    """Score ECGBench-style predictions against reference rows, paired by id.

    Parameters
    ----------
    pred_rows : spec §4 prediction rows (``id``, ``response``, optional ``scores``).
    ref_rows : reference rows (corpus ECGBench files or ms-swift rows); see the module docs.
    reference_compatible : reproduce ECG-R1's compute_metrics.py instead (module docs).
    seed : reference mode only: the seed of the random guesses (None: 42, the reference's), or a
        ``random.Random`` to share one stream across calls as the reference shares its global
        generator across splits (CSN draws before G12). Our scoring draws nothing.
    candidates : the label space of the multi-label sets (default: each row's ``candidates``,
        else the options its question lists, else every reference label of the set).
    reference_split : reference mode: the reference split the rows are ("ptb-test",
        "cpsc-test", "code15-test", "csn-test-no-cot", "g12-test-no-cot", "mmmu-ecg"; matched by
        substring like the reference matches file paths); default: from each set's name.
    expected_rows : reference mode: the exact prediction row count of single-choice splits
        (default: the reference's count for a named split, no check otherwise).
    synonyms : a synonym table file (default: the packaged ``synonyms.yaml``).

    Returns
    -------
    dict with ``reference_compatible``, ``note``, ``rows`` (counts), ``missing_pred_ids``,
    ``missing_ref_ids``, ``duplicate_ids``, ``unscorable_ref_ids`` (id -> reason) and ``sets``
    (set name -> metrics, see the module docs).
    """
    preds = list(pred_rows)
    refs = list(ref_rows)
    table = load_synonyms(synonyms)
    pairing = pair_by_id(preds, refs)
    by_id = {p.id: p.pred for p in pairing.pairs}
    groups, unscorable = _group(refs, candidates)
    result: dict[str, Any] = {
        "reference_compatible": reference_compatible,
        "note": _REFERENCE_NOTE if reference_compatible else None,
        "rows": {
            "reference": len(refs),
            "prediction": len(preds),
            **pairing.summary(),
        },
        "missing_pred_ids": list(pairing.missing_pred),
        "missing_ref_ids": list(pairing.missing_ref),
        "duplicate_ids": list(pairing.duplicate_ids),
        "unscorable_ref_ids": unscorable,
        "sets": {},
    }
    if reference_compatible:
        rng = (
            seed
            if isinstance(seed, random.Random)
            else random.Random(REFERENCE_SEED if seed is None else seed)
        )
        for name, group in groups.items():
            result["sets"][name] = _reference_set(
                name, group, preds, candidates, reference_split, expected_rows, rng
            )
    else:
        for name, group in groups.items():
            if group.kind == MULTILABEL:
                result["sets"][name] = _score_multilabel(name, group, by_id, table)
            else:
                scored, bad = _score_single_choice(name, group, by_id, table)
                unscorable.update(bad)
                result["sets"][name] = scored
    result["rows"]["unscorable_ref"] = len(unscorable)
    return result


def _reference_set(
    name: str,
    group: _Set,
    preds: Sequence[dict[str, Any]],
    candidates: Sequence[str] | None,
    given_split: str | None,
    expected_rows: int | None,
    rng: random.Random,
) -> dict[str, Any]:
    by_ref = {row_id(ref): ref for ref in group.refs}
    # The reference walks the prediction file: every row whose id is in the set, in file order.
    rows = [(p, by_ref[row_id(p)]) for p in preds if row_id(p) is not None and row_id(p) in by_ref]
    split = _reference_split(group.name or name, group.kind, given_split)
    profile = REFERENCE_SPLITS.get(split or "", {})
    out: dict[str, Any] = {
        "name": name,
        "kind": group.kind,
        "reference_compatible": True,
        "reference_split": split,
        "note": _REFERENCE_NOTE,
    }
    if group.kind == MULTILABEL:
        if "label_space" in profile:
            space = list(profile["label_space"])
        elif group.candidates is not None:
            space = list(group.candidates)
        else:
            space = list(dict.fromkeys(label for ref in group.refs for label in _truth_labels(ref)))
        out.update(_reference_multilabel(rows, space, bool(profile.get("code15"))))
    else:
        expected = expected_rows if expected_rows is not None else profile.get("rows")
        letters = profile.get("letters", _DEFAULT_GUESS_LETTERS)
        out.update(_reference_single_choice(rows, letters, expected, rng))
    return out


# ---------------------------------------------------------------------------- report


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _md_cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(result: Mapping[str, Any]) -> str:
    """A Markdown summary: pairing counts, then per set a summary table and a per-label (or
    per-answer) table."""
    mode = "reference-compatible" if result.get("reference_compatible") else "ecgr1"
    rows = result.get("rows", {})
    lines = [f"# ECGBench scores ({mode})", ""]
    if result.get("note"):
        lines += [f"> {result['note']}", ""]
    lines += [
        "| rows | count |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in rows.items()),
        "",
    ]
    for name, s in result.get("sets", {}).items():
        lines += [f"## {name} ({s.get('kind')})", ""]
        if s.get("reference_compatible"):
            lines += _md_reference_set(s)
        elif s.get("kind") == MULTILABEL:
            lines += _md_multilabel(s)
        else:
            lines += _md_single_choice(s)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _md_multilabel(s: Mapping[str, Any]) -> list[str]:
    auc = _fmt(s["auc"]) if s["auc"] is not None else f"n/a ({s.get('auc_reason')})"
    lines = [
        "| metric | value |",
        "|---|---|",
        f"| rows | {s['n_rows']} (predicted {s['n_predicted']}, missing {s['n_missing']}, "
        f"unparseable {s['n_unparseable']}) |",
        f"| macro-F1 ({len(s['macro_f1_labels'])} labels with positives) | {_fmt(s['macro_f1'])} |",
        f"| micro-F1 | {_fmt(s['micro_f1'])} |",
        f"| Hamming loss | {_fmt(s['hamming_loss'])} |",
        f"| exact match | {_fmt(s['exact_match'])} |",
        f"| AUC (from scores) | {_md_cell(auc)} |",
        "",
        "| label | support | predicted | precision | recall | F1 | AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, m in s["per_label"].items():
        cells = [
            label,
            m["support"],
            m["predicted"],
            m["precision"],
            m["recall"],
            m["f1"],
            m["auc"],
        ]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    if s.get("unmatched_labels"):
        shown = ", ".join(f"{k} ({v})" for k, v in s["unmatched_labels"].items())
        lines += ["", f"Answer labels matching no candidate: {_md_cell(shown)}"]
    return lines


def _md_single_choice(s: Mapping[str, Any]) -> list[str]:
    lines = [
        "| metric | value |",
        "|---|---|",
        f"| rows | {s['n_rows']} (predicted {s['n_predicted']}, missing {s['n_missing']}, "
        f"unparseable {s['n_unparseable']}) |",
        f"| accuracy | {_fmt(s['accuracy'])} ({s['n_correct']}/{s['n_rows']}) |",
        "",
        "| correct answer | support | correct | accuracy |",
        "|---|---|---|---|",
    ]
    for answer, m in s["per_answer"].items():
        cells = [answer, m["support"], m["correct"], m["accuracy"]]
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return lines


def _md_reference_set(s: Mapping[str, Any]) -> list[str]:
    lines = [
        "| metric | value |",
        "|---|---|",
        f"| reference split | {_md_cell(s.get('reference_split'))} |",
    ]
    lines.append(f"| rows | {s['n_rows']} |")
    if s["kind"] == MULTILABEL:
        lines += [
            f"| F1 | {_fmt(s.get('macro_f1'))} |",
            f"| AUC (on 0/1 answers) | {_fmt(s.get('auc'))} |",
            f"| Hamming loss | {_fmt(s.get('hamming_loss'))} |",
            f"| paper style | {_md_cell(s.get('paper'))} |",
        ]
        if s.get("per_label"):
            lines += ["", "| class | support | predicted | F1 | AUC |", "|---|---|---|---|---|"]
            for label, m in s["per_label"].items():
                cells = [label, m["support"], m["predicted"], m["f1"], m["auc"]]
                lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    else:
        lines += [
            f"| accuracy | {_fmt(s.get('accuracy'))} |",
            f"| random guesses | {s.get('n_guessed')} |",
            f"| paper style | {_md_cell(s.get('paper'))} |",
        ]
        if s.get("skipped"):
            lines.append(f"| skipped | {_md_cell(s.get('reason'))} |")
    return lines
