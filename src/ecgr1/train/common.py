"""Pieces shared by SFT and GRPO: options files, rows, freezing, LoRA, precision, saving."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from ecgr1.errors import InvalidInputError, MissingFileError, ModelError

logger = logging.getLogger(__name__)

# Parameter groups that freeze switches act on, recognised by a component of the parameter
# name (works for the plain model, a PEFT-wrapped one and ModulesToSave copies).
GROUP_MARKERS = {"visual": "vision", "ecg_tower": "ecg_tower", "ecg_projector": "projector"}
# Inside the vision tower: the patch merger and Qwen3-VL's deepstack mergers (ms-swift's
# "aligner" of Qwen-VL models), trainable apart from the ViT blocks.
MERGER_MARKERS = ("merger", "deepstack_merger_list")
GROUPS = ("vision", "merger", "ecg_tower", "projector", "llm")
# LLM linear layers that receive LoRA adapters (Qwen2.5/Qwen3 naming). The pattern is a
# full-match regex so vision/ECG towers, which reuse names such as ``proj``, are never adapted.
LORA_TARGET_REGEX = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


def load_options_file(path: str | Path | None) -> dict[str, Any]:
    """Read a YAML (or JSON) options file: a mapping of option names (``max_steps``, ``lr``...)."""
    if not path:
        return {}
    p = Path(path)
    if not p.is_file():
        raise MissingFileError("options file not found", path=str(p))
    import yaml

    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise InvalidInputError("options file must hold a mapping", path=str(p))
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def merge_options(
    cls: type,
    file_options: dict[str, Any],
    cli_options: dict[str, Any],
    stage: str | None = None,
) -> Any:
    """Build dataclass ``cls``: its defaults, overridden by the preset named by ``preset`` (flag
    or file key; needs ``stage``), overridden by the file, overridden by the CLI."""
    from ecgr1.train.presets import load_preset

    names = {f.name for f in fields(cls)}
    unknown = sorted(set(file_options) - names)
    if unknown:
        raise InvalidInputError(f"unknown option(s) in options file: {', '.join(unknown)}")
    given = {k: v for k, v in cli_options.items() if k in names}
    preset = given.get("preset", file_options.get("preset"))
    preset_options = load_preset(preset, stage, cls) if preset and stage else {}
    merged = {**preset_options, **file_options, **given}
    return cls(**merged)


def read_rows(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Read interchange.md §1 rows from one or more JSONL files (blank lines skipped)."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise MissingFileError("JSONL file not found", path=str(p))
        with p.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidInputError(f"line {n}: not JSON ({exc.msg})", path=str(p)) from exc
                if not isinstance(row, dict) or not isinstance(row.get("messages"), list):
                    raise InvalidInputError(f"line {n}: row has no 'messages' list", path=str(p))
                row.setdefault("images", [])
                row.setdefault("objects", {})
                row["objects"].setdefault("ecg", [])
                rows.append(row)
    if not rows:
        raise InvalidInputError(f"no rows in {', '.join(map(str, paths))}")
    return rows


def _ecg_source_exists(path: Path) -> bool:
    # Mirrors ecgr1.io.read_record's lookup: a file or folder, a WFDB record name without
    # extension (``name.hea``), or ``exams.hdf5#<exam>`` (the part before ``#``).
    text = str(path)
    if "#" in text and not path.exists():
        head = Path(text.rsplit("#", 1)[0])
        if head.is_file():
            return True
    return path.exists() or path.with_name(path.name + ".hea").is_file()


def _unrooted(ref: str | Path, root: str | Path | None) -> bool:
    return root is None and not Path(ref).is_absolute()


def check_media_files(
    rows: Sequence[dict[str, Any]],
    *,
    ecg_root: str | Path | None = None,
    image_root: str | Path | None = None,
) -> None:
    """Fail before any model is loaded when a row points to an ECG record or image that does
    not exist (a missing file would otherwise surface only when its batch comes up, possibly
    hours into a run).

    Only string paths are checked (existence, not readability: reading every record up front
    would cost as much as an epoch of data loading).

    Raises
    ------
    MissingFileError
        naming the first missing file, its row id and how many references are missing.

    Example
    -------
    >>> check_media_files([{"id": "a", "messages": [], "images": [], "objects": {"ecg": []}}])
    """
    from ecgr1.model.data import resolve_path

    missing: list[tuple[str, str, Path, bool]] = []
    for i, row in enumerate(rows):
        row_id = str(row.get("id", i))
        for ref in (row.get("objects") or {}).get("ecg") or []:
            if isinstance(ref, (str, Path)):
                path = resolve_path(ref, ecg_root)
                if not _ecg_source_exists(path):
                    missing.append(("ECG record", row_id, path, _unrooted(ref, ecg_root)))
        for ref in row.get("images") or []:
            if isinstance(ref, (str, Path)):
                path = resolve_path(ref, image_root)
                if not path.is_file():
                    missing.append(("image", row_id, path, _unrooted(ref, image_root)))
    if missing:
        kind, row_id, path, unrooted = missing[0]
        more = f" ({len(missing)} missing files in all)" if len(missing) > 1 else ""
        option = "--ecg-root" if kind == "ECG record" else "--image-root"
        hint = f"; relative paths are read from {option}" if unrooted else ""
        raise MissingFileError(f"{kind} of row {row_id!r} not found{more}{hint}", path=str(path))


ROW_COLUMN = "ecgr1_row"


def rows_dataset(rows: Sequence[dict[str, Any]]) -> Any:
    """Rows as a ``datasets.Dataset`` with one JSON string column (``ecgr1_row``).

    One opaque column keeps heterogeneous rows (optional keys, empty lists) loadable by Arrow,
    and keeps TRL's dataset inspection (which reacts to ``images`` columns) out of the way; the
    collator decodes each row back with :func:`decode_row`.
    """
    from datasets import Dataset

    return Dataset.from_dict({ROW_COLUMN: [json.dumps(r) for r in rows]})


def decode_row(item: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`rows_dataset` for one dataset item (raw rows pass through)."""
    if ROW_COLUMN in item:
        return json.loads(item[ROW_COLUMN])
    return item


