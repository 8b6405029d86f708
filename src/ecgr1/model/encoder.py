"""The ECG encoder: a 1-D ViT over the 12 x 5000 tensor (ECG-CoCa ViT-B layout).

Parameter names follow the ECG-CoCa tower exactly (``conv1``, ``class_embedding``,
``positional_embedding``, ``ln_pre``, ``transformer.resblocks.<i>.{ln_1,attn,ln_2,mlp.c_fc,mlp.c_proj}``,
``ln_post``, ``proj``) so that an ECG-CoCa checkpoint, or the ``model.ecg_tower.*`` part of a
published ECG-R1 checkpoint, loads key for key. The language model receives the output of the
last residual block (all tokens, class token first), *before* ``ln_post``; ``ln_post`` and
``proj`` exist only so that contrastive checkpoints load without unexpected keys.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ecgr1.errors import ModelError

__all__ = [
    "ECGEncoderConfig",
    "ECGViT",
    "LoadReport",
    "load_ecg_coca_checkpoint",
    "map_ecg_coca_keys",
]


@dataclass
class ECGEncoderConfig:
    """Shape of the ECG ViT. Defaults are ECG-CoCa ViT-B as used by ECG-R1.

    Attributes
    ----------
    width : token width W (768).
    layers : number of residual attention blocks (12).
    heads : attention heads (12).
    leads : input channels (12, order of interchange spec section 3).
    patch_size : samples per patch; the patch spans all leads (50 = 100 ms at 500 Hz).
    seq_length : samples per ECG (5000 = 10 s at 500 Hz).
    mlp_ratio : hidden size of each block's MLP relative to W (4).
    output_dim : width of the contrastive ``proj`` (512); unused by ECG-R1.

    Example
    -------
    >>> cfg = ECGEncoderConfig(width=32, layers=1, heads=2)
    >>> cfg.num_tokens
    101
    """

    width: int = 768
    layers: int = 12
    heads: int = 12
    leads: int = 12
    patch_size: int = 50
    seq_length: int = 5000
    mlp_ratio: float = 4.0
    output_dim: int = 512

    def __post_init__(self) -> None:
        if self.seq_length % self.patch_size:
            raise ModelError(
                f"seq_length {self.seq_length} is not a multiple of patch_size {self.patch_size}"
            )
        if self.width % self.heads:
            raise ModelError(f"width {self.width} is not divisible by heads {self.heads}")

    @property
    def num_patches(self) -> int:
        """Patch tokens per ECG (seq_length / patch_size)."""
        return self.seq_length // self.patch_size

    @property
    def num_tokens(self) -> int:
        """Tokens the encoder emits per ECG: patches + 1 class token (101 by default)."""
        return self.num_patches + 1

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (what is stored as ``ecg_model_config`` on the model config)."""
        return asdict(self)

    @classmethod
    def from_any(cls, value: Any) -> ECGEncoderConfig:
        """Build from a dict, an existing config, ``None`` or a named preset.

        Published ECG-R1 configs store a preset *name* (``"coca_ViT-B-32"``) rather than a dict;
        every ECG-CoCa preset has the ViT-B layout, so a name gives the defaults. Unknown dict
        keys (e.g. open_clip's ``ecg_cfg`` nesting) are tolerated.
        """
        if value is None or isinstance(value, str):
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            data = dict(value.get("ecg_cfg", value))
            if "ecg_cfg" in value and "embed_dim" in value:  # open_clip model config file
                data.setdefault("output_dim", value["embed_dim"])
            # open_clip / ECG-CoCa spell some fields differently
            aliases = {
                "patch": "patch_size",
                "num_leads": "leads",
                "lead_num": "leads",
                "seq_len": "seq_length",
                "ecg_size": "seq_length",
                "embed_dim": "output_dim",
            }
            for src, dst in aliases.items():
                if src in data and dst not in data:
                    data[dst] = data.pop(src)
            if "head_width" in data and "heads" not in data:
                data["heads"] = int(data.get("width", cls.width)) // int(data["head_width"])
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in known})
        raise ModelError(f"cannot build an ECG encoder config from {type(value).__name__}")


class _MLP(nn.Sequential):
    """c_fc -> GELU -> c_proj (names as in ECG-CoCa / open_clip)."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(width, hidden)),
                    ("gelu", nn.GELU()),
                    ("c_proj", nn.Linear(hidden, width)),
                ]
            )
        )


class FrozenLayerNorm(nn.Module):
    """LayerNorm whose ``weight``/``bias`` are buffers (same state-dict names as nn.LayerNorm).

    Used for the contrastive head (``ln_post``), which checkpoints carry but ECG-R1 never runs:
    as buffers these tensors load and save like parameters but can never be "unused
    parameters" for DDP/ZeRO or be picked up by an optimizer.
    """

    def __init__(self, width: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(width))
        self.register_buffer("bias", torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Layer norm over the last dimension with the stored (buffer) weight and bias."""
        return nn.functional.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


