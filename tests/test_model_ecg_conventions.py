"""What an ECG-R1 folder is given: the reference input convention against ECG-R1's ``load_ecg``.

ECG-R1's ``ecg_r1/register.py`` loads an ECG as ``wfdb.rdsamp(path)[0]``, sets NaN/inf to 0,
transposes to (leads, samples) and crops to / zero-pads at the end to 5000 samples: the file's
lead order and rate are kept. :func:`reference_load_ecg` below re-implements exactly that with
the same library (the reference module itself cannot be imported without ms-swift). A folder
with the ``reference`` convention (the default, and what a published ECG-R1 folder gets) must
be given that tensor; a ``standard`` folder gets the standard lead order at 500 Hz.

Records: a real LUDB recording written with MIMIC-IV-ECG's header layout (I, II, III, aVR, aVF,
aVL, V1-V6; 200 adu/mV, as in the published files) with a run of WFDB "missing" samples; and
CODE-15 exams (400 Hz, 7 s and 10 s tracings padded to 4096 samples in the HDF5) exported to
WFDB by the corpus builder's adapter (padding trimmed, native rate kept).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from corpus_fixtures import MIMIC_LEADS, write_wfdb16

from ecgr1.cli import main
from ecgr1.io import read_record, to_model_tensor
from ecgr1.model.data import load_ecg, record_tensor

wfdb = pytest.importorskip("wfdb")

STANDARD = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def reference_load_ecg(path: Path, ecg_seq_length: int = 5000) -> np.ndarray:
    """The behaviour of ECG-R1's ``load_ecg`` (register.py), written independently here."""
    data = wfdb.rdsamp(str(path))[0]
    data[np.isnan(data)] = 0
    data[np.isinf(data)] = 0
    x = np.transpose(data, (1, 0)).astype(np.float32)
    c, length = x.shape
    if length < ecg_seq_length:
        padded = np.zeros((c, ecg_seq_length), dtype=x.dtype)
        padded[:, :length] = x
        x = padded
    elif length > ecg_seq_length:
        x = x[:, :ecg_seq_length]
    return x


# float32 values from the same int16 samples and gain: equal up to float rounding (1e-7 mV)
EXACT = {"atol": 1e-6, "rtol": 0}


@pytest.fixture(scope="module")
def mimic_record(tmp_path_factory, ludb_dir) -> Path:
    """LUDB record 1 (real, 500 Hz, 10 s) in MIMIC-IV-ECG's header layout and lead order,
    with 40 missing samples (WFDB -32768) in lead aVF."""
    rec = read_record(ludb_dir / "data" / "1")
    order = [rec.leads.index(name) for name in MIMIC_LEADS]
    folder = tmp_path_factory.mktemp("mimic") / "files" / "p1000" / "p10000032" / "s40000001"
    hea = write_wfdb16(
        folder, "40000001", rec.signal[order], 500.0, MIMIC_LEADS,
        gains=200.0, gain_text="{gain:.1f}({baseline})",
    )  # fmt: skip
    dat = folder / "40000001.dat"
    digital = np.fromfile(dat, dtype="<i2").reshape(-1, 12)
    digital[1000:1040, MIMIC_LEADS.index("aVF")] = -32768  # WFDB format 16 "no sample"
    digital.tofile(dat)
    return hea.with_suffix("")


@pytest.fixture(scope="module")
def code15_exports(tmp_path_factory) -> dict[int, Path]:
    """Exams 1001 (10 s) and 1002 (7 s) exported as the corpus builder writes them."""
    pytest.importorskip("h5py")
    from corpus_fixtures import make_code15_tree

    from ecgr1.corpus.sources.code15 import Code15Source

    root = tmp_path_factory.mktemp("code15")
    source = Code15Source(make_code15_tree(root / "src", n=2))
    out = {}
    for entry in source.entries():
        rel = source.export_wfdb(entry, source.read(entry), root / "ecg")
        out[int(entry.extra["exam_id"])] = root / "ecg" / rel
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    from ecgr1.model.tiny import init_tiny

    root = tmp_path_factory.mktemp("conv")
    return {
        "default": init_tiny(root / "default"),
        "standard": init_tiny(root / "standard", ecg_convention="standard"),
    }


@pytest.fixture(scope="module")
def loaded(folders) -> dict[str, tuple]:
    from ecgr1.model import load_model_and_processor

    return {name: load_model_and_processor(path, device="cpu") for name, path in folders.items()}


def _fed_to_model(loaded: tuple, record: Path) -> torch.Tensor:
    """The ECG tensor the model's tower receives when the folder interprets ``record``."""
    from ecgr1.model.inference import GenerationSettings, generate_batch

    model, processor = loaded
    seen = []
    handle = model.model.ecg_tower.register_forward_hook(lambda m, a, o: seen.append(a[0]))
    row = {"id": "r", "messages": [{"role": "user", "content": "<ecg>\nx"}], "objects": {}}
    row["objects"]["ecg"] = [str(record)]
    try:
        generate_batch(model, processor, [row], settings=GenerationSettings(max_new_tokens=1))
    finally:
        handle.remove()
    assert len(seen) == 1
    return seen[0][0]


