"""Issue 14 end to end on shared records: a corpus's ECGBench-style and test files, predictions
from ``ecgr1 infer`` (protocol engine, tiny model), scored by ``ecgr1 evaluate``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ecgr1.cli import main as ecgr1_main
from ecgr1.corpus.build import build_corpus
from ecgr1.corpus.config import CorpusConfig

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def corpus(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("evalcorpus") / "corpus"
    sources = [f"challenge:{shared_data / 'cpsc2018'}", f"ptbxl:{shared_data / 'extra' / 'ptbxl'}"]
    sources += [f"challenge:{p}" for p in sorted((shared_data / "extra").glob("cinc_*"))]
    # half the patients held out, so that every ECGBench-style set has rows; no images (speed)
    config = CorpusConfig(test_fraction=0.5, images=False, seed=2)
    build_corpus(sources, out, config, workers=2, progress=False)
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _infer(corpus: Path, ref: Path, out: Path, *extra: str) -> None:
    status = ecgr1_main(["infer", "--data", str(ref), "--ecg-root", str(corpus / "ecg"),
                         "--out", str(out), *extra])  # fmt: skip
    assert status == 0


@pytest.mark.parametrize(
    "name", ["cpsc2018_multilabel", "ptbxl_superclass_multilabel", "georgia_single_choice"]
)
def test_protocol_predictions_scored_against_dataset_labels(
    corpus: Path, tmp_path: Path, name: str, capsys
) -> None:
    ref = corpus / "ecgbench" / f"{name}.jsonl"
    assert ref.exists(), sorted(p.name for p in (corpus / "ecgbench").glob("*"))
    pred = tmp_path / "pred.jsonl"
    _infer(corpus, ref, pred, "--engine", "protocol")
    status = ecgr1_main(["evaluate", "ecgbench", "--pred", str(pred), "--ref", str(ref),
                         "--out", str(tmp_path / "eval")])  # fmt: skip
    assert status == 0
    result = json.loads((tmp_path / "eval" / "ecgbench.json").read_text())
    (set_result,) = result["sets"].values()
    n = len(_rows(ref))
    assert set_result["n_rows"] == n and set_result["n_missing"] == 0
    if set_result["kind"] == "multilabel":
        assert 0.0 <= set_result["macro_f1"] <= 1.0 and set_result["auc"] is None
        assert sum(v["support"] for v in set_result["per_label"].values()) >= n
    else:
        assert set_result["n_correct"] == round(set_result["accuracy"] * n)
    html = (tmp_path / "eval" / "ecgbench.html").read_text()
    assert "<table>" in html and "<script" not in html
    assert "ECGBench" in capsys.readouterr().out


def test_perfect_predictions_score_one_and_pairing_is_by_id(corpus: Path, tmp_path: Path) -> None:
    ref = corpus / "ecgbench" / "cpsc2018_multilabel.jsonl"
    rows = _rows(ref)
    # the references' own answers, in reverse order: pairing is by id, not by line
    preds = [{"id": r["id"], "response": r["messages"][-1]["content"]} for r in reversed(rows)]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(p) + "\n" for p in preds))
    assert ecgr1_main(["evaluate", "ecgbench", "--pred", str(pred), "--ref", str(ref),
                       "--out", str(tmp_path)]) == 0  # fmt: skip
    (result,) = json.loads((tmp_path / "ecgbench.json").read_text())["sets"].values()
    assert result["macro_f1"] == 1.0 and result["hamming_loss"] == 0.0


def test_tiny_model_predictions_are_scored_as_unparseable(corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from ecgr1.model.tiny import init_tiny

    tiny = tmp_path / "tiny"
    init_tiny(tiny)
    ref = corpus / "ecgbench" / "cpsc2018_multilabel.jsonl"
    pred = tmp_path / "pred.jsonl"
    _infer(corpus, ref, pred, "--model", str(tiny), "--limit", "5", "--max-new-tokens", "64")
    assert ecgr1_main(["evaluate", "ecgbench", "--pred", str(pred), "--ref", str(ref),
                       "--out", str(tmp_path / "eval")]) == 0  # fmt: skip
    (result,) = json.loads((tmp_path / "eval" / "ecgbench.json").read_text())["sets"].values()
    # a random model writes no <answer> block: five unparseable rows, the rest missing
    assert result["n_predicted"] == 5 and result["n_unparseable"] == 5
    assert result["n_missing"] == result["n_rows"] - 5


def test_modality_consistency_of_protocol_predictions(corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("sacrebleu")
    pytest.importorskip("rouge_score")
    ref = corpus / "sft_test_image_missing100.jsonl"  # ECG-only rows: the protocol reads signals
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _infer(corpus, ref, a, "--engine", "protocol", "--limit", "6")
    # the same predictions, one row's text replaced: only that pair disagrees
    rows = _rows(a)
    rows[0]["response"] = "<think>nothing</think>\nno finding\n<answer>normal ECG</answer>"
    b.write_text("".join(json.dumps(r) + "\n" for r in reversed(rows)))
    assert ecgr1_main(["evaluate", "modality", "--a", str(a), "--b", str(b), "--embedder", "none",
                       "--out", str(tmp_path / "eval")]) == 0  # fmt: skip
    result = json.loads((tmp_path / "eval" / "modality.json").read_text())
    assert result["pairing"]["pairs"] == 6
    final = result["sections"]["final"]
    assert 0 < final["rouge_l_f_mean"] < 1 and final["rouge_l_f_mean"] > 5 / 6 - 0.01
    assert result["labels"]["exact_agreement"] == pytest.approx(5 / 6)


def test_usage_errors(corpus: Path, tmp_path: Path, capsys) -> None:
    ref = corpus / "ecgbench" / "cpsc2018_multilabel.jsonl"
    assert (
        ecgr1_main(
            ["evaluate", "ecgbench", "--pred", str(tmp_path / "no.jsonl"), "--ref", str(ref)]
        )
        == 2
    )
    other = tmp_path / "other.jsonl"
    other.write_text('{"id": "nobody", "response": "<answer>AF</answer>"}\n')
    assert ecgr1_main(["evaluate", "ecgbench", "--pred", str(other), "--ref", str(ref)]) == 2
    assert "no prediction row shares an id" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    shutil.copy(other, bad)
    bad.write_text(bad.read_text() + "{not json\n")
    assert ecgr1_main(["evaluate", "ecgbench", "--pred", str(bad), "--ref", str(ref)]) == 2
    assert "line 2: not JSON" in capsys.readouterr().err


def test_grounding_protocol_judge_on_corpus_references(corpus: Path, tmp_path: Path) -> None:
    # references: corpus test rows (their texts cite our measurements; answers are the
    # dataset's labels); predictions: the protocol engine's reports of the same records
    ref = tmp_path / "ref.jsonl"
    ref.write_text(
        "".join(line + "\n" for line in (corpus / "sft_test.jsonl").read_text().splitlines()[:6])
    )
    pred = tmp_path / "pred.jsonl"
    _infer(corpus, ref, pred, "--engine", "protocol")
    status = ecgr1_main(["evaluate", "grounding", "--pred", str(pred), "--ref", str(ref),
                         "--judge", "protocol", "--ecg-root", str(corpus / "ecg"),
                         "--out", str(tmp_path / "eval")])  # fmt: skip
    assert status == 0
    result = json.loads((tmp_path / "eval" / "grounding.json").read_text())
    assert result["counts"]["records"] == 6 and result["counts"]["failed"] == 0
    overall = result["overall"]
    # the protocol's own reports are grounded in the measurements it judges them by
    assert overall["GroundedECGUnderstanding"]["mean"] > 80
    assert overall["AnalysisRelevance"]["mean"] is None  # not scored offline


def test_grounding_llm_judge_through_a_local_endpoint(
    corpus: Path, tmp_path: Path, shared_data: Path
) -> None:
    from fake_openai import FakeOpenAI

    ref = tmp_path / "ref.jsonl"
    ref.write_text(
        "".join(line + "\n" for line in (corpus / "sft_test.jsonl").read_text().splitlines()[:3])
    )
    pred = tmp_path / "pred.jsonl"
    _infer(corpus, ref, pred, "--engine", "protocol")
    reply = (
        "{'DiagnosisAccuracy': [{'Score': 2, 'Explanation': 'matches [x]'}],"
        " 'AnalysisCompleteness': [{'Score': 1, 'Explanation': 'rate 60-100 bpm'}],"
        " 'AnalysisRelevance': [{'Score': 2, 'Explanation': 'ok'}],"
        " 'LeadEvidenceValidity': [{'Score': 1, 'Explanation': 'ok'}],"
        " 'GroundedECGUnderstanding': [{'Score': 80, 'Explanation': 'ok'}],"
        " 'EvidenceBasedReasoning': [{'Score': 70, 'Explanation': 'ok'}],"
        " 'RealisticDiagnosticProcess': [{'Score': 90, 'Explanation': 'ok'}]}"
    )
    args = ["evaluate", "grounding", "--pred", str(pred), "--ref", str(ref), "--judge-model", "fake",
            "--out", str(tmp_path / "eval"),
            "--judge-prompt", str(shared_data / "formats/ecg-r1_prompts/interpretation_evaluation_prompt.txt")]  # fmt: skip
    with FakeOpenAI(lambda request: reply) as server:
        assert ecgr1_main([*args, "--judge", server.url]) == 0
        first = server.completion_calls
        assert ecgr1_main([*args, "--judge", server.url]) == 0  # cached: no new request
        assert server.completion_calls == first == 3
    result = json.loads((tmp_path / "eval" / "grounding.json").read_text())
    assert result["counts"]["parsed"] == 3 and result["counts"]["cached"] == 3
    assert result["overall"]["Average"]["mean"] == pytest.approx(80.0)
    with FakeOpenAI(lambda request: "I cannot judge this.") as server:
        args[args.index(str(tmp_path / "eval"))] = str(tmp_path / "eval2")
        assert ecgr1_main([*args, "--judge", server.url]) == 1  # unparseable: counted failures
    failed = json.loads((tmp_path / "eval2" / "grounding.json").read_text())
    assert failed["counts"]["failed"] == 3


def test_limit_takes_reference_rows_and_their_predictions(corpus: Path, tmp_path: Path) -> None:
    ref = corpus / "ecgbench" / "cpsc2018_multilabel.jsonl"
    rows = _rows(ref)
    preds = [{"id": r["id"], "response": r["messages"][-1]["content"]} for r in reversed(rows)]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(p) + "\n" for p in preds))
    assert ecgr1_main(["evaluate", "ecgbench", "--pred", str(pred), "--ref", str(ref),
                       "--limit", "4", "--out", str(tmp_path)]) == 0  # fmt: skip
    (result,) = json.loads((tmp_path / "ecgbench.json").read_text())["sets"].values()
    # the first 4 references, paired with their predictions at the end of the other file
    assert result["n_rows"] == 4 and result["n_missing"] == 0 and result["macro_f1"] == 1.0
