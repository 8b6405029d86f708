"""The dataset adapters of ``ecgr1.corpus.sources`` on generated trees in their published
layouts (``tests/corpus_fixtures.py``) and on the real trees of the shared data folder."""

from __future__ import annotations

import doctest
import importlib
import pickle
import time
from collections import Counter
from pathlib import Path

import corpus_fixtures as cf
import numpy as np
import pytest

from ecgr1.corpus.sources import (
    SOURCE_KINDS,
    Code15Source,
    export_wfdb,
    open_source,
    open_sources,
)
from ecgr1.corpus.sources.challenge import dedup_key_of, source_of
from ecgr1.corpus.sources.mimic import machine_intervals
from ecgr1.corpus.sources.ptbxl import parse_scp_codes
from ecgr1.errors import ECGR1Error, InvalidInputError, MissingFileError
from ecgr1.io.header import parse_age, parse_sex, read_header_text
from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.paths import shared_data_dir
from ecgr1.simulate import simulate

STANDARD = list(STANDARD_LEADS)


def _by_id(source):
    return {e.record_id: e for e in source.entries()}


def _simulated(pattern: str, seed: int, seconds: float = 10.0, fs: float = 500.0) -> np.ndarray:
    return np.asarray(simulate(pattern, seed=seed, seconds=seconds, fs=fs).record.signal)


