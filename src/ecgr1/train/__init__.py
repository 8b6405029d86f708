"""Training the ECG-R1 model: SFT with Interleaved Modality Dropout, then GRPO/DAPO.

Modules (importing this package is light; torch/TRL load only in the trainer modules):

``ecgr1.train.rewards``
    ECG Diagnostic Evidence Rewards as plain functions (format, diagnosis Jaccard, key
    evidence), parsers for the RL ``solution`` string and 6-step completions, TRL wrappers.
``ecgr1.train.reference_rewards``
    The ECG-R1 reference implementation's reward formulas (``--reward-mode reference``).
``ecgr1.train.imd``
    ``apply_imd(row, rng=, modality_dropout=0.5, interleave=0.1, training=True, passes=1)``.
``ecgr1.train.collator``
    ``ECGR1SFTCollator``: IMD + the ECG-R1 processor, labels on the assistant turn.
``ecgr1.train.sft``
    ``SFTOptions``, ``build_sft_trainer``, ``run_sft`` (TRL ``SFTTrainer``).
``ecgr1.train.grpo``
    ``GRPOOptions``, ``ECGR1GRPOTrainer`` (ECG/image-aware ``GRPOTrainer`` with dynamic
    sampling), ``build_grpo_trainer``, ``run_grpo``.
``ecgr1.train.common``
    Options files, freeze groups, LoRA, bf16, loading/saving model directories.
``ecgr1.train.presets``
    Named option sets (``--preset ecg-r1``), data in ``presets.yaml``.
``ecgr1.train.full_size``
    Random ECG-R1-8B (``configs/qwen3_vl_8b.json``) built on meta, timed at the paper's
    lengths: the default of ``scripts/gpu_smoke.sh``.
``ecgr1.train.smoke``
    The end-to-end smoke run behind ``scripts/gpu_smoke.sh --small`` (``--tiny`` on CPU).

See ``docs/training.md``.
"""
