"""Canonical 12-lead names and the aliases found in the wild."""

from __future__ import annotations

# The one place the standard 12-lead order is written: the six limb (frontal-plane) leads, then
# the six precordial (chest) leads, as printed on a standard ECG. Every other module imports these.
LIMB_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF")
PRECORDIAL_LEADS: tuple[str, ...] = ("V1", "V2", "V3", "V4", "V5", "V6")
STANDARD_LEADS: tuple[str, ...] = LIMB_LEADS + PRECORDIAL_LEADS

_ALIASES: dict[str, str] = {
    "i": "I", "ii": "II", "iii": "III", "avr": "aVR", "avl": "aVL", "avf": "aVF",
    "mlii": "II", "mli": "I", "mliii": "III", "ml2": "II",
    "lead i": "I", "lead ii": "II", "lead iii": "III",
    "dii": "II", "di": "I", "diii": "III",
    "-avr": "-aVR",
}  # fmt: skip
for _k in range(1, 7):
    _ALIASES[f"v{_k}"] = f"V{_k}"
    _ALIASES[f"mv{_k}"] = f"V{_k}"
    _ALIASES[f"lead v{_k}"] = f"V{_k}"


def canonical_lead_name(name: str) -> str:
    """Map a lead name as written in a file to its canonical spelling.

    Unknown names are returned stripped but otherwise unchanged (kept by name, never guessed).

    >>> canonical_lead_name("avl"), canonical_lead_name("MLII"), canonical_lead_name("vx")
    ('aVL', 'II', 'vx')
    """
    key = name.strip().lower().replace("_", " ")
    return _ALIASES.get(key, name.strip())