def _one_line_error(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# ----------------------------------------------------------------------------- opening


def test_kinds_and_open_sources(tmp_path):
    assert SOURCE_KINDS == ("ptbxl", "mimic", "code15", "challenge", "ludb")
    ptbxl, ludb = cf.make_ptbxl_tree(tmp_path, 2), cf.make_ludb_tree(tmp_path, 2)
    sources = open_sources([f"ptbxl:{ptbxl}", f"ludb:{ludb}"])
    assert [(s.kind, s.name, s.root) for s in sources] == [
        ("ptbxl", "ptbxl", str(ptbxl.resolve())),
        ("ludb", "ludb", str(ludb.resolve())),
    ]
    for spec, needle in [
        (str(ptbxl), "KIND:PATH"),
        (f"ptb-xl:{ptbxl}", "unknown kind 'ptb-xl'"),
        ("ludb:", "no path"),
    ]:
        with pytest.raises(InvalidInputError) as exc:
            open_sources([spec])
        assert needle in _one_line_error(exc)


def test_open_source_usage_errors(tmp_path):
    tree = cf.make_ptbxl_tree(tmp_path, 1)
    with pytest.raises(InvalidInputError, match="unknown source kind 'hdf5'"):
        open_source("hdf5", tree)
    with pytest.raises(InvalidInputError, match=r"unknown option\(s\) \['rate'\] for ludb"):
        open_source("ludb", tree, rate=100)
    with pytest.raises(InvalidInputError, match="rate must be 500 or 100, got 250"):
        open_source("ptbxl", tree, rate=250)
    with pytest.raises(MissingFileError, match="no such folder: not a PTB-XL tree"):
        open_source("ptbxl", tmp_path / "absent")
    with pytest.raises(InvalidInputError, match="not a folder"):
        open_source("ludb", tree / "ptbxl_database.csv")


@pytest.mark.parametrize(
    "kind, message",
    [
        ("ptbxl", "no ptbxl_database.csv in {}: not a PTB-XL tree"),
        ("mimic", "no record_list.csv in {}: not a MIMIC-IV-ECG tree"),
        ("code15", "no exams.csv in {}: not a CODE-15% tree"),
        ("challenge", "no Challenge records (*.hea with .mat) in {}: not a PhysioNet/CinC"),
        ("ludb", "no ludb.csv in {}: not a LUDB tree"),
    ],
)
def test_wrong_layout_is_a_one_line_error(tmp_path, kind, message):
    """Each adapter refuses another dataset's tree (here PTB-XL's, or LUDB's for PTB-XL)."""
    other = cf.make_ludb_tree(tmp_path, 1) if kind == "ptbxl" else cf.make_ptbxl_tree(tmp_path, 1)
    with pytest.raises(ECGR1Error) as exc:
        open_source(kind, other)
    assert message.format(other.resolve()) in _one_line_error(exc)


def test_tables_lacking_columns_are_reported(tmp_path):
    tree = cf.make_code15_tree(tmp_path, 2)
    (tree / "exams.csv").write_text("exam_id,age\n1,50\n")
    with pytest.raises(InvalidInputError, match=r"exams.csv lacks column\(s\) \['trace_file'"):
        list(open_source("code15", tree).entries())
    tree = cf.make_mimic_tree(tmp_path, 1)
    (tree / "machine_measurements.csv").unlink()
    with pytest.raises(MissingFileError, match="no machine_measurements.csv in"):
        open_source("mimic", tree)


# ----------------------------------------------------------------------------- PTB-XL


def test_ptbxl_entries(tmp_path):
    source = open_source("ptbxl", cf.make_ptbxl_tree(tmp_path, 6))
    entries = list(source.entries())
    assert [e.record_id for e in entries] == ["00001", "00002", "00003", "00004", "00005", "00006"]
    for e, r in zip(entries, cf.PTBXL_RECORDS):
        assert e.source == "ptbxl" and e.vocabulary == "scp"
        assert e.labels == tuple(r["scp_codes"])  # in file order
        assert e.extra["scp_likelihood"] == r["scp_codes"]
        assert e.extra["report"] == r["report"]
        assert e.fold == r["fold"]
        assert e.patient_id == str(r["patient_id"])
        assert e.sex == ("male", "female")[r["sex"]]
        assert e.dedup_key == f"ptbxl:{r['ecg_id']}"
        assert e.ecg_relpath == f"records500/00000/{r['ecg_id']:05d}_hr"
        assert e.path == str(Path(source.root) / e.ecg_relpath)
        assert e.uid == f"ptbxl_{r['ecg_id']:05d}"
    by_id = {e.record_id: e for e in entries}
    assert by_id["00001"].age == 56 and "age_note" not in by_id["00001"].extra
    assert by_id["00003"].age == 90 and "300" in by_id["00003"].extra["age_note"]
    # diagnostic statements only: SR and AFIB are rhythm statements, NORM and CD are classes
    assert [by_id[i].extra["superclasses"] for i in ("00001", "00002", "00003", "00006")] == [
        ["NORM"], ["CD"], [], ["CD"],
    ]  # fmt: skip
    assert by_id["00006"].extra["scp_likelihood"] == {"1AVB": 80.0, "SR": 0.0}


@pytest.mark.parametrize("rate, suffix", [(500, "hr"), (100, "lr")])
def test_ptbxl_read_both_rates(tmp_path, rate, suffix):
    source = open_source("ptbxl", cf.make_ptbxl_tree(tmp_path, 2), rate=rate)
    entry = _by_id(source)["00002"]
    assert entry.ecg_relpath == f"records{rate}/00000/00002_{suffix}"
    record = source.read(entry)
    assert record.fs == rate and record.leads == STANDARD and record.n_samples == 10 * rate
    assert record.metadata["age"] == 57 and record.metadata["sex"] == "F"
    assert record.metadata["labels"] == ["CRBBB", "SR"]
    expected = _simulated("rbbb", 11, fs=rate)  # the fixture's second record
    assert np.abs(record.signal - expected).max() < 1e-3


def test_ptbxl_missing_rate_file_keeps_the_entry(tmp_path):
    tree = cf.make_ptbxl_tree(tmp_path, 2)
    for f in (tree / "records100" / "00000").glob("00001_lr.*"):
        f.unlink()
    source = open_source("ptbxl", tree, rate=100)
    entries = _by_id(source)
    assert sorted(entries) == ["00001", "00002"]
    with pytest.raises(MissingFileError) as exc:
        source.read(entries["00001"])
    assert "PTB-XL 100 Hz record 00001" in _one_line_error(exc)
    assert source.read(entries["00002"]).fs == 100


def test_scp_codes_are_literals_never_evaluated(tmp_path):
    assert parse_scp_codes("{'NORM': 100.0, 'SR': 0}") == {"NORM": 100.0, "SR": 0.0}
    for bad in ("__import__('os').getcwd()", "dict(NORM=100.0)", "['NORM']", "{'NORM': 'high'}"):
        with pytest.raises(InvalidInputError):
            parse_scp_codes(bad)
    tree = cf.make_ptbxl_tree(tmp_path, 1)
    db = tree / "ptbxl_database.csv"
    db.write_text(db.read_text().replace("\"{'NORM': 100.0, 'SR': 0.0}\"", "\"open('x')\""))
    with pytest.raises(InvalidInputError, match="ecg_id 1: scp_codes"):
        list(open_source("ptbxl", tree).entries())


# ----------------------------------------------------------------------------- MIMIC


def test_mimic_entries(tmp_path):
    source = open_source("mimic", cf.make_mimic_tree(tmp_path, 6))
    entries = list(source.entries())
    assert [e.record_id for e in entries] == [str(r["study_id"]) for r in cf.MIMIC_RECORDS]
    for e, r in zip(entries, cf.MIMIC_RECORDS):
        assert e.source == "mimic" and e.vocabulary == "mimic"
        assert e.labels == tuple(x for x in r["reports"] if x)
        assert e.patient_id == str(r["subject_id"])
        assert e.age is None and e.sex is None and e.fold is None and e.dedup_key is None
        assert e.ecg_relpath == cf.mimic_record_path(r["subject_id"], r["study_id"])
        assert e.extra["machine_raw"] == r["machine"]
    first, af = entries[0].extra["machine"], entries[2].extra["machine"]
    assert first == {
        "rr_ms": 1000, "hr_bpm": 60.0, "p_ms": 100, "pr_ms": 160, "qrs_ms": 90, "qt_ms": 400,
        "qtc_bazett_ms": 400.0, "p_axis_deg": 50, "qrs_axis_deg": 45, "t_axis_deg": 40,
    }  # fmt: skip
    assert entries[1].extra["machine"]["qrs_ms"] == 140  # 342 - 202
    # 29999: no P wave -> no P duration, PR or P axis; the rest measured
    assert (af["p_ms"], af["pr_ms"], af["p_axis_deg"]) == (None, None, None)
    assert (af["qrs_ms"], af["qt_ms"], af["rr_ms"]) == (88, 360, 632)
    assert entries[2].extra["machine_raw"]["p_onset"] == 29999
    assert entries[1].extra["report"] == "Sinus rhythm; Right bundle branch block; Abnormal ECG"


def test_machine_intervals_missing_values():
    m = machine_intervals({"rr_interval": None, "qrs_onset": 200, "qrs_end": 190, "t_end": 30000})
    assert m["rr_ms"] is None and m["hr_bpm"] is None
    assert m["qrs_ms"] is None  # end before onset: not a duration
    assert m["qt_ms"] is None and m["qtc_bazett_ms"] is None


def test_mimic_read_puts_leads_in_standard_order(tmp_path):
    source = open_source("mimic", cf.make_mimic_tree(tmp_path, 2))
    record = source.read(_by_id(source)["40000002"])
    assert record.fs == 500 and record.leads == STANDARD and record.n_samples == 5000
    expected = _simulated("rbbb", 21)  # the fixture's second study, stored aVF before aVL
    assert np.abs(record.signal - expected).max() < 0.01  # 200 adu/mV: 5 µV steps
    assert record.metadata["labels"] == [
        "Sinus rhythm",
        "Right bundle branch block",
        "Abnormal ECG",
    ]
    assert record.metadata["subject_id"] == 10000032


def test_mimic_study_without_measurements(tmp_path):
    tree = cf.make_mimic_tree(tmp_path, 2)
    table = tree / "machine_measurements.csv"
    table.write_text("\n".join(table.read_text().splitlines()[:2]) + "\n")  # first study only
    entries = _by_id(open_source("mimic", tree))
    assert entries["40000002"].labels == ()
    assert "not in machine_measurements.csv" in entries["40000002"].extra["labels_note"]
    assert entries["40000001"].labels == ("Sinus rhythm", "Normal ECG")


# ----------------------------------------------------------------------------- CODE-15


def test_code15_entries_and_read(tmp_path):
    source = open_source("code15", cf.make_code15_tree(tmp_path, 6))
    entries = list(source.entries())
    assert [e.record_id for e in entries] == [str(r["exam_id"]) for r in cf.CODE15_RECORDS]
    for e, r in zip(entries, cf.CODE15_RECORDS):
        assert e.source == "code15" and e.vocabulary == "code15"
        assert e.labels == r["labels"]
        assert e.patient_id == str(r["patient_id"]) and e.age == r["age"]
        assert e.sex == ("male" if r["is_male"] else "female")
        assert e.ecg_relpath is None
        part = Path(source.root) / f"exams_part{r['part']}.hdf5"
        assert e.path == f"{part}#{r['exam_id']}"
        assert "trimmed" in e.extra["padding_policy"]
        record = source.read(e)
        assert record.fs == 400 and record.leads == STANDARD
        assert record.n_samples == r["seconds"] * 400  # padding trimmed
        pad = (4096 - r["seconds"] * 400) // 2
        assert record.metadata["code15_padding"] == [pad, pad]
        assert record.metadata["sex"] == ("M" if r["is_male"] else "F")
        assert record.metadata["labels"] == list(r["labels"])


def test_code15_export_round_trip(tmp_path):
    import wfdb

    source = open_source("code15", cf.make_code15_tree(tmp_path, 2))
    entry = _by_id(source)["1002"]  # 7 s, 648 zero samples each side
    record = source.read(entry)
    dest = tmp_path / "out"
    rel = source.export_wfdb(entry, record, dest)
    assert rel == "code15/1002" and export_wfdb(entry, record, dest) == rel
    signal, fields = wfdb.rdsamp(str(dest / rel))
    assert fields["fs"] == 400 and signal.shape == (2800, 12)
    assert [name for name in fields["sig_name"]] == STANDARD
    assert np.abs(signal.T - record.signal).max() <= 0.0005 + 1e-6
    expected = _simulated("rbbb", 32, seconds=7, fs=400)  # what the fixture padded
    assert np.abs(signal.T - expected).max() < 1e-3
    assert any("648 zero samples trimmed before, 648 after" in c for c in fields["comments"])


def test_code15_export_trims_an_untrimmed_record(tmp_path):
    import wfdb

    from ecgr1.io.code15 import read_code15

    tree = cf.make_code15_tree(tmp_path, 2)
    source = open_source("code15", tree)
    entry = _by_id(source)["1002"]
    padded = read_code15(tree / "exams_part0.hdf5", 1002, trim_padding=False)
    assert padded.n_samples == 4096
    rel = export_wfdb(entry, padded, tmp_path / "out")
    signal, _ = wfdb.rdsamp(str(tmp_path / "out" / rel))
    assert signal.shape == (2800, 12)


def test_code15_missing_trace_file(tmp_path):
    source = open_source("code15", cf.make_code15_tree(tmp_path, 2, missing_part=True))
    entries = _by_id(source)
    missing = entries[str(cf.CODE15_MISSING_EXAM["exam_id"])]
    assert missing.labels == ("normal_ecg",)
    with pytest.raises(MissingFileError) as exc:
        source.read(missing)
    assert "trace_file 'exams_part7.hdf5' listed in exams.csv is missing" in _one_line_error(exc)
    assert source.read(entries["1001"]).fs == 400


# ----------------------------------------------------------------------------- Challenge


def test_challenge_entries_and_read(tmp_path):
    source = open_source("challenge", cf.make_challenge_tree(tmp_path, 6))
    assert source.name == "challenge"  # mixed databases
    entries = _by_id(source)
    assert list(entries) == sorted(r["record_id"] for r in cf.CHALLENGE_RECORDS)
    for r in cf.CHALLENGE_RECORDS:
        e = entries[r["record_id"]]
        assert e.source == r["source"] and e.dedup_key == r["dedup_key"]
        assert e.labels == (r["dx"] or ()) and e.vocabulary == "snomed"
        assert e.age == r["age"] and e.sex == (r["sex"].lower() if r["sex"] else None)
        assert e.ecg_relpath == f"training/{r['folder']}/g1/{r['record_id']}"
        assert e.uid == f"{r['source']}_{r['record_id']}"
        record = source.read(e)
        assert record.fs == 500 and record.leads == STANDARD and record.n_samples == 5000
        assert record.metadata["age"] == r["age"]
    assert entries["Q0001"].extra["labels_note"] == "no #Dx in header"
    assert "labels_note" not in entries["A0001"].extra
    # HR00001 is the PTB-XL fixture's ecg_id 1: same dedup key, same samples
    ptbxl = open_source("ptbxl", cf.make_ptbxl_tree(tmp_path, 1))
    twin = next(iter(ptbxl.entries()))
    assert twin.dedup_key == entries["HR00001"].dedup_key
    a, b = ptbxl.read(twin).signal, source.read(entries["HR00001"]).signal
    assert np.abs(a - b).max() < 1e-6


def test_challenge_single_database_and_cpsc_text_labels(tmp_path):
    source = open_source("challenge", cf.make_cpsc2018_tree(tmp_path, 6))
    assert source.name == "cpsc2018"
    entries = _by_id(source)
    for r in cf.CPSC2018_RECORDS:
        e = entries[r["record_id"]]
        assert e.labels == r["dx"] and e.vocabulary == "cpsc"
        assert e.dedup_key == f"cpsc2018:{r['record_id']}" and e.ecg_relpath == r["record_id"]
    assert entries["A0006"].age is None  # NaN
    # a SNOMED header in the same tree is decided on its own
    hea = Path(entries["A0002"].path + ".hea")
    hea.write_text(hea.read_text().replace("Dx: Normal", "Dx: 426783006"))
    assert _by_id(source)["A0002"].vocabulary == "snomed"


def test_challenge_prefixes():
    assert [source_of(i) for i in ("A0001", "Q0001", "E00001", "HR00001", "S0001", "I0001")] == [
        "cpsc2018", "cpsc_extra", "georgia", "ptbxl_challenge", "ptb", "incart",
    ]  # fmt: skip
    assert [source_of(i) for i in ("JS00001", "JS10646", "JS10647", "JS45551")] == [
        "chapman_shaoxing", "chapman_shaoxing", "ningbo", "ningbo",
    ]  # fmt: skip
    assert source_of("X0001") == source_of("sel100") == "challenge"
    assert dedup_key_of("HR21425") == "ptbxl:21425" and dedup_key_of("A0075") == "cpsc2018:A0075"
    assert dedup_key_of("JS00001") == "challenge:JS00001"  # the same record in two trees


def test_challenge_skips_headers_without_mat(tmp_path):
    tree = cf.make_challenge_tree(tmp_path, 2)
    cf.write_wfdb16(tree / "other", "rec1", _simulated("normal", 0, seconds=2), 500.0, STANDARD)
    source = open_source("challenge", tree)
    assert sorted(_by_id(source)) == ["A0001", "HR00001"]
    assert source.skipped == ["other/rec1: not a Challenge record (signal file 'rec1.dat')"]


# ----------------------------------------------------------------------------- LUDB


def test_ludb_entries_and_read(tmp_path):
    source = open_source("ludb", cf.make_ludb_tree(tmp_path, 6))
    entries = list(source.entries())
    assert [e.record_id for e in entries] == ["1", "3", "5", "7", "9", "11"]  # numeric order
    for e, r in zip(entries, cf.LUDB_RECORDS):
        expected = tuple(
            item
            for column in cf.LUDB_COLUMNS[3:]
            for item in r["cells"].get(column, "").split("\n")
            if item
        )
        assert e.labels == expected and e.vocabulary == "ludb"
        assert e.age == r["age"] and e.sex == {"M": "male", "F": "female"}[r["sex"]]
        assert e.patient_id == e.record_id and e.ecg_relpath == f"data/{e.record_id}"
    assert entries[0].labels == (
        "Sinus bradycardia",
        "Electric axis of the heart: left axis deviation",
        "Left ventricular overload",
        "Left ventricular hypertrophy",
    )
    record = source.read(entries[0])
    assert record.fs == 500 and record.leads == STANDARD and record.n_samples == 5000
    assert record.metadata["sex"] == "F" and record.metadata["age"] == 51
    assert np.abs(record.signal - _simulated("sinus_bradycardia", 60)).max() < 1e-3


def test_ludb_age_over_89(tmp_path):
    tree = cf.make_ludb_tree(tmp_path, 1)
    csv = tree / "ludb.csv"
    csv.write_text(csv.read_text().replace('"51\n"', '">89\n"'))
    (entry,) = open_source("ludb", tree).entries()
    assert entry.age == 90 and ">89" in entry.extra["age_note"]


# ----------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("kind", sorted(cf.TREE_MAKERS))
def test_fixture_trees_are_small_fast_and_mislabel_one_record(tmp_path, kind):
    start = time.perf_counter()
    tree = cf.TREE_MAKERS[kind](tmp_path, 4)
    assert time.perf_counter() - start < 1.0
    source = open_source("challenge" if kind == "cpsc2018" else kind, tree)
    entries = _by_id(source)
    assert len(entries) == 4
    mislabelled = entries[cf.MISLABELLED[kind]]
    af = {"AFIB", "AF", "164889003", "Atrial fibrillation"}
    assert af & set(mislabelled.labels), mislabelled.labels
    if kind in cf.SAME_PATIENT:
        patient, pair = cf.SAME_PATIENT[kind]
        assert {entries[i].patient_id for i in pair} == {patient}
        assert sum(e.patient_id == patient for e in entries.values()) == 2
    with pytest.raises(ValueError):
        cf.TREE_MAKERS[kind](tmp_path / "big", 7)


@pytest.mark.parametrize(
    "kind, table",
    [("ptbxl", "ptbxl_database.csv"), ("mimic", "record_list.csv"), ("code15", "exams.csv")],
)
def test_entries_are_sorted_whatever_the_table_order(tmp_path, kind, table):
    tree = cf.TREE_MAKERS[kind](tmp_path, 6)
    before = list(open_source(kind, tree).entries())
    assert [int(e.record_id) for e in before] == sorted(int(e.record_id) for e in before)
    header, *rows = (tree / table).read_text().splitlines()
    (tree / table).write_text("\n".join([header, *reversed(rows)]) + "\n")
    assert list(open_source(kind, tree).entries()) == before


def test_ludb_entries_are_sorted_numerically(tmp_path):
    import csv

    tree = cf.make_ludb_tree(tmp_path, 6)
    with (tree / "ludb.csv").open(newline="") as f:
        header, *rows = list(csv.reader(f))
    with (tree / "ludb.csv").open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header, *sorted(rows)])  # 1, 11, 3, ...
    ids = [e.record_id for e in open_source("ludb", tree).entries()]
    assert ids == ["1", "3", "5", "7", "9", "11"]


