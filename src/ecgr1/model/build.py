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
    ecg_convention: str | None = None,
    image_min_tokens: int | None = None,
    image_max_tokens: int | None = None,
    max_new_tokens: int | None = None,
) -> dict[str, Any]:
    """Add ECG tokens, tower and projector to a Qwen3-VL / Qwen2.5-VL folder; save to ``out``.

    The vision tower and LLM keep their weights; the ECG tower is random unless an ECG-CoCa
    checkpoint is given; the projector is random (trained in SFT). Returns a JSON-ready report.

    The folder records its settings (docs/model.md): ``ecg_input_convention`` (default
    ``"reference"``, ECG-R1's), ``image_min_tokens``/``image_max_tokens`` (default 4 / 768) in
    ``ecgr1_processor.json``, ``max_new_tokens`` (default 2048) in ``generation_config.json``;
    the reference fields ``ecg_model_config`` (``"coca_ViT-B-32"`` for a ViT-B tower) and
    ``ecg_tower_path`` (the ECG-CoCa checkpoint, absolute, when one is given: the reference
    code builds its tower from it) in ``config.json``.
    """
    import torch
    from transformers import AutoConfig

    from ecgr1.model.encoder import load_ecg_coca_checkpoint
    from ecgr1.model.inference import ECGR1_MAX_NEW_TOKENS
    from ecgr1.model.loading import add_ecg_tokens, resolve_dtype
    from ecgr1.model.modeling import model_class_for_config, set_ecg_config
    from ecgr1.model.processing import ECGR1Processor

    base_p = Path(base)
    if not (base_p / "config.json").exists():
        raise ModelError("not a model folder (no config.json)", str(base_p))
    config = AutoConfig.from_pretrained(str(base_p))
    set_ecg_config(
        config,
        encoder=encoder,
        projector_type=projector_type,
        ecg_input_convention=ecg_convention,
    )
    if ecg_tower_checkpoint is not None:
        config.ecg_tower_path = str(Path(ecg_tower_checkpoint).resolve())
    cls = model_class_for_config(config)
    torch_dtype = resolve_dtype(dtype, "cpu")
    try:
        model = cls.from_pretrained(str(base_p), config=config, dtype=torch_dtype)
    except TypeError:  # transformers 4.x
        model = cls.from_pretrained(str(base_p), config=config, torch_dtype=torch_dtype)
    processor = ECGR1Processor.from_pretrained(
        base_p,
        config=config,
        image_min_tokens=image_min_tokens,
        image_max_tokens=image_max_tokens,
    )
    resized = add_ecg_tokens(model, processor)
    tower_report = "random initialisation"
    if ecg_tower_checkpoint is not None:
        rep = load_ecg_coca_checkpoint(model.model.ecg_tower, ecg_tower_checkpoint)
        if rep.missing:
            logger.warning("ECG tower keys missing from checkpoint: %s", rep.missing[:8])
        tower_report = str(rep)
    out_p = Path(out)
    model.to(torch_dtype)
    model.generation_config.max_new_tokens = int(max_new_tokens or ECGR1_MAX_NEW_TOKENS)
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
        "ecg_input_convention": processor.ecg_convention,
        "image_tokens": [processor.image_min_tokens, processor.image_max_tokens],
        "max_new_tokens": model.generation_config.max_new_tokens,
    }


def describe_model_dir(path: str | Path) -> dict[str, Any]:
    """Architecture, sizes and ECG settings of a model folder, without loading weights."""
    from transformers import AutoConfig

    from ecgr1.model.data import check_convention
    from ecgr1.model.inference import default_max_new_tokens
    from ecgr1.model.modeling import ecg_encoder_config
    from ecgr1.model.processing import (
        ECGR1_IMAGE_MAX_TOKENS,
        ECGR1_IMAGE_MIN_TOKENS,
        PROCESSOR_FILE,
    )

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
        "ecg_tower_path": getattr(cfg, "ecg_tower_path", None),
    }
    # the folder's inference settings, as loading resolves them
    proc = {}
    if (p / PROCESSOR_FILE).exists():
        proc = json.loads((p / PROCESSOR_FILE).read_text())
    else:
        proc = {
            "image_min_tokens": ECGR1_IMAGE_MIN_TOKENS,
            "image_max_tokens": ECGR1_IMAGE_MAX_TOKENS,
        }
    info["ecg_input_convention"] = check_convention(
        getattr(cfg, "ecg_input_convention", None) or proc.get("ecg_input_convention")
    )
    info["image_tokens"] = [proc.get("image_min_tokens"), proc.get("image_max_tokens")]
    info["max_new_tokens"], info["max_new_tokens_from"] = default_max_new_tokens(p)
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
