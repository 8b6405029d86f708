"""Options shared by the SFT and GRPO stages (light: no torch import, so CLIs stay fast)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainingOptions:
    """Settings shared by SFT and GRPO (CLI flags and options-file keys share these names).

    ``SFTOptions`` and ``GRPOOptions`` add their own settings and defaults.
    """

    preset: str | None = None
    model: str = ""
    data: list[str] = field(default_factory=list)
    out: str = ""
    ecg_root: str | None = None
    image_root: str | None = None
    max_steps: int = -1
    epochs: float = 1.0
    lr: float = 1e-5
    batch_size: int = 1
    grad_accum: int = 1
    system_prompt: str | None = None
    lr_scheduler: str = "linear"
    warmup: float = 0.0
    train_vision: bool = False
    train_merger: bool | None = None
    train_ecg_tower: bool = True
    train_projector: bool = True
    train_llm: bool = True
    lora: str | None = None
    lora_dropout: float = 0.05
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None
    ecg_tower_checkpoint: str | None = None
    bf16: str = "auto"
    resume: bool = False
    seed: int = 42
    logging_steps: int = 1
    save_steps: int = 0
    save_total_limit: int | None = 2
    # Interleaved Modality Dropout (SFT collator; GRPO training forward with ``imd``)
    modality_dropout: float = 0.5
    interleave: float = 0.1
    imd_passes: int = 1

    def trainable(self) -> dict[str, bool]:
        """Freeze switches as a group -> trainable mapping.

        ``merger`` (the vision tower's patch merger and deepstack mergers, ms-swift's
        "aligner") follows ``train_vision`` unless ``train_merger`` is set.
        """
        merger = self.train_vision if self.train_merger is None else self.train_merger
        return {
            "vision": self.train_vision,
            "merger": bool(merger),
            "ecg_tower": self.train_ecg_tower,
            "projector": self.train_projector,
            "llm": self.train_llm,
        }
