"""ECG-R1 model classes: the ECG splice, gradients, M-RoPE, config and checkpoint names."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ecgr1.errors import ModelError
from ecgr1.model.modeling import model_class_for_config
from ecgr1.model.processing import ECGR1Processor
from ecgr1.model.tiny import build_tiny_tokenizer, tiny_config, tiny_image_processor

ARCHES = ("qwen3vl", "qwen2_5vl")


@pytest.fixture(scope="module", params=ARCHES)
def tiny(request):
    """(model, processor) built in memory, float32, eval mode."""
    arch = request.param
    tok = build_tiny_tokenizer()
    config = tiny_config(arch, tokenizer=tok)
    torch.manual_seed(0)
    model = model_class_for_config(config)(config).eval()
    proc = ECGR1Processor(tok, tiny_image_processor(arch), num_ecg_tokens=model.num_ecg_tokens)
    return model, proc


def _image(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((48, 80, 3)) * 255).astype("uint8"))


def _batch(proc, with_image=True, n_rows=2):
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n_rows):
        content = "<ecg><image>\nInterpret" if with_image else "<ecg>\nInterpret"
        rows.append(
            {
                "id": str(i),
                "messages": [
                    {"role": "user", "content": content},
                    {
                        "role": "assistant",
                        "content": "<think>ok</think>\n<answer>Normal ECG</answer>",
                    },
                ],
                "images": [_image(i)] if with_image else [],
                "objects": {"ecg": [rng.normal(size=(12, 5000)).astype(np.float32)]},
            }
        )
    return proc.prepare_batch(rows, train=True)


class _Capture:
    """Records what the backbone hands to the language model."""

    def __init__(self, module):
        self.calls = []
        self.handle = module.register_forward_pre_hook(self.hook, with_kwargs=True)

    def hook(self, module, args, kwargs):
        self.calls.append(
            {k: v for k, v in kwargs.items() if k in ("inputs_embeds", "position_ids")}
        )

    def close(self):
        self.handle.remove()


def _check_splice(model, proc, batch, embeds):
    ids = batch["input_ids"]
    pad = ids == proc.ecg_token_id
    with torch.no_grad():
        expected = model.model.get_ecg_features(batch["ecg_values"]).reshape(-1, embeds.shape[-1])
        token_embeds = model.get_input_embeddings()(ids)
    assert int(pad.sum()) == batch["ecg_values"].shape[0] * proc.num_ecg_tokens
    torch.testing.assert_close(embeds[pad], expected)
    # text positions keep their token embeddings
    text = ~pad & (ids != proc.image_token_id)
    torch.testing.assert_close(embeds[text], token_embeds[text])


def test_splice_top_level_and_backbone_paths(tiny):
    model, proc = tiny
    batch = _batch(proc)
    cap = _Capture(model.model.language_model)
    try:
        with torch.no_grad():
            model(**batch)
            # TRL's fused LM-head path calls the backbone directly
            model.model(**{k: v for k, v in batch.items() if k != "labels"})
    finally:
        cap.close()
    assert len(cap.calls) == 2
    for call in cap.calls:
        _check_splice(model, proc, batch, call["inputs_embeds"])
    torch.testing.assert_close(cap.calls[0]["inputs_embeds"], cap.calls[1]["inputs_embeds"])


def test_splice_with_inputs_embeds_only(tiny):
    model, proc = tiny
    batch = _batch(proc, with_image=False)
    ids = batch.pop("input_ids")
    batch.pop("labels")
    batch.pop("mm_token_type_ids")
    cap = _Capture(model.model.language_model)
    try:
        with torch.no_grad():
            model.model(inputs_embeds=model.get_input_embeddings()(ids), **batch)
    finally:
        cap.close()
    _check_splice(model, proc, {"input_ids": ids, **batch}, cap.calls[0]["inputs_embeds"])


def test_mrope_positions_come_from_input_ids(tiny):
    """ECG pads are text for M-RoPE: same position ids with and without ECG values, and the
    image block gets 3-D positions (position ids are not plain aranges)."""
    model, proc = tiny
    batch = _batch(proc)
    batch.pop("labels")
    no_ecg = {k: v for k, v in batch.items() if k != "ecg_values"}
    cap = _Capture(model.model.language_model)
    try:
        with torch.no_grad():
            model(**batch)
            model(**no_ecg)
    finally:
        cap.close()
    with_pos, without_pos = cap.calls[0]["position_ids"], cap.calls[1]["position_ids"]
    assert with_pos is not None
    torch.testing.assert_close(with_pos, without_pos)
    ids = batch["input_ids"]
    pos = with_pos[-3:] if with_pos.shape[0] == 4 else with_pos
    assert pos.shape[-2:] == ids.shape
    img = ids[0] == proc.image_token_id
    assert not torch.equal(pos[1, 0][img], pos[2, 0][img])  # h and w differ inside the image
    ecg = ids[0] == proc.ecg_token_id
    steps = pos[0, 0][ecg].diff()
    assert torch.all(steps == 1)  # one position per ECG token


def test_gradients_reach_ecg_tower_and_projector(tiny):
    model, proc = tiny
    model.train()
    model.zero_grad()
    try:
        out = model(**_batch(proc))
        assert torch.isfinite(out.loss)
        out.loss.backward()
    finally:
        model.eval()
    tower = model.model.ecg_tower
    for p in (
        tower.conv1.weight,
        tower.class_embedding,
        tower.transformer.resblocks[0].attn.in_proj_weight,
    ):
        assert p.grad is not None and p.grad.abs().sum() > 0
    for p in model.model.ecg_projector.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    model.zero_grad()


def test_token_and_ecg_count_mismatch_raises(tiny):
    model, proc = tiny
    batch = _batch(proc, with_image=False)
    batch["ecg_values"] = batch["ecg_values"][:1]
    with pytest.raises(ModelError, match="do not match"):
        model(**batch)


def test_generate_uses_ecg_only_at_prefill(tiny):
    model, proc = tiny
    row = {
        "id": "g",
        "messages": [{"role": "user", "content": "<ecg>\nInterpret"}],
        "images": [],
        "objects": {"ecg": [np.ones((12, 5000), np.float32)]},
    }
    batch = proc.prepare_batch([row], train=False)
    calls = []
    h = model.model.ecg_tower.register_forward_hook(lambda *a: calls.append(1))
    try:
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=4, do_sample=False, min_new_tokens=4)
            # two return sequences: the ECG group is expanded per row, not per ECG
            out2 = model.generate(
                **batch, max_new_tokens=2, do_sample=False, num_beams=2, num_return_sequences=2
            )
    finally:
        h.remove()
    assert out.shape[1] == batch["input_ids"].shape[1] + 4
    assert out2.shape[0] == 2
    assert len(calls) == 2  # one prefill per generate call


def test_published_checkpoint_key_names_load(tiny, tmp_path):
    """A state dict with ECG-R1 checkpoint names loads with no missing ECG keys."""
    model, _ = tiny
    W, H = model.config.ecg_hidden_size, model.config.get_text_config().hidden_size
    n_layers = model.config.ecg_model_config["layers"]
    published = {
        "model.ecg_tower.conv1.weight": (W, 12, 50),
        "model.ecg_tower.class_embedding": (W,),
        "model.ecg_tower.positional_embedding": (101, W),
        "model.ecg_tower.ln_pre.weight": (W,),
        "model.ecg_tower.ln_pre.bias": (W,),
        "model.ecg_tower.ln_post.weight": (W,),
        "model.ecg_tower.ln_post.bias": (W,),
        "model.ecg_tower.proj": (W, 512),
        "model.ecg_projector.0.weight": (H, W),
        "model.ecg_projector.0.bias": (H,),
        "model.ecg_projector.2.weight": (H, H),
        "model.ecg_projector.2.bias": (H,),
    }
    for i in range(n_layers):
        b = f"model.ecg_tower.transformer.resblocks.{i}."
        published.update(
            {
                b + "ln_1.weight": (W,),
                b + "ln_1.bias": (W,),
                b + "attn.in_proj_weight": (3 * W, W),
                b + "attn.in_proj_bias": (3 * W,),
                b + "attn.out_proj.weight": (W, W),
                b + "attn.out_proj.bias": (W,),
                b + "ln_2.weight": (W,),
                b + "ln_2.bias": (W,),
                b + "mlp.c_fc.weight": (4 * W, W),
                b + "mlp.c_fc.bias": (4 * W,),
                b + "mlp.c_proj.weight": (W, 4 * W),
                b + "mlp.c_proj.bias": (W,),
            }
        )
    g = torch.Generator().manual_seed(3)
    sd = {k: torch.randn(shape, generator=g) for k, shape in published.items()}
    ours = {k for k in model.state_dict() if ".ecg_" in k}
    assert ours == set(published)
    # in memory
    clone = model_class_for_config(model.config)(model.config)
    result = clone.load_state_dict(sd, strict=False)
    assert not [k for k in result.missing_keys if ".ecg_" in k]
    assert not result.unexpected_keys
    # from a folder through from_pretrained (safetensors with the published names)
    from safetensors.torch import save_file

    full = {k: v.contiguous() for k, v in model.state_dict().items()}
    full.update(sd)
    model.config.save_pretrained(tmp_path)
    save_file(full, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    loaded, info = type(model).from_pretrained(tmp_path, output_loading_info=True)
    assert not [k for k in info["missing_keys"] if ".ecg_" in k]
    torch.testing.assert_close(
        loaded.model.ecg_projector[2].weight, sd["model.ecg_projector.2.weight"]
    )
    torch.testing.assert_close(loaded.model.ecg_tower.proj, sd["model.ecg_tower.proj"])
    torch.testing.assert_close(
        loaded.model.ecg_tower.ln_post.bias, sd["model.ecg_tower.ln_post.bias"]
    )
    torch.testing.assert_close(
        loaded.model.ecg_tower.transformer.resblocks[0].attn.in_proj_weight,
        sd["model.ecg_tower.transformer.resblocks.0.attn.in_proj_weight"],
    )


def test_save_load_round_trip_identical_logits(tiny, tmp_path):
    model, proc = tiny
    batch = _batch(proc)
    batch.pop("labels")
    model.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path).eval()
    for name in (
        "ecg_token_id",
        "ecg_start_token_id",
        "ecg_end_token_id",
        "ecg_projector_type",
        "ecg_model_config",
        "ecg_hidden_size",
    ):
        assert getattr(loaded.config, name) == getattr(model.config, name)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits, rtol=0, atol=0)
    proc2 = ECGR1Processor.from_pretrained(tmp_path)
    assert proc2.num_ecg_tokens == proc.num_ecg_tokens
    assert proc2.ecg_token_id == proc.ecg_token_id


def test_add_ecg_tokens_resizes_plain_model():
    from ecgr1.model.loading import add_ecg_tokens

    tok = build_tiny_tokenizer(ecg_tokens=False)
    assert "<|ecg_pad|>" not in tok.get_vocab()
    config = tiny_config("qwen3vl", tokenizer=build_tiny_tokenizer())
    config.text_config.vocab_size = len(tok)
    model = model_class_for_config(config)(config)
    proc = ECGR1Processor(tok, None, num_ecg_tokens=101)  # adds the three tokens
    assert len(tok) == config.text_config.vocab_size + 3
    assert add_ecg_tokens(model, proc)
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    assert model.get_output_embeddings().weight.shape[0] == len(tok)
    assert (
        model.config.ecg_token_id == proc.ecg_token_id == tok.convert_tokens_to_ids("<|ecg_pad|>")
    )


def test_unsupported_model_type():
    class Cfg:
        model_type = "llama"

    with pytest.raises(ModelError):
        model_class_for_config(Cfg())


def test_trl_fused_lm_head_path_splices(tiny):
    """TRL's fused LM head calls the backbone directly; the ECG must still reach the loss."""
    trl_utils = pytest.importorskip("trl.trainer.utils")
    model, proc = tiny
    clone = model_class_for_config(model.config)(model.config)
    clone.load_state_dict(model.state_dict())
    trl_utils.add_fused_lm_head(clone)
    batch = _batch(proc, with_image=False)
    out = clone(**batch, fused_lm_head=True)
    out.loss.backward()
    assert clone.model.ecg_tower.conv1.weight.grad.abs().sum() > 0
    assert clone.model.ecg_projector[0].weight.grad.abs().sum() > 0
    with torch.no_grad():
        plain = model(**batch).loss
    torch.testing.assert_close(out.loss.detach(), plain, rtol=1e-4, atol=1e-4)


