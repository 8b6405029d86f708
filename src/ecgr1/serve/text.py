"""The parts of an interpretation text (``<think>`` steps, summary, ``<answer>``) and JSON that
a browser can parse (no NaN).

>>> parts = split_text("<think>\\n**Step 1: Rate**\\nRate 72 bpm.\\n</think>\\nNormal ECG."
...                    "\\n<answer>sinus rhythm; normal ECG</answer>")
>>> parts["steps"], parts["summary"], parts["answer"]
([{'n': 1, 'title': 'Rate', 'text': 'Rate 72 bpm.'}], 'Normal ECG.', ['sinus rhythm', 'normal ECG'])
>>> finite({"a": float("nan"), "b": [1.5, float("inf")]})
{'a': None, 'b': [1.5, None]}
"""

from __future__ import annotations

import math
import re
from typing import Any

_STEP = re.compile(r"\*\*\s*Step\s+(\d+)\s*[:.]\s*(.*?)\s*\*\*", re.IGNORECASE)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_THINK_END = re.compile(r"</think>", re.IGNORECASE)


def split_text(text: str) -> dict[str, Any]:
    """``{"steps": [{"n", "title", "text"}], "summary": str, "answer": [labels]}`` of an
    ECG-R1-style text. A text without step headers is one untitled step; the summary is what
    stands between ``</think>`` and ``<answer>``; answer labels are split on ``;``."""
    text = text or ""
    answer_match = _ANSWER.search(text)
    answer_text = answer_match.group(1).strip() if answer_match else ""
    body = text[: answer_match.start()] if answer_match else text
    end = _THINK_END.search(body)
    think, summary = (body[: end.start()], body[end.end() :]) if end else (body, "")
    think = re.sub(r"<think>", "", think, flags=re.IGNORECASE)
    heads = list(_STEP.finditer(think))
    steps: list[dict[str, Any]] = []
    for i, head in enumerate(heads):
        stop = heads[i + 1].start() if i + 1 < len(heads) else len(think)
        steps.append(
            {
                "n": int(head.group(1)),
                "title": head.group(2),
                "text": think[head.end() : stop].strip(),
            }
        )
    if not heads and think.strip():
        steps.append({"n": 1, "title": "Reasoning", "text": think.strip()})
    labels = [a.strip() for a in answer_text.split(";") if a.strip()]
    return {"steps": steps, "summary": summary.strip(), "answer": labels}


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON that browsers parse)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
