#!/usr/bin/env bash
# GPU smoke run of the ECG-R1 training stack (issue 6), for one NVIDIA GPU and no network.
#
# Builds a random ~0.3 B-parameter ECG-R1 model from a config (nothing downloaded), then runs
# 5 SFT steps with Interleaved Modality Dropout, 2 GRPO steps (DAPO settings, evidence rewards)
# and one batched generation, in bf16, and prints step times, tokens/s and peak GPU memory.
#
#   scripts/gpu_smoke.sh [OUT_DIR] [extra args for python -m ecgr1.train.smoke]
#   scripts/gpu_smoke.sh [OUT_DIR] --tiny      # same code on CPU, tiny preset, seconds
#
# OUT_DIR defaults to a fresh temporary folder; the JSON report is OUT_DIR/smoke_report.json.
# Extra args: --sft-steps N, --grpo-steps N, --tiny (tests/test_train_smoke.py runs --tiny).
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ $# -gt 0 && "$1" != -* ]]; then
  OUT_DIR="$1"
  shift
else
  OUT_DIR="$(mktemp -d -t ecgr1-smoke-XXXXXX)"
fi
TINY=0
for arg in "$@"; do
  [[ "$arg" == "--tiny" ]] && TINY=1
done

# No network: never let transformers/datasets try the Hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
# Works from a plain checkout too (package not installed).
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if [[ $TINY == 0 ]]; then
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi >/dev/null 2>&1; then
    echo "gpu_smoke: no NVIDIA GPU found (for a CPU run add --tiny)" >&2
    exit 1
  fi
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
python -c "import torch, transformers, trl, peft; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| transformers', transformers.__version__, '| trl', trl.__version__, '| peft', peft.__version__)"
if [[ $TINY == 0 ]]; then
  python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_smoke: torch has no CUDA')"
fi

python -m ecgr1.train.smoke --out "$OUT_DIR" --json "$OUT_DIR/smoke_report.json" "$@"
echo "report: $OUT_DIR/smoke_report.json"