def parameter_group(name: str) -> str:
    """Group of a parameter name: ``vision``, ``merger``, ``ecg_tower``, ``projector`` or ``llm``.

    >>> parameter_group("model.visual.merger.linear_fc1.weight")
    'merger'
    >>> parameter_group("model.visual.blocks.0.attn.qkv.weight")
    'vision'
    """
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part in GROUP_MARKERS:
            group = GROUP_MARKERS[part]
            if group == "vision" and any(p in MERGER_MARKERS for p in parts[i + 1 :]):
                return "merger"
            return group
    return "llm"


def set_trainable(model: torch.nn.Module, train: dict[str, bool]) -> dict[str, int]:
    """Set ``requires_grad`` per group; returns trainable parameter counts per group."""
    counts = dict.fromkeys(GROUPS, 0)
    for name, param in model.named_parameters():
        group = parameter_group(name)
        param.requires_grad_(bool(train.get(group, False)))
        if param.requires_grad:
            counts[group] += param.numel()
    return counts


def trainable_counts(model: torch.nn.Module) -> dict[str, int]:
    """Trainable parameter counts per group."""
    counts = dict.fromkeys(GROUPS, 0)
    for name, param in model.named_parameters():
        if param.requires_grad:
            counts[parameter_group(name)] += param.numel()
    return counts


def parse_lora(spec: str | Sequence[int] | None) -> tuple[int, int] | None:
    """``"r,alpha"`` (or ``[r, alpha]``) -> (r, alpha); None/empty -> None."""
    if spec in (None, "", False):
        return None
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    try:
        r, alpha = (int(parts[0]), int(parts[1] if len(parts) > 1 else 2 * int(parts[0])))
    except (ValueError, IndexError) as exc:
        raise InvalidInputError(f"--lora expects 'r,alpha' (e.g. 16,32), got {spec!r}") from exc
    if r <= 0 or alpha <= 0:
        raise InvalidInputError("LoRA r and alpha must be positive")
    return r, alpha


