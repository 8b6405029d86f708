"""ECG encoder (ECG-CoCa layout), checkpoint key mapping and projector."""

from __future__ import annotations

import pytest
import torch

from ecgr1.errors import ModelError
from ecgr1.model.encoder import ECGEncoderConfig, ECGViT, load_ecg_coca_checkpoint
from ecgr1.model.projector import build_projector

W, L, HEADS = 16, 2, 2


@pytest.fixture(scope="module")
def encoder() -> ECGViT:
    torch.manual_seed(0)
    return ECGViT(ECGEncoderConfig(width=W, layers=L, heads=HEADS)).eval()


def spec_keys(width_layers: int) -> set[str]:
    """Tower parameter names listed in interchange.md section 3."""
    keys = {
        "conv1.weight",
        "class_embedding",
        "positional_embedding",
        "ln_pre.weight",
        "ln_pre.bias",
        "ln_post.weight",
        "ln_post.bias",
        "proj",
    }
    for i in range(width_layers):
        b = f"transformer.resblocks.{i}."
        keys |= {
            b + s
            for s in (
                "ln_1.weight",
                "ln_1.bias",
                "attn.in_proj_weight",
                "attn.in_proj_bias",
                "attn.out_proj.weight",
                "attn.out_proj.bias",
                "ln_2.weight",
                "ln_2.bias",
                "mlp.c_fc.weight",
                "mlp.c_fc.bias",
                "mlp.c_proj.weight",
                "mlp.c_proj.bias",
            )
        }
    return keys


def test_defaults_are_ecg_coca_vit_b():
    cfg = ECGEncoderConfig()
    assert (cfg.width, cfg.layers, cfg.heads, cfg.leads, cfg.patch_size, cfg.seq_length) == (
        768,
        12,
        12,
        12,
        50,
        5000,
    )
    assert cfg.num_tokens == 101
    # a preset name (as stored by published ECG-R1 configs) means the defaults
    assert ECGEncoderConfig.from_any("coca_ViT-B-32") == cfg
    # an ECG-CoCa (open_clip style) model config file
    coca = {
        "embed_dim": 512,
        "ecg_cfg": {
            "width": 768,
            "layers": 12,
            "head_width": 64,
            "patch_size": 50,
            "seq_length": 5000,
            "lead_num": 12,
        },
    }
    assert ECGEncoderConfig.from_any(coca) == cfg


def test_parameter_names_and_shapes_follow_spec(encoder):
    sd = encoder.state_dict()
    assert set(sd) == spec_keys(L)
    assert sd["conv1.weight"].shape == (W, 12, 50)
    assert sd["positional_embedding"].shape == (101, W)
    assert sd["transformer.resblocks.0.attn.in_proj_weight"].shape == (3 * W, W)
    assert sd["transformer.resblocks.1.mlp.c_fc.weight"].shape == (4 * W, W)
    assert sd["transformer.resblocks.1.mlp.c_proj.weight"].shape == (W, 4 * W)
    assert sd["proj"].shape == (W, 512)
    assert encoder.conv1.bias is None


def test_output_is_last_block_before_ln_post(encoder):
    x = torch.randn(2, 12, 5000)
    with torch.no_grad():
        out = encoder(x)
        # recompute by hand: patchify, class token, positions, ln_pre, pre-norm blocks
        h = encoder.conv1(x).transpose(1, 2)
        h = torch.cat([encoder.class_embedding.expand(2, 1, -1), h], 1)
        h = encoder.ln_pre(h + encoder.positional_embedding)
        for blk in encoder.transformer.resblocks:
            a = blk.ln_1(h)
            h = h + blk.attn(a, a, a, need_weights=False)[0]
            h = h + blk.mlp.c_proj(torch.nn.functional.gelu(blk.mlp.c_fc(blk.ln_2(h))))
    assert out.shape == (2, 101, W)
    torch.testing.assert_close(out, h)
    with torch.no_grad():  # ln_post does not take part
        encoder.ln_post.weight.mul_(3.0)
        torch.testing.assert_close(encoder(x), out)
        encoder.ln_post.weight.div_(3.0)


def test_nan_and_inf_become_zero(encoder):
    x = torch.randn(1, 12, 5000)
    x[0, 3, 100:200] = float("nan")
    x[0, 5, 7] = float("inf")
    clean = x.clone()
    clean[0, 3, 100:200] = 0.0
    clean[0, 5, 7] = 0.0
    with torch.no_grad():
        torch.testing.assert_close(encoder(x), encoder(clean))


