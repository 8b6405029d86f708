"""Corpus splits: de-duplication preference, patient-safe seeded splits, modality-missing sets,
ECGBench-style sets (ecgr1.corpus.splits)."""

from __future__ import annotations

import json

import pytest

from ecgr1.corpus.splits import (
    BenchSet,
    assign_splits,
    deduplicate,
    ecgbench_multilabel,
    ecgbench_single_choice,
    missing_modality,
    missing_variants,
    n_missing,
)
from ecgr1.corpus.types import SourceEntry


def entry(source, record_id, *, patient=None, fold=None, key=None, labels=("x",), path=None):
    return SourceEntry(
        source=source,
        record_id=record_id,
        path=path or f"/{source}/{record_id}",
        labels=tuple(labels),
        vocabulary="snomed",
        patient_id=patient,
        fold=fold,
        dedup_key=key,
    )


# ------------------------------------------------------------------ de-duplication


def test_native_ptbxl_wins_over_challenge_copy_in_either_order():
    native = entry("ptbxl", "00017", key="ptbxl:17")
    copy_ = entry("ptbxl_challenge", "HR00017", key="ptbxl:17")
    other = entry("georgia", "E00001")
    for order in ([copy_, native, other], [native, other, copy_]):
        kept, dropped = deduplicate(order)
        assert [e.uid for e in kept] == [e.uid for e in order if e is not copy_]
        assert dropped == [
            {
                "uid": "ptbxl_challenge_HR00017",
                "kept_uid": "ptbxl_00017",
                "dedup_key": "ptbxl:17",
                "source": "ptbxl_challenge",
                "kept_source": "ptbxl",
                "path": "/ptbxl_challenge/HR00017",
                "kept_path": "/ptbxl/00017",
            }
        ]


def test_equal_rank_copies_are_chosen_whatever_the_source_order():
    from dataclasses import replace

    coded = entry("cpsc2018", "A0001", key="cpsc2018:A0001", path="/a/cinc/A0001")
    native = replace(coded, path="/z/native/A0001", vocabulary="cpsc")  # the text labels
    for order in ([coded, native], [native, coded]):
        kept, dropped = deduplicate(order)
        assert kept == [native]
        assert (
            dropped[0]["path"] == "/a/cinc/A0001" and dropped[0]["kept_path"] == "/z/native/A0001"
        )
    # same vocabulary: the smaller path, in either order
    other = replace(coded, path="/b/A0001")
    assert deduplicate([other, coded])[0] == [coded] == deduplicate([coded, other])[0]


def test_entries_without_dedup_key_are_all_kept():
    entries = [entry("ludb", str(i)) for i in range(5)]
    assert deduplicate(entries) == (entries, [])


# ------------------------------------------------------------------ train / test


def synthetic_entries(n=1000):
    """n entries over 3 sources; patients with 4 records, some with many, some without."""
    out = []
    for i in range(n):
        source = ("mimic", "code15", "georgia")[i % 3]
        patient = f"p{i // 12}" if i % 3 != 2 else None  # 4 records each; georgia: none
        if i % 5 == 0:
            patient = f"p{i % 40}"  # heavily repeated patients
        out.append(entry(source, f"{i:05d}", patient=patient))
    return out


def test_no_patient_in_both_splits_and_fraction_is_plausible():
    entries = synthetic_entries()
    splits = assign_splits(entries, seed=3, test_fraction=0.2)
    assert set(splits) == {e.uid for e in entries}
    by_patient = {}
    for e in entries:
        if e.patient_id:
            by_patient.setdefault((e.source, e.patient_id), set()).add(splits[e.uid])
    sizes = {}
    for e in entries:
        if e.patient_id:
            sizes[(e.source, e.patient_id)] = sizes.get((e.source, e.patient_id), 0) + 1
    shared = [k for k, n in sizes.items() if n > 1]
    assert len(shared) > 100 and max(sizes.values()) > 5  # patients really repeat
    assert all(len(v) == 1 for v in by_patient.values())
    assert {next(iter(by_patient[k])) for k in shared} == {"train", "test"}
    n_test = sum(v == "test" for v in splits.values())
    assert 100 < n_test < 320  # 20 % of ~1000, grouped


def test_ptbxl_fold_rule():
    entries = [entry("ptbxl", f"{f:05d}", patient=str(f), fold=f) for f in range(1, 11)]
    splits = assign_splits(entries, seed=0, test_fraction=1.0)
    assert splits["ptbxl_00010"] == "test"
    assert all(splits[f"ptbxl_{f:05d}"] == "train" for f in range(1, 10))
    # the fold rule is the native tree's; its Challenge copy (no fold) is hashed
    assert assign_splits([entry("ptbxl_challenge", "HR1")], seed=0, test_fraction=1.0) == {
        "ptbxl_challenge_HR1": "test"
    }


