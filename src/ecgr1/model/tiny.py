"""Tiny (and small) random ECG-R1 models built entirely offline, for tests and smoke runs.

Everything is made in code: a byte-level BPE tokenizer trained on a built-in ECG text (with the
Qwen chat/vision special tokens and the ECG tokens), a small Qwen2-VL image processor, a chat
template, and a random model of the requested architecture. ``init_tiny(out_dir)`` saves them
so that ``load_model_and_processor(out_dir)`` (or the classes' ``from_pretrained``) works.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ecgr1.errors import ModelError

__all__ = [
    "ARCHES",
    "PRESETS",
    "build_tiny_tokenizer",
    "init_tiny",
    "tiny_config",
    "tiny_image_processor",
]

ARCHES = ("qwen3vl", "qwen2_5vl")

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<|ecg_start|>",
    "<|ecg_pad|>",
    "<|ecg_end|>",
)

# Qwen-style chat template (string contents, or lists of {"type": "text"|"image"} parts).
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{ message['content'] }}"
    "{%- else %}{%- for part in message['content'] %}"
    "{%- if part['type'] == 'image' %}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{%- elif part['type'] == 'ecg' %}{{ '<|ecg_start|><|ecg_pad|><|ecg_end|>' }}"
    "{%- else %}{{ part['text'] }}{%- endif %}"
    "{%- endfor %}{%- endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Training text for the tokenizer: the vocabulary of the interpretation format and of common
# ECG findings, so that tiny models emit short token sequences for realistic text.
_CORPUS = """
<think> </think> <answer> </answer> <|answer|> <|/answer|> <|key_diagnostic_evidence|>
<|/key_diagnostic_evidence|> <ecg> <image>
**Step 1: Technical, Rate & Rhythm** **Step 2: Conduction, Axis & Intervals**
**Step 3: Chamber Hypertrophy & Voltage** **Step 4: Ischemia, Infarction & Mimics**
**Step 5: Electrolytes & QT** **Step 6: Final Medical Reasoning**
step_1_technical_rate_rhythm step_2_conduction_axis_intervals step_3_chamber_hypertrophy_voltage
step_4_ischemia_infarction_mimics step_5_electrolytes_qt step_6_final_medical_reasoning
Interpret the provided ECG signal and image. Interpret the provided ECG.
You are a helpful, harmless clinical ECG assistant. Provide concise, evidence-based interpretations.
The recording is of good quality with a stable baseline. Sinus rhythm at a rate of 72 beats per
minute with regular R-R intervals. The PR interval is 160 ms, QRS duration 90 ms, QT 380 ms,
QTc 410 ms. The electrical axis is normal at 45 degrees. Left axis deviation. Right axis deviation.
No atrial enlargement or ventricular hypertrophy by voltage criteria. No pathological Q waves.
ST segments are isoelectric. T waves are upright in leads I, II, aVF and V3 to V6.
T wave inversion in V1 and V2. ST elevation in II, III and aVF. ST depression in V5 and V6.
Atrial fibrillation with irregularly irregular rhythm and absent P waves.
First degree AV block. Right bundle branch block with rsR' in V1. Left bundle branch block.
Premature atrial contraction. Premature ventricular contraction. Sinus bradycardia.
Sinus tachycardia. Left ventricular hypertrophy. Old inferior myocardial infarction.
Normal ECG; sinus rhythm; normal axis; abnormal ECG; borderline ECG.
leads I II III aVR aVL aVF V1 V2 V3 V4 V5 V6 mm mV ms bpm Hz 0 1 2 3 4 5 6 7 8 9 10 100 500 5000
narrative summary findings consistent with no acute changes compared with prior tracing
"""


PRESETS: dict[str, dict[str, Any]] = {
    # a few hundred thousand parameters: CPU tests in seconds
    "tiny": {
        "hidden_size": 64,
        "layers": 2,
        "heads": 4,
        "kv_heads": 2,
        "head_dim": 16,
        "intermediate": 128,
        "vision_hidden": 32,
        "vision_depth": 2,
        "vision_heads": 2,
        "vision_intermediate": 64,
        "ecg_width": 32,
        "ecg_layers": 2,
        "ecg_heads": 2,
        "mrope_section": [2, 3, 3],
        "vocab_size": 640,
        "image_max_tokens": 4,
    },
    # ~0.3 B parameters (ViT-B ECG tower, 1024-wide LLM): GPU smoke runs in bf16
    "small": {
        "hidden_size": 1024,
        "layers": 16,
        "heads": 16,
        "kv_heads": 4,
        "head_dim": 64,
        "intermediate": 3072,
        "vision_hidden": 512,
        "vision_depth": 8,
        "vision_heads": 8,
        "vision_intermediate": 1536,
        "ecg_width": 768,
        "ecg_layers": 12,
        "ecg_heads": 12,
        "mrope_section": [8, 12, 12],
        "vocab_size": 2048,
        "image_max_tokens": 256,
    },
}

# Qwen3-VL uses 16-pixel patches, Qwen2.5-VL 14-pixel ones; both merge 2 x 2 patches per token.
_PATCH = {"qwen3vl": 16, "qwen2_5vl": 14}


def build_tiny_tokenizer(vocab_size: int = 640, ecg_tokens: bool = True) -> Any:
    """A byte-level BPE tokenizer trained on the built-in ECG text (no download).

    ``ecg_tokens=False`` leaves out the three ECG tokens (a plain Qwen-VL-like tokenizer).

    Example
    -------
    >>> tok = build_tiny_tokenizer()
    >>> tok.convert_ids_to_tokens(tok("<|ecg_pad|>")["input_ids"])
    ['<|ecg_pad|>']
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[t for t in SPECIAL_TOKENS if ecg_tokens or "ecg" not in t],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([line for line in _CORPUS.splitlines() if line.strip()], trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "right"
    return fast


def tiny_image_processor(arch: str = "qwen3vl", max_tokens: int = 4) -> Any:
    """A Qwen2-VL image processor bounded to ``max_tokens`` LLM tokens per image (default 4:
    toy resolution for CPU tests; the ``small`` preset uses 256)."""
    from transformers import Qwen2VLImageProcessor

    patch = _PATCH[_check_arch(arch)]
    side = patch * 2  # one merged token is 2 x 2 patches
    kwargs = dict(
        patch_size=patch,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": side * side, "longest_edge": int(max_tokens) * side * side},
    )
    if arch == "qwen3vl":  # Qwen3-VL normalises to [-1, 1]
        kwargs.update(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    return Qwen2VLImageProcessor(**kwargs)


def _check_arch(arch: str) -> str:
    if arch not in ARCHES:
        raise ModelError(f"unknown arch {arch!r}; choose one of {ARCHES}")
    return arch


def _rope_kwargs(rope: dict[str, Any]) -> dict[str, Any]:
    """RoPE settings in the spelling of the installed transformers (5.x: ``rope_parameters``;
    4.x: ``rope_scaling`` + ``rope_theta``)."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        return {"rope_parameters": dict(rope)}
    scaling = {k: v for k, v in rope.items() if k != "rope_theta"}
    return {"rope_scaling": scaling, "rope_theta": rope["rope_theta"]}


def tiny_config(
    arch: str = "qwen3vl", tokenizer: Any = None, preset: str = "tiny", **overrides: Any
) -> Any:
    """Model config for a random model; token ids match :func:`build_tiny_tokenizer`.

    ``overrides`` replace preset entries (``hidden_size``, ``layers``, ``ecg_width`` ...).
    """
    from transformers import Qwen2_5_VLConfig, Qwen3VLConfig

    from ecgr1.model.encoder import ECGEncoderConfig
    from ecgr1.model.modeling import set_ecg_config

    _check_arch(arch)
    if preset not in PRESETS:
        raise ModelError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    p = {**PRESETS[preset], **overrides}
    tok = tokenizer if tokenizer is not None else build_tiny_tokenizer(p["vocab_size"])
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab = len(tok)
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": p["mrope_section"]}
    text = dict(
        vocab_size=vocab,
        hidden_size=p["hidden_size"],
        intermediate_size=p["intermediate"],
        num_hidden_layers=p["layers"],
        num_attention_heads=p["heads"],
        num_key_value_heads=p["kv_heads"],
        max_position_embeddings=8192,
        bos_token_id=None,
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
    )
    common = dict(
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    if arch == "qwen3vl":
        text.update(head_dim=p["head_dim"], **_rope_kwargs({**rope, "mrope_interleaved": True}))
        vision = dict(
            depth=p["vision_depth"],
            hidden_size=p["vision_hidden"],
            num_heads=p["vision_heads"],
            intermediate_size=p["vision_intermediate"],
            out_hidden_size=p["hidden_size"],
            patch_size=_PATCH[arch],
            spatial_merge_size=2,
            temporal_patch_size=2,
            num_position_embeddings=64,
            deepstack_visual_indexes=[p["vision_depth"] - 1],
        )
        config = Qwen3VLConfig(text_config=text, vision_config=vision, **common)
    else:
        text.update(**_rope_kwargs({**rope, "type": "mrope"}))
        vision = dict(
            depth=p["vision_depth"],
            hidden_size=p["vision_hidden"],
            num_heads=p["vision_heads"],
            intermediate_size=p["vision_intermediate"],
            out_hidden_size=p["hidden_size"],
            patch_size=_PATCH[arch],
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=_PATCH[arch] * 4,
            fullatt_block_indexes=[p["vision_depth"] - 1],
        )
        config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **common)
    # generation defaults live on the top-level config too (generate() reads them there)
    config.eos_token_id = ids["<|im_end|>"]
    config.pad_token_id = ids["<|endoftext|>"]
    enc = ECGEncoderConfig(width=p["ecg_width"], layers=p["ecg_layers"], heads=p["ecg_heads"])
    set_ecg_config(
        config,
        encoder=enc,
        projector_type=p.get("projector_type", "mlp2x_gelu"),
        ecg_token_id=ids["<|ecg_pad|>"],
        ecg_start_token_id=ids["<|ecg_start|>"],
        ecg_end_token_id=ids["<|ecg_end|>"],
    )
    return config


def init_tiny(
    out_dir: str | Path,
    arch: str = "qwen3vl",
    *,
    preset: str = "tiny",
    seed: int = 0,
    ecg_convention: str | None = None,
    max_new_tokens: int | None = None,
    **overrides: Any,
) -> Path:
    """Build and save a random model + processor to ``out_dir``; returns the path.

    Parameters
    ----------
    out_dir : folder to write (created).
    arch : ``"qwen3vl"`` or ``"qwen2_5vl"``.
    preset : ``"tiny"`` (CPU tests) or ``"small"`` (~0.3 B parameters, GPU smoke runs).
    seed : torch seed for the random weights.
    ecg_convention : ECG input convention recorded in the folder ("reference", the default,
        or "standard").
    max_new_tokens : generation budget recorded in generation_config.json (None: none
        recorded, so inference uses the ECG-R1 folder default, 2048).
    overrides : preset entries to change (see :data:`PRESETS`).

    Example
    -------
    >>> import tempfile
    >>> from ecgr1.model import load_model_and_processor
    >>> path = init_tiny(tempfile.mkdtemp())
    >>> model, processor = load_model_and_processor(path)
    >>> processor.num_ecg_tokens
    101
    """
    import torch
    from transformers import GenerationConfig

    from ecgr1.model.modeling import model_class_for_config, set_ecg_config
    from ecgr1.model.processing import ECGR1Processor

    _check_arch(arch)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    p = {**PRESETS.get(preset, {}), **overrides}
    tokenizer = build_tiny_tokenizer(p.get("vocab_size", 640))
    config = tiny_config(arch, tokenizer=tokenizer, preset=preset, **overrides)
    if ecg_convention is not None:
        set_ecg_config(config, ecg_input_convention=ecg_convention)
    torch.manual_seed(seed)
    model = model_class_for_config(config)(config)
    model.generation_config = GenerationConfig(
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        do_sample=False,
        **({"max_new_tokens": int(max_new_tokens)} if max_new_tokens else {}),
    )
    model.save_pretrained(out)
    processor = ECGR1Processor(
        tokenizer=tokenizer,
        image_processor=tiny_image_processor(arch, p.get("image_max_tokens", 4)),
        num_ecg_tokens=model.num_ecg_tokens,
        ecg_convention=config.ecg_input_convention,
    )
    processor.save_pretrained(out)
    (out / "ecgr1_tiny.json").write_text(
        json.dumps(
            {
                "arch": arch,
                "preset": preset,
                "seed": seed,
                "overrides": overrides,
                "parameters": sum(t.numel() for t in model.parameters()),
            },
            indent=2,
        )
    )
    return out
