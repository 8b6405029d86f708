"""Supervised fine-tuning of ECG-R1 on TRL's ``SFTTrainer`` with Interleaved Modality Dropout.

No training loop here: :func:`run_sft` builds the model, the freeze/LoRA setup, the
:class:`~ecgr1.train.collator.ECGR1SFTCollator` and an ``SFTConfig``, then calls
``SFTTrainer.train``. The dataset is the list of raw rows (TRL's own dataset preparation is
skipped, ``skip_prepare_dataset``); the collator applies IMD, loads ECG/image and builds labels
on the assistant turn only. SFTTrainer's fused LM-head loss calls the model *backbone* with the
batch's keyword arguments, so ``ecg_values`` reaches the ECG splice in the backbone.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ecgr1.errors import InvalidInputError
from ecgr1.train.options import TrainingOptions

logger = logging.getLogger(__name__)


@dataclass
class SFTOptions(TrainingOptions):
    """All SFT settings (CLI flags and options-file keys share these names)."""

    lr: float = 1e-5
    batch_size: int = 1
    weight_decay: float = 0.0
    max_length: int | None = None


def build_sft_trainer(options: SFTOptions, model: Any = None, processor: Any = None) -> Any:
    """Build (but do not run) the ``SFTTrainer`` for ``options``.

    ``model``/``processor`` may be passed in (tests); otherwise they are loaded from
    ``options.model``.
    """
    from trl import SFTConfig, SFTTrainer

    from ecgr1.train.collator import ECGR1SFTCollator
    from ecgr1.train.common import (
        check_media_files,
        prepare_model,
        processor_saver,
        read_rows,
        resolve_bf16,
        rows_dataset,
        trainer_args,
    )

    if not options.out:
        raise InvalidInputError("--out is required")
    bf16 = resolve_bf16(options.bf16)
    # data problems fail here, before a (possibly 8B) model is loaded
    rows = read_rows(options.data)
    check_media_files(rows, ecg_root=options.ecg_root, image_root=options.image_root)
    model, processor = prepare_model(options, bf16, model, processor)
    if not any(p.requires_grad for p in model.parameters()):
        raise InvalidInputError("every parameter group is frozen: nothing to train")

    args = SFTConfig(
        **trainer_args(SFTConfig, options, bf16),
        weight_decay=options.weight_decay,
        dataset_kwargs={"skip_prepare_dataset": True},
        max_length=None,
    )
    collator = ECGR1SFTCollator(
        processor,
        modality_dropout=options.modality_dropout,
        interleave=options.interleave,
        passes=options.imd_passes,
        training=True,
        seed=options.seed,
        ecg_root=options.ecg_root,
        image_root=options.image_root,
        max_length=options.max_length,
        system_prompt=options.system_prompt,
    )
    # TRL accepts a tokenizer or a transformers ProcessorMixin as processing_class; the ECG-R1
    # processor is neither, so TRL gets its tokenizer (padding, checkpoint saving) and the
    # collator does all multimodal work. The full processor rides along for the final save.
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=rows_dataset(rows),
        processing_class=processor.tokenizer,
        data_collator=collator,
        callbacks=[processor_saver(processor)],
    )
    trainer.ecgr1_processor = processor
    return trainer


def run_sft(options: SFTOptions, model: Any = None, processor: Any = None) -> dict[str, Any]:
    """Train, save a loadable model directory in ``options.out``, return a summary.

    Returns
    -------
    dict with ``out`` (path), ``steps``, ``final_loss``, ``losses`` (per logged step),
    ``trainable`` (parameter counts per group) and ``imd`` (IMD decision counts).
    """
    from ecgr1.train.common import (
        last_checkpoint,
        save_model_dir,
        trainable_counts,
        write_log_history,
    )

    trainer = build_sft_trainer(options, model, processor)
    counts = trainable_counts(trainer.model)
    resume = last_checkpoint(options.out) if options.resume else None
    if options.resume and resume is None:
        logger.warning("--resume given but no checkpoint in %s; starting fresh", options.out)
    result = trainer.train(resume_from_checkpoint=resume)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    save_model_dir(trainer.model, trainer.ecgr1_processor, options.out)
    write_log_history(options.out, trainer.state.log_history)
    Path(options.out, "ecgr1_train_options.json").write_text(
        json.dumps({"stage": "sft", **asdict(options)}, indent=1), encoding="utf-8"
    )
    final = losses[-1] if losses else float(result.training_loss)
    return {
        "out": options.out,
        "steps": trainer.state.global_step,
        "final_loss": final,
        "losses": losses,
        "finite": all(math.isfinite(x) for x in losses),
        "trainable": counts,
        "imd": dict(trainer.data_collator.imd_counts),
    }
