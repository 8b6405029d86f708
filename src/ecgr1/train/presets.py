"""Training presets (``--preset NAME``): named option values per stage, kept as data in
``presets.yaml`` and validated against the stage's options when loaded.

Precedence when options are merged: dataclass defaults < preset < ``--config`` file < flags.

Example
-------
>>> load_preset("ecg-r1", "grpo")["num_generations"]
6
>>> sorted(preset_names())
['ecg-r1']
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from importlib import resources
from typing import Any

from ecgr1.errors import InvalidInputError

STAGES = ("sft", "grpo")


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, dict[str, Any]]]:
    import yaml

    text = resources.files("ecgr1.train").joinpath("presets.yaml").read_text("utf-8")
    table = yaml.safe_load(text) or {}
    for name, stages in table.items():
        unknown = set(stages) - set(STAGES)
        if unknown:
            raise ValueError(f"preset {name!r}: unknown stage(s) {sorted(unknown)}")
    return table


def preset_names() -> list[str]:
    """Names of the presets in ``presets.yaml``."""
    return list(_table())


def load_preset(name: str, stage: str, options_class: type | None = None) -> dict[str, Any]:
    """Option values of preset ``name`` for ``stage`` (``sft`` or ``grpo``).

    With ``options_class`` (``SFTOptions``/``GRPOOptions``) every key is checked to be one of
    its fields.

    Raises
    ------
    InvalidInputError
        for an unknown preset or stage, or a key the stage does not have.
    """
    table = _table()
    if name not in table:
        raise InvalidInputError(f"unknown preset {name!r}; known: {', '.join(table)}")
    if stage not in table[name]:
        raise InvalidInputError(f"preset {name!r} has no settings for stage {stage!r}")
    values = {str(k).replace("-", "_"): v for k, v in table[name][stage].items()}
    if options_class is not None:
        known = {f.name for f in fields(options_class)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInputError(f"preset {name!r} ({stage}): unknown option(s) {unknown}")
    return values
