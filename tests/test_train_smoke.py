"""The GPU smoke script: its ``--tiny`` CPU path end to end, and its refusal without a GPU."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("ecgr1.model.tiny")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_smoke.sh"


def _env() -> dict[str, str]:
    """This Python first on PATH; no nvidia-smi; ecgr1 data folder passed through."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    for key in ("ECGR1_DATA", "TMPDIR"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def test_gpu_smoke_script_tiny_path_runs_offline_and_reports(tmp_path: Path) -> None:
    """``scripts/gpu_smoke.sh OUT --tiny``: the full sequence on CPU, offline, with the report
    (step times, tokens/s, peak memory) printed and written as JSON."""
    out = tmp_path / "w"
    done = subprocess.run(
        ["bash", str(SCRIPT), str(out), "--tiny", "--sft-steps", "2", "--grpo-steps", "1"],
        capture_output=True, text=True, env=_env(), check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "smoke_report.json").read_text())
    assert report["preset"] == "tiny" and report["parameters"] > 0 and report["bf16"] is False
    sft, grpo, gen = report["sft"], report["grpo"], report["generation"]
    assert len(sft["step_s"]) == 2 and all(s > 0 for s in sft["step_s"])
    assert len(grpo["step_s"]) == 1 and all(s > 0 for s in grpo["step_s"])
    assert math.isfinite(sft["final_loss"])
    assert sft["tokens_per_s"] > 0 and gen["tokens_per_s"] > 0
    assert sft["imd"]["rows"] > 0
    assert set(grpo["rewards"][0]) >= {
        "rewards/format_reward/mean",
        "rewards/diagnosis_reward/mean",
        "rewards/evidence_reward/mean",
    }
    assert gen["new_tokens"] == gen["batch"] * 16
    printed = done.stdout
    for text in ("SFT  step s:", "GRPO step s:", "tokens/s", "peak GiB", "report:"):
        assert text in printed, text


def test_gpu_smoke_script_is_valid_bash_and_refuses_without_gpu(tmp_path: Path) -> None:
    if shutil.which("nvidia-smi", path="/usr/bin:/bin"):
        pytest.skip("a GPU machine: the script would run the full smoke")
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0
    done = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path)],
        capture_output=True, text=True, env=_env(), check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "no NVIDIA GPU" in done.stderr
    assert not any(tmp_path.iterdir())  # refused before doing any work
