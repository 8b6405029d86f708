"""``ecgr1 demo`` and the ``simulate``/``render`` subcommands, end to end (offline)."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from PIL import Image

from ecgr1.cli import main


def _has(module: str) -> bool:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def test_demo_writes_a_self_contained_html_report(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--pattern", "rbbb", "--out", str(out), "--dpi", "80"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    # The image is embedded, decodes, and nothing is loaded from elsewhere.
    match = re.search(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert match
    img = Image.open(io.BytesIO(base64.b64decode(match.group(1))))
    assert img.size[0] > 500
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "rbbb" in page  # the simulated pattern and its truth are shown
    stdout = capsys.readouterr().out
    assert (out / "ecg.json").exists() and (out / "record" / "sim_rbbb_0.hea").exists()
    if not _has("ecgr1.protocol.pipeline"):
        pytest.skip("protocol stage not importable yet: only the rendering part is checked")
    for k in range(1, 7):
        assert f"Step {k}:" in page
    assert "Statements and their evidence" in page and "Measurements" in page
    assert "right bundle branch block" in stdout
    assert stdout.strip().endswith("</answer>")
    data = json.loads((out / "interpretation.json").read_text())
    assert "complete right bundle branch block" in data["answer"]
    # Leads cited as evidence are outlined in the image (sidecar lists them).
    side = json.loads((out / "ecg.json").read_text())
    assert "V1" in side["highlight_leads"]


def test_demo_reads_a_given_record(tmp_path, capsys) -> None:
    rec_dir = tmp_path / "rec"
    assert main(["simulate", "--out", str(rec_dir), "--pattern", "lafb", "--seconds", "6"]) == 0
    out = tmp_path / "demo"
    assert main(["demo", str(rec_dir / "sim_lafb_0.hea"), "--out", str(out), "--dpi", "60"]) == 0
    assert (out / "report.html").exists() and not (out / "record").exists()
    if _has("ecgr1.protocol.pipeline"):
        assert "left anterior fascicular block" in capsys.readouterr().out


def test_render_cli_writes_images_and_sidecars(tmp_path) -> None:
    rec_dir = tmp_path / "rec"
    assert main(["simulate", "--out", str(rec_dir), "--pattern", "pvc", "--noise", "all",
                 "--seconds", "5"]) == 0  # fmt: skip
    header = str(rec_dir / "sim_pvc_0.hea")
    out = tmp_path / "img"
    assert main(["render", header, "--out", str(out), "--layout", "6x2", "--dpi", "60"]) == 0
    assert main(["render", header, "--out", str(out), "--format", "svg"]) == 0
    assert main(["render", header, "--out", str(out), "--augment", "5", "--copies", "2",
                 "--dpi", "60"]) == 0  # fmt: skip
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["sim_pvc_0.png", "sim_pvc_0.svg", "sim_pvc_0.json", "sim_pvc_0_aug5.png",
         "sim_pvc_0_aug5.json", "sim_pvc_0_aug6.png", "sim_pvc_0_aug6.json"]
    )  # fmt: skip
    side = json.loads((out / "sim_pvc_0_aug6.json").read_text())
    assert side["augmentation"]["seed"] == 6 and side["image"] == "sim_pvc_0_aug6.png"


def test_simulate_cli_lists_patterns_and_rejects_unknown(tmp_path, capsys) -> None:
    assert main(["simulate", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "atrial_fibrillation" in listed and "rbbb" in listed
    assert main(["simulate", "--out", str(tmp_path), "--pattern", "nope"]) == 2
