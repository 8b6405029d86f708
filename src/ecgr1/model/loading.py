"""Load an ECG-R1 model folder (ours, a published ECG-R1 checkpoint, or a plain Qwen-VL one)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ecgr1.errors import ModelError

__all__ = ["add_ecg_tokens", "load_model_and_processor", "resolve_device", "resolve_dtype"]

logger = logging.getLogger(__name__)


def resolve_device(device: str | None = None) -> str:
    """``device`` or the best available one (cuda, then mps, then cpu)."""
    import torch

    if device:
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: Any, device: str) -> Any:
    """torch dtype from a name; default bf16 on CUDA (when supported), else float32."""
    import torch

    if dtype is None or dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp16": torch.float16,
        "float16": torch.float16,
        "fp32": torch.float32,
        "float32": torch.float32,
    }
    try:
        return table[str(dtype).lower()]
    except KeyError:
        raise ModelError(f"unknown dtype {dtype!r}; use one of {sorted(table)}") from None


def add_ecg_tokens(model: Any, processor: Any) -> bool:
    """Make model and processor agree on the ECG tokens.

    Adds the tokens to the tokenizer if missing, resizes the model's embeddings when the
    vocabulary outgrew them, and writes ``ecg_token_id`` / ``ecg_start_token_id`` /
    ``ecg_end_token_id`` to the model config. Returns True if embeddings were resized.
    """
    processor.add_ecg_tokens()
    resized = False
    n_vocab = len(processor.tokenizer)
    if n_vocab > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(n_vocab)
        resized = True
    cfg = model.config
    cfg.ecg_token_id = processor.ecg_token_id
    cfg.ecg_start_token_id = processor.ecg_start_token_id
    cfg.ecg_end_token_id = processor.ecg_end_token_id
    return resized


def load_model_and_processor(
    path: str | Path,
    device: str | None = None,
    dtype: Any = None,
    *,
    attn_implementation: str | None = None,
    ecg_tower_checkpoint: str | Path | None = None,
    ecg_convention: str | None = None,
    image_min_tokens: int | None = None,
    image_max_tokens: int | None = None,
) -> tuple[Any, Any]:
    """Load ``(model, processor)`` from a folder, in eval mode, on ``device``.

    Parameters
    ----------
    path : model folder (``config.json`` with ``model_type`` ``qwen3_vl`` or ``qwen2_5_vl``).
        A plain Qwen-VL folder gets a freshly initialised ECG tower/projector (warning).
    device : "cpu", "cuda", "cuda:1"... (default: best available).
    dtype : torch dtype or name ("bf16", "fp32"; default bf16 on CUDA, fp32 elsewhere).
    attn_implementation : passed to ``from_pretrained`` ("sdpa", "flash_attention_2"...).
    ecg_tower_checkpoint : optional ECG-CoCa checkpoint loaded into the tower afterwards.
    ecg_convention : ECG input convention ("reference" | "standard") instead of the folder's
        (config ``ecg_input_convention``; "reference" when absent, as for published ECG-R1).
    image_min_tokens, image_max_tokens : LLM tokens per image instead of the folder's
        (ECG-R1: 4 and 768).

    The folder's config fields are kept as written (a preset-name ``ecg_model_config`` stays a
    string, ``ecg_tower_path`` stays), so saving the model again keeps the reference layout.
    """
    from transformers import AutoConfig

    from ecgr1.model.encoder import load_ecg_coca_checkpoint
    from ecgr1.model.modeling import model_class_for_config, set_ecg_config
    from ecgr1.model.processing import ECGR1Processor

    p = Path(path)
    if not (p / "config.json").exists() and (p / "adapter_config.json").exists():
        return _load_adapter(p, device, dtype, attn_implementation)
    if not (p / "config.json").exists():
        raise ModelError("not a model folder (no config.json)", str(p))
    config = AutoConfig.from_pretrained(str(p))
    cls = model_class_for_config(config)
    had_ecg = getattr(config, "ecg_token_id", None) is not None
    set_ecg_config(config, ecg_input_convention=ecg_convention)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    kwargs: dict[str, Any] = {"config": config}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        model = cls.from_pretrained(str(p), dtype=torch_dtype, **kwargs)
    except TypeError:  # transformers 4.x spells it torch_dtype
        model = cls.from_pretrained(str(p), torch_dtype=torch_dtype, **kwargs)
    processor = ECGR1Processor.from_pretrained(
        p,
        config=config,
        ecg_convention=ecg_convention,
        image_min_tokens=image_min_tokens,
        image_max_tokens=image_max_tokens,
    )
    if add_ecg_tokens(model, processor) or not had_ecg:
        logger.warning("%s had no ECG tokens/tower: ECG modules are freshly initialised", p)
    if ecg_tower_checkpoint is not None:
        report = load_ecg_coca_checkpoint(model.model.ecg_tower, ecg_tower_checkpoint)
        logger.info("ECG tower: %s", report)
    model.to(dev)
    model.eval()
    return model, processor


def _load_adapter(
    path: Path, device: str | None, dtype: Any, attn_implementation: str | None
) -> tuple[Any, Any]:
    """A PEFT adapter folder: load its base model, apply and merge the adapter."""
    import json

    try:
        from peft import PeftModel
    except ImportError:
        raise ModelError(
            "this is a PEFT adapter folder; install peft to load it", str(path)
        ) from None
    base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base or not Path(base).exists():
        raise ModelError(f"adapter base model {base!r} not found locally", str(path))
    model, processor = load_model_and_processor(
        base, device="cpu", dtype=dtype, attn_implementation=attn_implementation
    )
    if (path / "tokenizer.json").exists() or (path / "tokenizer_config.json").exists():
        from ecgr1.model.processing import ECGR1Processor

        processor = ECGR1Processor.from_pretrained(path, config=model.config)
    model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    model.to(resolve_device(device))
    model.eval()
    return model, processor
