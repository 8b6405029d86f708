"""The CPU-testable parts of the full-size GPU timing (``scripts/gpu_smoke.sh``): the Qwen3-VL-8B
configuration written out in the package, meta-device construction of the real size, and
materialisation plus every timed phase with a scaled-down configuration."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from ecgr1.train import full_size  # noqa: E402

# Qwen/Qwen3-VL-8B-Instruct: 8,767,123,696 parameters (LLM + vision tower + mergers)
QWEN3_VL_8B_PARAMETERS = 8_767_123_696


def test_the_8b_configuration_builds_on_meta_at_the_published_size() -> None:
    config = full_size.load_config()
    text, vision = config.text_config, config.vision_config
    assert (text.hidden_size, text.num_hidden_layers, text.num_key_value_heads) == (4096, 36, 8)
    assert (vision.depth, vision.deepstack_visual_indexes) == (27, [8, 16, 24])
    assert config.ecg_model_config == "coca_ViT-B-32" and config.ecg_projector_type == "mlp2x_gelu"
    # the ECG token ids fit in the embedding, as in ECG-R1-8B (no resize)
    assert max(full_size.ECG_TOKEN_IDS.values()) < text.vocab_size
    model = full_size.build_on_meta(config)
    assert all(p.is_meta for p in model.parameters())
    ecg = sum(p.numel() for n, p in model.named_parameters() if ".ecg_" in n)
    qwen = sum(p.numel() for n, p in model.named_parameters() if ".ecg_" not in n)
    assert qwen == QWEN3_VL_8B_PARAMETERS
    # ViT-B ECG tower (~86 M) and a 768 -> 4096 -> 4096 MLP projector (~20 M)
    assert 80e6 < ecg < 120e6


def test_materialise_fills_every_tensor_and_recomputes_buffers() -> None:
    config = full_size.load_config(full_size.SCALED_DOWN_CONFIG, full_size.SCALED_DOWN_ENCODER)
    model = full_size.build_on_meta(config)
    full_size.materialise(model, config, "cpu", torch.float32, seed=3)
    assert not any(p.is_meta for p in model.parameters())
    assert not any(b.is_meta for b in model.buffers())
    # rotary frequencies equal those of a model built the ordinary way
    from ecgr1.model.modeling import model_class_for_config

    reference = dict(model_class_for_config(config)(config).named_buffers())
    rotary = [n for n, _ in model.named_buffers() if "inv_freq" in n]
    assert len(rotary) == 4  # vision and text, current and original
    for name, buffer in model.named_buffers():
        assert torch.isfinite(buffer).all(), name
        if name in rotary:  # deterministic (the ECG tower's head buffers are random)
            torch.testing.assert_close(buffer, reference[name], msg=name)
    weight = model.model.language_model.layers[0].self_attn.q_proj.weight
    assert abs(float(weight.std()) - 0.02) < 0.002
    norm = model.model.language_model.norm.weight
    assert torch.equal(norm, torch.ones_like(norm))
    # the same seed gives the same weights
    again = full_size.materialise(full_size.build_on_meta(config), config, "cpu", torch.float32, 3)
    torch.testing.assert_close(again.lm_head.weight, model.lm_head.weight)


def test_scaled_down_run_times_every_phase_and_prints_one_table() -> None:
    report = full_size.run(600, scaled_down=True, device="cpu", steps=1)
    rows = {r["phase"]: r for r in report["rows"]}
    assert list(rows) == ["build", "sft", "grpo-generate", "grpo-loss", "vllm"]
    for phase in ("sft", "grpo-generate", "grpo-loss"):
        assert len(rows[phase]["step_s"]) == 1 and rows[phase]["step_s"][0] > 0, phase
        assert rows[phase]["tokens_per_s"] > 0 and not rows[phase]["note"], phase
    lengths = full_size.SCALED_DOWN
    assert (
        f"{lengths.generations} x {lengths.completion_tokens} new" in rows["grpo-generate"]["what"]
    )
    assert rows["vllm"]["note"]  # installed or not, the row says why it is not timed
    table = full_size.format_table(report)
    assert len(table.splitlines()) == 2 + len(rows)
    # a spent budget skips the remaining phases but still reports them
    spent = full_size.run(0, scaled_down=True, device="cpu", steps=1)
    notes = {r["phase"]: r["note"] for r in spent["rows"]}
    assert notes["sft"] == notes["grpo-loss"] == "skipped: time budget spent"
