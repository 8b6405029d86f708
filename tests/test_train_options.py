"""Training options: options file vs flags, freeze switches, LoRA/reward specs, CLI errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgr1.cli import build_parser, main
from ecgr1.errors import InvalidInputError

pytest.importorskip("trl")

from ecgr1.cli.train import options_from_args  # noqa: E402
from ecgr1.train.common import parameter_group, parse_lora, resolve_bf16  # noqa: E402
from ecgr1.train.grpo import parse_reward_weights  # noqa: E402


def _parse(argv: list[str]):
    return options_from_args(build_parser().parse_args(argv))


def test_flags_override_options_file_which_overrides_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "sft.yaml"
    cfg.write_text("lr: 0.5\nmax_steps: 7\nbatch_size: 3\ntrain_vision: true\ndata: rows.jsonl\n")
    stage, opts = _parse(
        ["train", "sft", "--model", "m", "--out", "o", "--config", str(cfg), "--lr", "0.25",
         "--freeze-ecg-tower"]
    )  # fmt: skip
    assert stage == "sft"
    assert opts.lr == 0.25  # flag wins
    assert opts.max_steps == 7 and opts.batch_size == 3  # from the file
    assert opts.grad_accum == 1 and opts.modality_dropout == 0.5  # defaults
    assert opts.data == ["rows.jsonl"]
    assert opts.trainable() == {
        "vision": True,
        "ecg_tower": False,
        "projector": True,
        "llm": True,
    }


def test_grpo_dapo_options_and_reward_weights(tmp_path: Path) -> None:
    _, opts = _parse(
        ["train", "grpo", "--model", "m", "--data", "a.jsonl", "b.jsonl", "--out", "o",
         "--loss-type", "dr_grpo", "--epsilon-high", "0.3", "--beta", "0.01",
         "--no-mask-truncated-completions", "--no-dynamic-sampling",
         "--reward-weights", "format=0.5,diagnosis=2"]
    )  # fmt: skip
    assert opts.data == ["a.jsonl", "b.jsonl"]
    assert (opts.loss_type, opts.epsilon_high, opts.beta) == ("dr_grpo", 0.3, 0.01)
    assert not opts.mask_truncated_completions and not opts.dynamic_sampling
    assert opts.reward_weights == {"format": 0.5, "diagnosis": 2.0}
    _, defaults = _parse(["train", "grpo", "--model", "m", "--data", "a", "--out", "o"])
    assert (defaults.loss_type, defaults.beta, defaults.epsilon_high) == ("dapo", 0.0, 0.28)
    assert defaults.mask_truncated_completions and defaults.dynamic_sampling


def test_bad_options_are_clear_errors(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("learning_rat: 1\n")
    with pytest.raises(InvalidInputError, match="learning_rat"):
        _parse(["train", "sft", "--model", "m", "--data", "d", "--out", "o", "--config", str(cfg)])
    assert main(["train", "sft", "--model", "m", "--data", "d"]) == 2
    assert "--out" in capsys.readouterr().err
    with pytest.raises(InvalidInputError):
        parse_reward_weights("format=1,fluency=2")
    with pytest.raises(InvalidInputError):
        parse_lora("sixteen")


def test_small_parsers() -> None:
    assert parse_lora("16,32") == (16, 32)
    assert parse_lora("8") == (8, 16)
    assert parse_lora(None) is None
    assert resolve_bf16("false") is False and resolve_bf16("true") is True
    assert parameter_group("model.visual.blocks.0.attn.qkv.weight") == "vision"
    assert (
        parameter_group("base_model.model.model.ecg_tower.modules_to_save.default.conv1.weight")
        == "ecg_tower"
    )
    assert parameter_group("model.ecg_projector.0.weight") == "projector"
    assert parameter_group("model.language_model.layers.0.mlp.up_proj.weight") == "llm"
    assert parameter_group("lm_head.weight") == "llm"