class ResidualAttentionBlock(nn.Module):
    """Pre-norm block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = _MLP(width, int(width * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-norm block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))`` (batch first)."""
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class _Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(
            [ResidualAttentionBlock(width, heads, mlp_ratio) for _ in range(layers)]
        )
        self.gradient_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.resblocks:
            if self.gradient_checkpointing and self.training and x.requires_grad:
                # Recompute activations in backward: the tower is small next to the LLM, but
                # 12 x 101 tokens per ECG still adds up at large batch sizes.
                x = torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x


class ECGViT(nn.Module):
    """1-D ViT ECG encoder: ``(B, leads, seq_length)`` mV -> ``(B, num_tokens, width)``.

    Output is the last residual block's tokens (class token first) before ``ln_post``, as
    ECG-R1 feeds them to its projector. NaN/inf inputs are replaced by 0. ``ln_post`` and
    ``proj`` (contrastive head, unused here) are buffers: they load and save under their
    checkpoint names but are not trainable parameters.

    Example
    -------
    >>> import torch
    >>> enc = ECGViT(ECGEncoderConfig(width=16, layers=1, heads=2, seq_length=500))
    >>> enc(torch.zeros(2, 12, 500)).shape
    torch.Size([2, 11, 16])
    """

    def __init__(self, config: ECGEncoderConfig | dict | None = None) -> None:
        super().__init__()
        cfg = ECGEncoderConfig.from_any(config)
        self.config = cfg
        w = cfg.width
        self.conv1 = nn.Conv1d(
            cfg.leads, w, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False
        )
        self.class_embedding = nn.Parameter(torch.empty(w))
        self.positional_embedding = nn.Parameter(torch.empty(cfg.num_tokens, w))
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = _Transformer(w, cfg.layers, cfg.heads, cfg.mlp_ratio)
        # contrastive head: in the state dict (checkpoints have it) but unused by forward()
        self.ln_post = FrozenLayerNorm(w)
        self.register_buffer("proj", torch.empty(w, cfg.output_dim))
        self.reset_parameters()

    @property
    def num_tokens(self) -> int:
        """Tokens per ECG (101 for the defaults)."""
        return self.config.num_tokens

    @property
    def width(self) -> int:
        """Token width W."""
        return self.config.width

    def reset_parameters(self) -> None:
        """open_clip-style initialisation (scales from the ViT width)."""
        w = self.config.width
        scale = w**-0.5
        nn.init.normal_(self.class_embedding, std=scale)
        nn.init.normal_(self.positional_embedding, std=0.01)
        with torch.no_grad():
            self.proj.normal_(std=scale)
        nn.init.kaiming_uniform_(self.conv1.weight, a=math.sqrt(5))
        for block in self.transformer.resblocks:
            block.attn._reset_parameters()

    def forward(self, ecg: torch.Tensor) -> torch.Tensor:
        """Encode ECGs.

        Parameters
        ----------
        ecg : float tensor ``(B, leads, seq_length)`` in millivolts.

        Returns
        -------
        ``(B, num_tokens, width)`` tokens of the last block, before ``ln_post``.
        """
        if ecg.ndim == 2:
            ecg = ecg.unsqueeze(0)
        cfg = self.config
        if ecg.ndim != 3 or ecg.shape[1] != cfg.leads or ecg.shape[2] != cfg.seq_length:
            raise ModelError(
                f"ECG tensor must be (n, {cfg.leads}, {cfg.seq_length}), got {tuple(ecg.shape)}"
            )
        x = torch.nan_to_num(ecg.to(self.conv1.weight.dtype), nan=0.0, posinf=0.0, neginf=0.0)
        x = self.conv1(x).transpose(1, 2)  # (B, patches, W)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        return self.transformer(x)

    def pooled(self, ecg: torch.Tensor) -> torch.Tensor:
        """Contrastive embedding (class token -> ``ln_post`` -> ``proj``); not used by ECG-R1."""
        return self.ln_post(self.forward(ecg)[:, 0]) @ self.proj

    def set_trainable(self, trainable: bool = True) -> None:
        """Set ``requires_grad`` of every parameter (all of them take part in :meth:`forward`;
        the unused contrastive head ``ln_post``/``proj`` is stored as buffers)."""
        self.requires_grad_(trainable)

    def set_gradient_checkpointing(self, enable: bool = True) -> None:
        """Turn activation checkpointing of the residual blocks on or off."""
        self.transformer.gradient_checkpointing = enable


# --------------------------------------------------------------------------------------------
# ECG-CoCa checkpoint loading

