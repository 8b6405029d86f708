"""The fast WFDB decoder (formats 16, 212, 80 and Challenge ``.mat``) gives what wfdb gives.

Every comparison reads the same record twice through two different code paths:
``engine="fast"`` (ecgr1's ``np.fromfile`` decoder; raises if it would not read the record) and
``engine="wfdb"`` (``wfdb.rdrecord``, the reader used before the fast decoder existed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import wfdb

from ecgr1.errors import InvalidInputError, UnsupportedFormatError
from ecgr1.io import read_record
from ecgr1.io.wfdb_reader import (
    FAST_FORMATS,
    fast_path_reason,
    read_wfdb,
    read_wfdb_samples,
)

# --------------------------------------------------------------------------- real records

#: Folders of WFDB records in the shared data (``README.md`` there), relative to its root.
REAL_FOLDERS = [
    "ludb/data",
    "qtdb",
    "cpsc2018",
    "mitdb",
    "cpsc2021",
    "extra/cinc_chapman_shaoxing",
    "extra/cinc_cpsc2018",
    "extra/cinc_cpsc_extra",
    "extra/cinc_georgia",
    "extra/cinc_ningbo",
    "extra/cinc_ptb",
    "extra/cinc_ptbxl",
    "extra/ptbxl/records100",
    "extra/ptbxl/records500",
]


def _headers(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.hea"))


def assert_same_samples(fast, ref) -> None:  # noqa: ANN001 - two WfdbSamples
    """Identical float64 samples (NaN where NaN), names, units, rate and warnings."""
    assert fast.reader == "fast", fast.reader
    assert ref.reader == "wfdb", ref.reader
    np.testing.assert_array_equal(fast.signal, ref.signal, strict=True)  # NaN == NaN here
    assert fast.names == ref.names
    assert fast.units == ref.units
    assert fast.fs == ref.fs
    assert fast.warnings == ref.warnings


@pytest.mark.parametrize("rel", REAL_FOLDERS)
def test_fast_path_equals_wfdb_on_every_real_record(shared_data: Path, rel: str) -> None:
    folder = shared_data / rel
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    headers = _headers(folder)
    assert headers, f"no .hea under {folder}"
    for hea in headers:
        fast = read_wfdb_samples(hea, engine="fast")
        ref = read_wfdb_samples(hea, engine="wfdb")
        assert_same_samples(fast, ref)
        assert read_wfdb_samples(hea).reader == "fast"  # the default takes the fast path
        # wfdb itself, called directly, as a third opinion on the first samples
        direct = wfdb.rdrecord(str(hea.with_suffix("")), sampto=min(500, ref.signal.shape[1]))
        np.testing.assert_array_equal(fast.signal[:, :500], direct.p_signal.T)
        assert fast.names == direct.sig_name and fast.units == direct.units
        assert fast.fs == direct.fs
        mat = [s.file_name for s in fast.header.signals if s.file_name.endswith(".mat")]
        if mat:  # Challenge .mat: the raw int16 frames are MATLAB's 'val' (loadmat)
            val = scipy.io.loadmat(str(hea.parent / mat[0]))["val"]
            gain = np.array([s.adc_gain for s in fast.header.signals])[:, None]
            base = np.array([s.baseline for s in fast.header.signals])[:, None]
            digital = np.where(np.isnan(fast.signal), -32768, np.rint(fast.signal * gain + base))
            np.testing.assert_array_equal(digital, val)


def test_whole_records_agree_between_engines(shared_data: Path) -> None:
    """read_wfdb / read_record (finalised: mV, canonical leads, metadata) agree as well."""
    picks = ["ludb/data/1", "mitdb/100", "qtdb/sel100", "cpsc2018/A0001", "cpsc2021/data_21_7"]
    picks += [str(p.relative_to(shared_data).with_suffix("")) for p in _first_extra(shared_data)]
    found = [shared_data / f"{rel}.hea" for rel in picks if (shared_data / f"{rel}.hea").is_file()]
    if not found:
        pytest.skip("none of the sample records present")
    for hea in found:
        fast = read_wfdb(hea, engine="fast")
        ref = read_wfdb(hea, engine="wfdb")
        default = read_record(hea)
        for rec in (fast, default):
            np.testing.assert_array_equal(rec.signal, ref.signal, strict=True)
            assert rec.leads == ref.leads and rec.fs == ref.fs
            assert rec.warnings == ref.warnings
            assert rec.metadata["comments"] == ref.metadata["comments"]


def _first_extra(root: Path) -> list[Path]:
    extra = root / "extra"
    if not extra.is_dir():
        return []
    return [min(d.rglob("*.hea")) for d in sorted(extra.iterdir()) if any(d.rglob("*.hea"))]


# --------------------------------------------------------------------------- synthetic records


def _pack_16(frames: np.ndarray) -> bytes:
    return frames.astype("<i2").tobytes()


def _pack_80(frames: np.ndarray) -> bytes:
    return (frames.astype(np.int16) + 128).astype(np.uint8).tobytes()


def _pack_24(frames: np.ndarray) -> bytes:
    v = frames.ravel().astype(np.int64) & 0xFFFFFF
    return np.stack([v & 0xFF, (v >> 8) & 0xFF, v >> 16], axis=1).astype(np.uint8).tobytes()


def _pack_212(frames: np.ndarray) -> bytes:
    """WFDB format 212 written by hand: pairs of 12-bit samples in 3 bytes, an odd last in 2."""
    v = [int(x) & 0xFFF for x in frames.ravel()]
    out = bytearray()
    for i in range(0, len(v) - 1, 2):
        a, b = v[i], v[i + 1]
        out += bytes([a & 0xFF, (a >> 8) | ((b >> 8) << 4), b & 0xFF])
    if len(v) % 2:
        out += bytes([v[-1] & 0xFF, v[-1] >> 8])
    return bytes(out)


PACK = {16: _pack_16, 80: _pack_80, 212: _pack_212, 24: _pack_24}


def write_record(
    folder: Path,
    name: str,
    files: list[tuple[str, int, np.ndarray]],
    *,
    n_samples: int | None = None,
    gains: list[float] | None = None,
    baselines: list[int] | None = None,
    offset: int = 0,
    fmt_suffix: str = "",
) -> Path:
    """A WFDB record whose data files are (file name, format, digital frames (n, signals)).

    ``offset`` junk bytes precede the first file's samples (declared as ``+offset``)."""
    n = files[0][2].shape[0]
    n_sig = sum(f[2].shape[1] for f in files)
    gains = gains or [200.0] * n_sig
    baselines = baselines or [0] * n_sig
    declared = n_samples if n_samples is not None else n
    lines = [f"{name} {n_sig} 250 {declared}"]
    k = 0
    for j, (fname, fmt, frames) in enumerate(files):
        lead = b"\x55" * offset if j == 0 else b""
        (folder / fname).write_bytes(lead + PACK[fmt](frames))
        fmt_text = f"{fmt}{fmt_suffix}" + (f"+{offset}" if j == 0 and offset else "")
        for col in range(frames.shape[1]):
            first, checksum = int(frames[0, col]), int(frames[:declared, col].sum())
            lines.append(
                f"{fname} {fmt_text} {gains[k]:g}({baselines[k]})/mV 12 0 {first} {checksum} 0 sig{k}"
            )
            k += 1
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n# a comment\n")
    return folder / f"{name}.hea"


