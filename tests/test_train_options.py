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
    assert opts.system_prompt is None
    _, grpo = _parse(
        ["train", "grpo", "--model", "m", "--data", "d", "--out", "o", "--system-prompt", ""]
    )
    assert grpo.system_prompt == ""  # '' means no system turn, not "use the default"
    assert opts.trainable() == {
        "vision": True,
        "merger": True,  # follows the vision tower unless set
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


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert needle in lines[0], lines[0]


TEXT_ROW = '{"id": "t", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}], "solution": "<|answer|>x<|/answer|>"}\n'


@pytest.mark.parametrize("stage", ["sft", "grpo"])
def test_train_cli_errors_are_one_line_and_exit_2(stage: str, tmp_path: Path, capsys) -> None:
    """Missing model folder, a bad JSONL line, a missing ECG file: one line on stderr (no
    traceback without --debug), exit status 2. Data problems are found before any model is
    loaded (the model path below does not exist)."""
    good, bad, missing_ecg = tmp_path / "good.jsonl", tmp_path / "bad.jsonl", tmp_path / "m.jsonl"
    good.write_text(TEXT_ROW)
    bad.write_text(TEXT_ROW + "{not json\n")
    missing_ecg.write_text(
        TEXT_ROW.replace('"content": "hi"', '"content": "<ecg> hi"').replace(
            '"solution"', '"objects": {"ecg": ["records/nope"]}, "solution"'
        )
    )
    extra = ["--num-generations", "2", "--batch-size", "2"] if stage == "grpo" else []
    base = ["train", stage, "--out", str(tmp_path / "o"), "--bf16", "false", *extra]
    nowhere = str(tmp_path / "no-model")
    assert main([*base, "--model", nowhere, "--data", str(good)]) == 2
    _one_line_error(capsys, "model directory not found")
    assert main([*base, "--model", nowhere, "--data", str(bad)]) == 2
    _one_line_error(capsys, "line 2: not JSON")
    assert main([*base, "--model", nowhere, "--data", str(missing_ecg)]) == 2
    _one_line_error(capsys, "records/nope")
    assert main([*base, "--model", nowhere, "--data", str(tmp_path / "none.jsonl")]) == 2
    _one_line_error(capsys, "none.jsonl")
    with pytest.raises(InvalidInputError):  # --debug shows the real exception
        main(["--debug", *base, "--model", nowhere, "--data", str(bad)])


def test_infer_cli_errors_are_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(TEXT_ROW)
    bad.write_text(TEXT_ROW + "{not json\n")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    base = ["infer", "--out", str(tmp_path / "o.jsonl")]
    assert main([*base, "--model", str(tmp_path / "nowhere"), "--data", str(good)]) == 2
    _one_line_error(capsys, "not a model folder")
    assert main([*base, "--model", str(model_dir), "--data", str(bad)]) == 2
    _one_line_error(capsys, "line 2: not JSON")


def test_check_media_files_resolves_roots_and_wfdb_names(tmp_path: Path) -> None:
    from ecgr1.errors import MissingFileError
    from ecgr1.train.common import check_media_files

    (tmp_path / "rec.hea").write_text("rec 12 500 5000\n")
    (tmp_path / "img.png").write_bytes(b"png")
    row = {"id": "r", "messages": [], "images": ["img.png"], "objects": {"ecg": ["rec"]}}
    check_media_files([row], ecg_root=tmp_path, image_root=tmp_path)  # WFDB name without .hea
    with pytest.raises(MissingFileError, match="relative paths are read from --ecg-root"):
        check_media_files([row], image_root=tmp_path)
    two_missing = {**row, "images": ["gone.png"], "objects": {"ecg": ["gone"]}}
    with pytest.raises(MissingFileError, match="2 missing files"):
        check_media_files([two_missing], ecg_root=tmp_path, image_root=tmp_path)


def test_grpo_help_exposes_dapo_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "grpo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in (
        "--loss-type {dapo,grpo,dr_grpo,bnpo}",
        "--epsilon-high",
        "--beta",
        "--num-generations",
        "--overlong-buffer",
        "--mask-truncated-completions",
        "--no-mask-truncated-completions",
        "--dynamic-sampling",
        "--no-dynamic-sampling",
    ):
        assert flag in text, flag
    assert "no KL term (--beta 0)" in text
    assert "dynamic sampling: groups whose weighted total rewards are all equal" in text


