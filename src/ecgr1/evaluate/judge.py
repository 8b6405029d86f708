"""Grounded-interpretation judging with an LLM: ECG-R1's evaluation prompt, robust parsing.

The judge is asked, for each (generated text, clinician's reference text) pair, ECG-R1's
evaluation prompt (``interpretation_evaluation_prompt.txt`` of the ECG-R1 repository,
Apache-2.0; read from a file, default ``<shared data>/formats/ecg-r1_prompts/``). The prompt
is rendered exactly as the published scripts render it (a Jinja2 template with the two
placeholders ``{{generated}}`` and ``{{groundtruth}}``; see :func:`render_prompt`) and sent as
one user message at temperature 0.

The reply must hold the seven criteria of the prompt (spec interchange.md §4), each a list of
``{Score, Explanation}``. It is parsed without ever evaluating it (:func:`parse_judgement`):

1. **finding the object**: every ``{`` starts a candidate; its end is found by bracket
   matching that skips strings in either quote style (with backslash escapes), so a ``]`` or
   ``}`` inside an explanation does not end it. A quote ends a string only when what follows it
   (after spaces) is ``,`` ``:`` ``}`` ``]`` ``)`` or the end, so an apostrophe inside a
   single-quoted explanation ("the clinician's read") does not end it either;
2. **reading it**: :func:`json.loads`, else :func:`ast.literal_eval` (a Python literal, which
   the prompt's single-quoted format is), both only on the bracket-matched span and only up
   to :data:`MAX_LITERAL_CHARS` / :data:`MAX_DEPTH`; else a small tolerant reader of the same
   grammar (either quote, trailing or missing commas, ``true``/``True``/``null``/``None``,
   unquoted words kept as text, never evaluated);
3. **choosing**: among the candidates, the one with the most valid criteria, then the most
   criteria, then the last (a judge that first echoes the empty template, then answers, is
   read at its answer);
4. **validating**: criterion keys as in the prompt, compared without case and punctuation
   (``Evidence-BasedReasoning`` is ``EvidenceBasedReasoning``); the published renamed keys
   ``ECGFeatureGrounding`` and ``ClinicalDiagnosticFidelity`` are accepted for
   ``GroundedECGUnderstanding`` and ``RealisticDiagnosticProcess``. A criterion given as one
   ``{Score, Explanation}`` object instead of a list is read as a list of one. Each Score must
   be a JSON number (not a string, not a boolean), finite, within the prompt's range:
   0-2 for DiagnosisAccuracy, AnalysisRelevance and LeadEvidenceValidity ("+2/+1/+0 per
   item"), 0-1 for AnalysisCompleteness ("+1/+0 per feature"), 0-100 for the three holistic
   criteria. ``"8/10"``, ``"eight"``, ``"2"``, ``NaN``, ``150`` are invalid; a holistic
   criterion needs at least one item; an itemised one may be an empty list (nothing earned).

A judgement whose request failed, whose reply holds no such object, or with any criterion
missing or invalid is a **failure** of that record, with the reason; it is never dropped from
the counts (:mod:`ecgr1.evaluate.grounding` reports it).

Example
-------
>>> reply = "{'DiagnosisAccuracy': [{'Score': 2, 'Explanation': 'AF [V1] correct'}]}"
>>> found = parse_judgement(reply)
>>> found.criteria["DiagnosisAccuracy"].scores, found.criteria["AnalysisRelevance"].problem
([2.0], 'missing from the reply')
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ecgr1.errors import ECGR1Error
from ecgr1.evaluate.rows import Pair, reference_text, response_text
from ecgr1.llm import (
    MAX_CONCURRENCY,
    ChatClient,
    ChatConfig,
    ChatRequest,
    Completion,
    ResponseCache,
)
from ecgr1.paths import shared_data_dir

__all__ = [
    "ALIASES",
    "CRITERIA",
    "HOLISTIC",
    "ITEMISED",
    "JUDGE_API_KEY_ENV",
    "SCORE_MAX",
    "CriterionScores",
    "Item",
    "Judge",
    "Judgement",
    "LLMJudge",
    "ParsedReply",
    "default_template_path",
    "load_template",
    "parse_judgement",
    "render_prompt",
]

#: The seven criteria of ECG-R1's evaluation prompt, in its order (interchange.md §4).
CRITERIA: tuple[str, ...] = (
    "DiagnosisAccuracy",
    "AnalysisCompleteness",
    "AnalysisRelevance",
    "LeadEvidenceValidity",
    "GroundedECGUnderstanding",
    "EvidenceBasedReasoning",
    "RealisticDiagnosticProcess",
)
#: Criteria scored per item ("+2 per diagnosis", "+1 per feature"...).
ITEMISED: tuple[str, ...] = CRITERIA[:4]
#: Criteria scored once on the 0-100 scale.
HOLISTIC: tuple[str, ...] = CRITERIA[4:]
#: The highest score of one item, as the prompt defines it.
SCORE_MAX: dict[str, float] = {
    "DiagnosisAccuracy": 2.0,
    "AnalysisCompleteness": 1.0,
    "AnalysisRelevance": 2.0,
    "LeadEvidenceValidity": 2.0,
    "GroundedECGUnderstanding": 100.0,
    "EvidenceBasedReasoning": 100.0,
    "RealisticDiagnosticProcess": 100.0,
}
#: Names of the published scripts' renamed columns, accepted as keys of a reply.
ALIASES: dict[str, str] = {
    "ECGFeatureGrounding": "GroundedECGUnderstanding",
    "Evidence-BasedReasoning": "EvidenceBasedReasoning",
    "ClinicalDiagnosticFidelity": "RealisticDiagnosticProcess",
}
#: Environment variable read for the judge's API key when none is given.
JUDGE_API_KEY_ENV = "ECGR1_JUDGE_API_KEY"
#: The prompt file's name in the ECG-R1 repository and under the shared data.
TEMPLATE_NAME = "interpretation_evaluation_prompt.txt"

MAX_REPLY_CHARS = 200_000  # longer replies are cut before parsing
MAX_LITERAL_CHARS = 100_000  # a candidate object longer than this is not parsed
MAX_DEPTH = 16  # nesting allowed in a candidate (the format needs 3)
MAX_CANDIDATES = 64  # object starts examined in one reply

Progress = Callable[[int, int], None]


def _norm_key(key: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


_CRITERION_BY_KEY: dict[str, str] = {_norm_key(c): c for c in CRITERIA}
_CRITERION_BY_KEY.update({_norm_key(a): c for a, c in ALIASES.items()})


# --------------------------------------------------------------------------- the prompt

_PLACEHOLDER = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")
_FIELDS = ("generated", "groundtruth")


def default_template_path() -> Path:
    """``<shared data>/formats/ecg-r1_prompts/interpretation_evaluation_prompt.txt``."""
    return shared_data_dir() / "formats" / "ecg-r1_prompts" / TEMPLATE_NAME


def load_template(path: str | Path | None = None) -> str:
    """The evaluation prompt template (default :func:`default_template_path`), checked: it
    must use exactly the placeholders ``{{generated}}`` and ``{{groundtruth}}`` and no other
    template syntax (no ``{% %}`` blocks or ``{# #}`` comments)."""
    p = Path(path) if path is not None else default_template_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ECGR1Error(
            f"the evaluation prompt {TEMPLATE_NAME} was not found; give its path (it is "
            "scripts/evaluation/grounded_interpretation/ in the ECG-R1 repository)",
            str(p),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ECGR1Error(f"cannot read the evaluation prompt ({exc})", str(p)) from None
    check_template(text, str(p))
    return text


def check_template(template: str, where: str | None = None) -> None:
    """Raise :class:`ECGR1Error` unless ``template`` is a plain two-placeholder template."""
    if not isinstance(template, str):
        raise ECGR1Error("the prompt template must be a string", where)
    names = sorted(set(_PLACEHOLDER.findall(template)))
    if names != sorted(_FIELDS):
        raise ECGR1Error(
            "the prompt template must use the placeholders {{generated}} and {{groundtruth}} "
            f"(found {names or 'none'})",
            where,
        )
    rest = _PLACEHOLDER.sub("", template)
    for token in ("{{", "{%", "{#"):
        if token in rest:
            raise ECGR1Error(f"the prompt template has template syntax {token!r} we do not read")


def render_prompt(template: str, generated: str, groundtruth: str) -> str:
    """The prompt for one pair, as ``jinja2.Template(template, trim_blocks=True,
    lstrip_blocks=True).render(generated=..., groundtruth=...)`` gives it for a template
    without blocks: newlines of the template normalised to ``\\n``, one trailing newline of the
    template removed (Jinja2's ``keep_trailing_newline=False``), each placeholder replaced
    by the text as it is (not escaped, not itself rendered)."""
    check_template(template)
    if not isinstance(generated, str) or not isinstance(groundtruth, str):
        raise ECGR1Error("the generated and reference texts must be strings")
    text = template.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    values = {"generated": generated, "groundtruth": groundtruth}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


# --------------------------------------------------------------------------- parsed replies


@dataclass(frozen=True)
class Item:
    """One scored item of a criterion."""

    score: float
    explanation: str = ""


@dataclass
class CriterionScores:
    """One criterion of a judgement: its items, or why it has none.

    ``problem``: the reply did not give it validly (missing, not a list, a bad Score...).
    ``unavailable``: the judge does not score it (the offline protocol judge), with why.
    """

    criterion: str
    items: list[Item] | None = None
    problem: str | None = None
    unavailable: str | None = None

    @property
    def valid(self) -> bool:
        """Scored, with every item valid."""
        return self.items is not None and self.problem is None and self.unavailable is None

    @property
    def scores(self) -> list[float] | None:
        """The item scores (None when not valid)."""
        return [i.score for i in self.items] if self.valid and self.items is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "items": None
            if self.items is None
            else [{"score": i.score, "explanation": i.explanation} for i in self.items],
            "problem": self.problem,
            "unavailable": self.unavailable,
        }


@dataclass
class ParsedReply:
    """What :func:`parse_judgement` read from a reply: every criterion (valid or with its
    problem) and, when no object holding criteria was found, why."""

    criteria: dict[str, CriterionScores]
    failure: str | None = None

    @property
    def problems(self) -> list[str]:
        """``"<criterion>: <problem>"`` for every criterion not validly given."""
        return [f"{c}: {s.problem}" for c, s in self.criteria.items() if s.problem]


class _Bare(str):
    """An unquoted word of a reply (``8/10``, ``eight``): text, never a number."""


def _string_end(text: str, i: int, quote: str) -> int:
    """Index just past the string whose opening quote is at ``i`` (-1 when unterminated).
    A quote closes the string only when followed (after spaces) by a delimiter or the end."""
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == quote:
            k = j + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if k >= n or text[k] in ",:}])":
                return j + 1
        j += 1
    return -1


def _match_object(text: str, start: int) -> int:
    """End (exclusive) of the bracketed literal starting at ``text[start]`` (``{`` or ``[``),
    or -1 when its brackets do not match, it nests deeper than :data:`MAX_DEPTH` or it is
    longer than :data:`MAX_LITERAL_CHARS`."""
    closer = {"{": "}", "[": "]"}
    stack = [closer[text[start]]]
    i = start + 1
    limit = min(len(text), start + MAX_LITERAL_CHARS)
    while i < limit:
        c = text[i]
        if c in "\"'":
            end = _string_end(text, i, c)
            if end < 0:
                return -1
            i = end
            continue
        if c in "{[":
            stack.append(closer[c])
            if len(stack) > MAX_DEPTH:
                return -1
        elif c in "}]":
            if c != stack.pop():
                return -1
            if not stack:
                return i + 1
        i += 1
    return -1


class _Reader:
    """A tolerant reader of JSON / Python-literal-like text (objects, lists, strings in
    either quote, numbers, keywords, bare words as text). It builds values; it never
    evaluates anything."""

    _NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
    _KEYWORDS: dict[str, Any] = {
        "true": True,
        "false": False,
        "null": None,
        "none": None,
        "nan": math.nan,
        "infinity": math.inf,
        "-infinity": -math.inf,
        "inf": math.inf,
    }

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def _skip(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def read(self) -> Any:
        value = self._value(0)
        self._skip()
        if self.i != len(self.text):
            raise ValueError("text after the value")
        return value

    def _value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError("nested too deep")
        self._skip()
        if self.i >= len(self.text):
            raise ValueError("unexpected end")
        c = self.text[self.i]
        if c == "{":
            return self._object(depth)
        if c == "[":
            return self._array(depth)
        if c in "\"'":
            return self._string()
        return self._bare()

    def _object(self, depth: int) -> dict[str, Any]:
        self.i += 1
        out: dict[str, Any] = {}
        while True:
            self._skip()
            if self.i >= len(self.text):
                raise ValueError("unterminated object")
            if self.text[self.i] == "}":
                self.i += 1
                return out
            if self.text[self.i] == ",":
                self.i += 1
                continue
            c = self.text[self.i]
            key = self._string() if c in "\"'" else self._bare()
            self._skip()
            if self.i >= len(self.text) or self.text[self.i] != ":":
                raise ValueError("a key without ':'")
            self.i += 1
            out[str(key)] = self._value(depth + 1)

    def _array(self, depth: int) -> list[Any]:
        self.i += 1
        out: list[Any] = []
        while True:
            self._skip()
            if self.i >= len(self.text):
                raise ValueError("unterminated list")
            if self.text[self.i] == "]":
                self.i += 1
                return out
            if self.text[self.i] == ",":
                self.i += 1
                continue
            out.append(self._value(depth + 1))

    _ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/"}

    def _string(self) -> str:
        quote = self.text[self.i]
        end = _string_end(self.text, self.i, quote)
        if end < 0:
            raise ValueError("unterminated string")
        raw = self.text[self.i + 1 : end - 1]
        self.i = end
        out, j = [], 0
        while j < len(raw):
            c = raw[j]
            if c == "\\" and j + 1 < len(raw):
                nxt = raw[j + 1]
                if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[j + 2 : j + 6]):
                    out.append(chr(int(raw[j + 2 : j + 6], 16)))
                    j += 6
                    continue
                out.append(self._ESCAPES.get(nxt, nxt))
                j += 2
                continue
            out.append(c)
            j += 1
        return "".join(out)

    def _bare(self) -> Any:
        start = self.i
        while self.i < len(self.text) and self.text[self.i] not in ",:{}[]\"'\n":
            self.i += 1
        word = self.text[start : self.i].strip()
        if self._NUMBER.match(word):
            return float(word) if any(ch in word for ch in ".eE") else int(word)
        if word.lower() in self._KEYWORDS:
            return self._KEYWORDS[word.lower()]
        return _Bare(word)


def _read_literal(span: str) -> Any:
    """The value of a bracket-matched span: JSON, else a Python literal, else the tolerant
    reader. Raises ValueError when none can read it."""
    try:
        return json.loads(span)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(span)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return _Reader(span).read()
    except RecursionError as exc:
        raise ValueError("nested too deep") from exc


def _score_problem(value: Any, top: float) -> str | None:
    if value is None:
        return "has no Score"
    if isinstance(value, bool):
        return f"Score {value!r} is not a number"
    if isinstance(value, str):
        return f"Score {str(value)!r} is not a number"
    if not isinstance(value, (int, float)):
        return f"Score is {type(value).__name__}, not a number"
    if not math.isfinite(value):
        return f"Score {value!r} is not a finite number"
    if not 0 <= value <= top:
        return f"Score {value:g} is outside the prompt's range 0-{top:g}"
    return None


def _criterion(name: str, value: Any) -> CriterionScores:
    top = SCORE_MAX[name]
    if isinstance(value, dict) and any(_norm_key(k) == "score" for k in value):
        value = [value]  # one {Score, Explanation} object instead of a list of one
    if not isinstance(value, list):
        return CriterionScores(name, problem=f"is {type(value).__name__}, not a list of scores")
    if not value and name in HOLISTIC:
        return CriterionScores(name, problem="has no score (an empty list)")
    items, problems = [], []
    for n, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            problems.append(f"item {n} is {type(entry).__name__}, not {{Score, Explanation}}")
            continue
        keys = {_norm_key(k): k for k in entry}
        score = entry.get(keys["score"]) if "score" in keys else None
        why = _score_problem(score, top)
        if why:
            problems.append(f"item {n} {why}")
            continue
        explanation = entry.get(keys["explanation"]) if "explanation" in keys else ""
        text = explanation if isinstance(explanation, str) else json.dumps(explanation, default=str)
        items.append(Item(float(score), text))
    if problems:
        return CriterionScores(name, problem="; ".join(problems))
    return CriterionScores(name, items=items)


def _criteria_of(value: Any) -> dict[str, CriterionScores] | None:
    """The criteria of a parsed object (None when it holds none)."""
    if not isinstance(value, dict):
        return None
    found: dict[str, CriterionScores] = {}
    for key, item in value.items():
        name = _CRITERION_BY_KEY.get(_norm_key(key))
        if name is None:
            continue
        if name in found:
            found[name] = CriterionScores(name, problem="given twice (under two names)")
            continue
        found[name] = _criterion(name, item)
    return found or None


def parse_judgement(reply: str) -> ParsedReply:
    """Read the seven criteria from a judge's reply (see the module docstring). Never
    raises for any reply; a reply without a usable object gives ``failure``."""
    missing = {c: CriterionScores(c, problem="missing from the reply") for c in CRITERIA}
    if not isinstance(reply, str):
        return ParsedReply(missing, "the reply is not text")
    text = reply[:MAX_REPLY_CHARS]
    best: tuple[tuple[int, int, int], dict[str, CriterionScores]] | None = None
    covered, tried = -1, 0
    for m in re.finditer(r"\{", text):
        start = m.start()
        if start < covered:
            continue  # inside an object already read
        tried += 1
        if tried > MAX_CANDIDATES:
            break
        end = _match_object(text, start)
        if end < 0:
            continue
        try:
            value = _read_literal(text[start:end])
        except ValueError:
            continue
        found = _criteria_of(value)
        if found is None:
            continue
        covered = end
        rank = (sum(s.valid for s in found.values()), len(found), start)
        if best is None or rank >= best[0]:
            best = (rank, found)
    if best is None:
        return ParsedReply(missing, "no object holding the evaluation criteria in the reply")
    criteria = {c: best[1].get(c, missing[c]) for c in CRITERIA}
    return ParsedReply(criteria)


# --------------------------------------------------------------------------- judgements


@dataclass
class Judgement:
    """The judgement of one record.

    ``criteria``: every criterion of :data:`CRITERIA` (valid, with a problem, or unavailable).
    ``failure``: why the whole judgement failed (a request that failed, a reply without the
    criteria, a row that cannot be judged), else None. :attr:`ok` is True when there is no
    failure and no criterion has a problem. ``reply`` is the judge's text (LLM judge),
    ``details`` what a judge adds (the protocol judge's claim counts).
    """

    id: str
    criteria: dict[str, CriterionScores]
    failure: str | None = None
    reply: str | None = None
    attempts: int = 0
    cached: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        """Every reason the judgement is not usable (empty when :attr:`ok`)."""
        out = [self.failure] if self.failure else []
        out += [f"{c}: {s.problem}" for c, s in self.criteria.items() if s.problem]
        return out

    @property
    def ok(self) -> bool:
        """Usable: no failure, no criterion with a problem."""
        return not self.problems

    @classmethod
    def failed(cls, record_id: str, reason: str, **kw: Any) -> Judgement:
        """A failed judgement (every criterion marked with the failure)."""
        criteria = {c: CriterionScores(c, problem="not judged") for c in CRITERIA}
        return cls(record_id, criteria, failure=reason, **kw)


class Judge(Protocol):
    """What :func:`ecgr1.evaluate.grounding.evaluate_grounding` needs of a judge: a name,
    the criteria it scores (``scored``; the others are reported as unavailable), its settings
    and one judgement per pair."""

    name: str
    scored: tuple[str, ...]

    def describe(self) -> dict[str, Any]:
        """The judge's settings, for the report."""
        ...

    def judge_many(
        self, pairs: Sequence[Pair], *, progress: Progress | None = None
    ) -> list[Judgement]:
        """One judgement per pair, in order."""
        ...


def _prediction_problem(pair: Pair) -> str | None:
    error = pair.pred.get("error")
    if isinstance(error, str) and error.strip():
        return f"the prediction row failed ({error.strip()[:200]})"
    return None


class LLMJudge:
    """ECG-R1's evaluation prompt asked of an OpenAI-compatible endpoint.

    Parameters
    ----------
    url : the endpoint's base URL (``http://127.0.0.1:8000/v1``; ``/v1`` optional).
    model : the model name it serves.
    api_key : sent as a bearer token; None reads ``$ECGR1_JUDGE_API_KEY`` (unset: none).
    template_path : the evaluation prompt (default :func:`default_template_path`).
    cache_dir : a folder of cached answers (:class:`~ecgr1.llm.ResponseCache`): a rerun costs
        nothing and an interrupted run resumes; None: no cache.
    concurrency : requests in flight at once (1-64).
    timeout_s : seconds for one attempt, connection to last byte.
    max_retries, backoff_s : retries of a connection error, timeout, 5xx or 429, waiting
        ``backoff_s * 2**(n - 1)`` (or the server's Retry-After, up to 60 s).
    max_tokens : the reply's limit (part of the cache key, as are the model, endpoint,
        prompt and seed).
    seed : sent with every request when set.
    sleep : waits between retries (tests pass a recorder).

    Temperature is always 0. :meth:`from_client` wraps an existing client instead.
    """

    name = "llm"
    scored: tuple[str, ...] = CRITERIA

    def __init__(
        self,
        url: str,
        model: str,
        *,
        api_key: str | None = None,
        template_path: str | Path | None = None,
        cache_dir: str | Path | None = None,
        concurrency: int = 4,
        timeout_s: float = 300.0,
        max_retries: int = 3,
        backoff_s: float = 2.0,
        max_tokens: int = 4096,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if api_key is None:
            api_key = os.environ.get(JUDGE_API_KEY_ENV) or None
        try:
            config = ChatConfig(
                url,
                model,
                api_key=api_key,
                temperature=0.0,
                max_tokens=max_tokens,
                timeout_s=timeout_s,
                max_retries=max_retries,
                backoff_s=backoff_s,
                max_response_chars=MAX_REPLY_CHARS,
            )
        except ECGR1Error as exc:
            message = str(exc).replace("chat configuration", "judge configuration")
            raise ECGR1Error(message) from None
        template = load_template(template_path)
        cache = ResponseCache(cache_dir) if cache_dir is not None else None
        self._setup(ChatClient(config, sleep=sleep, cache=cache), template, concurrency, seed)

    @classmethod
    def from_client(
        cls,
        client: ChatClient,
        template: str,
        *,
        concurrency: int = 4,
        seed: int | None = None,
    ) -> LLMJudge:
        """A judge asking through ``client`` (its config should have temperature 0) with the
        template text ``template``."""
        judge = cls.__new__(cls)
        judge._setup(client, template, concurrency, seed)
        return judge

    def _setup(self, client: ChatClient, template: str, concurrency: int, seed: int | None) -> None:
        check_template(template)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise ECGR1Error(f"concurrency must be an integer, not {concurrency!r}")
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ECGR1Error(f"concurrency must be from 1 to {MAX_CONCURRENCY}, not {concurrency}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ECGR1Error(f"seed must be an integer or None, not {seed!r}")
        self.client = client
        self.template = template
        self.concurrency = concurrency
        self.seed = seed

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def __enter__(self) -> LLMJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        """Endpoint, model, sampling settings, prompt hash and cache folder (no API key)."""
        c = self.client.config
        return {
            "judge": self.name,
            "endpoint": self.client.endpoint,
            "model": c.model,
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
            "seed": self.seed,
            "concurrency": self.concurrency,
            "prompt_sha256": hashlib.sha256(self.template.encode("utf-8")).hexdigest(),
            "cache": str(self.client.cache.folder) if self.client.cache is not None else None,
        }

    def request_for(self, pair: Pair) -> ChatRequest:
        """The request for one pair: the rendered prompt as one user message."""
        prompt = render_prompt(self.template, response_text(pair.pred), reference_text(pair.ref))
        return ChatRequest([{"role": "user", "content": prompt}], seed=self.seed)

    def judgement(self, record_id: str, done: Completion) -> Judgement:
        """The judgement of one answer."""
        if done.content is None:
            return Judgement.failed(
                record_id, done.failure or "endpoint: no answer", attempts=done.attempts
            )
        parsed = parse_judgement(done.content)
        failure = parsed.failure
        if failure and done.finish_reason == "length":
            failure += " (the reply was cut at max_tokens)"
        return Judgement(
            record_id,
            parsed.criteria,
            failure=failure,
            reply=done.content,
            attempts=done.attempts,
            cached=done.cached,
        )

    def judge_many(
        self, pairs: Sequence[Pair], *, progress: Progress | None = None
    ) -> list[Judgement]:
        """Judge every pair (``concurrency`` requests at a time; cached answers cost nothing).
        A pair whose reference has no text, or whose prediction row records an error, fails
        without a request."""
        out: list[Judgement | None] = [None] * len(pairs)
        asks: list[tuple[int, ChatRequest]] = []
        for i, pair in enumerate(pairs):
            why = _prediction_problem(pair)
            if why is None and not reference_text(pair.ref).strip():
                why = "the reference row has no interpretation text (no assistant turn)"
            if why:
                out[i] = Judgement.failed(pair.id, why)
            else:
                asks.append((i, self.request_for(pair)))
        skipped = len(pairs) - len(asks)

        def tick(done: int, total: int) -> None:
            if progress is not None:
                progress(done + skipped, len(pairs))

        answers = self.client.complete_many(
            [r for _, r in asks], concurrency=self.concurrency, progress=tick
        )
        for (i, _), done in zip(asks, answers):
            out[i] = self.judgement(pairs[i].id, done)
        return [j for j in out if j is not None]
