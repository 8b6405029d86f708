"""Issue 17, item 3: the warnings raised while reading a record travel to every output.

An uncalibrated lead (ADC gain 0 in the header) and amplitudes normalised per lead (every lead
spanning the same peak-to-peak, as in some distributed copies) must be said in the JSON of
``measure`` and ``interpret``, in the sidecar of every rendered image and in the HTML demo.
Also: ``--sex`` is validated like ``--age``, and ``measure``/``interpret --help`` carry examples
and the exit-status text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import ecgr1
from ecgr1.cli import main
from ecgr1.io import ECGRecord, read_record
from ecgr1.io.writers import write_wfdb
from ecgr1.render import render_record

NO_GAIN = "no ADC gain for signal(s) ii"
NORMALISED = "amplitudes appear normalised per lead"


@pytest.fixture(scope="module")
def uncalibrated(tmp_path_factory) -> Path:
    """A 12-lead WFDB record whose header gives lead II (spelt "ii") no ADC gain (read at the
    nominal 200 adu/mV)."""
    folder = tmp_path_factory.mktemp("uncal")
    hea = write_wfdb(ecgr1.simulate("normal", seed=1).record, folder, "unc")
    lines = hea.read_text().splitlines()
    assert lines[2].endswith(" II")
    lines[2] = lines[2].replace("1000(0)/mV", "0(0)/mV", 1)[: -len("II")] + "ii"
    hea.write_text("\n".join(lines) + "\n")
    return hea


@pytest.fixture(scope="module")
def normalised(tmp_path_factory) -> Path:
    """A 12-lead WFDB record with every lead rescaled to 1 mV peak-to-peak."""
    rec = ecgr1.simulate("normal", seed=2).record
    sig = rec.signal / np.ptp(rec.signal, axis=1, keepdims=True)
    scaled = ECGRecord(sig, rec.fs, list(rec.leads), record_id="norm")
    return write_wfdb(scaled, tmp_path_factory.mktemp("norm"), "norm")


def test_the_reader_raises_the_two_warnings(uncalibrated, normalised) -> None:
    # The premise of every other test here.
    assert any(NO_GAIN in w for w in read_record(uncalibrated).warnings)
    rec = read_record(normalised)
    assert rec.metadata.get("amplitude_normalised") is True
    assert any(NORMALISED in w for w in rec.warnings)


def test_measure_json_carries_them(uncalibrated, normalised, tmp_path, capsys) -> None:
    assert main(["measure", str(uncalibrated)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any(NO_GAIN in w for w in out["warnings"])
    json_dir = tmp_path / "json"
    assert main(["measure", str(normalised), "--json-dir", str(json_dir)]) == 0
    out = json.loads((json_dir / "norm.json").read_text())
    assert out["quality"]["amplitude_normalised"] is True
    assert any(NORMALISED in w for w in out["warnings"])


def test_interpret_json_carries_them(uncalibrated, normalised, capsys) -> None:
    assert main(["interpret", str(uncalibrated), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any(NO_GAIN in w for w in out["warnings"])
    assert any(NO_GAIN in w for w in out["measurements"]["warnings"])
    assert main(["interpret", str(normalised), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["quality"]["amplitude_normalised"] is True
    assert any(NORMALISED in w for w in out["warnings"])


def test_render_sidecars_carry_them(uncalibrated, normalised, tmp_path, capsys) -> None:
    out = tmp_path / "img"
    for hea in (uncalibrated, normalised):
        assert main(["render", str(hea), "--out", str(out), "--dpi", "30"]) == 0
    unc = json.loads((out / "unc.json").read_text())
    assert any(NO_GAIN in w for w in unc["warnings"])
    assert unc["uncalibrated_leads"] == ["II"]  # the record's name for the lead
    assert unc["amplitude_normalised"] is False
    norm = json.loads((out / "norm.json").read_text())
    assert norm["amplitude_normalised"] is True
    assert norm["uncalibrated_leads"] == []
    assert any(NORMALISED in w for w in norm["warnings"])
    # With --interpret the interpretation's warnings are there too, each once.
    assert main(["render", str(uncalibrated), "--out", str(tmp_path / "i"), "--dpi", "30",
                 "--interpret"]) == 0  # fmt: skip
    side = json.loads((tmp_path / "i" / "unc.json").read_text())
    assert [w for w in side["warnings"] if NO_GAIN in w] == side["warnings"][:1]
    assert len(side["warnings"]) == len(set(side["warnings"]))


def test_render_sidecar_says_the_measurement_failed(tmp_path, capsys) -> None:
    # Noise only: no QRS to measure, so `--measurements` draws an "unusable" result; the
    # sidecar says why (the failure warning of measure_record, passed on by the CLI).
    noise = np.random.default_rng(0).normal(0, 0.01, (12, 5000))
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    hea = write_wfdb(ECGRecord(noise, 500, leads, record_id="noise"), tmp_path, "noise")
    out = tmp_path / "img"
    assert main(["render", str(hea), "--out", str(out), "--dpi", "20", "--measurements"]) == 0
    side = json.loads((out / "noise.json").read_text())
    assert any(w.startswith("measurement failed:") for w in side["warnings"])


def test_render_record_sidecar_adds_measurement_and_extra_warnings() -> None:
    rec = ecgr1.simulate("normal", seed=3).record
    assert render_record(rec, dpi=20).sidecar["warnings"] == []
    res = ecgr1.measure(rec)
    res.warnings = ["from the measurement"]
    res.quality.amplitude_normalised = True  # e.g. a MeasurementResult read from JSON
    side = render_record(rec, dpi=20, measurements=res, warnings=["extra", "extra"]).sidecar
    assert side["warnings"] == ["from the measurement", "extra"]
    assert side["amplitude_normalised"] is True


def test_demo_html_shows_them(uncalibrated, tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", str(uncalibrated), "--out", str(out), "--dpi", "40"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    box = re.search(r"<div class='warnings'[^>]*>(.*?)</div>", page, re.S)
    assert box is not None, "no warnings box in the demo page"
    assert NO_GAIN in box.group(1)
    # Before the interpretation, where it is seen first.
    assert page.index("class='warnings'") < page.index("<h2>ECG</h2>")
    assert any(NO_GAIN in w for w in json.loads((out / "ecg.json").read_text())["warnings"])
    interpretation = json.loads((out / "interpretation.json").read_text())
    assert any(NO_GAIN in w for w in interpretation["warnings"])


def test_demo_html_has_no_warnings_box_for_a_clean_record(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--dpi", "40"]) == 0
    assert "class='warnings'" not in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("value", ["X", "man", "0", ""])
def test_a_bad_sex_is_a_usage_error(uncalibrated, value, capsys) -> None:
    for command in (["interpret", str(uncalibrated)], ["verify", str(uncalibrated), "--text", "-"]):
        with pytest.raises(SystemExit) as exc:
            status = main([*command, "--sex", value])
            raise SystemExit(status)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "--sex" in err and "Traceback" not in err


def test_sex_accepts_m_f_male_female_in_any_case(uncalibrated, capsys) -> None:
    for value, expected in (("female", "F"), ("MALE", "M"), ("f", "F"), ("M", "M")):
        assert main(["interpret", str(uncalibrated), "--format", "json", "--sex", value]) == 0
        assert json.loads(capsys.readouterr().out)["sex"] == expected


@pytest.mark.parametrize("command", ["measure", "interpret"])
def test_help_has_examples_and_exit_status(command, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "Examples:" in text
    assert re.search(rf"^  ecgr1 {command} \S", text, re.M), "no example command line"
    assert "Exit status (docs/cli.md): 0" in text
    # The examples keep their lines (not rewrapped into prose).
    examples = text[text.index("Examples:") :].splitlines()[1:3]
    assert all(line.startswith(f"  ecgr1 {command} ") for line in examples)


def test_library_measure_of_a_path_keeps_the_readers_notes(ludb_dir: Path) -> None:
    import ecgr1

    result = ecgr1.measure(ludb_dir / "data" / "1")  # the shared LUDB copy is rescaled per lead
    assert result.quality.amplitude_normalised is True
    assert any("normalised" in w for w in result.warnings)