def test_mimic_order_reaches_an_ecg_r1_folder_as_the_reference_loads_it(mimic_record, loaded):
    expected = reference_load_ecg(mimic_record)
    assert (expected[MIMIC_LEADS.index("aVF"), 1000:1040] == 0).all()  # rdsamp NaN -> 0
    fed = _fed_to_model(loaded["default"], mimic_record)
    torch.testing.assert_close(fed, torch.from_numpy(expected), **EXACT)
    # row 4 is aVF, as in the file (the standard order would put aVL there)
    rec = read_record(mimic_record, nan_policy="zero")
    torch.testing.assert_close(fed[4], torch.from_numpy(rec.lead("aVF")), atol=1e-6, rtol=0)
    assert not torch.allclose(fed[4], fed[5])


def test_mimic_order_is_reordered_for_a_standard_folder(mimic_record, loaded):
    fed = _fed_to_model(loaded["standard"], mimic_record)
    rec = read_record(mimic_record)
    torch.testing.assert_close(fed, torch.from_numpy(to_model_tensor(rec)), **EXACT)
    ref = reference_load_ecg(mimic_record)
    for i, name in enumerate(STANDARD):
        if name not in ("aVF",):  # aVF's missing run is interpolated here, zero in reference
            torch.testing.assert_close(fed[i], torch.from_numpy(ref[MIMIC_LEADS.index(name)]))
    assert not torch.allclose(fed, torch.from_numpy(ref))
    # the gap is interpolated, not zeroed, in the standard convention
    assert fed[STANDARD.index("aVF"), 1000:1040].abs().sum() > 0


@pytest.mark.parametrize(("exam", "n_file"), [(1001, 4000), (1002, 2800)])
def test_code15_export_reaches_an_ecg_r1_folder_unresampled(code15_exports, loaded, exam, n_file):
    path = code15_exports[exam]
    header = wfdb.rdheader(str(path))
    assert (header.fs, header.sig_len) == (400, n_file)  # trimmed export at the native rate
    expected = reference_load_ecg(path)
    fed = _fed_to_model(loaded["default"], path)
    torch.testing.assert_close(fed, torch.from_numpy(expected), **EXACT)
    assert fed[:, n_file:].abs().sum() == 0  # zero-padded at the end to 5000, not resampled
    assert fed[:, n_file - 1].abs().sum() > 0


@pytest.mark.parametrize(("exam", "seconds"), [(1001, 10), (1002, 7)])
def test_code15_export_is_resampled_for_a_standard_folder(code15_exports, loaded, exam, seconds):
    path = code15_exports[exam]
    fed = _fed_to_model(loaded["standard"], path)
    torch.testing.assert_close(fed, torch.from_numpy(to_model_tensor(read_record(path))), **EXACT)
    n_signal = 500 * seconds  # 500 Hz
    assert fed[:, n_signal - 1].abs().sum() > 0
    assert fed[:, n_signal:].abs().sum() == 0
    assert not torch.allclose(fed, torch.from_numpy(reference_load_ecg(path)))


def test_other_lead_counts_refused_in_reference_mapped_in_standard(qtdb_dir, folders, tmp_path):
    """QTDB sel100 (2 leads, 250 Hz): an ECG-R1 folder refuses it with a clear row error; a
    standard folder (or --ecg-input standard) derives what it can and zero-fills the rest."""
    row = {
        "id": "two-lead",
        "messages": [{"role": "user", "content": "<ecg>\nInterpret the provided ECG."}],
        "objects": {"ecg": [str(qtdb_dir / "sel100")]},
    }
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(row) + "\n")
    out = tmp_path / "pred.jsonl"
    base = ["infer", "--data", str(data), "--out", str(out), "--max-new-tokens", "1"]
    assert main([*base, "--model", str(folders["default"])]) == 2  # no row could be used
    pred = json.loads(out.read_text())
    assert "exactly 12 leads" in pred["error"] and "has 2 (II, V5)" in pred["error"]
    assert pred["config"]["ecg_input_convention"] == "reference"
    assert main([*base, "--model", str(folders["default"]), "--ecg-input", "standard"]) == 0
    pred = json.loads(out.read_text())
    assert "error" not in pred and pred["config"]["ecg_input_convention"] == "standard"
    assert main([*base, "--model", str(folders["standard"])]) == 0
    x = load_ecg(qtdb_dir / "sel100", convention="standard")
    # II kept, I/III/aVR/aVL/aVF cannot be derived from II alone: zero rows; V5 kept
    assert [bool(np.abs(r).sum() > 0) for r in x] == [name in ("II", "V5") for name in STANDARD]


def test_record_objects_follow_the_convention_too(mimic_record, loaded):
    """An ECGRecord (as ``ecgr1 interpret --model`` passes it) keeps its lead order in the
    reference convention and is reordered in the standard one."""
    rec = read_record(mimic_record, nan_policy="zero", derive_leads=False)
    expected = {"default": reference_load_ecg(mimic_record), "standard": to_model_tensor(rec)}
    for name, (_, processor) in loaded.items():
        np.testing.assert_allclose(processor.stack_ecgs([rec])[0].numpy(), expected[name], **EXACT)
    np.testing.assert_allclose(record_tensor(rec, "reference"), expected["default"], **EXACT)
    np.testing.assert_allclose(record_tensor(rec, "standard"), expected["standard"], **EXACT)
