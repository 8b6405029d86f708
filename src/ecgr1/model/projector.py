"""Projector from ECG-encoder width to LLM hidden size (``linear`` or ``mlp{N}x_gelu``)."""

from __future__ import annotations

import re

from torch import nn

from ecgr1.errors import ModelError

__all__ = ["PROJECTOR_TYPES", "build_projector"]

PROJECTOR_TYPES = ("linear", "mlp{N}x_gelu")
_MLP_RE = re.compile(r"^mlp(\d+)x_gelu$")


def build_projector(projector_type: str, in_dim: int, out_dim: int) -> nn.Module:
    """Build the projector.

    ``linear`` is one ``nn.Linear``; ``mlpNx_gelu`` is ``nn.Sequential`` of N linears with GELU
    in between, so ``mlp2x_gelu`` has keys ``0.weight, 0.bias, 2.weight, 2.bias`` as in the
    published ECG-R1 checkpoints.

    Example
    -------
    >>> p = build_projector("mlp2x_gelu", 8, 4)
    >>> sorted(p.state_dict())
    ['0.bias', '0.weight', '2.bias', '2.weight']
    """
    if projector_type == "linear":
        return nn.Linear(in_dim, out_dim)
    match = _MLP_RE.match(projector_type or "")
    if not match or int(match.group(1)) < 1:
        raise ModelError(
            f"unknown projector type {projector_type!r} (use 'linear' or 'mlpNx_gelu')"
        )
    layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    for _ in range(int(match.group(1)) - 1):
        layers += [nn.GELU(), nn.Linear(out_dim, out_dim)]
    return nn.Sequential(*layers)
