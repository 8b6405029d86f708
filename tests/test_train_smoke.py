"""The GPU smoke script's Python part, on CPU with the tiny preset (``--tiny``)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("ecgr1.model.tiny")

ROOT = Path(__file__).resolve().parents[1]


def test_smoke_tiny_path_runs_and_reports(tmp_path: Path, capsys) -> None:
    from ecgr1.train.smoke import main

    report_path = tmp_path / "report.json"
    status = main(
        ["--tiny", "--out", str(tmp_path / "w"), "--sft-steps", "2", "--grpo-steps", "1",
         "--json", str(report_path)]
    )  # fmt: skip
    assert status == 0
    report = json.loads(report_path.read_text())
    assert report["preset"] == "tiny" and report["parameters"] > 0
    assert len(report["sft"]["step_s"]) == 2 and len(report["grpo"]["step_s"]) == 1
    assert math.isfinite(report["sft"]["final_loss"])
    assert report["sft"]["imd"]["rows"] > 0
    assert set(report["grpo"]["rewards"][0]) >= {
        "rewards/format_reward/mean",
        "rewards/diagnosis_reward/mean",
        "rewards/evidence_reward/mean",
    }
    assert report["generation"]["new_tokens"] == report["generation"]["batch"] * 16
    printed = capsys.readouterr().out
    assert "SFT  step s:" in printed and "tokens/s" in printed


def test_gpu_smoke_script_is_valid_bash_and_refuses_without_gpu(tmp_path: Path) -> None:
    if shutil.which("nvidia-smi", path="/usr/bin:/bin"):
        pytest.skip("a GPU machine: the script would run the full smoke")
    script = ROOT / "scripts" / "gpu_smoke.sh"
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    env = {"PATH": "/usr/bin:/bin"}  # no nvidia-smi on this PATH
    done = subprocess.run(
        ["bash", str(script), str(tmp_path)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1 and "no NVIDIA GPU" in done.stderr
