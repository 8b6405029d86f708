"""RL for ECG-R1 on TRL's ``GRPOTrainer`` with DAPO-style settings and ECG Diagnostic Evidence Rewards.

The algorithm is TRL's (sampling, group-relative advantages, clipped objective with
``epsilon``/``epsilon_high``, ``loss_type`` ``dapo``/``grpo``/``dr_grpo``/``bnpo``, ``beta``,
``mask_truncated_completions``). TRL 1.x has no ECG modality, no dynamic sampling and does
the overlong shaping only as a reward function, so :class:`ECGR1GRPOTrainer` overrides these
methods, each small:

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

Dynamic sampling (DAPO): groups whose total rewards are all equal (zero advantage, no learning
signal) are replaced by groups generated from fresh prompts, up to ``max_resample`` extra
generation rounds; flat groups still left get their completion masks zeroed so they do not
dilute the loss normaliser (``num_items_in_batch`` is recomputed). Logged as
``dynamic_sampling/flat_group_frac``, ``dynamic_sampling/resamples`` and
``dynamic_sampling/dropped_group_frac``.

With ``imd`` the prompts of the training forward pass through Interleaved Modality Dropout and
are re-encoded (:meth:`_with_imd_prompts`), as the reference does; generation sees full prompts.

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
import importlib.util
import json
import logging
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ecgr1.errors import InvalidInputError
from ecgr1.train.options import TrainingOptions
from ecgr1.train.rewards import (
    DEFAULT_REWARD_MODE,
    REWARD_FUNCTIONS,
    REWARD_MODES,
    ConsistencyReward,
    reward_functions,
)

logger = logging.getLogger(__name__)

MEDIA_KEY = "ecgr1_media"
# Per-sample prompt rows (messages + media paths), kept for IMD in the training forward.
ROWS_KEY = "ecgr1_rows"
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
    # batch_size x grad_accum x processes must be a multiple of num_generations: 4 x 1 with
    # 4 generations fits any number of processes
    batch_size: int = 4
    num_generations: int = 4
    max_completion_length: int = 1024
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    loss_type: str = "dapo"
    beta: float = 0.0
    epsilon: float = 0.2
    epsilon_high: float = 0.28
    num_iterations: int = 1
    scale_rewards: str = "group"
    mask_truncated_completions: bool = True
    dynamic_sampling: bool = True
    max_resample: int = 3
    imd: bool = False
    overlong_buffer: int = 0
    overlong_weight: float = 1.0
    reward_weights: dict[str, float] = field(
        default_factory=lambda: {"format": 1.0, "diagnosis": 1.0, "evidence": 1.0}
    )
    extra_rewards: list[str] = field(default_factory=list)
    reward_mode: str = DEFAULT_REWARD_MODE
    use_vllm: bool = False
    vllm_mode: str = "colocate"


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


def _prompt_row(item: dict[str, Any]) -> dict[str, Any]:
    """A dataset item as an interchange row holding only the prompt (for :func:`apply_imd`)."""
    return {
        "messages": [dict(m) for m in item["prompt"]],
        "images": list(item.get("ecgr1_images") or []),
        "objects": {"ecg": list(item.get("ecgr1_ecg") or [])},
    }


def _pad_rows(rows: list[torch.Tensor], value: int | float, left: bool) -> torch.Tensor:
    width = max(r.shape[-1] for r in rows)
    padded = []
    for r in rows:
        fill = torch.full((r.shape[0], width - r.shape[-1]), value, dtype=r.dtype, device=r.device)
        padded.append(torch.cat([fill, r] if left else [r, fill], dim=1))
    return torch.cat(padded, dim=0)


def _take_groups(
    chosen: list[tuple[dict[str, Any], int]], n_gen: int, pad_token_id: int
) -> dict[str, Any]:
    """One batch made of groups taken from several scored batches: ``(batch, group index)``
    pairs, each group the ``n_gen`` consecutive samples at ``index * n_gen``. Per-sample
    tensors are re-padded (prompt tensors on the left, completion tensors on the right)."""
    first = chosen[0][0]
    n_local = first["completion_mask"].shape[0]
    merged: dict[str, Any] = {}
    for key, value in first.items():
        if key == "num_items_in_batch" or value is None:
            merged[key] = value
            continue
        if isinstance(value, torch.Tensor) and value.ndim == 0:
            merged[key] = value
            continue
        if len(value) != n_local:
            raise ValueError(f"dynamic sampling: cannot regroup batch field {key!r}")
        parts = [batch[key][g * n_gen : (g + 1) * n_gen] for batch, g in chosen]
        if isinstance(value, torch.Tensor) and value.ndim == 2:
            left = key.startswith("prompt")
            fill = pad_token_id if key in ("prompt_ids", "completion_ids") else 0
            merged[key] = _pad_rows(parts, fill, left)
        elif isinstance(value, torch.Tensor):
            merged[key] = torch.cat(parts, dim=0)
        else:
            merged[key] = [item for part in parts for item in part]
    return merged


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
            max_resample: int = 0,
            system_prompt: str | None = None,
            imd: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            kwargs.setdefault("processing_class", ecgr1_processor.tokenizer)
            with _reference_from_policy(kwargs.get("model")):
                super().__init__(*args, **kwargs)
            self.ecgr1_processor = ecgr1_processor
            self.ecg_root, self.image_root = ecg_root, image_root
            self.dynamic_sampling = dynamic_sampling
            self.max_resample = max_resample
            self.system_prompt = system_prompt
            # IMD in the training forward: apply_imd keyword arguments, or None (off)
            self.imd = imd
            stream = self.args.seed * 1000 + self.accelerator.process_index
            self._imd_rng = random.Random(stream)
            self._resample_rng = random.Random(stream + 1)
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
            output = self._generate_scored(inputs)
            if self.dynamic_sampling and self.model.training:
                output = self._dynamic_sampling(output)
            return output

        def _generate_scored(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
            """TRL's generation and scoring of ``inputs``, with each sample's media (and, for
            IMD in the training forward, its prompt row) attached."""
            self._pending_rows = inputs
            output = super()._generate_and_score_completions(inputs)
            output[MEDIA_KEY] = self._media_feed
            if self.imd:
                output[ROWS_KEY] = [_prompt_row(row) for row in inputs]
            return output

        def _encode_prompt(self, prompt: list, row: dict[str, Any]) -> tuple[list[int], dict]:
            media_row = {
                "objects": {"ecg": list(row.get("ecgr1_ecg") or [])},
                "images": list(row.get("ecgr1_images") or []),
            }
            # Through the processor, so the folder's ECG input convention (reference/standard)
            # applies to rollouts exactly as to SFT and inference.
            ecgs, images = self.ecgr1_processor.load_media(
                media_row, ecg_root=self.ecg_root, image_root=self.image_root
            )
            enc = self.ecgr1_processor.encode_example(
                prompt, images=images, ecgs=ecgs, train=False, system_prompt=self.system_prompt
            )
            ids = [int(i) for i in enc["input_ids"]]
            return ids, {k: enc[k] for k in MEDIA_FIELDS if enc.get(k) is not None}

        def _tokenize_prompts(self, prompts: list) -> tuple[list[list[int]], None, dict]:
            rows = self._pending_rows
            if len(rows) != len(prompts):
                raise RuntimeError("ECG-R1 GRPO: prompt/row mismatch (tool loops unsupported)")
            prompt_ids, media, type_rows = [], [], []
            for prompt, row in zip(prompts, rows):
                ids, row_media = self._encode_prompt(prompt, row)
                prompt_ids.append(ids)
                media.append(row_media)
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
            if self.imd and self.model.training and inputs.get(ROWS_KEY):
                inputs = self._with_imd_prompts(inputs)
            return super()._compute_loss(model, inputs)

        def _with_imd_prompts(self, inputs: dict[str, Any]) -> dict[str, Any]:
            """The micro-batch with every prompt passed through IMD (a modality dropped, the
            tags swapped) and re-encoded, as the reference template does in the training
            forward; the completions (sampled from the full prompts) are unchanged."""
            from ecgr1.train.imd import apply_imd

            ids, media = [], []
            for row in inputs[ROWS_KEY]:
                imd_row, _ = apply_imd(row, rng=self._imd_rng, **self.imd)
                data = {
                    "ecgr1_ecg": imd_row["objects"]["ecg"],
                    "ecgr1_images": imd_row["images"],
                }
                prompt_ids, row_media = self._encode_prompt(imd_row["messages"], data)
                ids.append(prompt_ids)
                media.append(row_media)
            width = max(len(x) for x in ids)
            pad = self._tokenizer.pad_token_id
            device = inputs["prompt_ids"].device
            prompt_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids], device=device)
            mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids], device=device)
            self._media_feed = media
            return {
                **inputs,
                "prompt_ids": prompt_ids,
                "prompt_mask": mask.to(inputs["prompt_mask"].dtype),
            }

        # -- dynamic sampling -------------------------------------------------------------
        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self._last_rewards_per_func = rewards
            return rewards

        def _flat_groups(self) -> torch.Tensor:
            """Global bool per group of the last scored batch: weighted total rewards all equal
            (zero advantage, no learning signal)."""
            per_func = self._last_rewards_per_func
            weights = self.reward_weights.to(per_func.device)
            total = torch.nan_to_num(per_func, nan=0.0) @ weights
            groups = total.view(-1, self.num_generations)
            return ((groups.max(dim=1).values - groups.min(dim=1).values) < 1e-6).cpu()

        def _dynamic_sampling(self, output: dict[str, Any]) -> dict[str, Any]:
            """DAPO dynamic sampling: refill the batch's flat groups with groups sampled from
            fresh prompts (up to ``max_resample`` extra generation rounds), then mask out of the
            loss any flat group still left."""
            if self._last_rewards_per_func is None:
                return output
            n_gen = self.num_generations
            n_local = output["completion_mask"].shape[0]
            flat = self._flat_groups()
            metrics = self._metrics["train"]
            metrics["dynamic_sampling/flat_group_frac"].append(flat.float().mean().item())
            resamples = 0
            if n_local % n_gen == 0 and self.max_resample > 0 and bool(flat.any()):
                output, still_flat, resamples = self._refill(output, flat)
                keep = ~still_flat.repeat_interleave(n_gen)
            else:  # this process's samples of the global groups (a group may span processes)
                start = self.accelerator.process_index * n_local
                keep = ~flat.repeat_interleave(n_gen)[start : start + n_local]
            device = output["completion_mask"].device
            keep = keep.to(device)
            output["completion_mask"] = output["completion_mask"] * keep.unsqueeze(1).int()
            mask = output["completion_mask"]
            if "tool_mask" in output:
                mask = mask * output["tool_mask"]
            output["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
            counts = torch.tensor([int((~keep).sum()), keep.numel()], device=device)
            dropped, total = self.accelerator.gather(counts).view(-1, 2).sum(dim=0).tolist()
            metrics["dynamic_sampling/resamples"].append(float(resamples))
            metrics["dynamic_sampling/dropped_group_frac"].append(dropped / max(total, 1))
            if resamples:
                logger.info(
                    "dynamic sampling: %d resample round(s); %d of %d samples still in flat "
                    "groups (masked)",
                    resamples,
                    dropped,
                    total,
                )
            return output

        def _fresh_inputs(self, n_groups: int) -> list[dict[str, Any]]:
            """``n_groups`` prompts drawn from the training set (seeded, per process), each
            repeated ``num_generations`` times, shaped like the sampler's batches."""
            dataset = self.train_dataset
            picks = [self._resample_rng.randrange(len(dataset)) for _ in range(n_groups)]
            return [dataset[i] for i in picks for _ in range(self.num_generations)]

        def _refill(
            self, output: dict[str, Any], flat: torch.Tensor
        ) -> tuple[dict[str, Any], torch.Tensor, int]:
            n_gen = self.num_generations
            n_local = output["completion_mask"].shape[0]
            n_groups = n_local // n_gen
            n_proc, rank = self.accelerator.num_processes, self.accelerator.process_index
            kept = [(output, g) for g in range(n_groups) if not flat.view(n_proc, -1)[rank, g]]
            have = (~flat.view(n_proc, -1)).sum(dim=1)
            rounds = 0
            # every process sees the same gathered rewards, so all take the same decision and
            # run the same number of generation rounds (generation and scoring are collective)
            while rounds < self.max_resample and bool((have < n_groups).any()):
                fresh = self._generate_scored(self._fresh_inputs(n_groups))
                fresh_flat = self._flat_groups().view(n_proc, -1)
                kept += [(fresh, g) for g in range(n_groups) if not fresh_flat[rank, g]]
                have = have + (~fresh_flat).sum(dim=1)
                rounds += 1
            chosen = kept[:n_groups]
            still_flat = [False] * len(chosen)
            originals = [g for g in range(n_groups) if flat.view(n_proc, -1)[rank, g]]
            for g in originals[: n_groups - len(chosen)]:
                chosen.append((output, g))
                still_flat.append(True)
            merged = _take_groups(chosen, n_gen, self._tokenizer.pad_token_id)
            return merged, torch.tensor(still_flat, dtype=torch.bool), rounds

    return ECGR1GRPOTrainer


