"""Training the ECG-R1 model: SFT with Interleaved Modality Dropout, then GRPO/DAPO.

Modules (importing this package is light; torch/TRL load only in the trainer modules):

``ecgr1.train.rewards``
    ECG Diagnostic Evidence Rewards as plain functions (format, diagnosis Jaccard, key
    evidence), parsers for the RL ``solution`` string and 6-step completions, TRL wrappers.
``ecgr1.train.imd``
    ``apply_imd(row, rng=, modality_dropout=0.5, interleave=0.1, training=True)``.
``ecgr1.train.collator``
    ``ECGR1SFTCollator``: IMD + the ECG-R1 processor, labels on the assistant turn.
``ecgr1.train.sft``
    ``SFTOptions``, ``build_sft_trainer``, ``run_sft`` (TRL ``SFTTrainer``).
``ecgr1.train.grpo``
    ``GRPOOptions``, ``ECGR1GRPOTrainer`` (ECG/image-aware ``GRPOTrainer`` with dynamic
    sampling), ``build_grpo_trainer``, ``run_grpo``.
``ecgr1.train.common``
    Options files, freeze groups, LoRA, bf16, loading/saving model directories.
``ecgr1.train.smoke``
    The smoke run behind ``scripts/gpu_smoke.sh`` (``--tiny`` on CPU).

See ``docs/training.md``.
"""