def test_slice_ecg_values_by_rows(tiny):
    from ecgr1.model.modeling import ecg_counts_per_row, slice_ecg_values

    model, proc = tiny
    texts = ["<ecg> a", "b", "<ecg><ecg> c"]
    ecgs = [np.full((12, 5000), v, np.float32) for v in (1.0, 2.0, 3.0)]
    b = proc(text=texts, ecgs=ecgs)
    tid, n = proc.ecg_token_id, proc.num_ecg_tokens
    assert ecg_counts_per_row(b["input_ids"], tid, n).tolist() == [1, 0, 2]
    assert slice_ecg_values(b["ecg_values"], b["input_ids"], 1, 2, tid, n) is None
    part = slice_ecg_values(b["ecg_values"], b["input_ids"], 1, 3, tid, n)
    assert part[:, 0, 0].tolist() == [2.0, 3.0]


def test_hf_gradient_checkpointing_reaches_ecg_tower(tiny):
    model, proc = tiny
    clone = model_class_for_config(model.config)(model.config)
    clone.train()
    # transformers 5.x renamed the switch; 4.x only has the old name
    if hasattr(clone, "activation_checkpointing_enable"):
        clone.activation_checkpointing_enable({"use_reentrant": False})
    else:
        clone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    assert clone.model.ecg_tower.transformer.gradient_checkpointing
    clone(**_batch(proc, with_image=False)).loss.backward()
    assert clone.model.ecg_tower.transformer.resblocks[0].mlp.c_fc.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("arch", ARCHES)
