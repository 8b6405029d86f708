"""Small dataset trees in their native published layouts, generated in code for corpus tests.

Each ``make_*_tree(root, n=4)`` writes ``n`` (at most 6) records under ``root/<dataset>`` and
returns that folder. Signals are simulated (:func:`ecgr1.simulate.simulate`); labels match the
simulated pattern except for one record per tree, which is deliberately mislabelled (a normal
sinus simulation labelled atrial fibrillation) so that agreement checks can be tested. The
record facts are module constants (``PTBXL_RECORDS`` ...) so tests assert against one truth;
:data:`MISLABELLED` names the mislabelled record of each tree and :data:`SAME_PATIENT` the
patient with two ECGs (PTB-XL, MIMIC, CODE-15; both within the default ``n=4``).

Layouts (as published):

- PTB-XL 1.0.3: ``ptbxl_database.csv`` (28 columns), ``scp_statements.csv``,
  ``records500/00000/NNNNN_hr.hea/.dat`` and ``records100/00000/NNNNN_lr.hea/.dat`` (WFDB 16,
  1000 adu/mV, leads ``I II III AVR AVL AVF V1..V6``).
- MIMIC-IV-ECG: ``record_list.csv``, ``machine_measurements.csv`` and
  ``files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN.hea/.dat`` (WFDB 16, 200 adu/mV, leads
  ``I II III aVR aVF aVL V1..V6``).
- CODE-15%: ``exams.csv`` and ``exams_part0.hdf5`` / ``exams_part1.hdf5`` (``tracings``
  (N, 4096, 12) float32 at 400 Hz, zero-padded symmetrically; ``exam_id``; a last all-zero row
  with exam id 0, as in the published parts).
- PhysioNet/CinC Challenge 2021: ``training/<database>/g1/<id>.hea`` + ``.mat`` (MATLAB v4,
  key ``val``, int16, 1000 adu/mV, header ``<id>.mat 16+24``), ``#Age/#Sex/#Dx`` comments.
- CPSC 2018 as released for the Challenge 2020 (``make_cpsc2018_tree``): flat ``A*.hea/.mat``
  with CPSC text labels in ``#Dx``.
- LUDB 1.0.1: ``ludb.csv`` (multi-line cells) and ``data/<id>.hea/.dat`` (WFDB 16, per-lead
  gain and baseline, lowercase lead names).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.simulate import simulate

MAX_RECORDS = 6

# ----------------------------------------------------------------------------- facts

#: PTB-XL: ecg_id, patient_id, age (300 = over 89), sex (0 male, 1 female), strat_fold,
#: simulated pattern, scp_codes (in file order), report.
PTBXL_RECORDS: tuple[dict[str, Any], ...] = (
    dict(ecg_id=1, patient_id=1001, age=56, sex=1, fold=3, pattern="normal",
         scp_codes={"NORM": 100.0, "SR": 0.0}, report="sinusrhythmus normales ekg"),
    dict(ecg_id=2, patient_id=1001, age=57, sex=1, fold=3, pattern="rbbb",
         scp_codes={"CRBBB": 100.0, "SR": 0.0},
         report="sinusrhythmus kompletter rechtsschenkelblock"),
    dict(ecg_id=3, patient_id=1002, age=300, sex=0, fold=9, pattern="atrial_fibrillation",
         scp_codes={"AFIB": 100.0}, report="vorhofflimmern"),
    dict(ecg_id=4, patient_id=1003, age=45, sex=0, fold=10, pattern="normal",
         scp_codes={"AFIB": 100.0}, report="vorhofflimmern"),  # mislabelled on purpose
    dict(ecg_id=5, patient_id=1004, age=70, sex=1, fold=1, pattern="lbbb",
         scp_codes={"CLBBB": 100.0, "SR": 0.0},
         report="sinusrhythmus kompletter linksschenkelblock"),
    dict(ecg_id=6, patient_id=1005, age=62, sex=0, fold=5, pattern="av_block_1",
         scp_codes={"1AVB": 80.0, "SR": 0.0}, report="sinusrhythmus av-block i"),
)  # fmt: skip

#: The scp_statements.csv rows the fixture writes (code, description, diagnostic, form,
#: rhythm, diagnostic_class, diagnostic_subclass, category, SCP description, AHA, aECG, CDISC,
#: DICOM), as in PTB-XL 1.0.3.
_SCP_STATEMENTS = (
    ("NORM", "normal ECG", "1.0", "", "", "NORM", "NORM", "Normal/abnormal", "normal ECG",
     "1", "", "", "F-000B7"),
    ("1AVB", "first degree AV block", "1.0", "", "", "CD", "_AVB",
     "Sinus node dysfunction, atrial and AV-conduction defects", "first degree AV block", "",
     "MDC_ECG_RHY_AV_HEART_BLK_DEG_1", "C111088", ""),
    ("CRBBB", "complete right bundle branch block", "1.0", "", "", "CD", "CRBBB",
     "Intraventricular and intra-atrial Conduction disturbances",
     "(complete) right bundle branch block", "106", "MDC_ECG_BEAT_RBB_BLK_COMP", "C62270",
     "D3-33110"),
    ("CLBBB", "complete left bundle branch block", "1.0", "", "", "CD", "CLBBB",
     "Intraventricular and intra-atrial Conduction disturbances",
     "(complete) left bundle branch block", "104", "MDC_ECG_BEAT_LBB_BLK_COMP", "C62269",
     "D3-33120 or 122752"),
    ("SR", "sinus rhythm", "", "", "1.0", "", "",
     "Statements related to impulse formation (abnormalities)", "sinus rhythm", "20",
     "MDC_ECG_RHY_SINUS_RHY", "", ""),
    ("AFIB", "atrial fibrillation", "", "", "1.0", "", "",
     "Statements related to impulse formation (abnormalities)", "atrial fibrillation", "50",
     "MDC_ECG_RHY_ATR_FIB", "", "D3-31520"),
)  # fmt: skip

#: MIMIC-IV-ECG: subject_id, study_id, pattern, machine statements (report_0.. with a blank
#: slot kept where one is given as ""), raw machine measurements (ms / degrees; 29999 = none).
MIMIC_RECORDS: tuple[dict[str, Any], ...] = (
    dict(subject_id=10000032, study_id=40000001, pattern="normal",
         reports=("Sinus rhythm", "Normal ECG"),
         machine=dict(rr_interval=1000, p_onset=40, p_end=140, qrs_onset=200, qrs_end=290,
                      t_end=600, p_axis=50, qrs_axis=45, t_axis=40)),
    dict(subject_id=10000032, study_id=40000002, pattern="rbbb",
         reports=("Sinus rhythm", "", "Right bundle branch block", "Abnormal ECG"),
         machine=dict(rr_interval=857, p_onset=40, p_end=136, qrs_onset=202, qrs_end=342,
                      t_end=620, p_axis=55, qrs_axis=80, t_axis=30)),
    dict(subject_id=10000117, study_id=40000003, pattern="atrial_fibrillation",
         reports=("Atrial fibrillation", "Abnormal ECG"),
         machine=dict(rr_interval=632, p_onset=29999, p_end=29999, qrs_onset=180,
                      qrs_end=268, t_end=540, p_axis=29999, qrs_axis=60, t_axis=50)),
    dict(subject_id=10000280, study_id=40000004, pattern="normal",  # mislabelled on purpose
         reports=("Atrial fibrillation", "Abnormal ECG"),
         machine=dict(rr_interval=1000, p_onset=29999, p_end=29999, qrs_onset=190,
                      qrs_end=280, t_end=590, p_axis=29999, qrs_axis=40, t_axis=35)),
    dict(subject_id=10000560, study_id=40000005, pattern="sinus_bradycardia",
         reports=("Sinus bradycardia", "Otherwise normal ECG"),
         machine=dict(rr_interval=1250, p_onset=38, p_end=140, qrs_onset=198, qrs_end=286,
                      t_end=640, p_axis=45, qrs_axis=50, t_axis=42)),
    dict(subject_id=10000764, study_id=40000006, pattern="lbbb",
         reports=("Sinus rhythm", "Left bundle branch block", "Abnormal ECG"),
         machine=dict(rr_interval=923, p_onset=40, p_end=138, qrs_onset=200, qrs_end=350,
                      t_end=660, p_axis=50, qrs_axis=-20, t_axis=150)),
)  # fmt: skip

#: MIMIC-IV-ECG lead order in the published headers.
MIMIC_LEADS = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")

#: CODE-15%: exam_id, patient_id, age, is_male, pattern, seconds (7 or 10; padded to 4096
#: samples at 400 Hz), true label columns, HDF5 part.
CODE15_RECORDS: tuple[dict[str, Any], ...] = (
    dict(exam_id=1001, patient_id=501, age=60, is_male=True, pattern="normal", seconds=10,
         labels=("normal_ecg",), part=0),
    dict(exam_id=1002, patient_id=501, age=62, is_male=True, pattern="rbbb", seconds=7,
         labels=("RBBB",), part=0),
    dict(exam_id=1003, patient_id=502, age=70, is_male=False, pattern="atrial_fibrillation",
         seconds=10, labels=("AF",), part=0),
    dict(exam_id=1004, patient_id=503, age=45, is_male=False, pattern="normal", seconds=7,
         labels=("AF",), part=1),  # mislabelled on purpose
    dict(exam_id=1005, patient_id=504, age=33, is_male=True, pattern="sinus_bradycardia",
         seconds=10, labels=("SB",), part=1),
    dict(exam_id=1006, patient_id=505, age=58, is_male=False, pattern="av_block_1",
         seconds=7, labels=("1dAVb",), part=1),
)  # fmt: skip
CODE15_FS = 400
CODE15_SAMPLES = 4096
CODE15_COLUMNS = ("exam_id", "age", "is_male", "nn_predicted_age", "1dAVb", "RBBB", "LBBB",
                  "SB", "ST", "AF", "patient_id", "death", "timey", "normal_ecg",
                  "trace_file")  # fmt: skip
#: The exam that ``make_code15_tree(..., missing_part=True)`` lists in exams.csv with a
#: trace_file that is not written.
CODE15_MISSING_EXAM = dict(exam_id=1099, patient_id=599, part=7)

#: Challenge 2021: record id, folder under ``training/``, pattern, age (None -> "NaN"), sex
#: (None -> "Unknown"), SNOMED codes (None: no #Dx line), source expected from the prefix.
CHALLENGE_RECORDS: tuple[dict[str, Any], ...] = (
    dict(record_id="A0001", folder="cpsc_2018", pattern="rbbb", age=74, sex="Male",
         dx=("59118001",), source="cpsc2018", dedup_key="cpsc2018:A0001"),
    dict(record_id="HR00001", folder="ptb-xl", pattern="normal", age=56, sex="Female",
         dx=("426783006",), source="ptbxl_challenge", dedup_key="ptbxl:1",
         seed=10),  # the PTB-XL fixture's ecg_id 1 signal
    dict(record_id="E00001", folder="georgia", pattern="normal", age=None, sex="Female",
         dx=("164889003",), source="georgia", dedup_key="challenge:E00001"),  # mislabelled on purpose
    dict(record_id="JS00001", folder="chapman_shaoxing", pattern="atrial_fibrillation",
         age=85, sex="Male", dx=("164889003", "59118001"), source="chapman_shaoxing",
         dedup_key="challenge:JS00001"),
    dict(record_id="JS10647", folder="ningbo", pattern="sinus_bradycardia", age=4,
         sex="Male", dx=("426177001",), source="ningbo", dedup_key="challenge:JS10647"),
    dict(record_id="Q0001", folder="cpsc_2018_extra", pattern="av_block_1", age=53,
         sex=None, dx=None, source="cpsc_extra", dedup_key="challenge:Q0001"),
)  # fmt: skip
_CHALLENGE_DATES = "05-May-2020 14:50:55"

#: CPSC 2018 (Challenge 2020 release, text labels): record id, pattern, age, sex, labels.
CPSC2018_RECORDS: tuple[dict[str, Any], ...] = (
    dict(record_id="A0001", pattern="rbbb", age=74, sex="Male", dx=("RBBB",)),
    dict(record_id="A0002", pattern="normal", age=49, sex="Female", dx=("Normal",)),
    dict(record_id="A0003", pattern="normal", age=81, sex="Female", dx=("AF",)),  # mislabelled
    dict(record_id="A0004", pattern="atrial_fibrillation", age=45, sex="Male",
         dx=("AF", "RBBB")),
    dict(record_id="A0005", pattern="av_block_1", age=70, sex="Male", dx=("I-AVB",)),
    dict(record_id="A0006", pattern="lbbb", age="NaN", sex="Female", dx=("LBBB",)),
)  # fmt: skip

#: LUDB: record id, pattern, sex, age, then the diagnostic cells (one item a line).
LUDB_COLUMNS = ("ID", "Sex", "Age", "Rhythms", "Electric axis of the heart",
                "Conduction abnormalities", "Extrasystolies", "Hypertrophies", "Cardiac pacing",
                "Ischemia", "Non-specific repolarization abnormalities",
                "Other states")  # fmt: skip
LUDB_RECORDS: tuple[dict[str, Any], ...] = (
    dict(record_id=1, pattern="sinus_bradycardia", sex="F", age=51,
         cells={"Rhythms": "Sinus bradycardia",
                "Electric axis of the heart": "Electric axis of the heart: left axis deviation",
                "Hypertrophies": "Left ventricular overload\nLeft ventricular hypertrophy"}),
    dict(record_id=3, pattern="normal", sex="M", age=53,
         cells={"Rhythms": "Sinus rhythm",
                "Electric axis of the heart": "Electric axis of the heart: normal"}),
    dict(record_id=5, pattern="atrial_fibrillation", sex="M", age=61,
         cells={"Rhythms": "Atrial fibrillation",
                "Electric axis of the heart": "Electric axis of the heart: horizontal",
                "Ischemia": "Ischemia: inferior wall\nIschemia: lateral wall"}),
    dict(record_id=7, pattern="normal", sex="F", age=44,  # mislabelled on purpose
         cells={"Rhythms": "Atrial fibrillation",
                "Electric axis of the heart": "Electric axis of the heart: normal"}),
    dict(record_id=9, pattern="lbbb", sex="M", age=72,
         cells={"Rhythms": "Sinus rhythm",
                "Electric axis of the heart": "Electric axis of the heart: left axis deviation",
                "Conduction abnormalities": "Complete left bundle branch block"}),
    dict(record_id=11, pattern="av_block_1", sex="F", age=66,
         cells={"Rhythms": "Sinus rhythm",
                "Electric axis of the heart": "Electric axis of the heart: normal",
                "Conduction abnormalities": "I degree av block",
                "Other states": "Early repolarization syndrome"}),
)  # fmt: skip
LUDB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")

#: The deliberately mislabelled record of each tree (a normal sinus simulation labelled AF).
MISLABELLED: dict[str, str] = {
    "ptbxl": "00004",
    "mimic": "40000004",
    "code15": "1004",
    "challenge": "E00001",
    "cpsc2018": "A0003",
    "ludb": "7",
}
#: The patient with two ECGs in each tree that has patients (both within ``n=4``).
SAME_PATIENT: dict[str, tuple[str, tuple[str, str]]] = {
    "ptbxl": ("1001", ("00001", "00002")),
    "mimic": ("10000032", ("40000001", "40000002")),
    "code15": ("501", ("1001", "1002")),
}

# ----------------------------------------------------------------------------- writers


def _take(records: tuple[dict[str, Any], ...], n: int) -> tuple[dict[str, Any], ...]:
    if not 1 <= n <= MAX_RECORDS:
        raise ValueError(f"n must be 1..{MAX_RECORDS}, got {n}")
    return records[:n]


def _signal(pattern: str, seed: int, seconds: float = 10.0, fs: float = 500.0) -> np.ndarray:
    """Simulated 12-lead signal (standard order I..V6), mV, shape (12, samples)."""
    return np.asarray(simulate(pattern, seed=seed, seconds=seconds, fs=fs).record.signal)


def _checksum(values: np.ndarray) -> int:
    c = int(values.astype(np.int64).sum()) & 0xFFFF
    return c - 0x10000 if c >= 0x8000 else c


def _digital(signal_mv: np.ndarray, gains: np.ndarray, baselines: np.ndarray) -> np.ndarray:
    d = np.round(signal_mv * gains[:, None]) + baselines[:, None]
    return np.clip(d, -32767, 32767).astype(np.int16)


def write_wfdb16(
    folder: Path,
    name: str,
    signal_mv: np.ndarray,
    fs: float,
    leads: tuple[str, ...] | list[str],
    *,
    gains: np.ndarray | float = 1000.0,
    baselines: np.ndarray | int = 0,
    gain_text: str = "{gain:g}({baseline})",
    adc_res: int = 16,
    time_date: str = "",
    comments: tuple[str, ...] | list[str] = (),
) -> Path:
    """Write a WFDB format-16 record (``name.hea`` + ``name.dat``); returns the ``.hea`` path."""
    folder.mkdir(parents=True, exist_ok=True)
    n_sig = signal_mv.shape[0]
    g = np.broadcast_to(np.asarray(gains, dtype=float), (n_sig,))
    b = np.broadcast_to(np.asarray(baselines, dtype=int), (n_sig,))
    digital = _digital(signal_mv, g, b)
    (folder / f"{name}.dat").write_bytes(digital.T.astype("<i2").tobytes())
    first = f"{name} {n_sig} {fs:g} {digital.shape[1]}" + (f" {time_date}" if time_date else "")
    lines = [first]
    for k, lead in enumerate(leads):
        gain = gain_text.format(gain=g[k], baseline=b[k])
        lines.append(
            f"{name}.dat 16 {gain}/mV {adc_res} 0 {int(digital[k, 0])} "
            f"{_checksum(digital[k])} 0 {lead}"
        )
    lines += [f"#{c}" for c in comments]
    hea = folder / f"{name}.hea"
    hea.write_text("\n".join(lines) + "\n")
    return hea


def write_challenge_record(
    folder: Path,
    record_id: str,
    signal_mv: np.ndarray,
    fs: float,
    comments: tuple[str, ...] | list[str],
    time_date: str = _CHALLENGE_DATES,
) -> Path:
    """Write a Challenge record: MATLAB v4 ``val`` (int16, 1000 adu/mV) + ``.hea``."""
    from scipy.io import savemat

    folder.mkdir(parents=True, exist_ok=True)
    digital = _digital(signal_mv, np.full(12, 1000.0), np.zeros(12, dtype=int))
    savemat(str(folder / f"{record_id}.mat"), {"val": digital}, format="4")
    leads = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    lines = [f"{record_id} 12 {fs:g} {digital.shape[1]} {time_date}"]
    for k, lead in enumerate(leads):
        lines.append(
            f"{record_id}.mat 16+24 1000/mV 16 0 {int(digital[k, 0])} "
            f"{_checksum(digital[k])} 0 {lead}"
        )
    lines += [f"#{c}" for c in comments]
    hea = folder / f"{record_id}.hea"
    hea.write_text("\n".join(lines) + "\n")
    return hea


def _write_csv(path: Path, header: tuple[str, ...] | list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


# ----------------------------------------------------------------------------- trees

PTBXL_COLUMNS = ("ecg_id", "patient_id", "age", "sex", "height", "weight", "nurse", "site",
                 "device", "recording_date", "report", "scp_codes", "heart_axis",
                 "infarction_stadium1", "infarction_stadium2", "validated_by", "second_opinion",
                 "initial_autogenerated_report", "validated_by_human", "baseline_drift",
                 "static_noise", "burst_noise", "electrodes_problems", "extra_beats",
                 "pacemaker", "strat_fold", "filename_lr", "filename_hr")  # fmt: skip
_PTBXL_LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")


def make_ptbxl_tree(root: str | Path, n: int = 4) -> Path:
    """PTB-XL 1.0.3 layout under ``root/ptbxl`` with ``n`` ECGs (ecg_id 1..n), both rates.

    ecg_id 1 and 2 belong to patient 1001; ecg_id 3 is aged 300 (over 89); ecg_id 4 is a normal
    sinus simulation labelled AFIB (mislabelled).
    """
    tree = Path(root) / "ptbxl"
    tree.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, r in enumerate(_take(PTBXL_RECORDS, n)):
        eid = r["ecg_id"]
        sub = f"{eid // 1000 * 1000:05d}"
        lr, hr = f"records100/{sub}/{eid:05d}_lr", f"records500/{sub}/{eid:05d}_hr"
        time_date = f"09:17:{10 + k:02d} 09/11/1984"
        for rel, fs in ((hr, 500.0), (lr, 100.0)):
            write_wfdb16(
                tree / Path(rel).parent, Path(rel).name, _signal(r["pattern"], 10 + k, fs=fs),
                fs, _PTBXL_LEADS, gains=1000.0, gain_text="{gain:.1f}({baseline})",
                time_date=time_date,
            )  # fmt: skip
        codes = "{" + ", ".join(f"'{c}': {v!r}" for c, v in r["scp_codes"].items()) + "}"
        rows.append([
            eid, f"{float(r['patient_id'])}", f"{float(r['age'])}", r["sex"], "", "70.0", "2.0",
            "0.0", "CS-12   E", f"1984-11-09 09:17:{10 + k:02d}", r["report"], codes, "",
            "", "", "", "False", "False", "True", "", "", "", "", "", "", r["fold"], lr, hr,
        ])  # fmt: skip
    _write_csv(tree / "ptbxl_database.csv", PTBXL_COLUMNS, rows)
    statements_header = ("", "description", "diagnostic", "form", "rhythm", "diagnostic_class",
                         "diagnostic_subclass", "Statement Category",
                         "SCP-ECG Statement Description", "AHA code", "aECG REFID",
                         "CDISC Code", "DICOM Code")  # fmt: skip
    _write_csv(tree / "scp_statements.csv", statements_header, [list(s) for s in _SCP_STATEMENTS])
    return tree


MIMIC_MEASUREMENT_COLUMNS = (
    ["subject_id", "study_id", "cart_id", "ecg_time"]
    + [f"report_{k}" for k in range(18)]
    + ["bandwidth", "filtering", "rr_interval", "p_onset", "p_end", "qrs_onset", "qrs_end",
       "t_end", "p_axis", "qrs_axis", "t_axis"]
)  # fmt: skip
_MIMIC_MACHINE_KEYS = ("rr_interval", "p_onset", "p_end", "qrs_onset", "qrs_end", "t_end",
                       "p_axis", "qrs_axis", "t_axis")  # fmt: skip


def mimic_record_path(subject_id: int, study_id: int) -> str:
    """``files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN`` as in ``record_list.csv``."""
    s = str(subject_id)
    return f"files/p{s[:4]}/p{s}/s{study_id}/{study_id}"


def make_mimic_tree(root: str | Path, n: int = 4) -> Path:
    """MIMIC-IV-ECG layout under ``root/mimic-iv-ecg`` with ``n`` studies.

    Subject 10000032 has two studies (40000001 normal, 40000002 RBBB with a blank report_1);
    study 40000003 is AF with the 29999 "no P wave" sentinels; 40000004 is a normal sinus
    simulation whose machine report says atrial fibrillation (mislabelled).
    """
    tree = Path(root) / "mimic-iv-ecg"
    tree.mkdir(parents=True, exist_ok=True)
    order = [0, 1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11]  # standard order -> I II III aVR aVF aVL
    records, measurements = [], []
    for k, r in enumerate(_take(MIMIC_RECORDS, n)):
        rel = mimic_record_path(r["subject_id"], r["study_id"])
        ecg_time = f"2180-07-{23 + k:02d} 08:44:00"
        write_wfdb16(
            tree / Path(rel).parent, str(r["study_id"]), _signal(r["pattern"], 20 + k)[order],
            500.0, MIMIC_LEADS, gains=200.0, gain_text="{gain:.1f}({baseline})",
            time_date=f"08:44:00 {23 + k:02d}/07/2180",
        )  # fmt: skip
        records.append([r["subject_id"], r["study_id"], r["study_id"], ecg_time, rel])
        reports = list(r["reports"]) + [""] * (18 - len(r["reports"]))
        machine = [r["machine"][key] for key in _MIMIC_MACHINE_KEYS]
        measurements.append(
            [r["subject_id"], r["study_id"], 6848296 + k, ecg_time, *reports,
             "0.005-150 Hz", "60 Hz notch Baseline filter", *machine]
        )  # fmt: skip
    _write_csv(
        tree / "record_list.csv",
        ("subject_id", "study_id", "file_name", "ecg_time", "path"),
        records,
    )
    _write_csv(tree / "machine_measurements.csv", MIMIC_MEASUREMENT_COLUMNS, measurements)
    return tree


def make_code15_tree(root: str | Path, n: int = 4, *, missing_part: bool = False) -> Path:
    """CODE-15% layout under ``root/code15`` with ``n`` exams in two HDF5 parts.

    Exams 1001 (normal_ecg) and 1002 (RBBB, 7 s) belong to patient 501; 7-s tracings (2800
    samples) are zero-padded by 648 samples at each end, 10-s ones (4000) by 48; exam 1004 is a
    normal sinus simulation labelled AF (mislabelled). Each part ends with an all-zero row of
    exam id 0. With ``missing_part``, exams.csv also lists exam 1099 in ``exams_part7.hdf5``,
    which is not written.
    """
    import h5py

    tree = Path(root) / "code15"
    tree.mkdir(parents=True, exist_ok=True)
    chosen = _take(CODE15_RECORDS, n)
    rows = []
    for part in sorted({r["part"] for r in chosen}):
        exams = [r for r in chosen if r["part"] == part]
        tracings = np.zeros((len(exams) + 1, CODE15_SAMPLES, 12), dtype=np.float32)
        ids = np.zeros(len(exams) + 1, dtype=np.int64)
        for j, r in enumerate(exams):
            sig = _signal(r["pattern"], 30 + r["exam_id"] % 100, r["seconds"], CODE15_FS).T
            pad = (CODE15_SAMPLES - sig.shape[0]) // 2
            tracings[j, pad : pad + sig.shape[0]] = sig
            ids[j] = r["exam_id"]
        with h5py.File(tree / f"exams_part{part}.hdf5", "w") as f:
            f.create_dataset("tracings", data=tracings)
            f.create_dataset("exam_id", data=ids)
    for r in chosen:
        flags = {c: str(c in r["labels"]) for c in ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF")}
        rows.append([
            r["exam_id"], r["age"], str(r["is_male"]), f"{r['age'] + 1.5:.6f}", *flags.values(),
            r["patient_id"], "False", "5.12", str("normal_ecg" in r["labels"]),
            f"exams_part{r['part']}.hdf5",
        ])  # fmt: skip
    if missing_part:
        m = CODE15_MISSING_EXAM
        rows.append([m["exam_id"], 50, "True", "51.0", *["False"] * 6, m["patient_id"], "", "",
                     "True", f"exams_part{m['part']}.hdf5"])  # fmt: skip
    _write_csv(tree / "exams.csv", CODE15_COLUMNS, rows)
    return tree


def make_challenge_tree(root: str | Path, n: int = 4) -> Path:
    """PhysioNet/CinC Challenge 2021 layout under ``root/challenge`` (``training/<db>/g1/``).

    Records in order: A0001 (CPSC 2018 copy, RBBB), HR00001 (the PTB-XL copy of ecg_id 1, normal
    sinus; the same simulated signal as the PTB-XL fixture's ecg_id 1 at 500 Hz), E00001 (Georgia, age NaN, a
    normal sinus simulation labelled AF: mislabelled), JS00001 (Chapman-Shaoxing, AF+RBBB
    codes on an AF simulation), JS10647 (Ningbo, sinus bradycardia), Q0001 (CPSC-extra, sex
    Unknown, no #Dx line).
    """
    tree = Path(root) / "challenge"
    for k, r in enumerate(_take(CHALLENGE_RECORDS, n)):
        comments = [
            f"Age: {r['age'] if r['age'] is not None else 'NaN'}",
            f"Sex: {r['sex'] or 'Unknown'}",
        ]
        if r["dx"] is not None:
            comments.append(f"Dx: {','.join(r['dx'])}")
        comments += ["Rx: Unknown", "Hx: Unknown", "Sx: Unknown"]
        write_challenge_record(
            tree / "training" / r["folder"] / "g1", r["record_id"],
            _signal(r["pattern"], r.get("seed", 40 + k)),
            500.0, comments,
        )  # fmt: skip
    return tree


def make_cpsc2018_tree(root: str | Path, n: int = 4) -> Path:
    """CPSC 2018 as released for the Challenge 2020 under ``root/cpsc2018``: flat ``A*.hea/.mat``
    with CPSC text labels in ``#Dx`` (Normal, AF, I-AVB, LBBB, RBBB...).

    A0003 is a normal sinus simulation labelled AF (mislabelled); A0004 has two labels
    (``AF,RBBB``); A0006 has age NaN.
    """
    tree = Path(root) / "cpsc2018"
    for k, r in enumerate(_take(CPSC2018_RECORDS, n)):
        comments = [f"Age: {r['age']}", f"Sex: {r['sex']}", f"Dx: {','.join(r['dx'])}",
                    "Rx: Unknown", "Hx: Unknown", "Sx: Unknows"]  # fmt: skip
        write_challenge_record(
            tree, r["record_id"], _signal(r["pattern"], 50 + k), 500.0, comments,
            time_date="05-Feb-2020 11:39:16",
        )  # fmt: skip
    return tree


def make_ludb_tree(root: str | Path, n: int = 4) -> Path:
    """LUDB 1.0.1 layout under ``root/ludb``: ``ludb.csv`` + ``data/<id>.hea/.dat``.

    Records 1, 3, 5, 7, 9, 11 (the first ``n``); record 7 is a normal sinus simulation labelled
    "Atrial fibrillation" (mislabelled). Cells hold one item a line; Sex and Age end with a
    newline, as in the published csv.
    """
    tree = Path(root) / "ludb"
    data = tree / "data"
    rows = []
    for k, r in enumerate(_take(LUDB_RECORDS, n)):
        gains = np.array([1716, 1206, 1229, 1368, 1368, 698, 1372, 1572, 2259, 2317, 2074, 1457])
        baselines = np.array([6, 2, -5, -5, 5, -1, -1, 2, 3, 4, 4, 1])
        items = [item for col in LUDB_COLUMNS[3:] for item in r["cells"].get(col, "").split("\n")]
        comments = [f"<age>: {r['age']}", f"<sex>: {r['sex']}", "<diagnoses>:"]
        comments += [f"{item}." for item in items if item]
        write_wfdb16(
            data, str(r["record_id"]), _signal(r["pattern"], 60 + k), 500.0, LUDB_LEADS,
            gains=gains, baselines=baselines, gain_text="{gain:g}({baseline})", adc_res=0,
            comments=comments,
        )  # fmt: skip
        rows.append(
            [r["record_id"], f"{r['sex']}\n", f"{r['age']}\n"]
            + [r["cells"].get(col, "") for col in LUDB_COLUMNS[3:]]
        )
    _write_csv(tree / "ludb.csv", LUDB_COLUMNS, rows)
    return tree


#: Every tree maker by adapter kind (``cpsc2018`` is read by the ``challenge`` adapter).
TREE_MAKERS = {
    "ptbxl": make_ptbxl_tree,
    "mimic": make_mimic_tree,
    "code15": make_code15_tree,
    "challenge": make_challenge_tree,
    "cpsc2018": make_cpsc2018_tree,
    "ludb": make_ludb_tree,
}