# Prefixes seen in front of the tower's own names: DDP (``module.``), open_clip CoCa towers
# (``ecg.``, ``visual.``), ECG-R1 (``model.ecg_tower.``) and ad-hoc saves.
_TOWER_PREFIXES: tuple[str, ...] = (
    "model.ecg_tower.",
    "ecg_tower.",
    "ecg_encoder.",
    "ecg.",
    "visual.",
    "encoder.",
)
_TOWER_ROOTS = (
    "conv1.",
    "class_embedding",
    "positional_embedding",
    "ln_pre.",
    "transformer.",
    "ln_post.",
    "proj",
)


@dataclass
class LoadReport:
    """What :func:`load_ecg_coca_checkpoint` did.

    Attributes
    ----------
    loaded : tower keys filled from the checkpoint.
    missing : tower keys the checkpoint lacks (left at their current values).
    unexpected : checkpoint keys that look like tower keys but do not fit (name or shape).
    ignored : checkpoint keys outside the tower (text tower, logit scale, ...).
    """

    loaded: list[str]
    missing: list[str]
    unexpected: list[str]
    ignored: list[str]

    def __str__(self) -> str:
        return (
            f"loaded {len(self.loaded)} tensors; missing {len(self.missing)}"
            f"{' ' + str(self.missing[:5]) if self.missing else ''}; unexpected "
            f"{len(self.unexpected)}{' ' + str(self.unexpected[:5]) if self.unexpected else ''};"
            f" ignored {len(self.ignored)} non-tower keys"
        )


def _strip(key: str) -> str | None:
    """Tower-relative name of a checkpoint key, or None when it is not a tower key."""
    k = key
    for _ in range(3):  # nested wrappers such as "module.model.ecg_tower."
        if k.startswith("module."):
            k = k[len("module.") :]
        for p in _TOWER_PREFIXES:
            if k.startswith(p):
                return k[len(p) :]
    if k.startswith(_TOWER_ROOTS) and not k.startswith("transformer.h."):
        return k
    return None


def map_ecg_coca_keys(
    state_dict: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map checkpoint keys to ECGViT names.

    Returns ``(mapped, ignored)``: ``mapped`` uses the tower-relative names, ``ignored`` lists
    keys that belong to something else (text tower, ``logit_scale``...).

    Example
    -------
    >>> import torch
    >>> m, ign = map_ecg_coca_keys({"module.ecg.conv1.weight": torch.zeros(1),
    ...                             "module.text.token_embedding.weight": torch.zeros(1)})
    >>> sorted(m), ign
    (['conv1.weight'], ['module.text.token_embedding.weight'])
    """
    mapped: dict[str, torch.Tensor] = {}
    ignored: list[str] = []
    for key, value in state_dict.items():
        name = _strip(key)
        if name is None:
            ignored.append(key)
        else:
            name = re.sub(r"^transformer\.layers\.", "transformer.resblocks.", name)
            mapped[name] = value
    return mapped, ignored


def _read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    p = Path(path)
    if not p.exists():
        raise ModelError("ECG-CoCa checkpoint not found", str(p))
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p))
    obj = torch.load(str(p), map_location="cpu", weights_only=False)
    for key in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ModelError(f"unrecognised checkpoint object {type(obj).__name__}", str(p))
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def load_ecg_coca_checkpoint(
    module: ECGViT, path: str | Path | dict[str, torch.Tensor], strict: bool = False
) -> LoadReport:
    """Load ECG-CoCa (or ECG-R1 ``model.ecg_tower.*``) weights into ``module``.

    Parameters
    ----------
    module : the ECGViT to fill (in place).
    path : ``.pt``/``.pth``/``.bin`` (open_clip ``{"state_dict": ...}`` or a bare state dict),
        ``.safetensors``, or an in-memory state dict.
    strict : raise :class:`ModelError` when tower keys are missing or do not fit.

    Returns
    -------
    :class:`LoadReport` listing loaded / missing / unexpected / ignored keys.
    """
    raw = dict(path) if isinstance(path, dict) else _read_checkpoint(path)
    mapped, ignored = map_ecg_coca_keys(raw)
    own = module.state_dict()
    good: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    for name, value in mapped.items():
        if name in own and tuple(own[name].shape) == tuple(value.shape):
            good[name] = value
        elif name in own and name == "positional_embedding" and value.ndim == 2:
            unexpected.append(f"{name} (shape {tuple(value.shape)} vs {tuple(own[name].shape)})")
        else:
            unexpected.append(
                name
                if name not in own
                else f"{name} (shape {tuple(value.shape)} vs {tuple(own[name].shape)})"
            )
    missing = sorted(set(own) - set(good))
    if strict and (missing or unexpected):
        raise ModelError(
            f"ECG-CoCa checkpoint does not fit the encoder: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}",
            None if isinstance(path, dict) else str(path),
        )
    module.load_state_dict(good, strict=False)
    return LoadReport(sorted(good), missing, sorted(unexpected), sorted(ignored))
