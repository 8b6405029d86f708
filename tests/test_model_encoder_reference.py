"""The ECG encoder against ECG-R1's own ECG-CoCa tower.

``tests/data/encoder_reference.npz`` holds the weights, input and output of a small seeded tower
built and run by the reference code (``scripts/make_encoder_reference.py``, which imports
``ecg_coca/open_clip`` from an ECG-R1 checkout: ``EcgTransformer`` run with
``output_last_transformer_layer=True``, as ECG-R1 runs it). Our :class:`ECGViT` must give the
same tokens from the same weights. The sensitivity tests show that the comparison catches the
mistakes a re-implementation is likely to make (attention across the batch instead of the
tokens, a missing 1/sqrt(d) attention scale, post-norm instead of pre-norm blocks).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ecgr1.model.encoder import (
    ECGEncoderConfig,
    ECGViT,
    ResidualAttentionBlock,
    load_ecg_coca_checkpoint,
)

REFERENCE = Path(__file__).parent / "data" / "encoder_reference.npz"
SCRIPT = Path(__file__).parents[1] / "scripts" / "make_encoder_reference.py"
# float32 on CPU, same operations in a different order (batch-first attention, fused kernels)
ATOL, RTOL = 2e-5, 1e-4


@pytest.fixture(scope="module")
def reference() -> dict:
    with np.load(REFERENCE) as f:
        data = {k: f[k] for k in f.files}
    data["config"] = json.loads(str(data["config"]))
    return data


def _encoder(reference: dict) -> ECGViT:
    c = reference["config"]
    cfg = ECGEncoderConfig(
        width=c["width"],
        layers=c["layers"],
        heads=c["width"] // c["head_width"],
        leads=c["lead_num"],
        patch_size=c["patch_size"],
        seq_length=c["seq_length"],
        mlp_ratio=c["mlp_ratio"],
        output_dim=c["embed_dim"],
    )
    enc = ECGViT(cfg)
    weights = {
        k[len("weight/") :]: torch.from_numpy(v)
        for k, v in reference.items()
        if k.startswith("weight/")
    }
    report = load_ecg_coca_checkpoint(enc, weights, strict=True)
    assert not report.missing and not report.unexpected and not report.ignored
    return enc.eval()


def _run(enc: ECGViT, reference: dict) -> torch.Tensor:
    with torch.no_grad():
        return enc(torch.from_numpy(reference["input"]))


def test_reference_file_is_what_the_script_writes(reference):
    c = reference["config"]
    assert len(str(reference["reference_commit"])) == 40
    int(str(reference["reference_commit"]), 16)  # a git commit, not "unknown"
    # several heads and a batch of several ECGs: head-split and batch/token-axis mistakes show
    assert c["width"] // c["head_width"] >= 2 and reference["input"].shape[0] >= 2
    n_tokens = c["seq_length"] // c["patch_size"] + 1
    assert reference["output"].shape == (reference["input"].shape[0], n_tokens, c["width"])
    assert REFERENCE.stat().st_size < 1_000_000


def test_encoder_reproduces_the_reference_tower(reference):
    out = _run(_encoder(reference), reference)
    torch.testing.assert_close(out, torch.from_numpy(reference["output"]), atol=ATOL, rtol=RTOL)


def test_each_ecg_is_encoded_on_its_own(reference):
    """One ECG alone gives the same tokens as inside the batch (no mixing across ECGs)."""
    enc = _encoder(reference)
    with torch.no_grad():
        alone = enc(torch.from_numpy(reference["input"][1:2]))
    torch.testing.assert_close(
        alone[0], torch.from_numpy(reference["output"][1]), atol=ATOL, rtol=RTOL
    )


# --------------------------------------------------------------------------- sensitivity


def _attn(block: ResidualAttentionBlock, h: torch.Tensor, scale: float | None) -> torch.Tensor:
    """Multi-head self-attention written out, with a chosen score scale."""
    mha = block.attn
    b, t, w = h.shape
    heads = mha.num_heads
    q, k, v = torch.nn.functional.linear(h, mha.in_proj_weight, mha.in_proj_bias).chunk(3, -1)
    q, k, v = (z.reshape(b, t, heads, w // heads).transpose(1, 2) for z in (q, k, v))
    d = w // heads
    scores = (q @ k.transpose(-1, -2)) * (d**-0.5 if scale is None else scale)
    o = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, w)
    return mha.out_proj(o)


def _batch_axis(self: ResidualAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    h = self.ln_1(x).transpose(0, 1)  # (tokens, batch, W) read as batch-first
    x = x + self.attn(h, h, h, need_weights=False)[0].transpose(0, 1)
    return x + self.mlp(self.ln_2(x))


def _no_scale(self: ResidualAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    x = x + _attn(self, self.ln_1(x), scale=1.0)
    return x + self.mlp(self.ln_2(x))


def _post_norm(self: ResidualAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    x = self.ln_1(x + self.attn(x, x, x, need_weights=False)[0])
    return self.ln_2(x + self.mlp(x))


def _written_out(self: ResidualAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    x = x + _attn(self, self.ln_1(x), scale=None)
    return x + self.mlp(self.ln_2(x))


@pytest.mark.parametrize("mutant", [_batch_axis, _no_scale, _post_norm], ids=lambda f: f.__name__)
def test_comparison_catches_encoder_mistakes(reference, monkeypatch, mutant):
    """Each mistake moves the output far outside the tolerance of the reference test."""
    enc = _encoder(reference)
    monkeypatch.setattr(ResidualAttentionBlock, "forward", mutant)
    out = _run(enc, reference)
    expected = torch.from_numpy(reference["output"])
    err = (out - expected).abs().max().item()
    assert err > 100 * (ATOL + RTOL * expected.abs().max().item()), err


def test_written_out_attention_matches_the_reference(reference, monkeypatch):
    """The explicit attention of the sensitivity tests is right (with the 1/sqrt(d) scale),
    so the mutants above differ only by their mistake."""
    enc = _encoder(reference)
    monkeypatch.setattr(ResidualAttentionBlock, "forward", _written_out)
    out = _run(enc, reference)
    torch.testing.assert_close(out, torch.from_numpy(reference["output"]), atol=ATOL, rtol=RTOL)


def test_generator_script_does_not_import_ecgr1():
    tree = ast.parse(SCRIPT.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "ecgr1" not in imported
    assert {"torch", "numpy"} <= imported