def test_preset_ecg_r1_sets_the_paper_recipe_and_stays_overridable(tmp_path: Path) -> None:
    base = ["--model", "m", "--data", "d", "--out", "o", "--preset", "ecg-r1"]
    _, sft = _parse(["train", "sft", *base])
    assert (sft.lr, sft.lr_scheduler, sft.warmup, sft.max_length) == (2e-5, "cosine", 0.03, 4096)
    assert sft.trainable() == {
        "vision": False,
        "merger": True,
        "ecg_tower": False,
        "projector": True,
        "llm": True,
    }
    assert (sft.modality_dropout, sft.interleave, sft.imd_passes) == (0.5, 0.1, 2)
    _, rl = _parse(["train", "grpo", *base])
    assert (rl.loss_type, rl.epsilon, rl.epsilon_high, rl.beta) == ("bnpo", 0.2, 0.30, 0.0)
    assert (rl.num_generations, rl.max_completion_length) == (6, 2048)
    assert (rl.temperature, rl.top_k, rl.top_p) == (1.0, 50, 0.9)
    assert (rl.lr, rl.lr_scheduler, rl.warmup) == (1e-6, "cosine", 0.01)
    assert rl.dynamic_sampling and rl.max_resample == 3 and rl.mask_truncated_completions
    assert rl.imd and rl.imd_passes == 2 and rl.reward_mode == "reference"
    assert not rl.trainable()["ecg_tower"] and rl.trainable()["llm"]
    # the group fits in any number of processes
    assert (rl.batch_size * rl.grad_accum) % rl.num_generations == 0
    # a --config file overrides the preset, a flag overrides both
    cfg = tmp_path / "rl.yaml"
    cfg.write_text("num_generations: 12\ntop_k: 20\n")
    _, mixed = _parse(["train", "grpo", *base, "--config", str(cfg), "--top-k", "5", "--no-imd"])
    assert (mixed.num_generations, mixed.top_k, mixed.imd) == (12, 5, False)
    assert mixed.loss_type == "bnpo"  # untouched preset value
    # the preset can also be named in the options file
    cfg.write_text("preset: ecg-r1\n")
    _, from_file = _parse(["train", "grpo", "--model", "m", "--data", "d", "--out", "o",
                           "--config", str(cfg)])  # fmt: skip
    assert from_file.num_generations == 6


def test_unknown_preset_and_bad_preset_keys_are_clear_errors(tmp_path: Path, capsys) -> None:

    from ecgr1.train.presets import load_preset
    from ecgr1.train.sft import SFTOptions

    code = main(["train", "sft", "--model", "m", "--data", "d", "--out", "o", "--preset", "paper"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "unknown preset 'paper'" in err[0]
    # every preset key is an option of its stage (load-time validation)
    from ecgr1.train.grpo import GRPOOptions

    for name in ("ecg-r1",):
        load_preset(name, "sft", SFTOptions)
        load_preset(name, "grpo", GRPOOptions)
    with pytest.raises(InvalidInputError, match="unknown option"):
        load_preset("ecg-r1", "grpo", SFTOptions)  # GRPO keys are not SFT options


def test_grpo_batch_check_counts_every_process() -> None:

    from ecgr1.train.grpo import GRPOOptions, check_grpo_batch

    defaults = GRPOOptions()
    for processes in (1, 2, 3, 8):
        check_grpo_batch(defaults, processes)  # the plain defaults fit any world size
    # 2 per device x 3 processes = 6 completions: one group of 6 ...
    check_grpo_batch(GRPOOptions(batch_size=2, num_generations=6), processes=3)
    # ... which one process alone cannot hold
    with pytest.raises(InvalidInputError, match=r"2 x 1 x 1 = 2\) must be a multiple"):
        check_grpo_batch(GRPOOptions(batch_size=2, num_generations=6), processes=1)