def test_splits_are_seeded_and_stable_when_records_are_added():
    entries = synthetic_entries()
    a = assign_splits(entries, seed=1)
    assert a == assign_splits(list(reversed(entries)), seed=1)
    assert a != assign_splits(entries, seed=2)
    more = entries + [entry("mimic", f"new{i}", patient=f"q{i}") for i in range(200)]
    b = assign_splits(more, seed=1)
    assert all(b[uid] == split for uid, split in a.items())


def test_test_fraction_is_validated():
    with pytest.raises(ValueError):
        assign_splits([], seed=0, test_fraction=1.5)


# ------------------------------------------------------------------ modality-missing


def make_row(i, source="ptbxl", labels=("a",)):
    return {
        "id": f"{source}_{i:05d}",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "<ecg><image>\nInterpret the ECG."},
            {"role": "assistant", "content": "<think>x</think>\n<answer>a</answer>"},
        ],
        "images": [f"images/{source}/{i}.png"],
        "objects": {"ecg": [f"{source}/{i}"]},
        "labels": list(labels),
        "meta": {"source": source, "record_id": f"{i:05d}", "split": "test"},
    }


def lacks(row, modality):
    user = row["messages"][1]["content"]
    if modality == "ecg":
        return row["objects"]["ecg"] == [] and "<ecg>" not in user
    return row["images"] == [] and "<image>" not in user


@pytest.mark.parametrize("n", [0, 1, 2, 7, 10, 101])
@pytest.mark.parametrize("percent", [0, 25, 50, 100])
@pytest.mark.parametrize("modality", ["ecg", "image"])
def test_exact_missing_counts(n, percent, modality):
    rows = [make_row(i) for i in range(n)]
    out = missing_modality(rows, modality, percent, seed=5)
    expected = int(n * percent / 100 + 0.5)  # half up
    assert sum(lacks(r, modality) for r in out) == expected == n_missing(n, percent)
    assert len(out) == n


def test_half_up_rounding():
    assert [n_missing(n, 50) for n in (1, 3, 5, 7, 101)] == [1, 2, 3, 4, 51]
    assert n_missing(7, 25) == 2 and n_missing(101, 25) == 25 and n_missing(2, 25) == 1


def test_missing_rows_keep_everything_else_and_input_is_not_mutated():
    rows = [make_row(i) for i in range(20)]
    before = json.dumps(rows)
    out = missing_modality(rows, "ecg", 50, seed=0)
    assert json.dumps(rows) == before
    for original, new in zip(rows, out):
        if lacks(new, "ecg"):
            assert new["messages"][1]["content"] == "<image>\nInterpret the ECG."
            expected = json.loads(json.dumps(original))
            expected["messages"][1]["content"] = "<image>\nInterpret the ECG."
            expected["objects"]["ecg"] = []
            assert new == expected
        else:
            assert new == original
    out = missing_modality(rows, "image", 100, seed=0)
    assert all(r["messages"][1]["content"] == "<ecg>\nInterpret the ECG." for r in out)
    assert all(r["images"] == [] and r["objects"] == o["objects"] for r, o in zip(out, rows))


def test_missing_choice_is_seeded_nested_and_order_free():
    rows = [make_row(i) for i in range(40)]

    def ids(percent, seed, rs=rows):
        return {r["id"] for r in missing_modality(rs, "ecg", percent, seed) if lacks(r, "ecg")}

    assert ids(25, 1) == ids(25, 1) != ids(25, 2)
    assert ids(25, 1) < ids(50, 1) < ids(100, 1)
    assert ids(50, 1, list(reversed(rows))) == ids(50, 1)


def test_missing_modality_validates_arguments():
    with pytest.raises(ValueError):
        missing_modality([], "text", 10, 0)
    with pytest.raises(ValueError):
        missing_modality([], "ecg", 101, 0)


def test_missing_variants_writes_named_files(tmp_path):
    rows = [make_row(i) for i in range(8)]
    paths = missing_variants(rows, "ptbxl_test", tmp_path, seed=0, percents=(25, 100))
    assert [p.name for p in paths] == [
        "ptbxl_test_ecg_missing25.jsonl",
        "ptbxl_test_ecg_missing100.jsonl",
        "ptbxl_test_image_missing25.jsonl",
        "ptbxl_test_image_missing100.jsonl",
    ]
    loaded = [json.loads(line) for line in paths[0].read_text().splitlines()]
    assert len(loaded) == 8 and sum(lacks(r, "ecg") for r in loaded) == 2
    loaded = [json.loads(line) for line in paths[3].read_text().splitlines()]
    assert all(lacks(r, "image") and not lacks(r, "ecg") for r in loaded)


# ------------------------------------------------------------------ ECGBench-style sets


