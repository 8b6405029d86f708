"""Issue 13 acceptance, end to end: dataset trees in their published layouts -> corpus rows.

One corpus is built from five generated trees (PTB-XL, a Challenge 2021 tree, LUDB, CODE-15%,
MIMIC-IV-ECG); the tests read it back. A second build with two workers, a Ray build and a build
killed with SIGKILL and resumed must give the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecgr1.cli import main as ecgr1_main
from ecgr1.corpus.build import build_corpus
from ecgr1.corpus.check import check_rows
from ecgr1.corpus.config import CorpusConfig
from ecgr1.corpus.splits import n_missing

sys.path.insert(0, str(Path(__file__).parent))
from corpus_fixtures import (  # noqa: E402
    MISLABELLED,
    make_challenge_tree,
    make_code15_tree,
    make_ludb_tree,
    make_mimic_tree,
    make_ptbxl_tree,
)

MAKERS = {
    "ptbxl": make_ptbxl_tree,
    "challenge": make_challenge_tree,
    "ludb": make_ludb_tree,
    "code15": make_code15_tree,
    "mimic": make_mimic_tree,
}
# Half the patients held out, so that both splits have rows from most sources.
CONFIG = {"seed": 3, "test_fraction": 0.5}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _jsonl_files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.jsonl"))
            if "shards" not in p.parts}  # fmt: skip


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("trees")
    return [f"{kind}:{make(root, n=6)}" for kind, make in MAKERS.items()]


@pytest.fixture(scope="module")
def corpus(trees: list[str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    manifest = build_corpus(trees, out, CorpusConfig(**CONFIG), workers=1, progress=False)
    return out, manifest


def _all_rows(out: Path) -> list[dict]:
    return _rows(out / "sft_train.jsonl") + _rows(out / "sft_test.jsonl")


def test_rows_pass_the_checker_with_their_files(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    files = [out / f"{kind}_{split}.jsonl" for kind in ("sft", "rl") for split in ("train", "test")]
    files += sorted(out.glob("*_missing*.jsonl")) + sorted((out / "ecgbench").glob("*.jsonl"))
    assert len(files) > 4 + 12
    report = check_rows(files, ecg_root=out / "ecg", image_root=out)
    assert report.ok, report.summary_text()
    assert report.rows > 40 and report.evidence_checked > 100
    # the check really looks at the files: without the ECG root every ECG path is missing
    broken = check_rows([out / "sft_train.jsonl"], ecg_root=out / "nowhere", image_root=out)
    assert not broken.ok and set(broken.counts_by_kind()) == {"missing_file"}


def test_every_source_and_both_splits_are_written(corpus: tuple[Path, dict]) -> None:
    out, manifest = corpus
    rows = _all_rows(out)
    sources = {r["meta"]["source"] for r in rows}
    assert {"ptbxl", "ludb", "code15", "mimic", "georgia", "ningbo"} <= sources
    assert {r["meta"]["split"] for r in rows} == {"train", "test"}
    # PTB-XL follows its official folds: fold 10 is the test split, whatever the seed
    for r in rows:
        if r["meta"]["source"] == "ptbxl":
            assert (r["meta"]["split"] == "test") == (r["meta"]["fold"] == 10)
    assert manifest["run"]["records_failed"] == 0 and manifest["run"]["records_internal"] == 0
    # the Challenge record without #Dx gets no row (no answer can be written) and is counted
    assert manifest["run"]["counts"]["skipped:no source label"] == 1
    assert not any(r["meta"]["record_id"] == "Q0001" for r in rows)
    # a CODE-15 exam is exported once to WFDB at its native 400 Hz, padding trimmed
    code15 = next(r for r in rows if r["meta"]["source"] == "code15")
    import wfdb

    signal_, fields = wfdb.rdsamp(str(out / "ecg" / code15["objects"]["ecg"][0]))
    assert fields["fs"] == 400 and signal_.shape[1] == 12 and signal_.shape[0] < 4096


def test_same_seed_gives_byte_identical_rows_and_images(
    corpus: tuple[Path, dict], trees: list[str], tmp_path: Path
) -> None:
    out, _ = corpus
    again = tmp_path / "again"
    # small shards so that both workers get some (the rows do not depend on the shard size)
    config = CorpusConfig(**CONFIG, shard_size=4)
    manifest = build_corpus(trees, again, config, workers=2, progress=False)
    assert _jsonl_files(again) == _jsonl_files(out)
    for png in (out / "images").rglob("*.png"):
        assert png.read_bytes() == (again / png.relative_to(out)).read_bytes()
    assert len(set(manifest["run"]["worker_pids"])) == 2  # two worker processes did the work
    other = tmp_path / "other-seed"
    build_corpus(trees, other, CorpusConfig(seed=4, test_fraction=0.5), workers=1, progress=False)
    assert _jsonl_files(other)["sft_train.jsonl"] != _jsonl_files(out)["sft_train.jsonl"]


def test_ray_engine_gives_the_local_rows(
    corpus: tuple[Path, dict], trees: list[str], tmp_path: Path
) -> None:
    ray = pytest.importorskip("ray")
    out, _ = corpus
    manifest = build_corpus(
        trees, tmp_path / "ray", CorpusConfig(**CONFIG), engine="ray", workers=2, progress=False
    )
    assert _jsonl_files(tmp_path / "ray") == _jsonl_files(out)
    assert manifest["run"]["engine"] == "ray" and not ray.is_initialized()


def test_constructed_disagreements_are_flagged(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    rows = {r["id"]: r for r in _all_rows(out)}
    seen = 0
    for source, record_id in MISLABELLED.items():
        row = next((r for r in rows.values() if r["meta"]["record_id"] == record_id), None)
        if row is None:
            continue  # e.g. a Challenge record whose copy was de-duplicated
        seen += 1
        # a normal sinus simulation labelled atrial fibrillation
        assert row["agreement"]["unsupported"] == ["atrial fibrillation"], (
            source,
            row["agreement"],
        )
        assert row["flagged"] is True
        assert "atrial fibrillation" in row["labels"]  # the answer states the dataset's label
    assert seen >= 4
    # a consistent record: PTB-XL 00002 is an RBBB simulation labelled CRBBB
    rbbb = rows["ptbxl_00002"]
    assert "complete right bundle branch block" in rbbb["agreement"]["supported"]
    assert not rbbb["agreement"]["unsupported"] and "flagged" not in rbbb


def _verified(row: dict, out: Path):
    from ecgr1.io import first_seconds, read_record
    from ecgr1.verify import verify

    text = row["messages"][-1]["content"]
    body = text[: text.index("<answer>")]
    record = first_seconds(read_record(out / "ecg" / (row["objects"]["ecg"][0] + ".hea")), 10)
    return verify(record, body)


def test_no_unsupported_label_is_written_as_if_measured(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    flagged = [
        r
        for r in _all_rows(out)
        if r["agreement"]["unsupported"] and r["meta"]["source"] != "code15"
    ]
    assert flagged
    for row in flagged:
        result = _verified(row, out)
        assert result.verdicts, row["id"]  # the text has checkable claims
        bad = result.contradicted()
        assert not bad, (row["id"], [v.to_dict() for v in bad])
        text = row["messages"][-1]["content"]
        for label in row["agreement"]["unsupported"]:
            # named only where the text attributes it to the source annotation, or rules it out
            for sentence in re.split(r"(?<=\.)\s", text[: text.index("<answer>")]):
                if label in sentence:
                    assert re.search(
                        r"source annotation|annotation's|excluded|excludes|rule out|ruling out|argue against|arguing against",
                        sentence,
                    ), sentence


def test_no_patient_in_both_splits(corpus: tuple[Path, dict]) -> None:
    out, _ = corpus
    by_split: dict[str, set] = {"train": set(), "test": set()}
    for row in _all_rows(out):
        if row["meta"]["patient_id"] is not None:
            by_split[row["meta"]["split"]].add((row["meta"]["source"], row["meta"]["patient_id"]))
    assert by_split["train"] and by_split["test"]
    assert not by_split["train"] & by_split["test"]


def test_modality_missing_files_have_exact_counts(corpus: tuple[Path, dict]) -> None:
    out, manifest = corpus
    for kind in ("sft", "rl"):
        base = _rows(out / f"{kind}_test.jsonl")
        for modality in ("ecg", "image"):
            for pct in (25, 50, 100):
                rows = _rows(out / f"{kind}_test_{modality}_missing{pct}.jsonl")
                assert [r["id"] for r in rows] == [r["id"] for r in base]
                lacking = [
                    r for r in rows
                    if f"<{modality}>" not in r["messages"][-2 if kind == "sft" else -1]["content"]
                ]  # fmt: skip
                assert len(lacking) == n_missing(len(base), pct)
                for r in lacking:
                    assert (r["objects"]["ecg"] if modality == "ecg" else r["images"]) == []
                assert manifest["files"][f"{kind}_test_{modality}_missing{pct}.jsonl"] == len(base)


def test_manifest_counts_sources_duplicates_and_unmapped_labels(corpus: tuple[Path, dict]) -> None:
    _, manifest = corpus
    run = manifest["run"]
    assert sum(v["ok"] for v in run["by_source"].values()) == run["records_ok"]
    # PTB-XL record 1 and its Challenge copy HR00001 are one ECG: the native one is kept
    dropped = {d["uid"]: d["kept_uid"] for d in manifest["duplicates_removed"]}
    assert dropped == {"ptbxl_challenge_HR00001": "ptbxl_00001"}
    assert "ptbxl_challenge" not in run["by_source"]
    # MIMIC summary statements are counted as ignored, never silently dropped
    assert manifest["source_labels"]["mimic"]["ignored"].get("Abnormal ECG", 0) >= 1
    written = run["records_ok"] - run["counts"]["skipped:no source label"]
    assert (
        run["counts"]["image:count"]
        == written
        == manifest["files"]["sft_train.jsonl"] + manifest["files"]["sft_test.jsonl"]
    )
    assert run["agreement"]["records_with"]["unsupported"] >= 4
    # MIMIC-IV-ECG machine intervals are reported beside ours (ours minus the machine's)
    check = manifest["machine_cross_check"]
    assert set(check) >= {"qrs_duration_ms", "qt_interval_ms", "qrs_axis_deg"}
    assert (
        1 <= check["qrs_duration_ms"]["n"] <= 6 and abs(check["qrs_duration_ms"]["mean_diff"]) < 60
    )


def test_machine_cross_check_differences() -> None:
    from ecgr1.corpus.build import machine_cross_check

    rows = [{"meta": {"machine": {"qrs_ms": 100, "qrs_axis_deg": 170},
                      "measured": {"qrs_duration_ms": 110, "qrs_axis_deg": -170}}},
            {"meta": {"machine": {"qrs_ms": 90, "qrs_axis_deg": None},
                      "measured": {"qrs_duration_ms": 86, "qrs_axis_deg": 10}}},
            {"meta": {"source": "ptbxl"}}]  # fmt: skip
    check = machine_cross_check(rows)
    assert check["qrs_duration_ms"] == {
        "n": 2,
        "mean_diff": 3.0,
        "sd_diff": 9.9,
        "mean_abs_diff": 7.0,
    }
    # axes: -170 and 170 degrees are 20 degrees apart, not 340
    assert check["qrs_axis_deg"] == {
        "n": 1,
        "mean_diff": 20.0,
        "sd_diff": None,
        "mean_abs_diff": 20.0,
    }


def test_cli_usage_errors(tmp_path: Path, trees: list[str], capsys) -> None:
    out = tmp_path / "o"
    assert ecgr1_main(["corpus", "build", "--source", "bogus:/x", "--out", str(out)]) == 2
    assert "unknown kind" in capsys.readouterr().err
    assert ecgr1_main(["corpus", "build", "--source", f"ptbxl:{tmp_path}", "--out", str(out)]) == 2
    assert "not a PTB-XL tree" in capsys.readouterr().err
    assert (
        ecgr1_main(["corpus", "build", "--source", trees[2], "--out", str(out), "--workers", "0"])
        == 2
    )
    with pytest.raises(SystemExit) as exc:  # argparse: an unknown choice
        ecgr1_main(
            ["corpus", "build", "--source", trees[2], "--out", str(out), "--disagreement", "x"]
        )
    assert exc.value.code == 2
    capsys.readouterr()
    assert ecgr1_main(["corpus", "check", str(tmp_path / "missing.jsonl")]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "x", "messages": [{"role": "user", "content": "<ecg>\\nQ"}], "images": [], "objects": {"ecg": []}}\n'
    )
    assert ecgr1_main(["corpus", "check", str(bad), "--no-files"]) == 1
    assert "tag_count" in capsys.readouterr().out


def _build_cmd(trees: list[str], out: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "ecgr1", "corpus", "build", "--out", str(out), "--workers", "1",
           "--seed", str(CONFIG["seed"]), "--test-fraction", str(CONFIG["test_fraction"]), "--shard-size", "2"]  # fmt: skip
    for tree in trees:
        cmd += ["--source", tree]
    return cmd + list(extra)


@pytest.mark.slow
def test_cli_build_killed_and_resumed_gives_the_same_rows(
    corpus: tuple[Path, dict], trees: list[str], tmp_path: Path
) -> None:
    out, _ = corpus
    killed = tmp_path / "killed"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    done = killed / "shards" / "done"
    for _ in range(2):  # kill once after the first shard, once further on
        before = len(list(done.glob("*.json"))) if done.exists() else 0
        proc = subprocess.Popen(_build_cmd(trees, killed, "--resume"), env=env,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if done.exists() and len(list(done.glob("*.json"))) > before:
                break
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        total = json.loads((killed / "plan.json").read_text())["shards"]
        assert before < len(list(done.glob("*.json"))) < total  # the kill landed mid-run
    # a new run into the folder of an unfinished one is refused
    refused = subprocess.run(_build_cmd(trees, killed), env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    done = subprocess.run(
        _build_cmd(trees, killed, "--resume"), env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert _jsonl_files(killed) == _jsonl_files(out)
    ids = [r["id"] for r in _rows(killed / "sft_train.jsonl") + _rows(killed / "sft_test.jsonl")]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
@pytest.mark.shared_data
def test_shared_data_corpus_checks_and_trains_on_the_tiny_model(
    shared_data: Path, tmp_path: Path, capsys
) -> None:
    pytest.importorskip("trl")
    from ecgr1.model.tiny import init_tiny

    sources = [f"ludb:{shared_data / 'ludb'}", f"challenge:{shared_data / 'cpsc2018'}",
               f"ptbxl:{shared_data / 'extra' / 'ptbxl'}"]  # fmt: skip
    sources += [f"challenge:{p}" for p in sorted((shared_data / "extra").glob("cinc_*"))]
    out = tmp_path / "corpus"
    manifest = build_corpus(sources, out, CorpusConfig(), workers=2, progress=False)
    run = manifest["run"]
    assert run["records_internal"] == 0
    assert run["records_ok"] >= 300 and run["records_failed"] <= 5, run["failures"]
    # the Challenge copies of PTB-XL records present natively are not written twice
    assert any(d["kept_source"] == "ptbxl" for d in manifest["duplicates_removed"])
    files = [out / f"{kind}_{split}.jsonl" for kind in ("sft", "rl") for split in ("train", "test")]
    report = check_rows(files, ecg_root=out / "ecg", image_root=out)
    assert report.ok, report.summary_text()

    tiny = tmp_path / "tiny"
    init_tiny(tiny)
    small = tmp_path / "small.jsonl"
    small.write_text(
        "".join(line + "\n" for line in (out / "sft_train.jsonl").read_text().splitlines()[:2])
    )
    roots = [
        "--ecg-root",
        str(out / "ecg"),
        "--image-root",
        str(out),
        "--bf16",
        "false",
        "--max-steps",
        "1",
    ]
    sft = tmp_path / "sft"
    assert ecgr1_main(["train", "sft", "--model", str(tiny), "--data", str(small), "--out", str(sft),
                       "--batch-size", "1", "--max-length", "512", *roots]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["finite"]
    rl = tmp_path / "rl.jsonl"
    rl.write_text(
        "".join(line + "\n" for line in (out / "rl_train.jsonl").read_text().splitlines()[:2])
    )
    assert ecgr1_main(["train", "grpo", "--model", str(sft), "--data", str(rl), "--out", str(tmp_path / "grpo"),
                       "--batch-size", "2", "--num-generations", "2", "--max-completion-length", "8",
                       "--no-mask-truncated-completions", *roots]) == 0  # fmt: skip
    assert len(json.loads(capsys.readouterr().out)["rewards"]) == 1


def test_cli_reports_failed_records_and_exits_1(tmp_path: Path, capsys) -> None:
    tree = make_ludb_tree(tmp_path, n=3)
    (tree / "data" / "3.dat").unlink()  # one record cannot be read
    out = tmp_path / "out"
    status = ecgr1_main(["corpus", "build", "--source", f"ludb:{tree}", "--out", str(out),
                         "--workers", "1", "--no-progress"])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 1
    assert "ecgr1 corpus build: error: ludb_3:" in captured.err
    assert "2 records written, 1 failed" in captured.out
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["uid"] for f in manifest["run"]["failures"]] == ["ludb_3"]


def test_config_file_values_are_checked(tmp_path: Path, trees: list[str], capsys) -> None:
    config = tmp_path / "corpus.yaml"
    config.write_text(f"sources: [{trees[2]}]\nout: {tmp_path / 'o'}\ndpi: high\n")
    assert ecgr1_main(["corpus", "build", "--config", str(config)]) == 2
    assert "dpi = 'high' is not a valid value" in capsys.readouterr().err
    config.write_text(f"sources: {trees[2]}\nout: {tmp_path / 'o'}\n")
    assert ecgr1_main(["corpus", "build", "--config", str(config)]) == 2
    assert "must be a list" in capsys.readouterr().err


def _rewritten(request: dict) -> str:
    """A faithful rewrite of the report in the request (connectives only)."""
    report = request["messages"][-1]["content"].split("\n\n", 1)[1]
    body, answer = report[: report.rindex("<answer>")], report[report.rindex("<answer>") :]
    for old, new in (("Findings support ", "The measurements support "),
                     ("This supports ", "The measurements support "),
                     ("Synthesising the findings: ", "Taken together: ")):  # fmt: skip
        body = body.replace(old, new)
    return body + answer


def test_rephrased_rows_are_verified_and_keep_their_evidence(tmp_path: Path) -> None:
    from fake_openai import FakeOpenAI

    from ecgr1.corpus.rephrase import RephraseConfig

    tree = make_ptbxl_tree(tmp_path, n=6)
    with FakeOpenAI(_rewritten) as server:
        rephrase = RephraseConfig(server.url, "fake", backoff_s=0.0, seed=1)
        out = tmp_path / "out"
        manifest = build_corpus([f"ptbxl:{tree}"], out, CorpusConfig(style="deterministic"),
                                workers=1, progress=False, rephrase=rephrase)  # fmt: skip
    counts = manifest["run"]["counts"]
    # every record was rewritten, those whose dataset label the signal contradicts included:
    # the answer had to be copied, so it does not count against the rewrite
    assert counts.get("rephrase:accepted") == manifest["run"]["records_ok"] == 6
    rows = _rows(out / "sft_train.jsonl") + _rows(out / "sft_test.jsonl")
    assert any(r["agreement"]["unsupported"] for r in rows)
    assert all("The measurements support " in r["messages"][-1]["content"] for r in rows)
    files = [out / f"{k}_{s}.jsonl" for k in ("sft", "rl") for s in ("train", "test")]
    report = check_rows(files, ecg_root=out / "ecg", image_root=out)
    assert report.ok and report.evidence_checked > 0, report.summary_text()


def test_cli_stats_counts_labels_and_agreement(corpus: tuple[Path, dict], capsys) -> None:
    out, _ = corpus
    files = [str(out / "sft_train.jsonl"), str(out / "sft_test.jsonl")]
    assert ecgr1_main(["corpus", "stats", *files, "--format", "json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    rows = _all_rows(out)
    assert stats["rows"] == len(rows)
    af = sum("atrial fibrillation" in r["labels"] for r in rows)
    assert stats["labels"]["atrial fibrillation"] == af
    assert stats["rows_with_unsupported"] == sum(bool(r["agreement"]["unsupported"]) for r in rows)
    assert ecgr1_main(["corpus", "stats", *files]) == 0
    assert f"| atrial fibrillation | {af} |" in capsys.readouterr().out
