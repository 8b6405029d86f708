"""Grounded-interpretation scores: judgements per record, per criterion and overall.

:func:`evaluate_grounding` pairs prediction and reference rows **by id**
(:func:`ecgr1.evaluate.rows.pair_by_id`), asks a judge (:class:`~ecgr1.evaluate.judge.LLMJudge`
or the offline :class:`~ecgr1.evaluate.protocol_judge.ProtocolJudge`) for each pair, and
aggregates.

Formulas (ours, the default)
----------------------------
For a record and a criterion c with valid item scores s_1..s_n (each within 0..M_c, M_c the
prompt's per-item maximum: 2, 1, 2, 2 for the itemised criteria, 100 for the holistic ones):

- itemised criteria (DiagnosisAccuracy, AnalysisCompleteness, AnalysisRelevance,
  LeadEvidenceValidity): ``score_c = 100 * sum(s_i) / (n * M_c)``, the share of the attainable
  points (0 for an empty list: nothing earned); ``points_c = sum(s_i)`` (the prompt's own
  "+k per item" total, which grows with the number of items) is reported beside it;
- holistic criteria (GroundedECGUnderstanding, EvidenceBasedReasoning,
  RealisticDiagnosticProcess): ``score_c = mean(s_i)`` (normally one item);
- ``Average = (GroundedECGUnderstanding + EvidenceBasedReasoning + RealisticDiagnosticProcess)
  / 3`` per record, as the paper's "Average".

A record is **parsed** when its judgement has no failure and every criterion is valid (or
unavailable: a criterion the judge does not score). Everything else is a **failure**, listed
with its reason. Overall, per criterion: ``mean`` = mean of score_c over the parsed records
(``n`` of them: the offline protocol judge leaves some criteria unscorable on some records,
which then do not count); ``mean_failures_as_zero`` = the sum of score_c over those records
divided by their number plus the failed records (a failure scores 0: a lower bound);
``points_mean`` the mean of points_c over the parsed records.

Reference-compatible (``reference_compatible=True``)
----------------------------------------------------
The arithmetic of ECG-R1's ``scripts/evaluation/grounded_interpretation/compute_metrics.py``
applied to our parse of the replies, so numbers compare with the paper's:

- DiagnosisAccuracy: ``100 * #{s_i > 0} / n`` (0 when n = 0): the share of items with any
  credit, so a +1 counts as a +2;
- every other criterion, holistic ones included: ``sum(s_i)`` (two holistic items give up
  to 200);
- a criterion missing or invalid in a record is NaN for that record only (a failed record is
  NaN everywhere), and each column's mean skips NaN (pandas), so the criteria can have
  different denominators and failures vanish from the means (we still count and list them);
- ``Average`` per record = mean of the holistic values present (NaN-skipping), computed only
  when each of the three holistic criteria is present in at least one record.

Scores our validation rejects stay out in both modes: the published script would read
``"8/10"`` as 0.8 (its digit arithmetic is ``eval``-ed) and crash on ``"eight"``; a NaN score
makes its criterion NaN there (DiagnosisAccuracy counts it as uncredited). See
:data:`REFERENCE_DIFFERENCES` for every difference.

Example
-------
>>> from ecgr1.evaluate.judge import CriterionScores, Item, Judgement
>>> items = {c: CriterionScores(c, items=[Item(2.0), Item(1.0)]) for c in ITEMISED}
>>> items.update({c: CriterionScores(c, items=[Item(80.0)]) for c in HOLISTIC})
>>> class Fixed:
...     name = "fixed"
...     def describe(self): return {"judge": "fixed"}
...     def judge_many(self, pairs, progress=None):
...         return [Judgement(p.id, dict(items)) for p in pairs]
>>> rows = [{"id": "a", "response": "x"}]
>>> refs = [{"id": "a", "messages": [{"role": "assistant", "content": "y"}]}]
>>> result = evaluate_grounding(rows, refs, Fixed())
>>> result["overall"]["DiagnosisAccuracy"]["mean"], result["overall"]["Average"]["mean"]
(75.0, 80.0)
>>> evaluate_grounding(rows, refs, Fixed(), reference_compatible=True)["overall"][
...     "DiagnosisAccuracy"]["mean"]
100.0
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ecgr1.errors import ECGR1Error
from ecgr1.evaluate.judge import (
    CRITERIA,
    HOLISTIC,
    ITEMISED,
    SCORE_MAX,
    CriterionScores,
    Judge,
    Judgement,
)
from ecgr1.evaluate.rows import pair_by_id

__all__ = [
    "FORMULAS",
    "REFERENCE_DIFFERENCES",
    "evaluate_grounding",
    "record_scores",
    "to_markdown",
]

Progress = Callable[[int, int], None]
AVERAGE = "Average"
_LISTED_IDS = 50  # ids listed per pairing problem in the report

FORMULAS: dict[str, str] = {
    "itemised": "score = 100 * sum(item scores) / (items * item maximum) (0 with no item); "
    "points = sum(item scores)",
    "holistic": "score = mean(item scores) (0-100)",
    "Average": "(GroundedECGUnderstanding + EvidenceBasedReasoning + "
    "RealisticDiagnosticProcess) / 3 per record",
    "mean": "mean of the record scores over the parsed records (every criterion valid)",
    "mean_failures_as_zero": "sum of the record scores over parsed records / "
    "(parsed + failed records)",
}
FORMULAS_REFERENCE: dict[str, str] = {
    "DiagnosisAccuracy": "100 * (items with score > 0) / items (0 with no item)",
    "others": "sum(item scores), holistic criteria included",
    "Average": "mean of the holistic criteria present in the record (NaN skipped); only when "
    "each appears in some record",
    "mean": "mean over the records where the criterion is valid (NaN skipped column by "
    "column, as pandas does)",
}

#: Where the published scripts (``scripts/evaluation/grounded_interpretation/`` of ECG-R1:
#: ``compute_metrics.py`` and the two ``generate_volcengine_evaluation_result_*.py``) differ from
#: what they mean to do, with their line numbers (the mirrored commit).
REFERENCE_DIFFERENCES: tuple[str, ...] = (
    "compute_metrics.py:56 matches a criterion key only in double quotes and with ':' right "
    "after it, but the prompt asks for single-quoted JSON: a single-quoted reply yields no "
    "criterion; the record becomes an empty dict (line 111) and NaN in every column",
    "compute_metrics.py:56 matches a criterion's list non-greedily ('\\[.*?\\]'): a ']' "
    "inside an explanation ends the list and the later items are lost (the remaining "
    "fragment is then patched by the regexes of lines 118-152)",
    "compute_metrics.py:90-94,126 eval() every run of digits, spaces and + - * / in the "
    "matched text: '60-100 bpm' becomes '-40 bpm', a Score written 8/10 becomes 0.8, and an "
    "explanation holding '9**9**9**9' never finishes",
    "compute_metrics.py:182-190 read a Score that float() refuses as its first number ('80 "
    "points' is 80); one with no digit ('eight') is kept as a string (line 198) and sum() "
    "(line 233) or 'x > 0' (line 235) raises TypeError: the script stops",
    "compute_metrics.py:172-178 skip an item without Score, shrinking the DiagnosisAccuracy "
    "denominator; a NaN Score is kept (the sum becomes NaN, and 'nan > 0' counts as no credit)",
    "compute_metrics.py:192 calls .strip() on the Explanation: a null or numeric explanation "
    "raises AttributeError and stops the script",
    "compute_metrics.py:243-259: unparsed records and criteria are NaN and pandas' mean skips "
    "them, column by column: failures leave the denominators without being counted, and the "
    "criteria are averaged over different records",
    "compute_metrics.py:233 sums the holistic 0-100 criteria over their items: two items "
    "give up to 200",
    "compute_metrics.py:235 counts DiagnosisAccuracy items with any credit: +1 ('lacking key "
    "supporting details') counts as much as +2",
    "compute_metrics.py:250-254: the per-record Average is the mean of the holistic criteria "
    "present, so a record with one holistic score has that score as its Average",
    "compute_metrics.py:122 deletes from '//' to the end of the line: a URL or '1//2' in an "
    "explanation cuts off the rest of the list",
    'compute_metrics.py:124 replaces \'"\\s*"\' by a space: an empty explanation "" '
    "breaks its item; line 121 (replace('\"', '\"')) does nothing",
    "compute_metrics.py:110 strip('```json\\n') removes any of the characters ` j s o n and "
    "newline from both ends, not the fence",
    "compute_metrics.py:24-31 drop a result line with an 'error' or an unreadable body with a "
    "print, and a repeated custom_id overwrites the earlier one (line 29)",
    "generate_volcengine_evaluation_result_single.py:63-70 and _batch.py:95-102 pair ground "
    "truth and prediction by line index and skip a pair whose ids differ (single.py:88-90, "
    "batch.py:117-119) instead of finding its partner: one missing row drops every later pair",
    "generate_volcengine_evaluation_result_single.py:29-32,97-112 and _batch.py:63-64 write "
    "nothing for a failed API call (no retry): the record is silently absent from the "
    "metrics; the single script appends to its output (line 69), so a rerun duplicates records",
    "generate_volcengine_evaluation_result_single.py:91 and _batch.py:121 take the ground truth "
    "from the last message whatever its role",
)


def _stderr_progress(done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\rjudged {done}/{total}{end}")
    sys.stderr.flush()


def _progress_fn(progress: Progress | bool | None) -> Progress | None:
    """A callable from the ``progress`` argument: a callable as it is, True a one-line
    counter on stderr, False or None nothing."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return _stderr_progress
    if not callable(progress):
        raise ECGR1Error(f"progress must be a callable or a boolean, not {progress!r}")
    return progress