def ECGR1GRPOTrainer(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - class-like factory
    """Construct the ECG-aware ``GRPOTrainer`` subclass (see module docstring)."""
    return _grpo_trainer_class()(*args, **kwargs)


def world_size() -> int:
    """Number of training processes (``WORLD_SIZE`` set by torchrun / accelerate launch)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def check_grpo_batch(options: GRPOOptions, processes: int = 1) -> None:
    """Fail early when the generation batch cannot hold whole groups.

    TRL samples ``batch_size * processes * grad_accum`` completions per optimizer step (its
    generation batch, ``steps_per_generation`` = ``grad_accum``), in groups of
    ``num_generations`` completions of one prompt; the total must be a multiple of it.

    >>> check_grpo_batch(GRPOOptions(batch_size=3, grad_accum=2, num_generations=6))
    >>> check_grpo_batch(GRPOOptions(batch_size=2, num_generations=4), processes=2)
    """
    if options.num_generations < 2:
        raise InvalidInputError("--num-generations must be at least 2 (group-relative advantages)")
    total = options.batch_size * options.grad_accum * processes
    if total % options.num_generations:
        raise InvalidInputError(
            f"batch_size x grad_accum x processes ({options.batch_size} x {options.grad_accum} "
            f"x {processes} = {total}) must be a multiple of num_generations "
            f"({options.num_generations})"
        )


def check_vllm(rows: list[dict[str, Any]]) -> None:
    """Refuse ``--use-vllm`` where it cannot work, with the reason (see docs/training.md)."""
    if importlib.util.find_spec("vllm") is None:
        raise InvalidInputError("--use-vllm needs the vllm package, which is not installed")
    if not torch.cuda.is_available():
        raise InvalidInputError("--use-vllm needs a CUDA GPU")
    with_ecg = [r.get("id", i) for i, r in enumerate(rows) if (r.get("objects") or {}).get("ecg")]
    if with_ecg:
        raise InvalidInputError(
            f"--use-vllm: row {with_ecg[0]!r} carries an ECG signal; TRL's vLLM rollouts send "
            "token ids and images only, so ECG rows need the default generate path"
        )


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
    check_grpo_batch(options, world_size())
    if options.reward_mode not in REWARD_MODES:
        raise InvalidInputError(
            f"unknown --reward-mode {options.reward_mode!r}; known: {', '.join(REWARD_MODES)}"
        )
    bf16 = resolve_bf16(options.bf16)
    # data problems fail here, before a (possibly 8B) model is loaded
    rows = read_rows(options.data)
    dataset = grpo_dataset(rows)
    check_media_files(rows, ecg_root=options.ecg_root, image_root=options.image_root)
    if options.use_vllm:
        check_vllm(rows)
    model, processor = prepare_model(options, bf16, model, processor)

    weights = parse_reward_weights(options.reward_weights)
    mode_funcs = reward_functions(options.reward_mode)
    funcs = [
        # the consistency reward measures the row's ECG, found under the run's ECG root
        ConsistencyReward(options.ecg_root) if name == "consistency" else mode_funcs[name]
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
        top_k=options.top_k,
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
        **({"use_vllm": True, "vllm_mode": options.vllm_mode} if options.use_vllm else {}),
    )
    imd = (
        {
            "modality_dropout": options.modality_dropout,
            "interleave": options.interleave,
            "passes": options.imd_passes,
        }
        if options.imd
        else None
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
        max_resample=options.max_resample,
        system_prompt=options.system_prompt,
        imd=imd,
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