def test_build_from_plain_qwen_folder(arch, tmp_path):
    """A stock Qwen-VL folder (Qwen2.5-VL in its old Hub key layout) becomes an ECG-R1 model:
    base weights kept, ECG tokens added, ECG modules initialised with finite values."""
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen3VLForConditionalGeneration

    from ecgr1.model.build import build_ecg_model
    from ecgr1.model.loading import load_model_and_processor

    stock = {
        "qwen3vl": Qwen3VLForConditionalGeneration,
        "qwen2_5vl": Qwen2_5_VLForConditionalGeneration,
    }[arch]
    cfg = tiny_config(arch)
    for k in (
        "ecg_token_id",
        "ecg_start_token_id",
        "ecg_end_token_id",
        "ecg_projector_type",
        "ecg_model_config",
        "ecg_hidden_size",
    ):
        delattr(cfg, k)
    cfg.get_text_config().vocab_size -= 3  # the tokenizer below lacks the 3 ECG tokens
    torch.manual_seed(1)
    base = stock(cfg)
    base.save_pretrained(tmp_path / "base")
    build_tiny_tokenizer(ecg_tokens=False).save_pretrained(tmp_path / "base")
    tiny_image_processor(arch).save_pretrained(tmp_path / "base")
    report = build_ecg_model(
        tmp_path / "base",
        tmp_path / "out",
        dtype="fp32",
        encoder={"width": 16, "layers": 1, "heads": 2},
    )
    assert report["tokens_added"] == 3 and report["embeddings_resized"]
    # ECG-R1's inference settings are recorded in the folder
    assert report["ecg_input_convention"] == "reference"
    assert report["image_tokens"] == [4, 768] and report["max_new_tokens"] == 2048
    gen = json.loads((tmp_path / "out" / "generation_config.json").read_text())
    assert gen["max_new_tokens"] == 2048
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert cfg["ecg_input_convention"] == "reference" and "ecg_tower_path" not in cfg
    model, proc = load_model_and_processor(tmp_path / "out")
    assert (proc.image_min_tokens, proc.image_max_tokens) == (4, 768)
    assert model.config.ecg_token_id == proc.ecg_token_id
    sd = model.state_dict()
    for k, v in base.state_dict().items():
        if "embed_tokens" in k or "lm_head" in k:
            torch.testing.assert_close(sd[k][: v.shape[0]], v)  # old rows kept
        else:
            torch.testing.assert_close(sd[k], v)
    tower = model.model.ecg_tower
    for p in list(tower.parameters()) + list(tower.buffers()):
        assert torch.isfinite(p).all()
    torch.testing.assert_close(tower.ln_post.weight, torch.ones_like(tower.ln_post.weight))
    assert model.model.ecg_tower.class_embedding.abs().sum() > 0