def _nan_mean(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None and not math.isnan(v)]
    return sum(got) / len(got) if got else None


def record_scores(
    judgement: Judgement, *, reference_compatible: bool = False
) -> dict[str, dict[str, Any]]:
    """Per criterion of one judgement: ``score`` (None when not valid or unavailable) and,
    for our formulas, ``points`` (itemised criteria) — see the module docstring."""
    out: dict[str, dict[str, Any]] = {}
    for c in CRITERIA:
        cs: CriterionScores = judgement.criteria.get(c) or CriterionScores(c, problem="missing")
        entry: dict[str, Any] = {"score": None, "points": None}
        scores = cs.scores
        if scores is not None:
            n = len(scores)
            if reference_compatible:
                if c == "DiagnosisAccuracy":
                    entry["score"] = 100.0 * sum(s > 0 for s in scores) / n if n else 0.0
                else:
                    entry["score"] = float(sum(scores))
            elif c in ITEMISED:
                entry["points"] = float(sum(scores))
                entry["score"] = 100.0 * sum(scores) / (n * SCORE_MAX[c]) if n else 0.0
            else:
                entry["score"] = sum(scores) / n
        out[c] = entry
    return out


def _average(scores: dict[str, dict[str, Any]], reference_compatible: bool) -> float | None:
    values = [scores[c]["score"] for c in HOLISTIC]
    if reference_compatible:
        return _nan_mean(values)
    return sum(values) / len(values) if all(v is not None for v in values) else None


