"""Model folders as ECG-R1's reference code writes them, and as ecgr1 writes them back.

The reference (``ecg_r1/register.py``, ms-swift) saves a Qwen3-VL folder whose config.json has
``architectures: ["ECGR1ForConditionalGeneration"]``, ``ecg_model_config`` as an ECG-CoCa preset
*name* (``"coca_ViT-B-32"``, read by ``get_ecg_encoder(model_name=...)``), ``ecg_tower_path`` (the
ECG-CoCa checkpoint the reference builds its tower from before loading the folder's weights),
``ecg_projector_type``, ``ecg_hidden_size`` and ``ecg_token_id``; no ecgr1 settings files. Such a
folder must load here with ECG-R1's inference settings (reference input convention, 4..768
tokens per image, 2048 new tokens), and a folder ecgr1 saves from it must keep that layout so
that the reference code and its vLLM plugin can load it again.

The LLM is tiny; the ECG tower is the real ViT-B shape (the preset name means that shape).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ecgr1.model import load_model_and_processor
from ecgr1.model.build import describe_model_dir
from ecgr1.model.inference import default_max_new_tokens

#: A path as the reference writes it: on the training machine, absent here.
TOWER_PATH = "/data/ECG-CoCa/checkpoints/epoch_10.pt"
REFERENCE_FIELDS = {
    "architectures": ["ECGR1ForConditionalGeneration"],
    "ecg_model_config": "coca_ViT-B-32",
    "ecg_tower_path": TOWER_PATH,
    "ecg_projector_type": "mlp2x_gelu",
    "ecg_hidden_size": 768,
}


def _safetensor_keys(folder: Path) -> set[str]:
    from safetensors import safe_open

    keys: set[str] = set()
    for f in folder.glob("*.safetensors"):
        with safe_open(str(f), "pt") as st:
            keys |= set(st.keys())
    return keys


@pytest.fixture(scope="module")
def reference_folder(tmp_path_factory) -> Path:
    """A folder laid out exactly as the reference saves one (tiny LLM, ViT-B tower)."""
    from ecgr1.model.modeling import model_class_for_config
    from ecgr1.model.tiny import build_tiny_tokenizer, tiny_config, tiny_image_processor

    out = tmp_path_factory.mktemp("reference") / "ECG-R1-8B"
    tok = build_tiny_tokenizer()
    config = tiny_config("qwen3vl", tokenizer=tok, ecg_width=768, ecg_layers=12, ecg_heads=12)
    torch.manual_seed(7)
    model = model_class_for_config(config)(config).to(torch.bfloat16)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    tiny_image_processor("qwen3vl").save_pretrained(out)
    cfg = json.loads((out / "config.json").read_text())
    for ours in ("ecg_start_token_id", "ecg_end_token_id", "ecg_input_convention"):
        cfg.pop(ours)
    cfg.update(REFERENCE_FIELDS)
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    gen = json.loads((out / "generation_config.json").read_text())
    gen.pop("max_new_tokens", None)
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2))
    assert not (out / "ecgr1_processor.json").exists()
    return out


@pytest.fixture(scope="module")
def loaded(reference_folder):
    return load_model_and_processor(reference_folder, device="cpu")


def test_reference_folder_loads_with_ecg_r1_settings(reference_folder, loaded):
    model, processor = loaded
    # weights under the published names land in the tower and projector
    from safetensors import safe_open

    (file,) = reference_folder.glob("*.safetensors")
    with safe_open(str(file), "pt") as st:
        for key in (
            "model.ecg_tower.conv1.weight",
            "model.ecg_tower.transformer.resblocks.11.attn.in_proj_weight",
            "model.ecg_projector.2.weight",
        ):
            torch.testing.assert_close(model.state_dict()[key], st.get_tensor(key).float())
    assert model.num_ecg_tokens == processor.num_ecg_tokens == 101
    # loading does not rewrite the reference fields
    assert model.config.ecg_model_config == "coca_ViT-B-32"
    assert model.config.ecg_tower_path == TOWER_PATH
    # ECG-R1's inference settings
    assert processor.ecg_convention == "reference"
    assert (processor.image_min_tokens, processor.image_max_tokens) == (4, 768)
    assert default_max_new_tokens(reference_folder) == (2048, "ECG-R1 folder")
    info = describe_model_dir(reference_folder)
    assert info["ecg_input_convention"] == "reference"
    assert info["image_tokens"] == [4, 768]
    assert info["max_new_tokens"] == 2048
    assert info["ecg_model_config"] == "coca_ViT-B-32"
    assert info["ecg_tower_path"] == TOWER_PATH


def test_a_folder_ecgr1_saves_keeps_the_reference_layout(reference_folder, loaded, tmp_path):
    model, processor = loaded
    out = tmp_path / "resaved"
    model.save_pretrained(out)
    processor.save_pretrained(out)
    cfg = json.loads((out / "config.json").read_text())
    for key, value in REFERENCE_FIELDS.items():
        assert cfg[key] == value, key
    ref_cfg = json.loads((reference_folder / "config.json").read_text())
    assert cfg["model_type"] == ref_cfg["model_type"] == "qwen3_vl"
    assert cfg["ecg_token_id"] == ref_cfg["ecg_token_id"]
    assert _safetensor_keys(out) == _safetensor_keys(reference_folder)
    # ecgr1's own settings are recorded beside them
    assert cfg["ecg_input_convention"] == "reference"
    settings = json.loads((out / "ecgr1_processor.json").read_text())
    assert settings["ecg_input_convention"] == "reference"
    assert (settings["image_min_tokens"], settings["image_max_tokens"]) == (4, 768)
    # and the saved folder loads back to the same model
    again, proc2 = load_model_and_processor(out, device="cpu")
    assert again.config.ecg_model_config == "coca_ViT-B-32"
    assert proc2.ecg_convention == "reference"
    sd = again.state_dict()
    for k, v in model.state_dict().items():
        if ".ecg_" in k:
            torch.testing.assert_close(sd[k], v)


def test_tiny_folders_record_their_convention(tmp_path):
    """Every folder ecgr1 writes records its convention; a standard one stays standard through
    a load/save round trip, and a load-time override is what the next save records."""
    from ecgr1.model.tiny import init_tiny

    path = init_tiny(tmp_path / "std", ecg_convention="standard")
    assert json.loads((path / "config.json").read_text())["ecg_input_convention"] == "standard"
    model, processor = load_model_and_processor(path, device="cpu")
    assert processor.ecg_convention == "standard"
    model.save_pretrained(tmp_path / "std2")
    processor.save_pretrained(tmp_path / "std2")
    assert describe_model_dir(tmp_path / "std2")["ecg_input_convention"] == "standard"
    model, processor = load_model_and_processor(path, device="cpu", ecg_convention="reference")
    assert processor.ecg_convention == model.config.ecg_input_convention == "reference"
    model.save_pretrained(tmp_path / "ref")
    cfg = json.loads((tmp_path / "ref" / "config.json").read_text())
    assert cfg["ecg_input_convention"] == "reference"
    # a tiny tower is not the ViT-B preset: its shape is written out
    assert isinstance(cfg["ecg_model_config"], dict) and cfg["ecg_model_config"]["width"] == 32


def test_model_cli_records_the_settings(tmp_path, capsys):
    """``ecgr1 model init-tiny --ecg-input standard --max-new-tokens N`` writes them into the
    folder, and ``ecgr1 model info`` reads them back."""
    from ecgr1.cli import main

    out = tmp_path / "m"
    assert main(["model", "init-tiny", str(out), "--ecg-input", "standard",
                 "--max-new-tokens", "7"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["model", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ecg_input_convention"] == "standard"
    assert (info["max_new_tokens"], info["max_new_tokens_from"]) == (7, "generation_config.json")
    with pytest.raises(SystemExit) as usage:  # argparse: a usage error, exit status 2
        main(["model", "init-tiny", str(tmp_path / "x"), "--ecg-input", "raw"])
    assert usage.value.code == 2