def test_sources_and_entries_pickle(tmp_path):
    for kind in SOURCE_KINDS:
        tree = cf.TREE_MAKERS[kind](tmp_path, 2)
        source = pickle.loads(pickle.dumps(open_source(kind, tree)))
        entry = pickle.loads(pickle.dumps(next(iter(source.entries()))))
        assert source.read(entry).n_leads == 12
    assert isinstance(open_source("code15", tmp_path / "code15"), Code15Source)


@pytest.mark.parametrize(
    "module", ["__init__", "_common", "ptbxl", "mimic", "code15", "challenge", "ludb"]
)
def test_docstring_examples(module):
    name = "ecgr1.corpus.sources" + ("" if module == "__init__" else f".{module}")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


# ----------------------------------------------------------------------------- real trees

DATA = shared_data_dir()


def _real(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"real data not available: {path} (set ECGR1_DATA to the shared data folder)")
    return path


def _header_comments(path: str) -> dict[str, str]:
    out = {}
    for line in read_header_text(path + ".hea").splitlines():
        key, sep, value = line.lstrip("#").partition(":")
        if line.startswith("#") and sep:
            out.setdefault(key.strip().strip("<>").lower(), value.strip())
    return out


def test_real_ptbxl_500():
    source = open_source("ptbxl", _real("extra", "ptbxl"))
    entries = list(source.entries())
    assert len(entries) == 38 and len({e.uid for e in entries}) == 38
    ids = [int(e.record_id) for e in entries]
    assert ids == sorted(ids) and ids[0] == 1 and ids[-1] == 21425
    first = entries[0]
    assert first.labels == ("NORM", "LVOLT", "SR") and first.extra["superclasses"] == ["NORM"]
    assert (first.patient_id, first.age, first.sex, first.fold) == ("15709", 56, "female", 3)
    assert Counter(e.fold for e in entries) == Counter(
        {9: 5, 10: 5, 8: 5, 3: 4, 4: 4, 6: 4, 5: 3, 7: 3, 1: 3, 2: 2}
    )
    for e in entries:
        # the headers of this copy carry Age/Sex comments: an independent check of the table
        comments = _header_comments(e.path)
        assert e.sex == {"M": "male", "F": "female"}[parse_sex(comments["sex"])]
        assert e.age == parse_age(comments["age"])
        record = source.read(e)
        assert record.fs == 500 and record.leads == STANDARD and record.n_samples == 5000


