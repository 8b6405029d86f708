"""Row validation (ecgr1.corpus.check): the published ECG-R1 rows, one constructed bad row per
problem kind, evidence phrases checked against the right step (same row or the SFT file)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ecgr1.corpus.check import PROBLEM_KINDS, check_rows, map_path, parse_path_map
from ecgr1.report.solution import format_solution
from ecgr1.report.steps import STEP_KEYS, STEP_TITLES

PUBLISHED = "formats/ecg-grounding/ecg-grounding-test-mimiciv_sample_2records.jsonl"

PARAGRAPHS = [
    "Good quality. Sinus rhythm at 72 bpm with regular RR intervals.",
    "PR 160 ms, QRS 140 ms with rsR' in V1; normal axis.",
    "No voltage criteria for hypertrophy.",
    "No ST elevation; secondary T inversion in V1.",
    "QTc 450 ms.",
    "Wide QRS with rsR' in V1: right bundle branch block.",
]
EVIDENCE = {
    STEP_KEYS[0]: ["72 bpm", "regular RR intervals"],
    STEP_KEYS[1]: ["QRS 140 ms"],
    STEP_KEYS[5]: ["bundle branch block"],
}


def assistant(paragraphs=PARAGRAPHS, headers=None, answer="sinus rhythm; RBBB", tail=""):
    headers = headers or [f"**Step {i}: {STEP_TITLES[i - 1]}**" for i in range(1, 7)]
    body = "\n".join(f"{h}\n{p}" for h, p in zip(headers, paragraphs))
    return f"<think>\n{body}\n</think>\nA narrative.\n<answer>{answer}</answer>{tail}"


def sft_row(row_id="ptbxl_00001"):
    return {
        "id": row_id,
        "messages": [
            {"role": "system", "content": "You are an ECG assistant."},
            {"role": "user", "content": "<ecg><image>\nInterpret this ECG."},
            {"role": "assistant", "content": assistant()},
        ],
        "images": ["images/ptbxl/1.png"],
        "objects": {"ecg": ["ptbxl/records500/00000/00001_hr"]},
        "labels": ["sinus rhythm", "RBBB"],
        "meta": {"source": "ptbxl", "record_id": "00001", "split": "train"},
    }


def rl_row(row_id="ptbxl_00001", evidence=EVIDENCE):
    row = sft_row(row_id)
    row["messages"] = row["messages"][:2]
    row["solution"] = format_solution(["sinus rhythm", "RBBB"], evidence)
    return row


@pytest.fixture()
def media(tmp_path):
    """A corpus folder with the files the rows above point to."""
    (tmp_path / "images/ptbxl").mkdir(parents=True)
    (tmp_path / "images/ptbxl/1.png").write_bytes(b"png")
    (tmp_path / "ptbxl/records500/00000").mkdir(parents=True)
    (tmp_path / "ptbxl/records500/00000/00001_hr.hea").write_text("00001_hr 12 500 5000\n")
    return tmp_path


def write(folder: Path, name: str, rows) -> Path:
    path = folder / name
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ the published rows


def test_published_rows_pass_without_files_and_fail_with_missing_files(shared_data, tmp_path):
    path = shared_data / PUBLISHED
    if not path.is_file():
        pytest.skip(f"{path} not found")
    report = check_rows([path], check_files=False)
    assert report.ok and report.rows == 2, report.summary_text()
    report = check_rows([path])
    assert report.counts_by_kind() == {"missing_file": 2}
    assert "/data/lihy/model_cache/ecg_grounding/mimic_gen" in report.problems[0].message
    # --path-map OLD=NEW onto a folder that holds the images
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    old = "/data/lihy/model_cache/ecg_grounding"
    for row in rows:
        target = tmp_path / row["images"][0][len(old) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"png")
    report = check_rows([path], path_map=parse_path_map([f"{old}={tmp_path}"]))
    assert report.ok, report.summary_text()


# ------------------------------------------------------------------ good rows


def test_good_sft_and_rl_rows_pass(media):
    sft = write(media, "train_sft.jsonl", [sft_row("a"), sft_row("b")])
    rl = write(media, "train_rl.jsonl", [rl_row("a"), rl_row("b")])
    report = check_rows([sft, rl])
    assert report.ok, report.summary_text()
    assert report.rows == 4 and report.rows_by_path == {str(sft): 2, str(rl): 2}
    assert report.evidence_checked == 8 and report.evidence_unchecked == 0
    # the RL file alone: evidence not checked, which is not a problem
    alone = check_rows([rl])
    assert alone.ok and alone.evidence_unchecked == 2 and alone.evidence_checked == 0
    # roots instead of the file's folder
    elsewhere = write(media / "images", "rows.jsonl", [sft_row()])
    assert not check_rows([elsewhere]).ok
    assert check_rows([elsewhere], ecg_root=media, image_root=media).ok


def test_ecg_path_forms(media):
    (media / "x.hdf5").write_bytes(b"")
    row = sft_row()
    row["objects"]["ecg"] = [str(media / "x.hdf5#123"), "ptbxl/records500/00000"]
    row["messages"][1]["content"] = "<ecg><ecg><image>\nQ"
    assert check_rows([write(media, "r.jsonl", [row])]).ok


# ------------------------------------------------------------------ one bad row per kind


def _bad(kind):
    """(rows, extra files) whose check yields exactly ``kind`` problems."""
    good = sft_row()
    row = copy.deepcopy(good)
    if kind == "json":
        return ["{not json", "[1, 2]"]
    if kind == "missing_key":
        del row["images"]
        row["objects"] = {}
        row["messages"][1]["content"] = "Interpret."
        return [row]
    if kind == "bad_type":
        bad = [copy.deepcopy(good) for _ in range(5)]
        bad[0]["id"] = ""
        bad[1]["messages"][0]["role"] = "bot"
        bad[2]["messages"][1]["content"] = ["<ecg><image>"]  # list content: also no user turn
        bad[3]["labels"] = "RBBB"
        bad[4]["solution"] = 7
        for i, r in enumerate(bad[1:], start=1):
            r["id"] = f"r{i}"
        return bad
    if kind == "tag_count":
        bad = [copy.deepcopy(good) for _ in range(3)]
        bad[0]["messages"][1]["content"] = "<ecg><ecg><image>\nQ"  # one ECG tag too many
        bad[1]["messages"][1]["content"] = "<ecg>\nQ"  # the image lost its tag
        bad[2]["objects"]["ecg"] = []  # the tag lost its ECG
        for i, r in enumerate(bad):
            r["id"] = f"r{i}"
        return bad
    if kind == "missing_file":
        row["images"] = ["images/ptbxl/2.png"]
        row["objects"]["ecg"] = ["/nowhere/record"]
        return [row]
    if kind == "assistant_format":
        bad = [copy.deepcopy(good) for _ in range(6)]
        headers = [f"**Step {i}: {STEP_TITLES[i - 1]}**" for i in range(1, 7)]
        swapped = headers[:2] + [headers[3], headers[2]] + headers[4:]
        plain = headers[:4] + ["Step 5: Electrolytes & QT"] + headers[5:]
        texts = [
            assistant(headers=swapped),
            assistant(headers=plain),
            assistant(paragraphs=PARAGRAPHS[:5] + [""]),
            assistant(tail=" trailing"),
            "Preamble. " + assistant(),
            assistant().replace("</think>", ""),
        ]
        for i, (r, text) in enumerate(zip(bad, texts)):
            r["id"] = f"r{i}"
            r["messages"][2]["content"] = text
        return bad
    if kind == "answer":
        bad = [copy.deepcopy(good) for _ in range(2)]
        bad[0]["messages"][2]["content"] = assistant(answer=" ; ")
        bad[1]["messages"][2]["content"] = assistant().split("<answer>")[0]
        bad[1]["id"] = "other"
        return bad
    if kind in ("solution_format", "evidence_length", "evidence_not_found"):
        row = rl_row()
        row["messages"].append(copy.deepcopy(good["messages"][2]))
        if kind == "solution_format":
            bad = [copy.deepcopy(row) for _ in range(6)]
            sol = row["solution"]
            bad[0]["solution"] = sol.split("<|key_diagnostic_evidence|>")[0]
            bad[1]["solution"] = sol.replace("step_2_conduction_axis_intervals", "step_7_extra")
            bad[2]["solution"] = sol.replace(
                "<|/key_diagnostic_evidence|>",
                " step_1_technical_rate_rhythm: 72 bpm<|/key_diagnostic_evidence|>",
            )
            bad[3]["solution"] = sol + " trailing"
            bad[4]["solution"] = sol.replace("<|answer|>sinus rhythm; RBBB", "<|answer|> ")
            bad[5]["solution"] = sol.replace(
                "<|key_diagnostic_evidence|>", "<|key_diagnostic_evidence|>free text "
            )
            for i, r in enumerate(bad):
                r["id"] = f"r{i}"
            return bad
        if kind == "evidence_length":
            row["solution"] = format_solution(
                ["RBBB"], {STEP_KEYS[0]: ["rhythm at 72 bpm"]}
            )  # 4 words
            return [row]
        row["solution"] = format_solution(["RBBB"], {STEP_KEYS[2]: ["ST elevation"]})
        return [row]
    if kind == "duplicate_id":
        return [good, copy.deepcopy(good)]
    raise AssertionError(f"no bad row for {kind}")


@pytest.mark.parametrize("kind", [k for k in PROBLEM_KINDS if k != "unreadable"])
def test_each_bad_row_gives_exactly_its_problem_kind(media, kind):
    rows = _bad(kind)
    report = check_rows([write(media, "bad.jsonl", rows)])
    kinds = {p.kind for p in report.problems}
    assert kinds == {kind}, report.summary_text()
    # every constructed variant is caught (one row, or a line, each)
    if kind not in ("duplicate_id", "missing_file"):
        assert len({p.line for p in report.problems}) == len(rows), report.summary_text()
    if kind == "missing_file":
        assert len(report.problems) == 2
    assert not report.ok and kind in report.summary_text()


def test_unreadable_file(tmp_path):
    report = check_rows([tmp_path / "absent.jsonl", tmp_path])
    assert report.counts_by_kind() == {"unreadable": 2}
    assert [p.line for p in report.problems] == [0, 0]


def test_every_kind_has_a_test():
    covered = {k for k in PROBLEM_KINDS if k != "unreadable"}
    for kind in covered:
        _bad(kind)  # raises for a kind without a constructed bad row


# ------------------------------------------------------------------ evidence placement


def test_evidence_moved_to_the_wrong_step_is_caught_in_row_and_across_files(media):
    moved = dict(EVIDENCE)
    moved[STEP_KEYS[0]] = ["72 bpm"]
    moved[STEP_KEYS[2]] = ["regular RR intervals"]  # belongs to step 1
    row = rl_row(evidence=moved)
    row["messages"].append(sft_row()["messages"][2])
    report = check_rows([write(media, "own.jsonl", [row])])
    assert report.counts_by_kind() == {"evidence_not_found": 1}
    assert "'regular RR intervals' not in step 3" in report.problems[0].message
    sft = write(media, "sft.jsonl", [sft_row()])
    rl = write(media, "rl.jsonl", [rl_row(evidence=moved)])
    report = check_rows([rl, sft])  # the SFT file may come after the RL file
    assert report.counts_by_kind() == {"evidence_not_found": 1}
    assert report.problems[0].path == str(rl) and "sft.jsonl" in report.problems[0].message
    # spacing and case do not matter, words do
    spaced = dict(EVIDENCE, **{STEP_KEYS[1]: ["qrs  140 MS"]})
    assert check_rows([write(media, "rl2.jsonl", [rl_row(evidence=spaced)]), sft]).ok


def test_free_text_turns_are_not_format_checked_unless_asked(media):
    row = sft_row()
    row["messages"][2]["content"] = "Sinus rhythm with RBBB."
    path = write(media, "free.jsonl", [row])
    assert check_rows([path]).ok
    assert check_rows([path], assistant_format="structured").counts_by_kind() == {
        "assistant_format": 1,
        "answer": 1,
    }


# ------------------------------------------------------------------ report and helpers


def test_summary_text_limits_examples(media):
    rows = []
    for i in range(8):
        row = sft_row(f"id{i}")
        row["images"] = [f"images/none{i}.png"]
        rows.append(row)
    text = check_rows([write(media, "many.jsonl", rows)]).summary_text(max_examples=3)
    assert "missing_file: 8" in text and "... and 5 more" in text
    assert text.count("not found") == 3


def test_path_map_helpers():
    assert map_path("/a/b/c.png", {"/a/b/": "/x"}) == "/x/c.png"
    assert map_path("/a/bc/c.png", {"/a/b": "/x"}) == "/a/bc/c.png"
    assert map_path("rel/c.png", {"rel": "/abs"}) == "/abs/c.png"
    with pytest.raises(ValueError):
        parse_path_map(["no-equals"])


# ------------------------------------------------------------------ statistics


def test_corpus_stats_counts_and_markdown(media):
    from ecgr1.corpus.splits import missing_modality
    from ecgr1.corpus.stats import corpus_stats, stats_markdown

    rows = []
    for i, (labels, unsupported) in enumerate(
        [(["AF"], []), (["AF", "LAD"], ["LAD"]), (["NORM"], []), (["AF"], ["AF"])]
    ):
        row = sft_row(f"r{i}")
        row["labels"] = labels
        row["agreement"] = {
            "supported": [x for x in labels if x not in unsupported],
            "unsupported": unsupported,
            "extra": ["RBBB"] if i == 0 else [],
        }
        row["meta"] = {"source": "ptbxl" if i < 3 else "mimic", "split": "train" if i else "test"}
        rows.append(row)
    rows = missing_modality(rows, "image", 50, seed=0)
    sft = write(media, "sft.jsonl", rows + ["not json"])
    rl = write(media, "rl.jsonl", [rl_row("r0")])
    stats = corpus_stats([sft, rl], top_n=1)
    assert stats["rows"] == 5 and stats["invalid_lines"] == 1 and stats["rl_rows"] == 1
    assert stats["files"] == {str(sft): 4, str(rl): 1}
    assert stats["sources"] == {"ptbxl": 4, "mimic": 1}
    assert stats["source_split"] == {"mimic": {"train": 1}, "ptbxl": {"test": 1, "train": 3}}
    # the RL row has no labels field: its solution's labels count
    assert list(stats["labels"].items()) == [
        ("AF", 3),
        ("LAD", 1),
        ("NORM", 1),
        ("RBBB", 1),
        ("sinus rhythm", 1),
    ]
    assert stats["top_labels"] == [["AF", 3]]
    assert stats["agreement"]["AF"] == {
        "supported": 2,
        "unsupported": 1,
        "unassessed": 0,
        "extra": 0,
    }
    assert stats["agreement"]["LAD"] == {
        "supported": 0,
        "unsupported": 1,
        "unassessed": 0,
        "extra": 0,
    }
    assert stats["agreement"]["RBBB"] == {
        "supported": 0,
        "unsupported": 0,
        "unassessed": 0,
        "extra": 1,
    }
    assert stats["rows_with_agreement"] == 4 and stats["rows_with_unsupported"] == 2
    assert stats["modalities"] == {
        "ecg": 5,
        "image": 3,
        "both": 3,
        "ecg_only": 2,
        "image_only": 0,
        "neither": 0,
    }
    text = stats_markdown(stats)
    assert "| AF | 2 | 1 | 0 | 0 |" in text and "| ptbxl | 1 | 3 | 4 |" in text
    assert "## All labels" in text and "## All labels" not in stats_markdown(stats, False)