def test_cached_decoding_matches_full_forward(tiny):
    """generate() prefills with ECG + image, then decodes from the cache (whatever the cache
    keyword of the installed transformers); its second-step logits equal those of a full
    forward over prompt + first generated token."""
    model, proc = tiny
    row = {
        "id": "x",
        "messages": [{"role": "user", "content": "<ecg><image>\nInterpret"}],
        "images": [_image(3)],
        "objects": {"ecg": [np.full((12, 5000), 0.3, np.float32)]},
    }
    b = proc.prepare_batch([row], train=False)
    with torch.no_grad():
        gen = model.generate(
            **b,
            max_new_tokens=2,
            min_new_tokens=2,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
        )
        first = gen.sequences[:, b["input_ids"].shape[1] : b["input_ids"].shape[1] + 1]
        ids = torch.cat([b["input_ids"], first], 1)
        types = torch.cat([b["mm_token_type_ids"], torch.zeros_like(first, dtype=torch.int)], 1)
        full = model(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            mm_token_type_ids=types,
            pixel_values=b["pixel_values"],
            image_grid_thw=b["image_grid_thw"],
            ecg_values=b["ecg_values"],
        )
    torch.testing.assert_close(gen.logits[1], full.logits[:, -1], rtol=1e-4, atol=1e-4)