def test_wrong_shape_is_a_model_error(encoder):
    with pytest.raises(ModelError):
        encoder(torch.zeros(1, 12, 4000))


def test_ecg_coca_checkpoint_mapping(encoder, tmp_path):
    src = ECGViT(ECGEncoderConfig(width=W, layers=L, heads=HEADS))
    ckpt = {f"module.ecg.{k}": v.clone() + 1.0 for k, v in src.state_dict().items()}
    ckpt["module.text.token_embedding.weight"] = torch.zeros(3, 3)
    ckpt["module.logit_scale"] = torch.zeros(())
    ckpt["module.ecg.attn_pool.query"] = torch.zeros(4, W)  # CoCa pooler: not in our tower
    del ckpt["module.ecg.ln_post.bias"]
    path = tmp_path / "epoch_10.pt"
    torch.save({"epoch": 10, "state_dict": ckpt}, path)
    target = ECGViT(ECGEncoderConfig(width=W, layers=L, heads=HEADS))
    report = load_ecg_coca_checkpoint(target, path)
    assert report.missing == ["ln_post.bias"]
    assert report.unexpected == ["attn_pool.query"]
    assert set(report.ignored) == {"module.text.token_embedding.weight", "module.logit_scale"}
    assert len(report.loaded) == len(spec_keys(L)) - 1
    torch.testing.assert_close(target.conv1.weight, src.conv1.weight + 1.0)
    with pytest.raises(ModelError):
        load_ecg_coca_checkpoint(target, path, strict=True)


def test_ecg_r1_prefix_and_safetensors(tmp_path):
    from safetensors.torch import save_file

    src = ECGViT(ECGEncoderConfig(width=W, layers=1, heads=HEADS))
    sd = {f"model.ecg_tower.{k}": v.contiguous() for k, v in src.state_dict().items()}
    sd["model.ecg_projector.0.weight"] = torch.zeros(2, W)
    save_file(sd, str(tmp_path / "tower.safetensors"))
    target = ECGViT(ECGEncoderConfig(width=W, layers=1, heads=HEADS))
    report = load_ecg_coca_checkpoint(target, tmp_path / "tower.safetensors")
    assert not report.missing and not report.unexpected
    assert report.ignored == ["model.ecg_projector.0.weight"]
    torch.testing.assert_close(target.positional_embedding, src.positional_embedding)


def test_shape_mismatch_is_reported_not_loaded():
    src = ECGViT(ECGEncoderConfig(width=W, layers=1, heads=HEADS, patch_size=25))
    target = ECGViT(ECGEncoderConfig(width=W, layers=1, heads=HEADS))
    before = target.conv1.weight.clone()
    report = load_ecg_coca_checkpoint(target, dict(src.state_dict()))
    assert any(u.startswith("conv1.weight") for u in report.unexpected)
    assert "conv1.weight" in report.missing
    torch.testing.assert_close(target.conv1.weight, before)


@pytest.mark.parametrize(
    ("kind", "keys"),
    [
        ("linear", {"weight", "bias"}),
        ("mlp2x_gelu", {"0.weight", "0.bias", "2.weight", "2.bias"}),
        ("mlp3x_gelu", {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}),
    ],
)
def test_projector_layouts(kind, keys):
    proj = build_projector(kind, 8, 5)
    assert set(proj.state_dict()) == keys
    assert proj(torch.zeros(3, 101, 8)).shape == (3, 101, 5)


def test_mlp2x_gelu_is_linear_gelu_linear():
    proj = build_projector("mlp2x_gelu", 4, 6)
    x = torch.randn(2, 4)
    expected = proj[2](torch.nn.functional.gelu(proj[0](x)))
    torch.testing.assert_close(proj(x), expected)
    assert proj[0].weight.shape == (6, 4) and proj[2].weight.shape == (6, 6)


def test_unknown_projector_type():
    with pytest.raises(ModelError):
        build_projector("mlp_relu", 4, 4)


def test_contrastive_head_is_buffers_and_every_parameter_gets_gradient():
    enc = ECGViT(ECGEncoderConfig(width=W, layers=1, heads=HEADS))
    assert {n for n, _ in enc.named_buffers()} == {"ln_post.weight", "ln_post.bias", "proj"}
    enc(torch.randn(2, 12, 5000)).sum().backward()
    assert all(p.grad is not None for p in enc.parameters())
    enc.set_trainable(False)
    assert not any(p.requires_grad for p in enc.parameters())
    assert enc.pooled(torch.zeros(1, 12, 5000)).shape == (1, 512)