def test_real_ptbxl_100():
    source = open_source("ptbxl", _real("extra", "ptbxl"), rate=100)
    entries = list(source.entries())
    assert len(entries) == 38
    read, missing = 0, 0
    for e in entries:
        assert e.ecg_relpath.startswith("records100/") and e.ecg_relpath.endswith("_lr")
        try:
            record = source.read(e)
        except MissingFileError:
            missing += 1
            continue
        assert record.fs == 100 and record.n_samples == 1000 and record.leads == STANDARD
        read += 1
    assert (read, missing) == (28, 10)  # the shared extract lacks ten 100 Hz copies


def test_real_cpsc2018():
    source = open_source("challenge", _real("cpsc2018"))
    entries = list(source.entries())
    assert source.name == "cpsc2018" and len(entries) == 75
    assert [e.record_id for e in entries] == [f"A{k:04d}" for k in range(1, 76)]
    text = {"Normal", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE"}
    assert {e.vocabulary for e in entries} == {"cpsc"}
    assert all(e.labels and set(e.labels) <= text for e in entries)
    assert entries[0].labels == ("RBBB",) and (entries[0].age, entries[0].sex) == (74, "male")
    assert Counter(e.sex for e in entries) == {"female": 40, "male": 35}
    assert all(e.dedup_key == f"cpsc2018:{e.record_id}" for e in entries)
    for e in entries[:5]:
        record = source.read(e)
        assert record.fs == 500 and record.leads == STANDARD and record.n_samples >= 5000


CINC = {
    "cinc_chapman_shaoxing": ("chapman_shaoxing", 10),
    "cinc_cpsc2018": ("cpsc2018", 3),
    "cinc_cpsc_extra": ("cpsc_extra", 14),
    "cinc_georgia": ("georgia", 27),
    "cinc_ningbo": ("ningbo", 23),
    "cinc_ptb": ("ptb", 5),
    "cinc_ptbxl": ("ptbxl_challenge", 19),
}


@pytest.mark.parametrize("folder", sorted(CINC))
def test_real_challenge_trees(folder):
    name, count = CINC[folder]
    source = open_source("challenge", _real("extra", folder))
    entries = list(source.entries())
    assert source.name == name and len(entries) == count
    assert {e.source for e in entries} == {name}
    assert {e.vocabulary for e in entries} == {"snomed"}
    assert all(e.labels and all(c.isdigit() for c in e.labels) for e in entries)
    for e in entries:
        comments = _header_comments(e.path)
        assert e.age == parse_age(comments["age"])
        if name == "ptbxl_challenge":
            assert e.dedup_key == f"ptbxl:{int(e.record_id[2:])}"
        elif name == "cpsc2018":
            assert e.dedup_key == f"cpsc2018:{e.record_id}"
        else:
            assert e.dedup_key == f"challenge:{e.record_id}"
    record = source.read(entries[0])
    assert record.fs == (1000 if name == "ptb" else 500) and record.leads == STANDARD


def test_real_challenge_all_sources_and_ptbxl_twins():
    root = _real("extra")
    if not (root / "ptbxl").is_dir():
        pytest.skip(f"real data not available: {root / 'ptbxl'}")
    counts = Counter(e.source for e in open_source("challenge", root).entries())
    assert counts == {name: count for name, count in CINC.values()}
    assert sum(counts.values()) == 101
    hr = {e.dedup_key: e for e in open_source("challenge", root / "cinc_ptbxl").entries()}
    ptbxl = {e.dedup_key: e for e in open_source("ptbxl", root / "ptbxl").entries()}
    twins = set(hr) & set(ptbxl)
    assert sorted(twins) == ["ptbxl:1", "ptbxl:3", "ptbxl:5", "ptbxl:7"]
    for key in twins:  # the Challenge copy and the PTB-XL original describe the same person
        assert (hr[key].age, hr[key].sex) == (ptbxl[key].age, ptbxl[key].sex), key


def test_real_ludb():
    source = open_source("ludb", _real("ludb"))
    entries = list(source.entries())
    assert len(entries) == 100
    assert [e.record_id for e in entries] == [str(k) for k in range(1, 200, 2)]
    assert Counter(e.sex for e in entries) == {"male": 60, "female": 40}
    assert entries[0].labels == (
        "Sinus bradycardia",
        "Electric axis of the heart: left axis deviation",
        "Left ventricular overload",
        "Left ventricular hypertrophy",
        "Non-specific repolarization abnormalities: posterior wall",
    )
    by_id = {e.record_id: e for e in entries}
    assert by_id["95"].labels == (  # no axis (paced); hypertrophy before pacing before ischemia
        "Atrial fibrillation",
        "Left ventricular hypertrophy",
        "Pacemaker presence, undefined",
        "Unipolar ventricular pacing",
        "Ischemia: inferior wall",
        "Ischemia: apical",
        "Ischemia: lateral wall",
        "Ischemia: septal",
    )
    for e in entries:
        comments = _header_comments(e.path)
        assert e.age == parse_age(comments["age"])
        assert e.sex == {"M": "male", "F": "female"}[parse_sex(comments["sex"])]
        # every csv item is among the header's diagnoses, but for "Pacemaker presence,
        # undefined", which four csv rows have and the headers do not
        diagnoses = read_header_text(e.path + ".hea").split("<diagnoses>:")[1]
        items = {
            line.lstrip("#").strip().rstrip(".").strip().lower()
            for line in diagnoses.splitlines()
            if line.strip()
        }
        tails = {i.split(": ", 1)[-1] for i in items}
        for label in e.labels:
            if label == "Pacemaker presence, undefined":
                continue
            low = label.lower().rstrip(".")
            assert low in items or low.split(": ", 1)[-1] in tails, (e.record_id, label)
    record = source.read(entries[0])
    assert record.fs == 500 and record.leads == STANDARD and record.n_samples == 5000
