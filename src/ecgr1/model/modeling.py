"""ECG-R1 model classes: Qwen3-VL / Qwen2.5-VL with an ECG tower and projector.

Layout (state-dict names, as in the published ECG-R1 checkpoints)::

    model.visual.*            vision tower (unchanged)
    model.language_model.*    LLM (unchanged)
    model.ecg_tower.*         ECG-CoCa 1-D ViT (:class:`ecgr1.model.encoder.ECGViT`)
    model.ecg_projector.*     projector (``mlp2x_gelu``: 0.weight, 0.bias, 2.weight, 2.bias)
    lm_head.weight

The splice lives in the *backbone* (``model.model``) forward, so callers that bypass the
top-level class (TRL's fused LM-head loss calls ``model.model(...)``) still get ECG embeddings.
It is applied to the output of the token-embedding layer while the backbone runs on
``input_ids``; everything the stock backbone derives from ``input_ids`` (M-RoPE position ids via
``get_rope_index``, image/video placeholder masks, deepstack masks) is therefore computed from
the ids exactly as upstream, before the ECG embeddings replace the ``<|ecg_pad|>`` rows. ECG
tokens count as text for M-RoPE (one position each), as in ECG-R1.

ECG settings live on the model config as plain attributes (they survive ``save_pretrained`` /
``from_pretrained`` of the stock ``Qwen3VLConfig`` / ``Qwen2_5_VLConfig``; ``model_type`` stays
``qwen3_vl`` / ``qwen2_5_vl`` so published checkpoints and vLLM see a familiar config):
``ecg_token_id``, ``ecg_start_token_id``, ``ecg_end_token_id``, ``ecg_projector_type``,
``ecg_model_config`` (dict, or an ECG-CoCa preset name such as ``"coca_ViT-B-32"`` = defaults),
``ecg_hidden_size``, ``ecg_input_convention`` (``"reference"``/``"standard"``, ours; absent in
the published folders, which means ``"reference"``), and ``ecg_tower_path`` when the reference
wrote one.

Saved folders keep the reference layout so that ECG-R1's own code and vLLM plugin load them:
a preset-name ``ecg_model_config`` stays a string (a ViT-B tower with the defaults is written as
``"coca_ViT-B-32"``; only other shapes need a dict), ``ecg_tower_path`` is kept, and a Qwen3-VL
model saves ``architectures: ["ECGR1ForConditionalGeneration"]`` (:data:`REFERENCE_ARCHITECTURE`,
the reference class name its plugin registers) instead of our class name.

Supported transformers versions: 4.57.x and 5.x (tested: 5.24). The cache keyword is
``past_key_values`` in 4.x and ``cache`` in 5.x; this module never names it — it forwards
whatever the caller passed — and reads the cache only through ``_cache_from`` which accepts both.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLModel,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLModel,
)

from ecgr1.errors import ModelError
from ecgr1.model.encoder import ECGEncoderConfig, ECGViT
from ecgr1.model.projector import build_projector

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_PROJECTOR_TYPE",
    "ECGR1Qwen2_5_VLForConditionalGeneration",
    "ECGR1Qwen2_5_VLModel",
    "ECGR1Qwen3VLForConditionalGeneration",
    "ECGR1Qwen3VLModel",
    "MODEL_CLASSES",
    "REFERENCE_ARCHITECTURE",
    "ecg_counts_per_row",
    "ecg_encoder_config",
    "model_class_for_config",
    "set_ecg_config",
    "slice_ecg_values",
]

DEFAULT_PROJECTOR_TYPE = "mlp2x_gelu"
#: The ECG-CoCa preset name ECG-R1 writes as ``ecg_model_config`` (the ViT-B defaults).
DEFAULT_ECG_MODEL_CONFIG = "coca_ViT-B-32"
#: The architecture name of ECG-R1 (Qwen3-VL) folders, as the reference saves them.
REFERENCE_ARCHITECTURE = "ECGR1ForConditionalGeneration"
CACHE_KEYWORDS = ("cache", "past_key_values")  # 5.x name first, 4.x name second


# --------------------------------------------------------------------------------------------
# config helpers


def _text_hidden_size(config: Any) -> int:
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    size = getattr(text, "hidden_size", None) or getattr(config, "hidden_size", None)
    if not size:
        raise ModelError("model config has no hidden_size")
    return int(size)


def ecg_encoder_config(config: Any) -> ECGEncoderConfig:
    """The :class:`ECGEncoderConfig` described by a model config's ``ecg_model_config``."""
    return ECGEncoderConfig.from_any(getattr(config, "ecg_model_config", None))


