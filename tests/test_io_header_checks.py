"""A WFDB header and its data files must agree (docs/io.md, "Header checks").

Signal-count, sample-count, byte-count and format mismatches are errors, whichever reader would
decode the samples (fast decoder, wfdb, or ecgr1's tolerant decoder for headers wfdb rejects):
no reader guesses an interleaving. More samples than declared, with nothing else fitting the
size, is a warning (the first ones are read); a checksum mismatch alone is a warning, and
checksums are compared modulo 2**16. Every case is a small WFDB record written here by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from ecgr1.errors import InvalidInputError
from ecgr1.io import read_record
from ecgr1.io.header import WFDB_FORMATS
from ecgr1.io.wfdb_reader import read_wfdb_samples

ENGINES = ("auto", "fast", "wfdb")
TWELVE = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def _frames(n: int, n_sig: int, seed: int = 0) -> np.ndarray:
    """Digital samples (n, n_sig) of a plausible ECG-like range."""
    return np.random.default_rng(seed).integers(-1500, 1500, size=(n, n_sig))


def _pack(frames: np.ndarray, fmt: int) -> bytes:
    flat = frames.ravel()
    if fmt == 16:
        return flat.astype("<i2").tobytes()
    if fmt == 80:
        return (flat + 128).astype(np.uint8).tobytes()
    assert fmt == 212
    v = [int(x) & 0xFFF for x in flat]
    out = bytearray()
    for i in range(0, len(v) - 1, 2):
        a, b = v[i], v[i + 1]
        out += bytes([a & 0xFF, (a >> 8) | ((b >> 8) << 4), b & 0xFF])
    if len(v) % 2:
        out += bytes([v[-1] & 0xFF, v[-1] >> 8])
    return bytes(out)


def write(
    folder: Path,
    frames: np.ndarray,
    *,
    name: str = "r",
    fmt: int = 16,
    data_fmt: int | None = None,
    n_sig: int | None = None,
    n_lines: int | None = None,
    n_samples: int | str | None = None,
    checksums: list[int] | None = None,
    extra_bytes: bytes = b"",
    record_name: str | None = None,
) -> Path:
    """A WFDB record whose header can disagree with its data on purpose.

    ``frames`` (n, signals) are stored in ``data_fmt`` (default ``fmt``); the header declares
    ``n_sig`` signals (default: the data's), lists ``n_lines`` signal lines (default ``n_sig``),
    ``n_samples`` samples (default: the data's; ``""`` leaves the field out) and format ``fmt``.
    Checksums are the true ones unless given. ``record_name`` replaces the record line's name
    (e.g. ``r.mat``, which wfdb rejects, so that ecgr1's tolerant decoder reads the samples).
    """
    n, stored = frames.shape
    n_sig = stored if n_sig is None else n_sig
    n_lines = n_sig if n_lines is None else n_lines
    n_samples = n if n_samples is None else n_samples
    (folder / f"{name}.dat").write_bytes(_pack(frames, data_fmt or fmt) + extra_bytes)
    first = f"{record_name or name} {n_sig} 500 {n_samples}".rstrip()
    lines = [first]
    for k in range(n_lines):
        col = frames[:, k % stored]
        checksum = int(col.sum()) if checksums is None else checksums[k]
        lead = TWELVE[k % 12] + ("" if k < 12 else str(k))
        lines.append(f"{name}.dat {fmt} 200/mV 12 0 {int(col[0])} {checksum} 0 {lead}")
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return folder / f"{name}.hea"


def _read_all_ways(hea: Path):  # noqa: ANN202 - the samples of the last reader
    """Read with every engine and with read_record; return the samples of the default one."""
    out = [read_wfdb_samples(hea, engine=e) for e in ("wfdb", "auto")]
    read_record(hea)
    return out[-1]


def _raises_everywhere(hea: Path, match: str, engines=ENGINES) -> None:  # noqa: ANN001
    for engine in engines:
        with pytest.raises(InvalidInputError, match=match) as info:
            read_wfdb_samples(hea, engine=engine)
        assert info.value.path == str(hea)
    with pytest.raises(InvalidInputError, match=match):
        read_record(hea)


# --------------------------------------------------------------------------- signal count


def test_more_signal_lines_than_declared_is_an_error(tmp_path: Path) -> None:
    """The issue's case: 11 signals declared, 12 listed, 12 stored. Before, ecgr1's tolerant
    parser took the first 11 lines and read the 12-signal data as 11 interleaved signals."""
    hea = write(tmp_path, _frames(1000, 12), n_sig=11, n_lines=12)
    _raises_everywhere(hea, "header declares 11 signals but has 12 signal lines")


def test_more_signal_lines_than_declared_with_a_header_wfdb_rejects(tmp_path: Path) -> None:
    """The same with a record line wfdb refuses (``r.mat``): the tolerant path guesses nothing."""
    hea = write(tmp_path, _frames(1000, 12), n_sig=11, n_lines=12, record_name="r.mat")
    _raises_everywhere(hea, "header declares 11 signals but has 12 signal lines")


def test_fewer_signal_lines_than_declared_is_an_error(tmp_path: Path) -> None:
    hea = write(tmp_path, _frames(1000, 12), n_sig=12, n_lines=11)
    _raises_everywhere(hea, "header declares 12 signals but has 11 signal lines")


def test_data_holding_another_signal_count_exactly_is_an_error(tmp_path: Path) -> None:
    """11 signals declared and listed, 12 stored: 1100 frames of 12 signals are also exactly
    1200 whole frames of 11, so only the exact fit shows that the signal count is wrong."""
    hea = write(tmp_path, _frames(1100, 12)[:, :11], n_sig=11)
    (tmp_path / "r.dat").write_bytes(_pack(_frames(1100, 12), 16))
    _raises_everywhere(hea, r"size fits exactly 1100 samples of 12 signals in format 16")
    # and through the tolerant decoder
    hea.write_text(hea.read_text().replace("r 11 500", "r.mat 11 500", 1))
    _raises_everywhere(hea, r"fits exactly 1100 samples of 12 signals")


def test_data_holding_fewer_signals_than_declared_is_an_error(tmp_path: Path) -> None:
    frames = _frames(1000, 11)
    hea = write(tmp_path, np.hstack([frames, frames[:, :1]]), n_sig=12)
    (tmp_path / "r.dat").write_bytes(_pack(frames, 16))
    _raises_everywhere(
        hea,
        r"holds 916 samples per signal but the header declares 1000 \(truncated file or wrong "
        r"sample count in the header\); its size fits exactly 1000 samples of 11 signals",
    )


# --------------------------------------------------------------------------- byte count


def test_byte_count_not_a_whole_number_of_frames_is_an_error(tmp_path: Path) -> None:
    hea = write(tmp_path, _frames(1000, 3), extra_bytes=b"\x00")
    _raises_everywhere(hea, r"\(6001 bytes\) is not a whole number of frames of 3 signal\(s\)")


def test_truncated_data_is_an_error(tmp_path: Path) -> None:
    hea = write(tmp_path, _frames(1000, 2), n_samples=1001)
    _raises_everywhere(hea, "holds 1000 samples per signal but the header declares 1001")


def test_more_whole_frames_than_declared_is_a_warning(tmp_path: Path) -> None:
    """Unambiguous (nothing else fits the size): the first declared samples are read."""
    frames = _frames(1000, 2)
    hea = write(tmp_path, frames, n_samples=997, checksums=[int(c) for c in frames[:997].sum(0)])
    got = _read_all_ways(hea)
    assert got.signal.shape == (2, 997)
    assert got.warnings == [
        "data file 'r.dat' holds 1000 samples per signal, the header declares 997; "
        "only the first 997 were read"
    ]
    np.testing.assert_array_equal(got.signal, frames[:997].T / 200.0)


def test_more_data_that_fits_another_layout_is_an_error(tmp_path: Path) -> None:
    """Twice the declared samples of 2 signals is also exactly the declared samples of 4
    signals, or of 2 signals in format 32: ambiguous, so not read."""
    hea = write(tmp_path, _frames(1000, 2), n_samples=500)
    _raises_everywhere(
        hea,
        r"fits exactly 500 samples of 4 signals in format 16 or 500 samples of 2 signal\(s\) in "
        r"format 32: the header's signal count, format or sample count is wrong",
    )


def test_no_sample_count_needs_whole_frames(tmp_path: Path) -> None:
    frames = _frames(999, 3)
    hea = write(tmp_path, frames, n_samples="")
    got = read_wfdb_samples(hea)
    assert got.signal.shape == (3, 999) and got.warnings == []
    hea = write(tmp_path, frames, n_samples="", extra_bytes=b"\x00\x00")
    _raises_everywhere(hea, "not a whole number of frames", engines=("auto", "wfdb"))


def test_no_sample_count_and_files_of_different_lengths_is_an_error(tmp_path: Path) -> None:
    a, b = _frames(100, 1), _frames(99, 1, seed=1)
    (tmp_path / "a.dat").write_bytes(_pack(a, 16))
    (tmp_path / "b.dat").write_bytes(_pack(b, 16))
    (tmp_path / "r.hea").write_text(
        "r 2 500\na.dat 16 200/mV 12 0 0 0 0 I\nb.dat 16 200/mV 12 0 0 0 0 II\n"
    )
    _raises_everywhere(
        tmp_path / "r.hea", r"hold different numbers of samples per signal \(a.dat 100, b.dat 99\)"
    )


# --------------------------------------------------------------------------- format


def test_format_212_declared_for_format_16_data_is_an_error(tmp_path: Path) -> None:
    """16-bit data under a 212 header: 4/3 of the bytes, exactly the size of format 16."""
    hea = write(tmp_path, _frames(1000, 2), fmt=212, data_fmt=16)
    _raises_everywhere(hea, r"fits exactly 1000 samples of 2 signal\(s\) in format 16")


def test_format_16_declared_for_format_212_data_is_an_error(tmp_path: Path) -> None:
    hea = write(tmp_path, _frames(1000, 2), fmt=16, data_fmt=212)
    _raises_everywhere(
        hea,
        r"holds 750 samples per signal .*fits exactly 1000 samples of 2 signal\(s\) in format 212",
    )


def test_mixed_formats_in_one_file_is_an_error(tmp_path: Path) -> None:
    hea = write(tmp_path, _frames(1000, 2))
    lines = hea.read_text().splitlines()
    lines[2] = lines[2].replace("r.dat 16 ", "r.dat 212 ", 1)
    hea.write_text("\n".join(lines) + "\n")
    _raises_everywhere(
        hea, r"signals stored in 'r.dat' declare different storage formats \(16, 212\)"
    )


def test_unknown_format_is_an_error(tmp_path: Path) -> None:
    hea = write(tmp_path, _frames(100, 1))
    hea.write_text(hea.read_text().replace("r.dat 16 ", "r.dat 17 ", 1))
    _raises_everywhere(hea, r"header line 2: unknown WFDB storage format '17'")
    assert {16, 212, 80, 0, 8, 311, 516} <= WFDB_FORMATS and 17 not in WFDB_FORMATS


# --------------------------------------------------------------------------- Challenge .mat


def _mat_record(folder: Path, val: np.ndarray, n_sig: int, *, record_name: str = "C") -> Path:
    scipy.io.savemat(str(folder / "C.mat"), {"val": val}, format="4")
    lines = [f"{record_name} {n_sig} 500 {val.shape[1]}"]
    lines += [f"C.mat 16 1000/mV 16 0 0 0 0 {TWELVE[k]}" for k in range(n_sig)]
    (folder / "C.hea").write_text("\n".join(lines) + "\n")
    return folder / "C.hea"


@pytest.mark.parametrize("record_name", ["C", "C.mat"])
def test_mat_val_with_another_signal_count_is_an_error(tmp_path: Path, record_name: str) -> None:
    """No byte offset: ecgr1 reads the 'val' matrix, which must hold the declared signals."""
    val = _frames(50, 12).T.astype(np.int16)
    hea = _mat_record(tmp_path, val, 11, record_name=record_name)
    engines = ("auto", "fast", "wfdb") if record_name == "C" else ("auto",)
    _raises_everywhere(
        hea,
        "'C.mat' holds a 'val' matrix of 12 signals x 50 samples but the header lists 11",
        engines,
    )


def test_mat_val_of_floats_is_an_error(tmp_path: Path) -> None:
    hea = _mat_record(tmp_path, _frames(50, 2).T.astype(float), 2)
    _raises_everywhere(hea, r"'C.mat': 'val' holds double values but the header declares format 16")


def test_mat_without_val_is_an_error(tmp_path: Path) -> None:
    hea = _mat_record(tmp_path, _frames(50, 2).T.astype(np.int16), 2)
    scipy.io.savemat(str(tmp_path / "C.mat"), {"ecg": _frames(50, 2).T.astype(np.int16)})
    _raises_everywhere(hea, "'C.mat' is a MATLAB file without a 'val' matrix")


def test_mat_val_shorter_than_declared_is_an_error(tmp_path: Path) -> None:
    hea = _mat_record(tmp_path, _frames(50, 2).T.astype(np.int16), 2)
    hea.write_text(hea.read_text().replace("C 2 500 50", "C 2 500 60", 1))
    _raises_everywhere(hea, "'C.mat' holds 50 samples per signal but the header declares 60")


# --------------------------------------------------------------------------- checksums


@pytest.mark.parametrize("form", ["signed", "unsigned"])
def test_checksums_compared_modulo_2_16(tmp_path: Path, form: str) -> None:
    """wfdb writes the 16-bit sum signed; PTB-XL and CPSC 2021 headers store it unsigned."""
    frames = _frames(1000, 2)
    frames[:, 0] = -1000  # a sum of -1000000: signed -16960, unsigned 48576
    signed = [((int(c) + 32768) % 65536) - 32768 for c in frames.sum(0)]
    checksums = signed if form == "signed" else [c % 65536 for c in signed]
    assert checksums[0] == (-16960 if form == "signed" else 48576)
    hea = write(tmp_path, frames, checksums=checksums)
    assert _read_all_ways(hea).warnings == []
    # the tolerant decoder as well (its only warning: that wfdb rejected the header)
    tolerant = read_wfdb_samples(
        write(tmp_path, frames, name="t", checksums=checksums, record_name="t.mat")
    )
    assert tolerant.reader == "ecgr1"
    assert [w for w in tolerant.warnings if "not accepted by wfdb" not in w] == []


def test_checksum_mismatch_alone_is_a_warning_from_every_reader(tmp_path: Path) -> None:
    frames = _frames(1000, 3)
    true = [int(c) for c in frames.sum(0)]
    hea = write(tmp_path, frames, checksums=[true[0], true[1] + 1, true[2]])
    want = (
        f"checksum mismatch in 1 of 3 signal(s): II (header {true[1] + 1}, data "
        f"{(true[1] + 32768) % 65536 - 32768}); the data file may be damaged or not belong "
        "to this header"
    )
    for engine in ENGINES:
        got = read_wfdb_samples(hea, engine=engine)
        assert got.warnings == [want], engine
        np.testing.assert_array_equal(got.signal, frames.T / 200.0)  # still read
    rec = read_record(hea)
    assert want in rec.warnings
    tolerant = write(
        tmp_path, frames, name="t", checksums=[true[0], true[1] + 1, true[2]], record_name="t.mat"
    )
    assert read_wfdb_samples(tolerant).warnings[0] == want


def test_checksum_counts_no_data_values(tmp_path: Path) -> None:
    """The format's "no data" value (read as NaN) is part of the stored sum."""
    frames = _frames(100, 2)
    frames[10:17, 1] = -32768  # an odd count: 7 x -32768 is not 0 modulo 2**16
    hea = write(tmp_path, frames)
    for engine in ENGINES:
        got = read_wfdb_samples(hea, engine=engine)
        assert np.isnan(got.signal[1, 10:17]).all() and got.warnings == []


# --------------------------------------------------------------------------- real records


def test_every_real_record_passes_the_header_checks(shared_data: Path) -> None:
    """No real WFDB record in the shared data raises or warns about its header or checksums
    (the only warning some carry is the older one for signals without an ADC gain)."""
    headers = sorted(
        h for h in shared_data.rglob("*.hea") if "images" not in h.relative_to(shared_data).parts
    )
    if not headers:
        pytest.skip("no WFDB records in the shared data")
    for hea in headers:
        warnings = read_wfdb_samples(hea).warnings
        assert [w for w in warnings if not w.startswith("no ADC gain for signal")] == [], hea


# A limb lead stored with a wrong ADC gain disagrees in scale with what I and II imply.
def _cpsc_with_gain(shared_data: Path, tmp_path: Path, line: int, gain: str) -> Path:
    import shutil

    src = shared_data / "cpsc2018" / "A0011"
    if not src.with_suffix(".hea").exists():
        pytest.skip("CPSC 2018 A0011 not available")
    shutil.copy(src.with_suffix(".mat"), tmp_path / "A0011.mat")
    lines = src.with_suffix(".hea").read_text().splitlines()
    lines[line] = lines[line].replace(" 1000/mV ", f" {gain}/mV ")
    (tmp_path / "A0011.hea").write_text("\n".join(lines) + "\n")
    return tmp_path / "A0011.hea"


def _named(warning: str) -> dict[str, str]:
    """{lead: scale} from 'limb lead scale disagrees ...: III 2.00x, aVF 0.50x what ...'."""
    listed = warning.split(": ", 1)[1].split(" what ")[0]
    return dict(item.split() for item in listed.split(", "))


def test_clean_limb_leads_agree_with_einthoven(shared_data: Path) -> None:
    for rel in ("cpsc2018/A0011", "extra/ptbxl/records500/00000/00001_hr", "qtdb/sel100"):
        if (shared_data / rel).with_suffix(".hea").exists():
            rec = read_record(shared_data / rel)
            assert not any("Einthoven/Goldberger:" in w for w in rec.warnings), rel


def test_wrong_gain_of_one_limb_lead_is_warned(shared_data: Path, tmp_path: Path) -> None:
    rec = read_record(_cpsc_with_gain(shared_data, tmp_path, 3, "500"))  # III at 2x
    warn = [w for w in rec.warnings if "Einthoven/Goldberger:" in w]
    assert warn and _named(warn[0]) == {"III": "2.00x"}


def test_wrong_gain_of_lead_i_points_at_i_or_ii(shared_data: Path, tmp_path: Path) -> None:
    rec = read_record(_cpsc_with_gain(shared_data, tmp_path, 1, "200"))  # I at 5x
    warn = [w for w in rec.warnings if "Einthoven/Goldberger:" in w]
    assert warn and list(_named(warn[0])) == ["I"]
    assert 4.9 < float(_named(warn[0])["I"].rstrip("x")) < 5.1