def apply_lora(
    model: torch.nn.Module, r: int, alpha: int, train: dict[str, bool], dropout: float = 0.05
) -> torch.nn.Module:
    """Wrap ``model`` with LoRA adapters on the LLM; ECG tower/projector stay fully trainable.

    The ECG tower, the projector (and the vision tower with ``train['vision']``) go to peft's
    ``modules_to_save``: they are trained in full and saved with the adapter, so the adapter
    directory alone restores them. ``train['llm']`` is ignored here: LoRA *is* the LLM update.
    """
    from peft import LoraConfig, get_peft_model

    modules_to_save = [
        marker
        for marker, group in GROUP_MARKERS.items()
        if train.get(group) and any(marker in n.split(".") for n, _ in model.named_modules())
    ]
    if train.get("merger") and not train.get("vision"):
        present = {p for n, _ in model.named_modules() for p in n.split(".")}
        modules_to_save += [m for m in MERGER_MARKERS if m in present]
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=LORA_TARGET_REGEX,
        modules_to_save=modules_to_save or None,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def resolve_bf16(setting: str | bool | None) -> bool:
    """``auto``: bf16 when a CUDA GPU with bf16 support is present; ``true``/``false`` force it."""
    if isinstance(setting, bool):
        return setting
    value = str(setting or "auto").lower()
    if value == "auto":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise InvalidInputError(f"--bf16 expects auto/true/false, got {setting!r}")


def load_model(
    path: str | Path,
    bf16: bool,
    *,
    attn_implementation: str | None = None,
    ecg_tower_checkpoint: str | None = None,
) -> tuple[torch.nn.Module, Any]:
    """Load the ECG-R1 model and processor from a directory (the model helper's loader).

    A plain Qwen-VL directory gets a freshly initialised ECG tower/projector (optionally filled
    from an ECG-CoCa ``ecg_tower_checkpoint``): the usual start of SFT.
    """
    from ecgr1.model import load_model_and_processor

    if not Path(path).is_dir():
        raise MissingFileError("model directory not found", path=str(path))
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if bf16 else torch.float32}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if ecg_tower_checkpoint:
        kwargs["ecg_tower_checkpoint"] = ecg_tower_checkpoint
    return load_model_and_processor(str(path), **kwargs)


def save_model_dir(model: torch.nn.Module, processor: Any, out_dir: str | Path) -> Path:
    """Save a directory that ``load_model_and_processor`` reads back.

    A PEFT model is saved twice: the adapter (with ``modules_to_save``) under ``adapter/`` and
    the merged full model at the top level, so the directory loads without peft.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "merge_and_unload"):
        model.save_pretrained(str(out / "adapter"))
        model = model.merge_and_unload()
    model.save_pretrained(str(out))
    processor.save_pretrained(str(out))
    return out


def last_checkpoint(out_dir: str | Path) -> str | None:
    """Newest ``checkpoint-N`` folder in ``out_dir`` or None."""
    from transformers.trainer_utils import get_last_checkpoint

    if not Path(out_dir).is_dir():
        return None
    return get_last_checkpoint(str(out_dir))


def write_log_history(out_dir: str | Path, history: Iterable[dict[str, Any]]) -> Path:
    """Write the trainer's log history (losses, rewards per function) as ``log_history.json``."""
    path = Path(out_dir) / "log_history.json"
    path.write_text(json.dumps(list(history), indent=1, default=float), encoding="utf-8")
    return path


def check_model_ready(model: torch.nn.Module) -> None:
    """Fail early, clearly, when the directory holds a model without the ECG modules."""
    names = {n.split(".")[-1] for n, _ in model.named_modules()}
    if "ecg_tower" not in names and not any("ecg_tower" in n for n, _ in model.named_modules()):
        raise ModelError("model has no ECG tower (model.ecg_tower); is this an ECG-R1 model dir?")