def set_ecg_config(
    config: Any,
    *,
    encoder: ECGEncoderConfig | dict | None = None,
    projector_type: str | None = None,
    ecg_token_id: int | None = None,
    ecg_start_token_id: int | None = None,
    ecg_end_token_id: int | None = None,
    ecg_input_convention: str | None = None,
) -> Any:
    """Write the ECG fields onto ``config`` (in place; returns it).

    Fields not given keep their current value, or get defaults when absent (input convention
    ``"reference"``). A preset-name ``ecg_model_config`` is kept as the string (the reference
    reads it as an ECG-CoCa config name); a new encoder is written as ``"coca_ViT-B-32"`` when it
    has the ViT-B defaults, else as a dict. ``ecg_hidden_size`` equals the encoder width.

    Example
    -------
    >>> from transformers import Qwen3VLConfig
    >>> cfg = Qwen3VLConfig()
    >>> cfg.ecg_model_config = "coca_ViT-B-32"
    >>> c = set_ecg_config(cfg)
    >>> c.ecg_model_config, c.ecg_hidden_size, c.ecg_input_convention
    ('coca_ViT-B-32', 768, 'reference')
    """
    from ecgr1.model.data import check_convention

    current = getattr(config, "ecg_model_config", None)
    enc = ECGEncoderConfig.from_any(encoder if encoder is not None else current)
    if encoder is None and isinstance(current, str) and current:
        pass  # keep the preset name as the reference wrote it
    elif enc == ECGEncoderConfig():
        config.ecg_model_config = DEFAULT_ECG_MODEL_CONFIG
    else:
        config.ecg_model_config = enc.to_dict()
    config.ecg_hidden_size = enc.width
    config.ecg_input_convention = check_convention(
        ecg_input_convention or getattr(config, "ecg_input_convention", None)
    )
    config.ecg_projector_type = (
        projector_type or getattr(config, "ecg_projector_type", None) or DEFAULT_PROJECTOR_TYPE
    )
    for name, value in (
        ("ecg_token_id", ecg_token_id),
        ("ecg_start_token_id", ecg_start_token_id),
        ("ecg_end_token_id", ecg_end_token_id),
    ):
        if value is not None:
            setattr(config, name, int(value))
        elif not hasattr(config, name):
            setattr(config, name, None)
    return config


def _cache_from(kwargs: dict[str, Any]) -> Any:
    for name in CACHE_KEYWORDS:
        if kwargs.get(name) is not None:
            return kwargs[name]
    return None