def test_ecg_values_as_list_or_empty(tiny):
    model, proc = tiny
    batch = _batch(proc, with_image=False)
    batch.pop("labels")
    with torch.no_grad():
        ref = model(**batch).logits
        as_list = dict(batch, ecg_values=list(batch["ecg_values"]))
        torch.testing.assert_close(model(**as_list).logits, ref)
        text = proc(text=["plain text"])
        empty = model(**text, ecg_values=torch.zeros(0, 12, 5000)).logits
        torch.testing.assert_close(empty, model(**text).logits)


def test_batch_without_ecg_still_gives_tower_gradients_in_training(tiny):
    """Image/text-only training batches run a zero-weighted dummy ECG so every ECG parameter
    has a gradient (DDP/ZeRO-3 need it); the loss is unchanged by it."""
    model, proc = tiny
    row = {
        "id": "t",
        "messages": [
            {"role": "user", "content": "<image>\nInterpret"},
            {"role": "assistant", "content": "<answer>N</answer>"},
        ],
        "images": [_image(5)],
        "objects": {"ecg": []},
    }
    batch = proc.prepare_batch([row], train=True)
    with torch.no_grad():
        ref = model(**batch).loss
    model.train()
    model.zero_grad()
    try:
        loss = model(**batch).loss
        loss.backward()
    finally:
        model.eval()
    torch.testing.assert_close(loss.detach(), ref)
    tower = model.model.ecg_tower
    assert {n for n, _ in tower.named_buffers()} == {"ln_post.weight", "ln_post.bias", "proj"}
    params = list(tower.parameters()) + list(model.model.ecg_projector.parameters())
    for p in params:
        if p.requires_grad:
            assert p.grad is not None
            assert torch.all(p.grad == 0)
    model.zero_grad()