def bench_rows():
    labels = [
        ["sinus rhythm", "RBBB"],
        ["AF"],
        ["sinus rhythm", "LAD", "PVC"],
        ["sinus bradycardia"],
        ["AF", "LBBB"],
        ["sinus rhythm"],
        ["first degree AV block", "sinus rhythm"],
    ]
    rows = []
    for i, labs in enumerate(labels):
        row = make_row(i, "mimic", labs)
        row["meta"]["superclasses"] = ["NORM"] if i % 2 else ["MI", "CD", "OTHER"]
        rows.append(row)
    rows.append(make_row(50, "ludb", ["sinus rhythm"]))  # a source with one label only
    return rows


def test_multilabel_restricts_to_candidates_in_candidate_order():
    rows = bench_rows()
    out = ecgbench_multilabel(
        rows, ["NORM", "MI", "STTC", "CD", "HYP"], "ptbxl-super", label_key="meta.superclasses"
    )
    assert isinstance(out, BenchSet) and out.skipped == {"no_candidate_label": 1}
    first = out[0]
    assert first["labels"] == ["MI", "CD"]
    assert first["messages"][-1] == {"role": "assistant", "content": "<answer>MI; CD</answer>"}
    assert "NORM, MI, STTC, CD, HYP" in first["messages"][-2]["content"]
    assert first["messages"][-2]["content"].startswith("<ecg><image>\n")
    assert first["id"] == rows[0]["id"] and first["images"] == rows[0]["images"]
    assert first["objects"] == rows[0]["objects"] and first["messages"][0]["role"] == "system"
    custom = ecgbench_multilabel(rows, ["af"], "af", label_key=lambda r: r["labels"])
    assert [r["labels"] for r in custom] == [["af"], ["af"]]


def test_single_choice_options_answer_and_distractors():
    rows = bench_rows()
    out = ecgbench_single_choice(rows, seed=4, n_options=4, set_name="mimic-sc")
    assert out.skipped == {"too_few_distractors": 1}  # the one-label ludb source
    assert len(out) == 7
    for bench, row in zip(out, rows):
        assert bench["id"] == row["id"]
        options, letter = bench["options"], bench["answer"]
        assert len(options) == 4 == len(set(options))
        assert options["ABCD".index(letter)] == bench["answer_text"] == row["labels"][0]
        others = set(options) - {bench["answer_text"]}
        assert not others & set(row["labels"])  # no distractor is a label of the record
        mimic_labels = {lab for r in rows if r["meta"]["source"] == "mimic" for lab in r["labels"]}
        assert others <= mimic_labels
        question = bench["messages"][-2]["content"]
        for i, option in enumerate(options):
            assert f"{'ABCD'[i]}. {option}" in question
        assert bench["messages"][-1]["content"] == f"<answer>{letter}</answer>"
        assert bench["labels"] == [bench["answer_text"]]


def test_single_choice_is_deterministic_per_seed():
    rows = bench_rows()
    a = ecgbench_single_choice(rows, seed=1, set_name="s")
    assert a == ecgbench_single_choice(rows, seed=1, set_name="s")
    seeds = [ecgbench_single_choice(rows, seed=s, set_name="s") for s in range(2, 6)]
    assert any([r["options"] for r in b] != [r["options"] for r in a] for b in seeds)
    # a row's options do not depend on the other rows being present (same pool)
    assert ecgbench_single_choice(list(reversed(rows)), seed=1, set_name="s")[-1] == a[0]


def test_single_choice_answer_positions_vary():
    rows = [make_row(i, "mimic", [f"label {i % 9}", f"label {(i + 4) % 9}"]) for i in range(60)]
    out = ecgbench_single_choice(rows, seed=0, set_name="positions")
    assert len(out) == 60
    letters = [r["answer"] for r in out]
    assert all(letters.count(x) >= 5 for x in "ABCD"), letters
    assert len({tuple(r["options"]) for r in out}) > 30


def test_single_choice_candidates_and_too_few():
    rows = bench_rows()
    out = ecgbench_single_choice(
        rows, seed=0, n_options=2, candidates={"mimic": ["AF", "LBBB", "RBBB"]}
    )
    # correct = the first of the record's labels that is a candidate
    assert [r["answer_text"] for r in out] == ["RBBB", "AF", "AF"]
    assert out.skipped == {"no_candidate_label": 5}
    too_many = ecgbench_single_choice(rows, seed=0, n_options=9)
    assert len(too_many) == 0 and too_many.skipped["too_few_distractors"] == 8


def test_streamed_variants_choose_the_same_rows_as_in_memory(tmp_path):
    from ecgr1.corpus.splits import missing_variants, missing_variants_of_file, write_jsonl

    rows = [{"id": f"r{i}", "messages": [{"role": "user", "content": "<ecg><image>\nQ"}],
             "images": [f"{i}.png"], "objects": {"ecg": [f"e{i}"]}} for i in range(23)]  # fmt: skip
    src = write_jsonl(rows, tmp_path / "t.jsonl")
    a = missing_variants(rows, "t", tmp_path / "mem", seed=5, percents=(25, 50))
    b = missing_variants_of_file(src, "t", tmp_path / "stream", seed=5, percents=(25, 50))
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes()