def _accepts(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


# --------------------------------------------------------------------------------------------
# backbone


@contextmanager
def _embedding_splice(
    embedding: nn.Module,
    input_ids: torch.Tensor,
    mask: torch.Tensor | None,
    values: torch.Tensor | None,
    offset: torch.Tensor | None = None,
) -> Iterator[None]:
    """While active, the token embedding's output has ``values`` at ``mask`` positions.

    Fires once, on the call whose output matches ``input_ids``'s shape (the backbone may also
    embed single token ids, e.g. to find placeholders; those are left alone).
    """
    state = {"done": False}

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if state["done"] or not isinstance(output, torch.Tensor):
            return None
        if tuple(output.shape[:2]) != tuple(input_ids.shape[:2]):
            return None
        state["done"] = True
        if mask is not None:
            m = mask.to(output.device).unsqueeze(-1)
            output = output.masked_scatter(m, values.to(output.device, output.dtype))
        if offset is not None:
            output = output + offset.to(output.device, output.dtype)
        return output

    handle = embedding.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
    if not state["done"]:
        raise ModelError("ECG splice did not happen: the backbone never embedded input_ids")


class _ECGBackboneMixin:
    """Adds ``ecg_tower`` / ``ecg_projector`` and the ECG splice to a Qwen-VL backbone."""

    _parent_forward_accepts_mm_types: bool = False

    def post_init(self) -> None:  # noqa: D401 - HF hook
        # Build the ECG modules here, i.e. after the stock __init__ made the vision tower and
        # LLM but before HF's post_init, so weight init / tied-weight / no-split bookkeeping
        # see them, without re-implementing the stock __init__.
        if "ecg_tower" not in self._modules:
            self._build_ecg_modules()
        super().post_init()

    def _build_ecg_modules(self) -> None:
        config = self.config
        set_ecg_config(config)
        enc_cfg = ecg_encoder_config(config)
        self.ecg_tower = ECGViT(enc_cfg)
        self.ecg_projector = build_projector(
            config.ecg_projector_type, enc_cfg.width, _text_hidden_size(config)
        )

    @property
    def num_ecg_tokens(self) -> int:
        """``<|ecg_pad|>`` tokens per ECG (encoder tokens, 101 by default)."""
        return self.ecg_tower.num_tokens

    def get_ecg_features(self, ecg_values: torch.Tensor) -> torch.Tensor:
        """ECG tensor ``(n, 12, 5000)`` -> projected embeddings ``(n, num_tokens, hidden)``."""
        tower_param = self.ecg_tower.conv1.weight
        x = ecg_values.to(tower_param.device)
        feats = self.ecg_tower(x)
        proj_param = next(self.ecg_projector.parameters())
        return self.ecg_projector(feats.to(proj_param.dtype))

    def _ecg_token_id(self) -> int:
        tid = getattr(self.config, "ecg_token_id", None)
        if tid is None:
            raise ModelError(
                "model config has no ecg_token_id: add the ECG tokens with "
                "ecgr1.model.add_ecg_tokens(model, processor) first"
            )
        return int(tid)

    def _ecg_mask_from_embeds(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        emb = self.get_input_embeddings()
        pad = emb(torch.tensor(self._ecg_token_id(), device=inputs_embeds.device))
        return (inputs_embeds == pad.to(inputs_embeds.dtype)).all(-1)

    def forward(self, *args: Any, ecg_values: torch.Tensor | None = None, **kwargs: Any) -> Any:
        """Stock backbone forward plus ``ecg_values`` ``(n_ecg, 12, 5000)``.

        The i-th ECG fills the i-th run of ``<|ecg_pad|>`` tokens (row-major over the batch).
        """
        if args:  # positional input_ids, as in the stock signature
            kwargs["input_ids"] = args[0]
            if len(args) > 1:
                raise TypeError("pass backbone arguments after input_ids by keyword")
        if not self._parent_forward_accepts_mm_types:
            kwargs.pop("mm_token_type_ids", None)  # transformers 4.x computes M-RoPE from ids
        else:
            self._fill_mm_token_type_ids(kwargs)
        input_ids = kwargs.get("input_ids")
        inputs_embeds = kwargs.get("inputs_embeds")
        if isinstance(ecg_values, (list, tuple)):  # a collator that kept one tensor per ECG
            ecg_values = (
                torch.stack([torch.as_tensor(e) for e in ecg_values]) if ecg_values else None
            )
        if ecg_values is not None and ecg_values.ndim == 2:
            ecg_values = ecg_values.unsqueeze(0)
        if ecg_values is None or ecg_values.shape[0] == 0:
            self._warn_pads_without_ecg(input_ids, kwargs)
            return self._forward_without_ecg(kwargs)
        ecg_embeds = self.get_ecg_features(ecg_values)
        ecg_flat = ecg_embeds.reshape(-1, ecg_embeds.shape[-1])
        if input_ids is not None:
            mask = input_ids == self._ecg_token_id()
        elif inputs_embeds is not None:
            mask = self._ecg_mask_from_embeds(inputs_embeds)
        else:
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        n_pad = int(mask.sum())
        if n_pad != ecg_flat.shape[0]:
            raise ModelError(
                f"ECG features and ECG tokens do not match: {n_pad} <|ecg_pad|> tokens, "
                f"{ecg_values.shape[0]} ECGs x {ecg_embeds.shape[1]} tokens = {ecg_flat.shape[0]}"
            )
        if input_ids is None:
            m = mask.unsqueeze(-1).to(inputs_embeds.device)
            kwargs["inputs_embeds"] = inputs_embeds.masked_scatter(
                m, ecg_flat.to(inputs_embeds.device, inputs_embeds.dtype)
            )
            return super().forward(**kwargs)
        with _embedding_splice(self.get_input_embeddings(), input_ids, mask, ecg_flat):
            return super().forward(**kwargs)

    # Run the tower on a zero ECG when a training batch has none, adding 0 x its output to the
    # embeddings: every ECG parameter then gets a (zero) gradient, which DDP (unused-parameter
    # check) and ZeRO-3 (gather hangs) need when some ranks' batches lack ECGs (IMD, image-only
    # rows). Costs one small tower pass; off in eval mode and under no_grad.
    dummy_ecg_in_training: bool = True

    def _forward_without_ecg(self, kwargs: dict[str, Any]) -> Any:
        tower = self.ecg_tower
        if not (
            self.dummy_ecg_in_training
            and self.training
            and torch.is_grad_enabled()
            and any(p.requires_grad for p in tower.parameters())
        ):
            return super().forward(**kwargs)
        cfg = tower.config
        zeros = torch.zeros(1, cfg.leads, cfg.seq_length, device=tower.conv1.weight.device)
        offset = self.get_ecg_features(zeros).sum() * 0.0
        input_ids, inputs_embeds = kwargs.get("input_ids"), kwargs.get("inputs_embeds")
        if input_ids is None:
            kwargs["inputs_embeds"] = inputs_embeds + offset.to(inputs_embeds.dtype)
            return super().forward(**kwargs)
        with _embedding_splice(self.get_input_embeddings(), input_ids, None, None, offset):
            return super().forward(**kwargs)

    def _warn_pads_without_ecg(self, input_ids: torch.Tensor | None, kwargs: dict) -> None:
        # checked once per model (the check syncs the device)
        if getattr(self, "_ecg_pad_check_done", False) or input_ids is None:
            return
        tid = getattr(self.config, "ecg_token_id", None)
        if tid is None or (_cache_from(kwargs) is not None and input_ids.shape[1] == 1):
            return
        self._ecg_pad_check_done = True
        if bool((input_ids == tid).any()):
            logger.warning(
                "<|ecg_pad|> tokens in input_ids but no ecg_values: the pads keep their token "
                "embeddings"
            )

    def _fill_mm_token_type_ids(self, kwargs: dict[str, Any]) -> None:
        # transformers 5.x needs mm_token_type_ids for M-RoPE when images are present; derive
        # it from the ids when a caller (e.g. a generic collator) dropped it.
        ids = kwargs.get("input_ids")
        if kwargs.get("mm_token_type_ids") is not None or ids is None:
            return
        if kwargs.get("image_grid_thw") is None and kwargs.get("video_grid_thw") is None:
            return
        types = torch.zeros_like(ids, dtype=torch.int)
        types[ids == self.config.image_token_id] = 1
        video_id = getattr(self.config, "video_token_id", None)
        if video_id is not None:
            types[ids == video_id] = 2
        kwargs["mm_token_type_ids"] = types


def _init_ecg_weights(module: nn.Module) -> None:
    try:  # transformers 5.x: respects the "already loaded" flags of from_pretrained
        from transformers import initialization as init
    except ImportError:  # 4.x
        init = nn.init
    if isinstance(module, ECGViT):
        w = module.config.width
        init.normal_(module.class_embedding, std=w**-0.5)
        init.normal_(module.positional_embedding, std=0.01)
        init.normal_(module.proj, std=w**-0.5)


class ECGR1Qwen3VLModel(_ECGBackboneMixin, Qwen3VLModel):
    """Qwen3-VL backbone with ``ecg_tower`` and ``ecg_projector`` and the ECG splice."""

    _parent_forward_accepts_mm_types = _accepts(Qwen3VLModel.forward, "mm_token_type_ids")

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        _init_ecg_weights(module)


class ECGR1Qwen2_5_VLModel(_ECGBackboneMixin, Qwen2_5_VLModel):
    """Qwen2.5-VL backbone with ``ecg_tower`` and ``ecg_projector`` and the ECG splice."""

    _parent_forward_accepts_mm_types = _accepts(Qwen2_5_VLModel.forward, "mm_token_type_ids")

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        _init_ecg_weights(module)


# --------------------------------------------------------------------------------------------
# top-level classes


class _ECGGenerationMixin:
    """Top-level additions: ``ecg_values`` in forward/generate, ECG-aware input expansion."""

    _backbone_cls: type[nn.Module]

    def _init_model(self, config: Any) -> None:
        # The stock __init__ builds the stock backbone; build ours instead (no double init).
        self.model = self._backbone_cls(config)
        self.lm_head = nn.Linear(
            config.text_config.hidden_size, config.text_config.vocab_size, bias=False
        )
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        _init_ecg_weights(module)

    @property
    def ecg_tower(self) -> ECGViT:
        """The ECG encoder (``model.ecg_tower``)."""
        return self.model.ecg_tower

    @property
    def ecg_projector(self) -> nn.Module:
        """The ECG projector (``model.ecg_projector``)."""
        return self.model.ecg_projector

    @property
    def num_ecg_tokens(self) -> int:
        """``<|ecg_pad|>`` tokens per ECG."""
        return self.model.ecg_tower.num_tokens

    def forward(self, *args: Any, ecg_values: torch.Tensor | None = None, **kwargs: Any) -> Any:
        """Stock forward plus ``ecg_values`` (float ``(n_ecg, 12, 5000)``), passed to the
        backbone, which splices them at ``<|ecg_pad|>`` positions."""
        if ecg_values is not None:
            kwargs["ecg_values"] = ecg_values
        if not self.model._parent_forward_accepts_mm_types:
            kwargs.pop("mm_token_type_ids", None)
        return super().forward(*args, **kwargs)

    def prepare_inputs_for_generation(self, *args: Any, ecg_values: Any = None, **kwargs: Any):
        """Pass ``ecg_values`` only on the step that feeds the ECG pads (the prefill), like
        ``pixel_values``; decoding steps only see the new token."""
        inputs = super().prepare_inputs_for_generation(*args, **kwargs)
        if ecg_values is None:
            return inputs
        ids = inputs.get("input_ids")
        tid = getattr(self.config, "ecg_token_id", None)
        if ids is not None and tid is not None and bool((ids == tid).any()):
            inputs["ecg_values"] = ecg_values
        elif ids is None and inputs.get("inputs_embeds") is not None:
            first = kwargs.get("is_first_iteration")
            if first is None or first:
                inputs["ecg_values"] = ecg_values
        return inputs

    def _expand_inputs_for_generation(
        self,
        expand_size: int = 1,
        is_encoder_decoder: bool = False,
        input_ids: torch.LongTensor | None = None,
        **model_kwargs: Any,
    ):
        # ecg_values is per ECG, not per row: the stock expansion (repeat_interleave on dim 0)
        # would mismatch rows with 0 or 2 ECGs. Repeat each row's group of ECGs instead.
        ecg = model_kwargs.pop("ecg_values", None)
        original_ids = input_ids
        input_ids, model_kwargs = super()._expand_inputs_for_generation(
            expand_size=expand_size,
            is_encoder_decoder=is_encoder_decoder,
            input_ids=input_ids,
            **model_kwargs,
        )
        if ecg is not None and expand_size > 1:
            if original_ids is None:
                raise ModelError("expanding ecg_values for generation needs input_ids")
            per_row = (original_ids == self.config.ecg_token_id).sum(-1) // self.num_ecg_tokens
            groups, start = [], 0
            for count in per_row.tolist():
                groups.append(ecg[start : start + count].repeat(expand_size, 1, 1))
                start += count
            ecg = torch.cat(groups, dim=0)
        if ecg is not None:
            model_kwargs["ecg_values"] = ecg
        return input_ids, model_kwargs

    #: ``architectures`` written to config.json by :meth:`save_pretrained` (None: the class name).
    saved_architecture: str | None = None

    def save_pretrained(self, save_directory: Any, *args: Any, **kwargs: Any) -> Any:
        """Stock ``save_pretrained``; then, for Qwen3-VL, ``architectures`` is set to the
        reference name (``ECGR1ForConditionalGeneration``) in config.json, so that the folder
        loads in ECG-R1's code and vLLM plugin (this package loads by ``model_type``)."""
        out = super().save_pretrained(save_directory, *args, **kwargs)
        path = Path(save_directory) / "config.json"
        if self.saved_architecture and kwargs.get("is_main_process", True) and path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            data["architectures"] = [self.saved_architecture]
            path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            self.config.architectures = [self.saved_architecture]
        return out

    def set_ecg_gradient_checkpointing(self, enable: bool = True) -> None:
        """Checkpoint the ECG tower's blocks (HF's switch does not reach plain nn.Modules)."""
        self.model.ecg_tower.set_gradient_checkpointing(enable)


class ECGR1Qwen3VLForConditionalGeneration(_ECGGenerationMixin, Qwen3VLForConditionalGeneration):
    """Qwen3-VL + ECG tower/projector (the published ECG-R1 architecture, 8B).

    Example
    -------
    >>> from ecgr1.model.tiny import tiny_config
    >>> m = ECGR1Qwen3VLForConditionalGeneration(tiny_config("qwen3vl"))
    >>> sorted({k.split(".")[1] for k in m.state_dict() if k.startswith("model.ecg")})
    ['ecg_projector', 'ecg_tower']
    """

    config_class = Qwen3VLConfig
    _backbone_cls = ECGR1Qwen3VLModel
    saved_architecture = REFERENCE_ARCHITECTURE

    def __init__(self, config: Qwen3VLConfig) -> None:
        Qwen3VLForConditionalGeneration.__mro__[1].__init__(self, config)
        self._init_model(config)


class ECGR1Qwen2_5_VLForConditionalGeneration(
    _ECGGenerationMixin, Qwen2_5_VLForConditionalGeneration
):
    """Qwen2.5-VL + ECG tower/projector."""

    config_class = Qwen2_5_VLConfig
    _backbone_cls = ECGR1Qwen2_5_VLModel
    # transformers 4.x: the stock class renames old-layout keys on load with a regex that would
    # also move model.ecg_* under model.language_model; exclude the ECG modules.
    _checkpoint_conversion_mapping = {
        "^visual": "model.visual",
        r"^model(?!\.(language_model|visual|ecg_tower|ecg_projector))": "model.language_model",
    }

    def __init__(self, config: Qwen2_5_VLConfig) -> None:
        Qwen2_5_VLForConditionalGeneration.__mro__[1].__init__(self, config)
        self._init_model(config)


def ecg_counts_per_row(
    input_ids: torch.Tensor, ecg_token_id: int, tokens_per_ecg: int
) -> torch.Tensor:
    """Number of ECGs in each row of ``input_ids`` (pads / tokens per ECG).

    ``ecg_values`` is ordered row by row, so rows ``[a, b)`` of a batch own ECGs
    ``counts[:a].sum() : counts[:b].sum()``; :func:`slice_ecg_values` does that slicing (for
    trainers that split a batch into chunks).
    """
    return (input_ids == ecg_token_id).sum(-1) // int(tokens_per_ecg)


def slice_ecg_values(
    ecg_values: torch.Tensor | None,
    input_ids: torch.Tensor,
    start: int,
    end: int,
    ecg_token_id: int,
    tokens_per_ecg: int,
) -> torch.Tensor | None:
    """The ECGs belonging to rows ``start:end`` of ``input_ids`` (None if there are none)."""
    if ecg_values is None:
        return None
    counts = ecg_counts_per_row(input_ids, ecg_token_id, tokens_per_ecg)
    first = int(counts[:start].sum())
    last = first + int(counts[start:end].sum())
    return ecg_values[first:last] if last > first else None


def _signature_with_ecg(parent_forward: Any) -> inspect.Signature:
    sig = inspect.signature(parent_forward)
    params = list(sig.parameters.values())
    # mm_token_type_ids: accepted (and dropped) on transformers 4.x, whose forward lacks it,
    # so that processor outputs can be passed to generate() unchanged on every version.
    for name in ("mm_token_type_ids", "ecg_values"):
        if name not in sig.parameters:
            idx = next((i for i, q in enumerate(params) if q.kind is q.VAR_KEYWORD), len(params))
            params.insert(
                idx, inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
            )
    return sig.replace(parameters=params)


def _install_forward(cls: type, impl: Any, parent_forward: Any) -> None:
    """Give ``cls`` a forward whose *signature* is the stock one plus ``ecg_values``.

    HF ``generate`` (kwarg validation), ``Trainer`` (``remove_unused_columns``) and TRL inspect
    ``forward``'s signature; a bare ``(*args, **kwargs)`` would make them drop every input.
    """

    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        return impl(self, *args, **kwargs)

    forward.__doc__ = impl.__doc__
    forward.__name__ = "forward"
    forward.__qualname__ = f"{cls.__name__}.forward"
    forward.__signature__ = _signature_with_ecg(parent_forward)  # type: ignore[attr-defined]
    cls.forward = forward


_install_forward(ECGR1Qwen3VLModel, _ECGBackboneMixin.forward, Qwen3VLModel.forward)
_install_forward(ECGR1Qwen2_5_VLModel, _ECGBackboneMixin.forward, Qwen2_5_VLModel.forward)
_install_forward(
    ECGR1Qwen3VLForConditionalGeneration,
    _ECGGenerationMixin.forward,
    Qwen3VLForConditionalGeneration.forward,
)
_install_forward(
    ECGR1Qwen2_5_VLForConditionalGeneration,
    _ECGGenerationMixin.forward,
    Qwen2_5_VLForConditionalGeneration.forward,
)

MODEL_CLASSES: dict[str, type] = {
    "qwen3_vl": ECGR1Qwen3VLForConditionalGeneration,
    "qwen2_5_vl": ECGR1Qwen2_5_VLForConditionalGeneration,
}


def model_class_for_config(config: Any) -> type:
    """The ECG-R1 class for a config's ``model_type`` (``qwen3_vl`` or ``qwen2_5_vl``)."""
    # the class attribute: transformers 4.x's Qwen2.5-VL config forwards instance attribute
    # reads to its text config, whose model_type is "qwen2_5_vl_text"
    model_type = getattr(type(config), "model_type", None) or getattr(config, "model_type", None)
    try:
        return MODEL_CLASSES[model_type]
    except KeyError:
        raise ModelError(
            f"unsupported model_type {model_type!r}; supported: {sorted(MODEL_CLASSES)}"
        ) from None


def _register_v5_key_mapping() -> None:
    """transformers 5.x: load/save old-layout Qwen2.5-VL checkpoints (``visual.*``,
    ``model.layers.*``) into our class, keeping ``model.ecg_*`` where they are."""
    try:
        from transformers.conversion_mapping import (
            WeightRenaming,
            register_checkpoint_conversion_mapping,
        )
    except ImportError:  # 4.x uses _checkpoint_conversion_mapping (class attribute above)
        return
    mapping = [
        WeightRenaming(source_patterns=r"^visual", target_patterns="model.visual"),
        WeightRenaming(
            source_patterns=r"^model(?!\.(language_model|visual|ecg_tower|ecg_projector))",
            target_patterns="model.language_model",
        ),
    ]
    try:
        register_checkpoint_conversion_mapping(
            ECGR1Qwen2_5_VLForConditionalGeneration.__name__, mapping, overwrite=True
        )
    except Exception as exc:  # noqa: BLE001 - optional nicety, never fatal at import
        logger.debug("could not register Qwen2.5-VL key mapping: %s", exc)


_register_v5_key_mapping()
