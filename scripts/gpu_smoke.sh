#!/usr/bin/env bash
# GPU smoke run of the ECG-R1 training stack, for one NVIDIA GPU and no network.
#
# Default (GPU): a randomly initialised ECG-R1-8B of the real size (the Qwen3-VL-8B config in
# src/ecgr1/train/configs/qwen3_vl_8b.json, built on the meta device and materialised on the
# GPU in bf16; nothing downloaded), timed at the paper's sequence lengths: SFT steps on 4096
# tokens, one GRPO rollout of 6 x 2048 sampled tokens, GRPO loss steps on those sequences, and
# the vLLM rollout path if vllm is installed. 1-2 steps each; phases not started once the time
# budget (GPU_SMOKE_BUDGET_S, default 540 s, so that start-up fits a ~15-minute lease) is spent.
# Prints one table; the JSON report is OUT_DIR/full_size_report.json.
#
#   scripts/gpu_smoke.sh [OUT_DIR]                 # full-size timing (GPU)
#   scripts/gpu_smoke.sh [OUT_DIR] --small [...]   # the ~0.3 B end-to-end smoke (TRL trainers:
#                                                  # SFT with IMD, GRPO, batched generation)
#   scripts/gpu_smoke.sh [OUT_DIR] --tiny  [...]   # that smoke on CPU, tiny preset, seconds
#
# OUT_DIR defaults to a fresh temporary folder. Extra args of --small/--tiny go to
# python -m ecgr1.train.smoke (--sft-steps N, --grpo-steps N); tests/test_train_smoke.py runs
# --tiny, tests/test_train_full_size.py the full-size code with a scaled-down config on CPU.
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ $# -gt 0 && "$1" != -* ]]; then
  OUT_DIR="$1"
  shift
else
  OUT_DIR="$(mktemp -d -t ecgr1-smoke-XXXXXX)"
fi
MODE=full
ARGS=()
for arg in "$@"; do
  case "$arg" in
    --tiny) MODE=tiny; ARGS+=("$arg") ;;
    --small) [[ $MODE == tiny ]] || MODE=small ;;
    *) ARGS+=("$arg") ;;
  esac
done

# No network: never let transformers/datasets try the Hub.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export PYTORCH_CUDA_ALLOC_CONF="${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}"
# Works from a plain checkout too (package not installed).
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if [[ $MODE != tiny ]]; then
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi >/dev/null 2>&1; then
    echo "gpu_smoke: no NVIDIA GPU found (for a CPU run add --tiny)" >&2
    exit 1
  fi
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
python -c "import torch, transformers, trl, peft; print('torch', torch.__version__, 'cuda', torch.version.cuda, '| transformers', transformers.__version__, '| trl', trl.__version__, '| peft', peft.__version__)"
if [[ $MODE != tiny ]]; then
  python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_smoke: torch has no CUDA')"
fi

mkdir -p "$OUT_DIR"
if [[ $MODE == full ]]; then
  python -m ecgr1.train.full_size --budget-s "${GPU_SMOKE_BUDGET_S:-540}" \
    --json "$OUT_DIR/full_size_report.json" ${ARGS[@]+"${ARGS[@]}"}
  echo "report: $OUT_DIR/full_size_report.json"
else
  python -m ecgr1.train.smoke --out "$OUT_DIR" --json "$OUT_DIR/smoke_report.json" ${ARGS[@]+"${ARGS[@]}"}
  echo "report: $OUT_DIR/smoke_report.json"
fi
