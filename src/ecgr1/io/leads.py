"""Canonical 12-lead names and the aliases found in the wild.

Three kinds of alias (all listed in ``docs/io.md``, generated from the tables below):

- :data:`LEAD_ALIASES`: other spellings of a standard lead (``avl``, ``DII``, ``lead V1``), mapped
  silently;
- :data:`ASSUMED_ALIASES`: names of a *different* lead that is usually read as a standard one
  (``MLII``, a modified limb lead on the torso; ``D3``, a D-numbered Holter lead), mapped with a
  warning that says so;
- numbered names ``lead_1`` ... ``lead_12`` (also ``lead 1``), mapped to the standard order only
  when asked (``lead_map="standard-order"``, CLI ``--lead-map standard-order``); otherwise kept
  with a warning that suggests the option.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# The one place the standard 12-lead order is written: the six limb (frontal-plane) leads, then
# the six precordial (chest) leads, as printed on a standard ECG. Every other module imports these.
LIMB_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF")
PRECORDIAL_LEADS: tuple[str, ...] = ("V1", "V2", "V3", "V4", "V5", "V6")
STANDARD_LEADS: tuple[str, ...] = LIMB_LEADS + PRECORDIAL_LEADS

#: Spellings of a standard lead (lower case; ``_`` is read as a space), mapped without a warning.
LEAD_ALIASES: dict[str, str] = {
    "i": "I", "ii": "II", "iii": "III", "avr": "aVR", "avl": "aVL", "avf": "aVF",
    "lead i": "I", "lead ii": "II", "lead iii": "III",
    "di": "I", "dii": "II", "diii": "III",
    "-avr": "-aVR",
}  # fmt: skip
for _k in range(1, 7):
    LEAD_ALIASES[f"v{_k}"] = f"V{_k}"
    LEAD_ALIASES[f"lead v{_k}"] = f"V{_k}"

_MODIFIED_LIMB = "a modified limb lead on torso electrodes, as in Holter or Mason-Likar recordings"
_MODIFIED_CHEST = "a modified chest lead, as in Holter recordings"
_D_NUMBERED = (
    "a D-numbered lead read as Einthoven I-III, although Holter recorders number others so"
)

#: Names of another lead that is usually read as a standard one: mapped, with a warning that
#: names the assumption. Lower case, as :data:`LEAD_ALIASES`; value ``(lead, why)``.
ASSUMED_ALIASES: dict[str, tuple[str, str]] = {
    "mli": ("I", _MODIFIED_LIMB), "mlii": ("II", _MODIFIED_LIMB),
    "mliii": ("III", _MODIFIED_LIMB), "ml2": ("II", _MODIFIED_LIMB),
    "d1": ("I", _D_NUMBERED), "d2": ("II", _D_NUMBERED), "d3": ("III", _D_NUMBERED),
}  # fmt: skip
for _k in range(1, 7):
    ASSUMED_ALIASES[f"mv{_k}"] = (f"V{_k}", _MODIFIED_CHEST)

#: Values of ``lead_map`` (``read_record(..., lead_map=...)``, CLI ``--lead-map``).
#: ``"standard-order"``: ``lead_1`` ... ``lead_12`` are I, II, III, aVR, aVL, aVF, V1-V6.
LEAD_MAPS: tuple[str, ...] = ("standard-order",)

_NUMBERED_RE = re.compile(r"lead (\d+)")


def _key(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").split())


def _check_lead_map(lead_map: str | None) -> None:
    if lead_map is not None and lead_map not in LEAD_MAPS:
        raise ValueError(f"lead_map must be one of {LEAD_MAPS} or None, got {lead_map!r}")


def numbered_lead(name: str) -> int | None:
    """``k`` for a name ``lead_k`` / ``lead k`` with k from 1 to 12, else None.

    >>> numbered_lead("lead_3"), numbered_lead("Lead 12"), numbered_lead("lead_13"), numbered_lead("lead3")
    (3, 12, None, None)
    """
    m = _NUMBERED_RE.fullmatch(_key(name))
    if m and 1 <= int(m.group(1)) <= len(STANDARD_LEADS) and m.group(1)[0] != "0":
        return int(m.group(1))
    return None


def canonical_lead_name(name: str, lead_map: str | None = None) -> str:
    """Map a lead name as written in a file to its canonical spelling.

    Unknown names are returned stripped but otherwise unchanged (kept by name, never guessed).
    Assumed aliases (``MLII``, ``D3``) are mapped too; :func:`map_lead_names` also returns the
    warning that says so. ``lead_map="standard-order"`` maps ``lead_1`` ... ``lead_12``.

    >>> canonical_lead_name("avl"), canonical_lead_name("MLII"), canonical_lead_name("vx")
    ('aVL', 'II', 'vx')
    >>> canonical_lead_name("lead_7"), canonical_lead_name("lead_7", lead_map="standard-order")
    ('lead_7', 'V1')
    """
    _check_lead_map(lead_map)
    key = _key(name)
    if key in LEAD_ALIASES:
        return LEAD_ALIASES[key]
    if key in ASSUMED_ALIASES:
        return ASSUMED_ALIASES[key][0]
    number = numbered_lead(name)
    if number is not None and lead_map == "standard-order":
        return STANDARD_LEADS[number - 1]
    return name.strip()


def map_lead_names(
    names: Sequence[str], lead_map: str | None = None
) -> tuple[list[str], list[str]]:
    """Canonical names for the leads of one record, and the warnings the mapping calls for.

    One warning lists the names mapped by assumption (with why), one the numbered names mapped
    by ``lead_map``, and one the numbered names kept as given because no ``lead_map`` was chosen.

    >>> names, warnings = map_lead_names(["MLII", "V5"])
    >>> names
    ['II', 'V5']
    >>> print(warnings[0])
    lead name(s) mapped by assumption: MLII -> II (a modified limb lead on torso electrodes, as in Holter or Mason-Likar recordings)
    >>> map_lead_names(["lead_1", "lead_2"], lead_map="standard-order")
    (['I', 'II'], ["numbered lead name(s) mapped to the standard order I, II, III, aVR, aVL, aVF, V1-V6 as asked (lead_map='standard-order'): lead_1 -> I, lead_2 -> II"])
    """
    _check_lead_map(lead_map)
    out: list[str] = []
    assumed: list[str] = []
    numbered: list[str] = []
    kept: list[str] = []
    for raw in names:
        name = canonical_lead_name(raw, lead_map)
        key = _key(raw)
        if key not in LEAD_ALIASES and key in ASSUMED_ALIASES:
            why = ASSUMED_ALIASES[key][1]
            assumed.append(f"{raw.strip()} -> {name} ({why})")
        elif numbered_lead(raw) is not None:
            (numbered if lead_map else kept).append(
                f"{raw.strip()} -> {name}" if lead_map else raw.strip()
            )
        out.append(name)
    warnings: list[str] = []
    if assumed:
        warnings.append(f"lead name(s) mapped by assumption: {'; '.join(assumed)}")
    order = "I, II, III, aVR, aVL, aVF, V1-V6"
    if numbered:
        warnings.append(
            f"numbered lead name(s) mapped to the standard order {order} as asked "
            f"(lead_map={lead_map!r}): {', '.join(numbered)}"
        )
    if kept:
        warnings.append(
            f"numbered lead name(s) kept as given: {', '.join(kept)}; if they number the "
            f"standard leads in the order {order}, read with lead_map='standard-order' "
            "(CLI: --lead-map standard-order)"
        )
    return out, warnings


def alias_table() -> list[tuple[str, str, str]]:
    """Every accepted alias as ``(spelling, lead, note)``, in the order ``docs/io.md`` lists them.

    ``note`` is empty for plain spellings, ``assumed: <why>`` for assumed aliases and
    ``only with lead_map='standard-order'`` for numbered names. Spellings are case-insensitive
    and ``_`` equals a space.

    >>> alias_table()[0], alias_table()[-1]
    (('i', 'I', ''), ('lead_12', 'V6', "only with lead_map='standard-order'"))
    """
    rows = [(k, v, "") for k, v in LEAD_ALIASES.items()]
    rows += [(k, v, f"assumed: {why}") for k, (v, why) in ASSUMED_ALIASES.items()]
    rows += [
        (f"lead_{k}", lead, "only with lead_map='standard-order'")
        for k, lead in enumerate(STANDARD_LEADS, start=1)
    ]
    return rows


def aliases_markdown() -> str:
    """The alias table of ``docs/io.md`` (one row per lead), generated from the tables above.

    >>> print(aliases_markdown().splitlines()[2])
    | I | `i`, `lead i`, `di` | `mli`, `d1` | `lead_1` |
    """
    table = alias_table()

    def cell(lead: str, kind: str) -> str:
        names = [
            f"`{k}`"
            for k, v, note in table
            if v == lead and (note.startswith(kind) if kind else not note)
        ]
        return ", ".join(names) or "–"

    lines = [
        '| lead | spellings | mapped by assumption (warned) | only with `lead_map="standard-order"` |',
        "|---|---|---|---|",
    ]
    for lead in (*STANDARD_LEADS, "-aVR"):
        label = "-aVR (inverted into aVR)" if lead == "-aVR" else lead
        lines.append(
            f"| {label} | {cell(lead, '')} | {cell(lead, 'assumed')} | {cell(lead, 'only')} |"
        )
    return "\n".join(lines) + "\n"
