#!/usr/bin/env bash
# GPU smoke run of the ECG-R1 training stack (issue 6), for one NVIDIA GPU and no network.
#
# Builds a random ~0.3 B-parameter ECG-R1 model from a config (nothing downloaded), then runs
# 5 SFT steps with Interleaved Modality Dropout, 2 GRPO steps (DAPO settings, evidence rewards)
# and one batched generation, in bf16, and prints step times, tokens/s and peak GPU memory.
#
#   scripts/gpu_smoke.sh [OUT_DIR] [extra args for python -m ecgr1.train.smoke]
#
# OUT_DIR defaults to a fresh temporary folder; the JSON report is OUT_DIR/smoke_report.json.
# The same Python code runs on CPU with --tiny (tests/test_train_smoke.py).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT_DIR="${1:-$(mktemp -d -t ecgr1-smoke-XXXXXX)}"
shift || true

# No network: never let transformers/datasets try the Hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
# Works from a plain checkout too (package not installed).
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi >/dev/null 2>&1; then
  echo "gpu_smoke: no NVIDIA GPU found (for a CPU run use: python -m ecgr1.train.smoke --tiny --out DIR)" >&2
  exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python -c "import torch, transformers, trl, peft; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| transformers', transformers.__version__, '| trl', trl.__version__, '| peft', peft.__version__); assert torch.cuda.is_available(), 'torch has no CUDA'"

python -m ecgr1.train.smoke --out "$OUT_DIR" --json "$OUT_DIR/smoke_report.json" "$@"
echo "report: $OUT_DIR/smoke_report.json"
