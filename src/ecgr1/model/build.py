"""Turn a Qwen-VL folder into an ECG-R1 starting point, and describe model folders."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ecgr1.errors import ModelError

__all__ = ["build_ecg_model", "describe_model_dir"]

logger = logging.getLogger(__name__)


def build_ecg_model(
    base: str | Path,
    out: str | Path,
    *,
    ecg_tower_checkpoint: str | Path | None = None,
    projector_type: str = "mlp2x_gelu",
    encoder: dict[str, Any] | None = None,
    dtype: Any = "bf16",
) -> dict[str, Any]:
    """Add ECG tokens, tower and projector to a Qwen3-VL / Qwen2.5-VL folder; save to ``out``.

    The vision tower and LLM keep their weights; the ECG tower is random unless an ECG-CoCa
    checkpoint is given; the projector is random (trained in SFT). Returns a JSON-ready report.
    """
    import torch
    from transformers import AutoConfig

    from ecgr1.model.encoder import load_ecg_coca_checkpoint
    from ecgr1.model.loading import add_ecg_tokens, resolve_dtype
    from ecgr1.model.modeling import model_class_for_config, set_ecg_config
    from ecgr1.model.processing import ECGR1Processor

    base_p = Path(base)
    if not (base_p / "config.json").exists():
        raise ModelError("not a model folder (no config.json)", str(base_p))
    config = AutoConfig.from_pretrained(str(base_p))
    set_ecg_config(config, encoder=encoder, projector_type=projector_type)
    cls = model_class_for_config(config)
    torch_dtype = resolve_dtype(dtype, "cpu")
    try:
        model = cls.from_pretrained(str(base_p), config=config, dtype=torch_dtype)
    except TypeError:  # transformers 4.x
        model = cls.from_pretrained(str(base_p), config=config, torch_dtype=torch_dtype)
    processor = ECGR1Processor.from_pretrained(base_p, config=config)
    resized = add_ecg_tokens(model, processor)
    tower_report = "random initialisation"
    if ecg_tower_checkpoint is not None:
        rep = load_ecg_coca_checkpoint(model.model.ecg_tower, ecg_tower_checkpoint)
        if rep.missing:
            logger.warning("ECG tower keys missing from checkpoint: %s", rep.missing[:8])
        tower_report = str(rep)
    out_p = Path(out)
    model.to(torch_dtype)
    model.save_pretrained(out_p)
    processor.save_pretrained(out_p)
    with torch.no_grad():
        n_ecg = sum(p.numel() for n, p in model.named_parameters() if ".ecg_" in n)
    return {
        "base": str(base_p),
        "out": str(out_p),
        "model_type": type(config).model_type,
        "tokens_added": processor.tokens_added,
        "embeddings_resized": resized,
        "ecg_tower": tower_report,
        "projector_type": config.ecg_projector_type,
        "ecg_parameters": n_ecg,
    }


def describe_model_dir(path: str | Path) -> dict[str, Any]:
    """Architecture, sizes and ECG settings of a model folder, without loading weights."""
    from transformers import AutoConfig

    from ecgr1.model.modeling import ecg_encoder_config

    p = Path(path)
    if not (p / "config.json").exists():
        raise ModelError("not a model folder (no config.json)", str(p))
    cfg = AutoConfig.from_pretrained(str(p))
    text = cfg.get_text_config()
    enc = ecg_encoder_config(cfg)
    info: dict[str, Any] = {
        "path": str(p),
        "model_type": type(cfg).model_type,
        "architectures": getattr(cfg, "architectures", None),
        "hidden_size": text.hidden_size,
        "layers": text.num_hidden_layers,
        "vocab_size": text.vocab_size,
        "ecg_token_id": getattr(cfg, "ecg_token_id", None),
        "ecg_projector_type": getattr(cfg, "ecg_projector_type", None),
        "ecg_model_config": getattr(cfg, "ecg_model_config", None),
        "ecg_tokens_per_ecg": enc.num_tokens,
    }
    total = ecg = 0
    try:
        from safetensors import safe_open

        for f in sorted(p.glob("*.safetensors")):
            with safe_open(str(f), "pt") as st:
                for k in st.keys():
                    n = 1
                    for d in st.get_slice(k).get_shape():
                        n *= d
                    total += n
                    ecg += n if ".ecg_" in k else 0
    except ImportError:  # pragma: no cover
        pass
    info.update(parameters=total or None, ecg_parameters=ecg or None)
    tiny = p / "ecgr1_tiny.json"
    if tiny.exists():
        info["tiny"] = json.loads(tiny.read_text())
    return info
