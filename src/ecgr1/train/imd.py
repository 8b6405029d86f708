"""Interleaved Modality Dropout (IMD): a pure, seeded transform of one instruction row.

ECG-R1 trains with rows that carry both the ECG signal (``<ecg>`` tag + ``objects.ecg``) and the
ECG image (``<image>`` tag + ``images``). IMD makes the model robust to either one missing and
to their order:

* with probability ``modality_dropout`` (default 0.5) one of the *present* modalities, chosen
  uniformly at random, is dropped: every tag of that kind is removed from the non-assistant turns
  and its data list is emptied. A row with only one modality is never dropped (a row must keep at
  least one modality);
* with probability ``interleave`` (default 0.1) the first ``<ecg>`` and the first ``<image>`` tag
  swap places (only when both are still present after the dropout step). Tag counts per kind are
  unchanged, so the i-th tag of a kind still takes the i-th entry of its list;
* outside training (``training=False``: evaluation, inference) the row is returned unchanged.

Three uniform numbers are drawn for every row (and pass), whatever happens, so a given seed gives
the same decisions regardless of the row's content.

``passes=2`` applies the transform twice to the same row, as the ECG-R1 reference template does
(its ``_encode_truncated`` runs the dropout/interleave step and then calls ``_encode``, which
runs it again): a modality already dropped stays dropped (the second pass never removes the
last one), and a second swap puts the tags back. With the nominal 0.5 / 0.1 the effective rates
become 1 - 0.5**2 = 75 % of two-modality rows with one modality dropped, and 2 * 0.1 * 0.9 = 18 %
of the rows that keep both with their order swapped (4.5 % of all two-modality rows).

Example
-------
>>> row = {"messages": [{"role": "user", "content": "<ecg><image>\\nInterpret"},
...                     {"role": "assistant", "content": "x"}],
...        "images": ["a.png"], "objects": {"ecg": ["rec"]}}
>>> out, info = apply_imd(row, rng=3)
>>> info.dropped in (None, "ecg", "image")
True
>>> apply_imd(row, rng=3, training=False)[0] == row
True
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

ECG_TAG = "<ecg>"
IMAGE_TAG = "<image>"
DEFAULT_MODALITY_DROPOUT = 0.5
DEFAULT_INTERLEAVE = 0.1


@dataclass(frozen=True)
class IMDDecision:
    """What IMD did to a row: the dropped modality (``"ecg"``/``"image"``/None) and the swap."""

    dropped: str | None = None
    swapped: bool = False


def _as_rng(rng: random.Random | int | None) -> random.Random:
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def _prompt_messages(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in row.get("messages", []) if m.get("role") != "assistant"]


def _count_tag(row: dict[str, Any], tag: str) -> int:
    return sum(str(m.get("content", "")).count(tag) for m in _prompt_messages(row))


def present_modalities(row: dict[str, Any]) -> list[str]:
    """Modalities a row really carries: a tag in the prompt and a non-empty data list.

    >>> present_modalities({"messages": [{"role": "user", "content": "<image>hi"}],
    ...                     "images": ["a.png"], "objects": {"ecg": []}})
    ['image']
    """
    present = []
    if _count_tag(row, ECG_TAG) and (row.get("objects") or {}).get("ecg"):
        present.append("ecg")
    if _count_tag(row, IMAGE_TAG) and row.get("images"):
        present.append("image")
    return present


def drop_modality(row: dict[str, Any], modality: str) -> dict[str, Any]:
    """A copy of ``row`` without one modality (its tags in the prompt turns and its data)."""
    out = copy.deepcopy(row)
    tag = ECG_TAG if modality == "ecg" else IMAGE_TAG
    for message in _prompt_messages(out):
        if isinstance(message.get("content"), str):
            message["content"] = message["content"].replace(tag, "")
    if modality == "ecg":
        out.setdefault("objects", {})
        out["objects"] = {**(out["objects"] or {}), "ecg": []}
    else:
        out["images"] = []
    return out


def swap_first_tags(row: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``row`` in which the first ``<ecg>`` and first ``<image>`` tags trade places.

    Both tags are looked for across the prompt turns in order; when they sit in the same message
    the text between them is kept in place.
    """
    out = copy.deepcopy(row)
    messages = _prompt_messages(out)
    where: dict[str, tuple[int, int]] = {}
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, str):
            continue
        for tag in (ECG_TAG, IMAGE_TAG):
            pos = content.find(tag)
            if tag not in where and pos >= 0:
                where[tag] = (i, pos)
    if len(where) < 2:
        return out
    # Replace the later occurrence first so the earlier one's offset stays valid.
    spots = sorted(where.items(), key=lambda kv: kv[1], reverse=True)
    for tag, (i, pos) in spots:
        other = IMAGE_TAG if tag == ECG_TAG else ECG_TAG
        text = messages[i]["content"]
        messages[i]["content"] = text[:pos] + other + text[pos + len(tag) :]
    return out


def apply_imd(
    row: dict[str, Any],
    *,
    rng: random.Random | int | None = None,
    modality_dropout: float = DEFAULT_MODALITY_DROPOUT,
    interleave: float = DEFAULT_INTERLEAVE,
    training: bool = True,
    passes: int = 1,
) -> tuple[dict[str, Any], IMDDecision]:
    """Apply Interleaved Modality Dropout to one instruction row (never mutates ``row``).

    Parameters
    ----------
    row : interchange.md §1 row (``messages``, ``images``, ``objects.ecg``).
    rng : a ``random.Random`` (advanced by exactly three draws per pass) or an int seed.
    modality_dropout : probability of dropping one of two present modalities.
    interleave : probability of swapping the first ``<ecg>`` and ``<image>`` tags.
    training : False (evaluation/inference) returns an unchanged copy.
    passes : how many times the transform is applied (2: the reference's effective rates).

    Returns
    -------
    (new_row, decision): ``decision.dropped`` the modality dropped in any pass,
    ``decision.swapped`` whether the tag order differs from the input's at the end.
    """
    if not 0.0 <= modality_dropout <= 1.0 or not 0.0 <= interleave <= 1.0:
        raise ValueError("modality_dropout and interleave must be probabilities in [0, 1]")
    if passes < 1:
        raise ValueError("IMD passes must be at least 1")
    if not training:
        return copy.deepcopy(row), IMDDecision()
    generator = _as_rng(rng)
    out, dropped, swapped = row, None, False
    for _ in range(passes):
        out, decision = _one_pass(out, generator, modality_dropout, interleave)
        dropped = dropped or decision.dropped
        swapped = swapped != decision.swapped
    return out, IMDDecision(dropped=dropped, swapped=swapped and dropped is None)


def _one_pass(
    row: dict[str, Any], generator: random.Random, modality_dropout: float, interleave: float
) -> tuple[dict[str, Any], IMDDecision]:
    u_drop, u_choice, u_swap = generator.random(), generator.random(), generator.random()
    present = present_modalities(row)
    out, dropped, swapped = row, None, False
    if len(present) == 2 and u_drop < modality_dropout:
        dropped = present[0] if u_choice < 0.5 else present[1]
        out = drop_modality(out, dropped)
    if dropped is None and len(present) == 2 and u_swap < interleave:
        out = swap_first_tags(out)
        swapped = True
    if out is row:
        out = copy.deepcopy(row)
    return out, IMDDecision(dropped=dropped, swapped=swapped)