def evaluate_grounding(
    pred_rows: Iterable[dict[str, Any]],
    ref_rows: Iterable[dict[str, Any]],
    judge: Judge,
    *,
    reference_compatible: bool = False,
    limit: int | None = None,
    progress: Progress | bool | None = None,
) -> dict[str, Any]:
    """Judge every prediction against its reference (paired by id) and aggregate.

    Parameters
    ----------
    pred_rows : prediction rows (spec §4: ``id``, ``response``; ``objects`` for the protocol
        judge); a row with an ``error`` is a failure, not judged.
    ref_rows : reference rows (``id``, the clinician's text in the last assistant turn;
        ``labels`` and ``objects`` used by the protocol judge).
    judge : an :class:`~ecgr1.evaluate.judge.LLMJudge`, a
        :class:`~ecgr1.evaluate.protocol_judge.ProtocolJudge` or anything with ``name``,
        ``describe()`` and ``judge_many(pairs, progress=)``.
    reference_compatible : aggregate with the published script's arithmetic (module docstring).
    limit : judge only the first ``limit`` pairs (in reference order).
    progress : ``progress(done, total)`` while judging; True: a counter on stderr.

    Returns
    -------
    A JSON-ready dict: ``mode``, ``judge``, ``pairing`` (counts and the unpaired ids),
    ``counts`` (records, parsed, failed, cached, requests), ``overall`` (per criterion and
    ``Average``: ``mean``, ``n``, ``mean_failures_as_zero``, ``points_mean``, ``available``),
    ``failures`` (id and reason), ``records`` (per record: status, reason, per-criterion
    items, score and points, average, judge details), ``formulas``.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ECGR1Error(f"limit must be a non-negative integer, not {limit!r}")
    pairing = pair_by_id(pred_rows, ref_rows)
    pairs = pairing.pairs if limit is None else pairing.pairs[:limit]
    judgements = judge.judge_many(pairs, progress=_progress_fn(progress)) if pairs else []
    if len(judgements) != len(pairs):
        raise ECGR1Error(f"the judge gave {len(judgements)} judgements for {len(pairs)} pairs")

    records, failures = [], []
    for pair, jd in zip(pairs, judgements):
        scores = record_scores(jd, reference_compatible=reference_compatible)
        ok = jd.ok
        reason = None if ok else "; ".join(jd.problems)
        if not ok:
            failures.append({"id": pair.id, "reason": reason})
        records.append(
            {
                "id": pair.id,
                "status": "ok" if ok else "failed",
                "reason": reason,
                "cached": jd.cached,
                "attempts": jd.attempts,
                "criteria": {c: {**jd.criteria[c].to_dict(), **scores[c]} for c in CRITERIA},
                "average": _average(scores, reference_compatible),
                "details": jd.details,
                "reply": jd.reply,
            }
        )

    scored = tuple(getattr(judge, "scored", CRITERIA))
    available = {c: c in scored for c in CRITERIA}
    if reference_compatible:
        overall = _overall_reference(records, available)
    else:
        overall = _overall_ours(records, available)

    n_ok = sum(r["status"] == "ok" for r in records)
    return {
        "evaluation": "grounding",
        "mode": "reference_compatible" if reference_compatible else "ours",
        "judge": judge.describe(),
        "criteria": list(CRITERIA),
        "score_max": dict(SCORE_MAX),
        "pairing": {
            **pairing.summary(),
            "missing_pred_ids": pairing.missing_pred[:_LISTED_IDS],
            "missing_ref_ids": pairing.missing_ref[:_LISTED_IDS],
            "duplicate_ids": pairing.duplicate_ids[:_LISTED_IDS],
        },
        "limit": limit,
        "counts": {
            "records": len(records),
            "parsed": n_ok,
            "failed": len(records) - n_ok,
            "cached": sum(bool(r["cached"]) for r in records),
            "requests": sum(int(r["attempts"]) for r in records),
        },
        "overall": overall,
        "failures": failures,
        "records": records,
        "formulas": FORMULAS_REFERENCE if reference_compatible else FORMULAS,
        "reference_differences": list(REFERENCE_DIFFERENCES) if reference_compatible else [],
    }


def _overall_ours(records: list[dict[str, Any]], available: dict[str, bool]) -> dict[str, Any]:
    parsed = [r for r in records if r["status"] == "ok"]
    failed = len(records) - len(parsed)
    out: dict[str, Any] = {}
    for c in CRITERIA:
        if not available[c]:
            out[c] = {"available": False, "mean": None, "n": 0}
            continue
        values = [r["criteria"][c]["score"] for r in parsed]
        values = [v for v in values if v is not None]
        entry: dict[str, Any] = {
            "available": True,
            "mean": sum(values) / len(values) if values else None,
            "n": len(values),
            # failures count as 0; records where the judge cannot score the criterion do not
            "mean_failures_as_zero": (
                sum(values) / (len(values) + failed) if values or failed else None
            ),
        }
        if c in ITEMISED:
            points = [r["criteria"][c]["points"] for r in parsed]
            points = [p for p in points if p is not None]
            entry["points_mean"] = sum(points) / len(points) if points else None
        out[c] = entry
    if all(available[c] for c in HOLISTIC):
        values = [r["average"] for r in parsed if r["average"] is not None]
        out[AVERAGE] = {
            "available": True,
            "mean": sum(values) / len(values) if values else None,
            "n": len(values),
            # failures count as 0; records where the judge cannot score the criterion do not
            "mean_failures_as_zero": (
                sum(values) / (len(values) + failed) if values or failed else None
            ),
        }
    else:
        out[AVERAGE] = {"available": False, "mean": None, "n": 0}
    return out


def _overall_reference(records: list[dict[str, Any]], available: dict[str, bool]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in CRITERIA:
        if not available[c]:
            out[c] = {"available": False, "mean": None, "n": 0}
            continue
        values = [r["criteria"][c]["score"] for r in records]
        got = [v for v in values if v is not None and not math.isnan(v)]
        out[c] = {"available": True, "mean": _nan_mean(got), "n": len(got)}
    # pandas: the Average column exists only when the three holistic columns exist
    present = all(any(r["criteria"][c]["score"] is not None for r in records) for c in HOLISTIC)
    if present:
        got = [r["average"] for r in records if r["average"] is not None]
        out[AVERAGE] = {"available": True, "mean": _nan_mean(got), "n": len(got)}
    else:
        out[AVERAGE] = {"available": False, "mean": None, "n": 0}
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def to_markdown(result: dict[str, Any], *, max_failures: int = 20) -> str:
    """A Markdown summary: the judge, the counts, one row per criterion and the failures."""
    judge = result.get("judge") or {}
    counts = result["counts"]
    mode = result["mode"]
    lines = [
        "# Grounded-interpretation evaluation",
        "",
        f"Judge: {judge.get('judge', '?')}"
        + (f" ({judge['model']} at {judge['endpoint']})" if judge.get("model") else "")
        + f"; mode: {'reference-compatible' if mode == 'reference_compatible' else 'ours'}.",
        "",
        f"Records: {counts['records']} judged, {counts['parsed']} parsed, "
        f"{counts['failed']} failed; {counts['cached']} from the cache, "
        f"{counts['requests']} requests.",
    ]
    pairing = result["pairing"]
    if pairing["missing_pred"] or pairing["missing_ref"] or pairing["duplicate_ids"]:
        lines.append(
            f"Unpaired: {pairing['missing_pred']} references without a prediction, "
            f"{pairing['missing_ref']} predictions without a reference, "
            f"{pairing['duplicate_ids']} duplicate ids, {pairing['no_id']} rows without id."
        )
    lines.append("")
    overall = result["overall"]
    if mode == "reference_compatible":
        lines += ["| criterion | mean | n |", "|---|---|---|"]
        for c in (*CRITERIA, AVERAGE):
            o = overall[c]
            mean = _fmt(o["mean"]) if o["available"] else "unavailable"
            lines.append(f"| {c} | {mean} | {o['n']} |")
    else:
        lines += [
            "| criterion | mean (0-100) | n | failures as 0 | mean points |",
            "|---|---|---|---|---|",
        ]
        for c in (*CRITERIA, AVERAGE):
            o = overall[c]
            if not o["available"]:
                lines.append(f"| {c} | unavailable | – | – | – |")
                continue
            lines.append(
                f"| {c} | {_fmt(o['mean'])} | {o['n']} | {_fmt(o.get('mean_failures_as_zero'))}"
                f" | {_fmt(o.get('points_mean'))} |"
            )
    lines += ["", "Formulas:"]
    lines += [f"- {k}: {v}" for k, v in result["formulas"].items()]
    failures = result["failures"]
    if failures:
        lines += ["", f"Failures ({len(failures)}):", ""]
        for f in failures[:max_failures]:
            reason = " ".join(str(f["reason"]).split())
            lines.append(f"- `{f['id']}`: {reason[:300]}")
        if len(failures) > max_failures:
            lines.append(f"- … and {len(failures) - max_failures} more")
    return "\n".join(lines) + "\n"
