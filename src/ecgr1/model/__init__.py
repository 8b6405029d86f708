"""The ECG-R1 model: Qwen-VL + 1-D ECG encoder + projector (modality-decoupled MLLM).

Stable API (other modules build on these names; see docs/model.md)
------------------------------------------------------------------
``ecgr1.model.encoder``
    ``ECGEncoderConfig`` (width 768, layers 12, heads 12, leads 12, patch_size 50,
    seq_length 5000; ``.num_tokens`` = 101), ``ECGViT`` (ECG-CoCa parameter names;
    ``(B, 12, 5000) -> (B, 101, W)``, last block before ``ln_post``; NaN -> 0),
    ``load_ecg_coca_checkpoint(module, path_or_state_dict) -> LoadReport``,
    ``ECGViT.set_trainable(flag)``; ``ln_post``/``proj`` are buffers (never trained).
``ecgr1.model.projector``
    ``build_projector(type, in_dim, out_dim)``: ``"linear"`` | ``"mlp{N}x_gelu"``.
``ecgr1.model.modeling``
    ``ECGR1Qwen3VLForConditionalGeneration``, ``ECGR1Qwen2_5_VLForConditionalGeneration``
    (``model.model.ecg_tower`` / ``model.model.ecg_projector``; ``forward``/``generate`` take
    ``ecg_values`` float ``(n_ecg, 12, 5000)``; splice in the backbone forward, so
    ``model.model(input_ids=..., ecg_values=...)`` splices too), ``set_ecg_config``,
    ``model_class_for_config``, ``ecg_counts_per_row``, ``slice_ecg_values`` (ECGs of a row
    range, for trainers that chunk batches). Config fields: ``ecg_token_id``, ``ecg_start_token_id``,
    ``ecg_end_token_id``, ``ecg_projector_type``, ``ecg_model_config`` (preset name kept),
    ``ecg_hidden_size``, ``ecg_input_convention``, ``ecg_tower_path`` (when the reference wrote it).
``ecgr1.model.processing``
    ``ECGR1Processor``: ``__call__(text, images=None, ecgs=None, padding_side=...)`` ->
    ``input_ids, attention_mask, mm_token_type_ids[, pixel_values, image_grid_thw,
    ecg_values]``; ``apply_chat_template(messages, add_generation_prompt=, system_prompt=)``
    (tags verbatim); ``encode_example(messages, images, ecgs, train=True)`` (labels only on
    assistant turns); ``collate(examples)``; ``prepare_batch(rows, train=True, ecg_root=,
    image_root=)``; ``load_media(row, ecg_root=, image_root=)`` (media under the folder's ECG
    input convention); ``.tokenizer``, ``.image_processor``, ``.num_ecg_tokens``,
    ``.ecg_token_id``, ``.ecg_convention`` ("reference" | "standard"), ``.image_min_tokens``,
    ``.image_max_tokens``. Also ``build_training_example(row, processor, train=True, ...)``,
    ``IGNORE_INDEX``.
``ecgr1.model.data``
    ``read_jsonl``/``iter_jsonl``, ``load_ecg(path, convention="reference") -> np.ndarray
    (12, 5000)``, ``record_tensor(record, convention)``, ``load_image``,
    ``load_row_media(row, ecg_root=, image_root=, convention=) -> (ecgs, images)``,
    ``reference_answer(row)``, ``ECG_CONVENTIONS``.
``ecgr1.model.tiny``
    ``init_tiny(out_dir, arch="qwen3vl"|"qwen2_5vl", preset="tiny"|"small",
    ecg_convention=None, max_new_tokens=None)``.
``ecgr1.model`` (this package)
    ``load_model_and_processor(path, device=None, dtype=None, ecg_convention=None,
    image_min_tokens=None, image_max_tokens=None)``, ``add_ecg_tokens(model,
    processor)``, ``generate_interpretation(model, processor, record=None, image=None)``,
    ``generate_batch(model, processor, rows, ...)``, ``run_inference(...)``.
``ecgr1.model.interpret``
    ``model_engine``: the ``model`` engine of ``ecgr1 interpret`` (registered on import).
``ecgr1.model.build``
    ``build_ecg_model(base, out, ecg_tower_checkpoint=None)``, ``describe_model_dir(path)``.

Submodules import torch/transformers; importing this package itself is light (names are
resolved lazily).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ECGEncoderConfig": "ecgr1.model.encoder",
    "ECGViT": "ecgr1.model.encoder",
    "load_ecg_coca_checkpoint": "ecgr1.model.encoder",
    "build_projector": "ecgr1.model.projector",
    "ECGR1Qwen3VLForConditionalGeneration": "ecgr1.model.modeling",
    "ECGR1Qwen2_5_VLForConditionalGeneration": "ecgr1.model.modeling",
    "set_ecg_config": "ecgr1.model.modeling",
    "model_class_for_config": "ecgr1.model.modeling",
    "ECGR1Processor": "ecgr1.model.processing",
    "build_training_example": "ecgr1.model.processing",
    "IGNORE_INDEX": "ecgr1.model.processing",
    "init_tiny": "ecgr1.model.tiny",
    "load_model_and_processor": "ecgr1.model.loading",
    "add_ecg_tokens": "ecgr1.model.loading",
    "generate_interpretation": "ecgr1.model.inference",
    "generate_batch": "ecgr1.model.inference",
    "run_inference": "ecgr1.model.inference",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ecgr1.model' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