def expected_physical(frames: np.ndarray, gains, baselines, invalid: int) -> np.ndarray:  # noqa: ANN001
    phys = (frames.astype(np.float64) - np.asarray(baselines, float)) / np.asarray(gains, float)
    phys[frames == invalid] = np.nan
    return phys.T


def test_format_212_odd_sample_count_and_no_data_value(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(-2047, 2048, size=(7, 3))  # 3 signals x 7 samples: 21, odd
    frames[2, 1] = -2048  # the format's "no data" value
    frames[6, 2] = 2047
    frames[0, 0] = -2047
    gains, baselines = [200.0, 100.5, 400.0], [12, -3, 0]
    hea = write_record(
        tmp_path, "r212", [("r212.dat", 212, frames)], gains=gains, baselines=baselines
    )
    assert (tmp_path / "r212.dat").stat().st_size == 32  # 10 pairs in 30 bytes + 2 for the last
    fast = read_wfdb_samples(hea, engine="fast")
    ref = read_wfdb_samples(hea, engine="wfdb")
    assert_same_samples(fast, ref)
    np.testing.assert_array_equal(fast.signal, expected_physical(frames, gains, baselines, -2048))
    assert np.isnan(fast.signal[1, 2]) and np.isnan(fast.signal).sum() == 1
    assert fast.signal[2, 6] == 2047 / 400.0


def test_format_212_single_signal_odd_length(tmp_path: Path) -> None:
    frames = np.array([[5], [-5], [2047], [-2047], [1000]])
    hea = write_record(tmp_path, "one", [("one.dat", 212, frames)], baselines=[1024])
    fast = read_wfdb_samples(hea, engine="fast")
    assert_same_samples(fast, read_wfdb_samples(hea, engine="wfdb"))
    np.testing.assert_array_equal(fast.signal, expected_physical(frames, [200.0], [1024], -2048))


def test_format_80_with_no_data_value(tmp_path: Path) -> None:
    frames = np.array([[0, 127], [-128, -127], [50, -128], [-1, 1]])
    gains, baselines = [20.0, 10.0], [-5, 7]
    hea = write_record(tmp_path, "r80", [("r80.dat", 80, frames)], gains=gains, baselines=baselines)
    fast = read_wfdb_samples(hea, engine="fast")
    assert_same_samples(fast, read_wfdb_samples(hea, engine="wfdb"))
    np.testing.assert_array_equal(fast.signal, expected_physical(frames, gains, baselines, -128))
    assert np.isnan(fast.signal).sum() == 2


def test_two_data_files_with_a_byte_offset(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(-30000, 30000, size=(9, 2))
    b = rng.integers(-2000, 2000, size=(9, 1))
    a[4, 0] = -32768
    gains, baselines = [1000.0, 500.0, 200.0], [0, 10, -1]
    hea = write_record(
        tmp_path,
        "two",
        [("two_a.dat", 16, a), ("two_b.dat", 212, b)],
        gains=gains,
        baselines=baselines,
        offset=6,
    )
    fast = read_wfdb_samples(hea, engine="fast")
    assert_same_samples(fast, read_wfdb_samples(hea, engine="wfdb"))
    want = expected_physical(np.hstack([a, b]), gains, baselines, -32768)
    want[2] = expected_physical(b, gains[2:], baselines[2:], -2048)[0]
    np.testing.assert_array_equal(fast.signal, want)
    assert np.isnan(fast.signal[0, 4])


def test_no_data_values_become_nan_then_are_repaired_alike(tmp_path: Path) -> None:
    frames = np.zeros((20, 2), dtype=np.int64)
    frames[:, 0] = np.arange(20) * 10
    frames[5:8, 0] = -32768
    hea = write_record(tmp_path, "gap", [("gap.dat", 16, frames)], gains=[100.0, 100.0])
    fast = read_wfdb_samples(hea, engine="fast")
    assert np.isnan(fast.signal[0, 5:8]).all() and np.isfinite(fast.signal[0, :5]).all()
    recs = [read_wfdb(hea, engine=e, derive_leads=False) for e in ("fast", "wfdb")]
    np.testing.assert_array_equal(recs[0].signal, recs[1].signal)
    assert recs[0].warnings == recs[1].warnings
    assert any("non-finite" in w for w in recs[0].warnings)
    np.testing.assert_allclose(recs[0].signal[0, 5:8], [0.5, 0.6, 0.7], atol=1e-6)


def test_more_samples_declared_than_stored_raises_as_before(tmp_path: Path) -> None:
    frames = np.ones((10, 2), dtype=np.int64)
    hea = write_record(tmp_path, "short", [("short.dat", 16, frames)], n_samples=11)
    for engine in ("fast", "wfdb", "auto"):
        with pytest.raises(InvalidInputError, match="holds 10 samples per signal but the header"):
            read_wfdb_samples(hea, engine=engine)


def test_more_samples_stored_than_declared_reads_the_declared_ones(tmp_path: Path) -> None:
    frames = np.arange(24).reshape(8, 3)
    hea = write_record(tmp_path, "long", [("long.dat", 212, frames)], n_samples=5)
    fast = read_wfdb_samples(hea, engine="fast")
    assert_same_samples(fast, read_wfdb_samples(hea, engine="wfdb"))
    assert fast.signal.shape == (3, 5)
    assert any("only the first 5 were read" in w for w in fast.warnings)


@pytest.mark.parametrize(
    "case", ["format24", "multi_frequency", "no_description", "non_ascii", "interleaved_files"]
)
def test_records_outside_the_fast_set_are_read_by_wfdb(tmp_path: Path, case: str) -> None:
    """Not on the fast path: read exactly as before (wfdb, or the tolerant decoder where wfdb
    raises), and ``engine="fast"`` refuses them."""
    frames = np.array([[1, -2], [3000, -8000], [5, 6], [7, 8]])
    if case == "format24":
        frames = np.array([[1, -2], [300000, -(2**23)], [5, 6], [7, 8]])
        hea = write_record(tmp_path, "r", [("r.dat", 24, frames)])
        reason = "storage format 24"
    elif case == "multi_frequency":
        two_per_frame = frames.reshape(-1, 1)  # 8 samples = 4 frames of 2
        hea = write_record(
            tmp_path, "r", [("r.dat", 16, two_per_frame)], n_samples=4, fmt_suffix="x2"
        )
        reason = "signal line 1 is not in the plain form"
    elif case == "no_description":
        hea = write_record(tmp_path, "r", [("r.dat", 16, frames)])
        text = hea.read_text().replace(" sig0", "").replace(" sig1", "")
        hea.write_text(text)
        reason = "not in the plain form"
    elif case == "non_ascii":
        hea = write_record(tmp_path, "r", [("r.dat", 16, frames)])
        hea.write_text(hea.read_text().replace("/mV", "/\u00b5V"), encoding="utf-8")
        reason = "non-ASCII characters"
    else:  # the signals of one file are not consecutive: a.dat, b.dat, a.dat
        hea = write_record(tmp_path, "r", [("a.dat", 16, frames), ("b.dat", 16, frames[:, :1])])
        lines = hea.read_text().splitlines()
        lines[2], lines[3] = lines[3], lines[2]
        hea.write_text("\n".join(lines) + "\n")
        reason = "are not consecutive"
    assert reason in (fast_path_reason(hea) or "")
    auto = read_wfdb_samples(hea)
    before = read_wfdb_samples(hea, engine="wfdb")
    assert auto.reader == before.reader != "fast"
    np.testing.assert_array_equal(auto.signal, before.signal, strict=True)
    assert auto.names == before.names and auto.warnings == before.warnings
    with pytest.raises(UnsupportedFormatError, match="not read by the fast WFDB decoder"):
        read_wfdb_samples(hea, engine="fast")
    if case == "interleaved_files":  # wfdb 4.3 raises IndexError here; either reader is right
        want = np.stack([frames[:, 0], frames[:, 0], frames[:, 1]]) / 200.0
        np.testing.assert_array_equal(auto.signal, want)
        return
    assert auto.reader == "wfdb"
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    np.testing.assert_array_equal(auto.signal, ref.p_signal.T)
    if case == "format24":
        assert np.isnan(auto.signal[1, 1]) and auto.signal[0, 1] == 300000 / 200.0


def _challenge_mat(folder: Path, name: str, val: np.ndarray, fmt_field: str, **savemat) -> Path:
    scipy.io.savemat(str(folder / f"{name}.mat"), {"val": val}, **savemat)
    lines = [f"{name} {val.shape[0]} 500 {val.shape[1]}"]
    for k in range(val.shape[0]):
        checksum = int(val[k].astype(np.int64).sum())
        lines.append(f"{name}.mat {fmt_field} 1000/mV 16 0 {int(val[k, 0])} {checksum} 0 L{k}")
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n#Dx: 426783006\n")
    return folder / f"{name}.hea"


def test_challenge_mat_with_offset_is_read_raw(tmp_path: Path) -> None:
    val = np.array([[1, -2, 3, -32768, 5], [10, 20, 30, 40, -50], [7, 7, 7, 7, 7]], dtype=np.int16)
    hea = _challenge_mat(tmp_path, "C1", val, "16+24", format="4")
    fast = read_wfdb_samples(hea, engine="fast")
    assert_same_samples(fast, read_wfdb_samples(hea, engine="wfdb"))
    want = val / 1000.0
    want[0, 3] = np.nan
    np.testing.assert_array_equal(fast.signal, want)


@pytest.mark.parametrize("version", ["4", "5"])
def test_challenge_mat_without_offset_reads_val(tmp_path: Path, version: str) -> None:
    """No ``+24``: wfdb would read the MATLAB header bytes as samples; the fast path reads the
    ``val`` matrix (v4 directly, other MATLAB files through loadmat)."""
    val = np.arange(-12, 12, dtype=np.int16).reshape(2, 12)
    hea = _challenge_mat(tmp_path, "C2", val, "16", format=version)
    fast = read_wfdb_samples(hea, engine="fast")
    np.testing.assert_array_equal(fast.signal, val / 1000.0)
    assert fast.names == ["L0", "L1"] and fast.warnings == []
    if version == "4":
        digital = wfdb.rdrecord(str(hea.with_suffix("")), physical=False).d_signal
        assert digital[0].tolist() == [30, 0]  # wfdb: the MATLAB type code taken as a sample


def test_challenge_mat_without_offset_that_is_not_val_goes_to_wfdb(tmp_path: Path) -> None:
    (tmp_path / "raw.mat").write_bytes(np.arange(8, dtype="<i2").tobytes())  # no MATLAB header
    (tmp_path / "raw.hea").write_text("raw 2 500 4\n" + "raw.mat 16 1000/mV 16 0 0 0 0 A\n" * 2)
    with pytest.raises(UnsupportedFormatError, match="fast WFDB decoder"):
        read_wfdb_samples(tmp_path / "raw.hea", engine="fast")
    auto = read_wfdb_samples(tmp_path / "raw.hea")
    assert auto.reader == "wfdb"
    np.testing.assert_array_equal(auto.signal, np.arange(8).reshape(4, 2).T / 1000.0)


def test_header_wfdb_rejects_keeps_the_tolerant_reader_and_its_warning(tmp_path: Path) -> None:
    val = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int16)
    hea = _challenge_mat(tmp_path, "E1", val, "16+24", format="4")
    hea.write_text(hea.read_text().replace("E1 2 500", "E1.mat 2 500", 1))
    assert "with a file extension" in (fast_path_reason(hea) or "")
    got = read_wfdb_samples(hea)
    assert got.reader == "ecgr1"
    assert any("not accepted by wfdb" in w for w in got.warnings)
    np.testing.assert_array_equal(got.signal, val / 1000.0)


def test_non_ascii_comments_stay_on_the_fast_path(tmp_path: Path) -> None:
    frames = np.array([[10, 20], [30, 40], [50, 60]])
    hea = write_record(tmp_path, "c", [("c.dat", 16, frames)])
    hea.write_text(hea.read_text() + "# Befund: Sinusrhythmus, \u00fcberdrehter Linkstyp\n")
    fast = read_wfdb_samples(hea, engine="fast")
    assert_same_samples(fast, read_wfdb_samples(hea, engine="wfdb"))
    assert fast.header.comments[-1].endswith("\u00fcberdrehter Linkstyp")


def test_fast_record_has_no_tolerant_parser_warning(tmp_path: Path) -> None:
    frames = np.arange(40).reshape(20, 2) * 7
    hea = write_record(tmp_path, "clean", [("clean.dat", 16, frames)])
    rec = read_record(hea)
    assert not any("not accepted by wfdb" in w for w in rec.warnings)
    assert read_wfdb_samples(hea).reader == "fast"


def test_engine_is_checked_and_fast_set_documented() -> None:
    assert FAST_FORMATS == {16, 80, 212}
    with pytest.raises(ValueError, match="engine must be one of"):
        read_wfdb_samples("x", engine="turbo")
