"""RL for ECG-R1 on TRL's ``GRPOTrainer`` with DAPO-style settings and ECG Diagnostic Evidence Rewards.

The algorithm is TRL's (sampling, group-relative advantages, clipped objective with
``epsilon``/``epsilon_high``, ``loss_type`` ``dapo``/``grpo``/``dr_grpo``/``bnpo``, ``beta``,
``mask_truncated_completions``). TRL 1.x has no ECG modality, no dynamic sampling and does
the overlong shaping only as a reward function, so :class:`ECGR1GRPOTrainer` overrides exactly
four methods, each small:

``_generate_and_score_completions``
    Remembers the batch's rows before calling TRL (so the prompt tokenisation can load their
    ECG/images); afterwards attaches the per-sample media tensors to the returned batch under
    ``ecgr1_media`` (a list, one dict per sample, which TRL's shuffle/split helpers carry along
    like any list), and applies dynamic sampling (below).
``_tokenize_prompts``
    Encodes each prompt with the ECG-R1 processor (``<ecg>``/``<image>`` expansion) and returns
    ``ecg_values``, ``pixel_values``, ``image_grid_thw`` (concatenated) and
    ``mm_token_type_ids`` (per token) as the *multimodal fields* TRL already forwards to
    ``model.generate``. TRL is never shown the images itself (the dataset column is
    ``ecgr1_images``, not ``images``): its own image path re-tokenises prompts without ECG pads,
    which would misalign ``mm_token_type_ids``.
``_get_per_token_logps_and_entropies``
    The log-prob forward (old policy, reference, and the loss) gets the media of the samples it
    scores through a forward pre-hook on the called model: TRL calls the model once per chunk of
    consecutive samples, so the hook hands out the next chunk's ``ecgr1_media`` entries, builds
    ``ecg_values``/``pixel_values``/``image_grid_thw`` and rebuilds ``mm_token_type_ids`` from the
    token ids (placeholders cannot be sampled: their ids are suppressed in generation).
``_compute_loss``
    Points that feed at the training micro-batch's ``ecgr1_media`` before TRL's loss.

With ``beta > 0`` the KL reference is a frozen copy of the policy made while the trainer is
built (TRL would reload it through a stock transformers class, see
:func:`_reference_from_policy`); with LoRA TRL uses the adapter-disabled model as usual.

Dynamic sampling (DAPO) is the thin filter version: groups whose total rewards are all equal
(zero advantage, no learning signal) get their completion masks zeroed, so they do not dilute the
token-level ``dapo`` normaliser (``num_items_in_batch`` is recomputed). DAPO's refill (sampling
more prompts until the batch is full) would need TRL's sampler changed and is not done; the
fraction of dropped groups is logged as ``dynamic_sampling/dropped_group_frac``.

TRL accepts only a tokenizer or a ``transformers.ProcessorMixin`` as ``processing_class``; the
ECG-R1 processor is neither, so TRL gets the processor's tokenizer (decoding, padding, eos/pad
ids) and the trainer keeps the full processor as ``ecgr1_processor`` for the prompts.

Overlong shaping is TRL's ``get_soft_overlong_punishment`` (DAPO Eq. 13) added as a fourth
reward when ``overlong_buffer > 0``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ecgr1.errors import InvalidInputError
from ecgr1.train.options import TrainingOptions
from ecgr1.train.rewards import REWARD_FUNCTIONS, ConsistencyReward

logger = logging.getLogger(__name__)

MEDIA_KEY = "ecgr1_media"
# Per-item multimodal tensors handed to the model (concatenated over the samples of a call).
MEDIA_FIELDS = ("ecg_values", "pixel_values", "image_grid_thw")
# Special tokens that must never be sampled (a sampled placeholder has no features behind it).
PLACEHOLDER_TOKENS = (
    "<|ecg_pad|>",
    "<|ecg_start|>",
    "<|ecg_end|>",
    "<|image_pad|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|video_pad|>",
)


@dataclass
class GRPOOptions(TrainingOptions):
    """All GRPO settings (CLI flags and options-file keys share these names)."""

    lr: float = 1e-6
    batch_size: int = 2
    num_generations: int = 8
    max_completion_length: int = 1024
    temperature: float = 1.0
    top_p: float = 1.0
    loss_type: str = "dapo"
    beta: float = 0.0
    epsilon: float = 0.2
    epsilon_high: float = 0.28
    num_iterations: int = 1
    scale_rewards: str = "group"
    mask_truncated_completions: bool = True
    dynamic_sampling: bool = True
    overlong_buffer: int = 0
    overlong_weight: float = 1.0
    reward_weights: dict[str, float] = field(
        default_factory=lambda: {"format": 1.0, "diagnosis": 1.0, "evidence": 1.0}
    )
    extra_rewards: list[str] = field(default_factory=list)


def parse_reward_weights(spec: str | dict[str, float] | None) -> dict[str, float]:
    """``"format=1,diagnosis=2,evidence=1"`` -> dict; names must be known reward functions."""
    if spec is None or spec == "":
        return dict(GRPOOptions().reward_weights)
    if isinstance(spec, dict):
        weights = {str(k): float(v) for k, v in spec.items()}
    else:
        weights = {}
        for part in spec.split(","):
            name, _, value = part.partition("=")
            try:
                weights[name.strip()] = float(value) if value else 1.0
            except ValueError as exc:
                raise InvalidInputError(f"bad reward weight {part!r}") from exc
    unknown = sorted(set(weights) - set(REWARD_FUNCTIONS))
    if unknown:
        raise InvalidInputError(
            f"unknown reward(s) {unknown}; known: {', '.join(REWARD_FUNCTIONS)}"
        )
    return weights


def load_extra_reward(spec: str) -> tuple[Callable[..., list[float]], float]:
    """``"package.module:function[=weight]"`` -> (callable, weight): a user reward function."""
    target, _, weight = spec.partition("=")
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise InvalidInputError(f"--extra-reward expects module:function[=weight], got {spec!r}")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(f"cannot import reward {target!r}: {exc}") from exc
    return func, float(weight) if weight else 1.0


def grpo_dataset(rows: list[dict[str, Any]]) -> Any:
    """Rows -> ``datasets.Dataset`` with ``prompt`` (messages up to the user turn), ``solution``,
    ``ecgr1_ecg``/``ecgr1_images`` (paths, loaded by the trainer) and ``id``."""
    from datasets import Dataset

    records = []
    for i, row in enumerate(rows):
        if "solution" not in row:
            raise InvalidInputError(f"RL row {row.get('id', i)!r} has no 'solution'")
        prompt = [m for m in row["messages"] if m.get("role") != "assistant"]
        records.append(
            {
                "id": str(row.get("id", i)),
                "prompt": [{"role": m["role"], "content": str(m["content"])} for m in prompt],
                "solution": row["solution"],
                "ecgr1_ecg": list((row.get("objects") or {}).get("ecg") or []),
                "ecgr1_images": list(row.get("images") or []),
            }
        )
    return Dataset.from_list(records)


@contextlib.contextmanager
def _reference_from_policy(policy: Any) -> Iterator[None]:
    """With ``beta > 0`` (no PEFT) TRL builds the KL reference by reloading the policy from its
    config's name with a *transformers* class, which does not know the ECG-R1 classes. While
    the trainer is constructed, that loader is replaced by a frozen copy of the policy as passed
    in (the same weights: the reference is the initial policy)."""
    import trl.trainer.grpo_trainer as grpo_module

    if not isinstance(policy, torch.nn.Module):
        yield
        return

    def reference_copy(model_id: str, **kwargs: Any) -> torch.nn.Module:
        ref = copy.deepcopy(policy)
        ref.eval()
        ref.requires_grad_(False)
        return ref

    original = grpo_module.create_model_from_path
    grpo_module.create_model_from_path = reference_copy
    try:
        yield
    finally:
        grpo_module.create_model_from_path = original


@functools.lru_cache(maxsize=1)
def _grpo_trainer_class() -> type:
    """Build the subclass lazily so importing this module does not import TRL."""
    from trl import GRPOTrainer

    class ECGR1GRPOTrainer(GRPOTrainer):
        """``GRPOTrainer`` whose prompts carry ECG signals and images (see module docstring)."""

        def __init__(
            self,
            *args: Any,
            ecgr1_processor: Any,
            ecg_root: str | None = None,
            image_root: str | None = None,
            dynamic_sampling: bool = True,
            system_prompt: str | None = None,
            **kwargs: Any,
        ) -> None:
            kwargs.setdefault("processing_class", ecgr1_processor.tokenizer)
            with _reference_from_policy(kwargs.get("model")):
                super().__init__(*args, **kwargs)
            self.ecgr1_processor = ecgr1_processor
            self.ecg_root, self.image_root = ecg_root, image_root
            self.dynamic_sampling = dynamic_sampling
            self.system_prompt = system_prompt
            self._pending_rows: list[dict[str, Any]] = []
            self._media_feed: list[dict[str, torch.Tensor]] | None = None
            self._last_rewards_per_func: torch.Tensor | None = None
            tok = self._tokenizer
            ids = [tok.convert_tokens_to_ids(t) for t in PLACEHOLDER_TOKENS]
            ids = sorted({i for i in ids if i is not None and i != tok.unk_token_id})
            suppress = sorted(set(self.generation_config.suppress_tokens or []) | set(ids))
            self.generation_config.suppress_tokens = suppress
            if isinstance(getattr(self, "generation_kwargs", None), dict):
                self.generation_kwargs["suppress_tokens"] = suppress
            # token id -> mm_token_type_ids value (M-RoPE needs it whenever images are present)
            self._mm_type_of_token = {ecgr1_processor.image_token_id: 1}

        # -- prompts -> ids + media -------------------------------------------------------
        def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
            self._pending_rows = inputs
            output = super()._generate_and_score_completions(inputs)
            output[MEDIA_KEY] = self._media_feed
            if self.dynamic_sampling and self.model.training:
                self._drop_flat_groups(output)
            return output

        def _tokenize_prompts(self, prompts: list) -> tuple[list[list[int]], None, dict]:
            from ecgr1.model.data import load_row_media

            rows = self._pending_rows
            if len(rows) != len(prompts):
                raise RuntimeError("ECG-R1 GRPO: prompt/row mismatch (tool loops unsupported)")
            processor = self.ecgr1_processor
            prompt_ids, media, type_rows = [], [], []
            for prompt, row in zip(prompts, rows):
                media_row = {
                    "objects": {"ecg": list(row.get("ecgr1_ecg") or [])},
                    "images": list(row.get("ecgr1_images") or []),
                }
                ecgs, images = load_row_media(
                    media_row, ecg_root=self.ecg_root, image_root=self.image_root
                )
                enc = processor.encode_example(
                    prompt, images=images, ecgs=ecgs, train=False, system_prompt=self.system_prompt
                )
                ids = [int(i) for i in enc["input_ids"]]
                prompt_ids.append(ids)
                media.append({k: enc[k] for k in MEDIA_FIELDS if enc.get(k) is not None})
                type_rows.append([self._mm_type_of_token.get(i, 0) for i in ids])
            self._media_feed = media
            fields: dict[str, Any] = self._concat_media(media)
            if "image_grid_thw" in fields:
                fields["mm_token_type_ids"] = type_rows  # TRL left-pads per-token lists
            return prompt_ids, None, fields

        @staticmethod
        def _concat_media(media: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
            out = {}
            for key in MEDIA_FIELDS:
                parts = [m[key] for m in media if key in m and m[key].numel() > 0]
                if parts:
                    out[key] = torch.cat(parts, dim=0)
            return out

        # -- media through the log-prob forwards ----------------------------------------------
        @contextlib.contextmanager
        def _feed_media(self, model: torch.nn.Module) -> Iterator[None]:
            feed = self._media_feed
            if not feed:
                yield
                return
            cursor = {"next": 0}
            device = self.accelerator.device

            def hook(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
                input_ids = kwargs.get("input_ids", args[0] if args else None)
                n = input_ids.shape[0]
                chunk = feed[cursor["next"] : cursor["next"] + n]
                cursor["next"] += n
                for key, value in self._concat_media(chunk).items():
                    kwargs[key] = value.to(device)
                if "image_grid_thw" in kwargs:
                    types = torch.zeros_like(input_ids)
                    for tid, typ in self._mm_type_of_token.items():
                        types[input_ids == tid] = typ
                    kwargs["mm_token_type_ids"] = types
                return args, kwargs

            handle = model.register_forward_pre_hook(hook, with_kwargs=True)
            try:
                yield
            finally:
                handle.remove()

        def _get_per_token_logps_and_entropies(
            self, model, input_ids, attention_mask, *args, **kwargs
        ):
            with self._feed_media(model):
                return super()._get_per_token_logps_and_entropies(
                    model, input_ids, attention_mask, *args, **kwargs
                )

        def _compute_loss(self, model, inputs):
            self._media_feed = inputs.get(MEDIA_KEY)
            return super()._compute_loss(model, inputs)

        # -- dynamic sampling -------------------------------------------------------------
        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self._last_rewards_per_func = rewards
            return rewards

        def _drop_flat_groups(self, output: dict[str, Any]) -> None:
            per_func = self._last_rewards_per_func
            if per_func is None:
                return
            weights = self.reward_weights.to(per_func.device)
            total = torch.nan_to_num(per_func, nan=0.0) @ weights
            groups = total.view(-1, self.num_generations)
            flat = (groups.max(dim=1).values - groups.min(dim=1).values) < 1e-6
            keep = (~flat).repeat_interleave(self.num_generations)
            n_local = output["completion_mask"].shape[0]
            start = self.accelerator.process_index * n_local
            local_keep = keep[start : start + n_local].to(output["completion_mask"].device)
            output["completion_mask"] = output["completion_mask"] * local_keep.unsqueeze(1).int()
            mask = output["completion_mask"]
            if "tool_mask" in output:
                mask = mask * output["tool_mask"]
            output["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
            self._metrics["train"]["dynamic_sampling/dropped_group_frac"].append(
                flat.float().mean().item()
            )

    return ECGR1GRPOTrainer


def ECGR1GRPOTrainer(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - class-like factory
    """Construct the ECG-aware ``GRPOTrainer`` subclass (see module docstring)."""
    return _grpo_trainer_class()(*args, **kwargs)


def build_grpo_trainer(
    options: GRPOOptions,
    model: Any = None,
    processor: Any = None,
    extra_reward_funcs: list[tuple[Callable[..., Any], float]] | None = None,
) -> Any:
    """Build (but do not run) the GRPO trainer for ``options``."""
    from trl import GRPOConfig
    from trl.rewards import get_soft_overlong_punishment

    from ecgr1.train.common import (
        check_media_files,
        prepare_model,
        processor_saver,
        read_rows,
        resolve_bf16,
        trainer_args,
    )

    if not options.out:
        raise InvalidInputError("--out is required")
    if options.num_generations < 2:
        raise InvalidInputError("--num-generations must be at least 2 (group-relative advantages)")
    generation_batch = options.batch_size * options.grad_accum
    if generation_batch % options.num_generations:
        raise InvalidInputError(
            f"batch_size*grad_accum ({generation_batch}) must be a multiple of num_generations "
            f"({options.num_generations})"
        )
    bf16 = resolve_bf16(options.bf16)
    # data problems fail here, before a (possibly 8B) model is loaded
    rows = read_rows(options.data)
    dataset = grpo_dataset(rows)
    check_media_files(rows, ecg_root=options.ecg_root, image_root=options.image_root)
    model, processor = prepare_model(options, bf16, model, processor)

    weights = parse_reward_weights(options.reward_weights)
    funcs = [
        # the consistency reward measures the row's ECG, found under the run's ECG root
        ConsistencyReward(options.ecg_root) if name == "consistency" else REWARD_FUNCTIONS[name]
        for name in weights
    ]
    weight_list = list(weights.values())
    if options.overlong_buffer > 0:
        funcs.append(
            get_soft_overlong_punishment(options.max_completion_length, options.overlong_buffer)
        )
        weight_list.append(options.overlong_weight)
    for spec in options.extra_rewards:
        func, weight = load_extra_reward(spec)
        funcs.append(func)
        weight_list.append(weight)
    for func, weight in extra_reward_funcs or []:
        funcs.append(func)
        weight_list.append(weight)

    args = GRPOConfig(
        **trainer_args(GRPOConfig, options, bf16),
        num_generations=options.num_generations,
        max_completion_length=options.max_completion_length,
        temperature=options.temperature,
        top_p=options.top_p,
        loss_type=options.loss_type,
        beta=options.beta,
        epsilon=options.epsilon,
        epsilon_high=options.epsilon_high,
        num_iterations=options.num_iterations,
        scale_rewards=options.scale_rewards,
        mask_truncated_completions=options.mask_truncated_completions,
        reward_weights=weight_list,
        log_completions=False,
    )
    return ECGR1GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=dataset,
        ecgr1_processor=processor,
        callbacks=[processor_saver(processor)],
        ecg_root=options.ecg_root,
        image_root=options.image_root,
        dynamic_sampling=options.dynamic_sampling,
        system_prompt=options.system_prompt,
    )


def run_grpo(
    options: GRPOOptions,
    model: Any = None,
    processor: Any = None,
    extra_reward_funcs: list[tuple[Callable[..., Any], float]] | None = None,
) -> dict[str, Any]:
    """Train with GRPO, save a loadable model directory in ``options.out``, return a summary.

    Returns
    -------
    dict with ``out``, ``steps``, ``rewards`` (per logged step: reward means per function),
    ``losses`` and ``trainable``.
    """
    from ecgr1.train.common import (
        last_checkpoint,
        save_model_dir,
        trainable_counts,
        write_log_history,
    )

    trainer = build_grpo_trainer(options, model, processor, extra_reward_funcs)
    counts = trainable_counts(trainer.model)
    resume = last_checkpoint(options.out) if options.resume else None
    trainer.train(resume_from_checkpoint=resume)
    history = trainer.state.log_history
    rewards = [
        {k: v for k, v in h.items() if k.startswith("rewards/") or k == "reward"}
        for h in history
        if "reward" in h
    ]
    losses = [h["loss"] for h in history if "loss" in h]
    save_model_dir(trainer.model, trainer.ecgr1_processor, options.out)
    write_log_history(options.out, history)
    Path(options.out, "ecgr1_train_options.json").write_text(
        json.dumps({"stage": "grpo", **asdict(options)}, indent=1, default=str), encoding="utf-8"
    )
    return {
        "out": options.out,
        "steps": trainer.state.global_step,
        "rewards": rewards,
        "losses": losses,
        "finite": all(math.isfinite(x) for x in losses),
        "trainable": counts,
    }