def checkpointing_args(config_cls: type, enabled: bool) -> dict[str, bool]:
    """The activation-checkpointing switch under the name this transformers version uses.

    transformers 5.x renamed ``gradient_checkpointing`` to ``activation_checkpointing`` (the old
    name warns); 4.x only knows the old one. TRL configs default it to True, so it is always
    passed explicitly.
    """
    names = {f.name for f in fields(config_cls)}
    key = (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )
    return {key: enabled}


def warmup_args(config_cls: type, warmup: float) -> dict[str, float | int]:
    """The warm-up setting: a share of the total steps when ``warmup < 1``, else a number of
    steps. transformers 5.x takes both as ``warmup_steps`` (a float below 1 is a ratio); 4.x
    has a separate ``warmup_ratio``."""
    if warmup >= 1:
        return {"warmup_steps": int(warmup)}
    if "warmup_ratio" in {f.name for f in fields(config_cls)}:
        return {"warmup_ratio": float(warmup)}
    return {"warmup_steps": float(warmup)}


def enable_ecg_checkpointing(model: torch.nn.Module, enabled: bool) -> None:
    """Checkpoint the ECG tower's blocks too (HF's switch does not reach plain ``nn.Module``s)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    switch = getattr(base, "set_ecg_gradient_checkpointing", None)
    if enabled and callable(switch):
        switch(True)


def processor_saver(processor: Any) -> Any:
    """A TrainerCallback that saves the ECG-R1 processor into every ``checkpoint-N`` folder,
    so a checkpoint loads with ``load_model_and_processor`` like a final model directory."""
    from transformers import TrainerCallback

    class SaveProcessor(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir() and state.is_world_process_zero:
                processor.save_pretrained(str(folder))

    return SaveProcessor()


def prepare_model(
    options: Any, bf16: bool, model: Any = None, processor: Any = None
) -> tuple[Any, Any]:
    """Load (unless given) and set up a model for SFT or GRPO from the shared training options.

    Applies the freeze switches, LoRA (ECG tower and projector stay trainable and are saved
    with the adapter) and gradient checkpointing, in that order.
    """
    if model is None or processor is None:
        model, processor = load_model(
            options.model,
            bf16,
            attn_implementation=options.attn_implementation,
            ecg_tower_checkpoint=options.ecg_tower_checkpoint,
        )
    check_model_ready(model)
    train = options.trainable()
    lora = parse_lora(options.lora)
    if lora:
        set_trainable(model, {**train, "llm": False})
        model = apply_lora(model, *lora, train=train, dropout=options.lora_dropout)
    else:
        set_trainable(model, train)
    enable_ecg_checkpointing(model, options.gradient_checkpointing)
    return model, processor


def trainer_args(config_cls: type, options: Any, bf16: bool) -> dict[str, Any]:
    """Keyword arguments shared by the SFT and GRPO trainer configs, from the shared options."""
    return {
        "output_dir": options.out,
        "max_steps": options.max_steps,
        "num_train_epochs": options.epochs,
        "learning_rate": options.lr,
        "lr_scheduler_type": options.lr_scheduler,
        **warmup_args(config_cls, options.warmup),
        "per_device_train_batch_size": options.batch_size,
        "gradient_accumulation_steps": options.grad_accum,
        **checkpointing_args(config_cls, options.gradient_checkpointing),
        "bf16": bf16,
        "use_cpu": not torch.cuda.is_available(),
        "logging_steps": options.logging_steps,
        "save_strategy": "steps" if options.save_steps > 0 else "no",
        "save_steps": options.save_steps if options.save_steps > 0 else 500,
        "save_total_limit": options.save_total_limit,
        "seed": options.seed,
        "report_to": [],
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        # IMD drops a modality per row, so a DDP rank may leave the ECG or vision tower unused.
        "ddp_find_unused_parameters": True,
    }
