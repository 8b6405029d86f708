"""SFT data collator: Interleaved Modality Dropout, then the ECG-R1 processor, labels on the answer.

Rows stay raw interchange dicts in the dataset; everything (IMD, media loading, tokenisation,
padding) happens here, per batch, so large corpora need no preprocessing pass and every epoch
sees fresh IMD draws. Tokenisation and labels are the model helper's
(:func:`ecgr1.model.processing.build_training_example`: labels only on assistant turns, the
assistant text tokenised apart from the prompt so the label boundary is exact); batching is
:meth:`ECGR1Processor.collate` (right padding, media tensors concatenated in row order).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ecgr1.train.imd import DEFAULT_INTERLEAVE, DEFAULT_MODALITY_DROPOUT, apply_imd


@dataclass
class ECGR1SFTCollator:
    """Collate raw interchange rows into a training batch.

    Parameters
    ----------
    processor : the model helper's ``ECGR1Processor``.
    modality_dropout, interleave : IMD probabilities (see :mod:`ecgr1.train.imd`).
    passes : IMD passes per row (2 reproduces the reference implementation's effective rates).
    training : apply IMD (True for the training set; False for evaluation batches).
    seed : seed of the IMD random stream (one stream per collator, advanced row by row).
    ecg_root, image_root : roots for relative paths in rows.
    max_length : cap on tokens per example (the end of the assistant text is cut, media never).
    system_prompt : None keeps the rows' own system turn (else the processor default).

    Example
    -------
    ``trainer = SFTTrainer(..., data_collator=ECGR1SFTCollator(processor))``
    """

    processor: Any
    modality_dropout: float = DEFAULT_MODALITY_DROPOUT
    interleave: float = DEFAULT_INTERLEAVE
    passes: int = 1
    training: bool = True
    seed: int = 0
    ecg_root: str | Path | None = None
    image_root: str | Path | None = None
    max_length: int | None = None
    system_prompt: str | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.imd_counts = {"rows": 0, "dropped_ecg": 0, "dropped_image": 0, "swapped": 0}

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """IMD (training only), media loading and tokenisation of ``rows``; one padded batch
        with ``input_ids``, ``attention_mask``, ``labels`` and the media tensors."""
        from ecgr1.model.processing import build_training_example
        from ecgr1.train.common import decode_row

        examples = []
        for item in rows:
            row = decode_row(item)
            row, decision = apply_imd(
                row,
                rng=self._rng,
                modality_dropout=self.modality_dropout,
                interleave=self.interleave,
                passes=self.passes,
                training=self.training,
            )
            self.imd_counts["rows"] += 1
            if decision.dropped:
                self.imd_counts[f"dropped_{decision.dropped}"] += 1
            self.imd_counts["swapped"] += int(decision.swapped)
            examples.append(
                build_training_example(
                    row,
                    self.processor,
                    train=True,
                    ecg_root=self.ecg_root,
                    image_root=self.image_root,
                    system_prompt=self.system_prompt,
                    max_length=self.max_length,
                )
            )
        return self.processor.collate(examples, padding_side="right")
