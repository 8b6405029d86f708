"""Optional LLM rephrasing of the deterministic reports, kept only when the verifier agrees.

The corpus build can ask an OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp,
OpenAI...) to reword each deterministic six-step report for language variety. The endpoint's
answer is untrusted: it is read under a size cap, must be a string, is never evaluated, and is
kept only when

1. **structure**: it is an ECG-R1 interpretation text (interchange.md §2): ``<think>``, the six
   step headers character for character and in order, a paragraph under each, ``</think>``, a
   narrative paragraph and an ``<answer>`` whose content is identical to the original's; no
   control characters; at most ``max_response_chars``; not cut at ``max_tokens``. (Blank lines
   and spaces around the parts are tolerated; the kept text is rebuilt in the canonical layout,
   one line per header and paragraph);
2. **numbers**: it keeps at least ``min_numbers_kept`` of the original's distinct numbers
   (written exactly, sign included), it adds no value with a unit that the original does not
   have, and it keeps at least one numeric claim when the original had any (a rewrite that
   drops every number has lost the evidence that grounds the report, even if nothing in it is
   false);
3. **facts**: :func:`ecgr1.verify.verify_interpretation` finds no *contradicted* claim in it
   (a wrong value, a finding moved to leads where the signal does not show it, a present
   finding denied, an absent one affirmed).

Otherwise the build keeps the deterministic text. Nothing here raises because of the
endpoint: a refused connection, a timeout, a 5xx or 429 (retried with exponential backoff), a
4xx, a body over the byte cap or one that is not a chat completion with a string content all
give an outcome that is not accepted, with a reason ``"endpoint: ..."``. A record that cannot
be measured is not sent at all (``"unverifiable: ..."``: nothing could check the rewrite).
:class:`RephraseStats` counts outcomes by kind for the manifest. The HTTP client (retries,
timeouts, size cap, parsing) is :mod:`ecgr1.llm`'s, shared with the LLM judge.

Example
-------
>>> config = RephraseConfig("http://127.0.0.1:8000/v1", "qwen", seed=7)
>>> endpoint_url(config.url)
'http://127.0.0.1:8000/v1/chat/completions'
>>> request_seed(7, "ptbxl_00001") == request_seed(7, "ptbxl_00001")
True
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecgr1.errors import ECGR1Error
from ecgr1.llm import (
    ChatClient,
    ChatConfig,
    ChatRequest,
    Completion,
    _is_int,
    _is_real,
    config_problems,
    endpoint_url,
)
from ecgr1.report import STEP_TITLES
from ecgr1.verify.api import interpretation_for, verify_interpretation
from ecgr1.verify.extract import extract_claims

__all__ = [
    "API_KEY_ENV",
    "Completion",
    "REJECTION_KINDS",
    "SYSTEM_PROMPT",
    "USER_PROMPT",
    "RephraseConfig",
    "RephraseOutcome",
    "RephraseStats",
    "Rephraser",
    "check_rewrite",
    "endpoint_url",
    "request_seed",
]

#: Environment variable read for the API key when the config gives none.
API_KEY_ENV = "ECGR1_REPHRASE_API_KEY"

#: Why an outcome was not accepted: the endpoint gave no usable answer (after retries), the
#: answer is not a faithful report (layout, answer line, numbers), the verifier found a
#: contradicted claim, or the record could not be measured so nothing could be verified (the
#: endpoint is then not called).
REJECTION_KINDS: tuple[str, ...] = ("endpoint", "structure", "contradiction", "unverifiable")

_LISTED = 5  # claims / numbers named in a reason before "and N more"

_STEP_HEADERS = "\n".join(f"**Step {i}: {t}**" for i, t in enumerate(STEP_TITLES, start=1))

SYSTEM_PROMPT = f"""You are an editor of electrocardiogram (ECG) reports. You rewrite a report \
so that its language varies while its content stays exactly the same. A program checks every \
number, lead and finding of your rewrite against the ECG signal and discards any rewrite that \
changes, adds or drops one.

Rules:
1. Keep the layout. First the line <think>. Then the six step headers, each on its own line and \
copied character for character:
{_STEP_HEADERS}
with one paragraph under each header. Then the line </think>, one narrative paragraph, and last \
the <answer>...</answer> line copied verbatim.
2. Copy every number exactly as written, with its sign, its unit (ms, bpm, mV, °) and the lead \
it belongs to (I, II, III, aVR, aVL, aVF, V1 to V6). Do not round, convert or recompute a \
value, and never move a value or a finding to another lead.
3. Keep every finding with its leads or territory (inferior, lateral, anterior, septal), its \
certainty (possible, probable, borderline) and its polarity: what the report affirms stays \
affirmed; what it excludes or denies stays excluded or denied.
4. Add nothing: no finding, value, lead, cause, recommendation or comment that the report does \
not contain. Leave nothing out.
5. Vary the wording: sentence openings, connectives, word order, sentence length and voice. \
Keep the standard clinical terms.
6. Reply with the rewritten report only: no preamble, no notes, no code fences."""

USER_PROMPT = "Rewrite this ECG report following the rules.\n\n{report}"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class RephraseConfig:
    """Where and how to ask for rewrites; validated on construction (:class:`ECGR1Error`).

    Parameters
    ----------
    url : the OpenAI-compatible base URL, ``http(s)://host[:port][/path]``, with or without a
        trailing ``/v1`` (``/v1/chat/completions`` is appended as needed). No credentials,
        query or fragment in it.
    model : the model name the endpoint serves.
    api_key : sent as ``Authorization: Bearer``; None reads ``$ECGR1_REPHRASE_API_KEY`` (unset:
        no header). Never shown by ``repr``.
    temperature, max_tokens : sampling settings sent with every request. A six-step report is
        5,000-8,000 characters dense with numbers, which can exceed the default 2048 tokens:
        a rewrite cut at ``max_tokens`` is rejected, so raise it for long reports.
    timeout_s : the limit for one attempt, connection to last byte.
    max_retries : further attempts after a connection error, a timeout, a 5xx or a 429
        (other statuses are not retried); waits ``backoff_s * 2**(n - 1)`` before retry n
        (longer when the server sends ``Retry-After``, up to 60 s).
    seed : when set, every request carries ``request_seed(seed, record_id)``, so a server
        that honours seeds answers the same way for the same record and report.
    max_response_chars : the longest rewrite read (the body is read up to a byte cap derived
        from it, then abandoned).
    min_numbers_kept : the share of the original's distinct numbers the rewrite must keep
        (0 to 1; at 0 only a rewrite without any numeric claim is rejected).
    """

    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.7
    max_tokens: int = 2048
    timeout_s: float = 60.0
    max_retries: int = 3
    backoff_s: float = 1.0
    seed: int | None = None
    max_response_chars: int = 50_000
    min_numbers_kept: float = 0.9

    def __post_init__(self) -> None:
        if self.api_key is None:
            object.__setattr__(self, "api_key", os.environ.get(API_KEY_ENV) or None)
        problems = _config_problems(self)
        if problems:
            raise ECGR1Error("invalid rephrase configuration: " + "; ".join(problems))


def _config_problems(c: RephraseConfig) -> list[str]:
    problems = config_problems(c, key_env=API_KEY_ENV)
    if c.seed is not None and not _is_int(c.seed):
        problems.append(f"seed must be an integer or None, not {c.seed!r}")
    if not _is_real(c.min_numbers_kept) or not 0 <= c.min_numbers_kept <= 1:
        problems.append(f"min_numbers_kept must be from 0 to 1, not {c.min_numbers_kept!r}")
    return problems


def request_seed(seed: int, record_id: str) -> int:
    """The seed sent for ``record_id``: stable across runs and machines, different per record
    (a non-negative 31-bit integer, which every OpenAI-compatible server accepts)."""
    digest = hashlib.sha256(f"{seed}:{record_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class RephraseOutcome:
    """What became of one report.

    Attributes
    ----------
    accepted : the rewrite passed every check.
    text : the accepted rewrite (in the canonical layout: one line per header and paragraph),
        else the original report unchanged.
    reason : why it was not accepted, ``"<kind>: details"`` (None when accepted).
    contradicted : the texts of the rewrite's contradicted claims (empty when the verifier
        did not run or found none).
    attempts : HTTP requests made (0 when the endpoint was not called).
    kind : one of :data:`REJECTION_KINDS`, None when accepted.
    """

    accepted: bool
    text: str
    reason: str | None
    contradicted: list[str] = field(default_factory=list)
    attempts: int = 0
    kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The outcome without the text (for a manifest or a log line)."""
        return {
            "accepted": self.accepted,
            "kind": self.kind,
            "reason": self.reason,
            "contradicted": list(self.contradicted),
            "attempts": self.attempts,
        }


@dataclass
class RephraseStats:
    """Counts over many outcomes, for the build manifest; merge the workers' counts.

    >>> stats = RephraseStats()
    >>> stats.add(RephraseOutcome(True, "t", None, attempts=1))
    >>> stats.add(RephraseOutcome(False, "t", "endpoint: refused", attempts=4, kind="endpoint"))
    >>> stats.to_dict()["rejected"]
    {'endpoint': 1, 'structure': 0, 'contradiction': 0, 'unverifiable': 0}
    """

    requested: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REJECTION_KINDS, 0))
    attempts: int = 0

    def add(self, outcome: RephraseOutcome) -> None:
        """Count one outcome."""
        self.requested += 1
        self.attempts += outcome.attempts
        if outcome.accepted:
            self.accepted += 1
        else:
            kind = outcome.kind if outcome.kind in self.rejected else "structure"
            self.rejected[kind] += 1

    def merge(self, other: RephraseStats) -> None:
        """Add another counter's counts (e.g. a worker's) to this one."""
        self.requested += other.requested
        self.accepted += other.accepted
        self.attempts += other.attempts
        for kind, n in other.rejected.items():
            self.rejected[kind] = self.rejected.get(kind, 0) + n

    def to_dict(self) -> dict[str, Any]:
        """``{"requested", "accepted", "rejected": {kind: n}, "attempts", "acceptance_rate"}``."""
        rate = self.accepted / self.requested if self.requested else None
        return {
            "requested": self.requested,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "attempts": self.attempts,
            "acceptance_rate": rate,
        }


# --------------------------------------------------------------------------- checks

_NUMBER = re.compile(r"(?<![\w.])[+\-]?\d+(?:\.\d+)?(?![\d])")
_NUMBER_WITH_UNIT = re.compile(
    r"(?<![\w.])([+\-]?\d+(?:\.\d+)?)\s*(ms|bpm|mV|µV|uV|mm|s|°|%)(?![A-Za-z])"
)
_HEADER_LINE = re.compile(r"^[ \t]*\*\*Step (\d+): (.*?)\*\*[ \t]*$", re.MULTILINE)
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _normalise_minus(text: str) -> str:
    return text.replace("\u2212", "-")


def _numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(_normalise_minus(text)))


def _values_with_units(text: str) -> set[tuple[str, str]]:
    return {(n.lstrip("+"), u) for n, u in _NUMBER_WITH_UNIT.findall(_normalise_minus(text))}


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _answer_of(report: str) -> str | None:
    m = re.search(r"<answer>(.*?)</answer>\s*\Z", report, re.DOTALL)
    return m.group(1) if m else None


def _layout(text: str, answer: str) -> tuple[str | None, list[str]]:
    """The rewrite in the canonical layout, or None and what is wrong with it."""
    problems: list[str] = []
    bad = sorted(
        {c for c in text if c not in "\n\r\t" and (c in _BIDI or unicodedata.category(c) == "Cc")}
    )
    if bad:
        problems.append("control characters " + ", ".join(ascii(c) for c in bad[:_LISTED]))
    s = text.strip()
    for tag in ("<think>", "</think>", "<answer>", "</answer>"):
        if s.count(tag) != 1:
            problems.append(f"{tag} occurs {s.count(tag)} times, not once")
    if not s.startswith("<think>"):
        problems.append("the text does not start with <think>")
    if not s.endswith("</answer>"):
        problems.append("the text does not end with </answer>")
    if problems:
        return None, problems
    think, _, rest = s[len("<think>") :].partition("</think>")
    narrative, _, tail = rest.partition("<answer>")
    got_answer = tail[: -len("</answer>")] if tail.endswith("</answer>") else None
    if got_answer != answer:
        problems.append(f"the <answer> content differs from the original's ({answer!r})")
    if not narrative.strip():
        problems.append("the narrative paragraph after </think> is missing")
    headers = list(_HEADER_LINE.finditer(think))
    found = [(int(m.group(1)), m.group(2)) for m in headers]
    expected = list(enumerate(STEP_TITLES, start=1))
    if found != expected or think.count("**Step") != len(STEP_TITLES):
        problems.append("the six step headers are not all present, exact and in order")
    elif think[: headers[0].start()].strip():
        problems.append("text before the Step 1 header")
    if problems:
        return None, problems
    paragraphs = []
    for i, m in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(think)
        paragraph = " ".join(think[m.end() : end].split())
        if not paragraph:
            problems.append(f"step {i + 1} has no paragraph")
        paragraphs.append(paragraph)
    if problems:
        return None, problems
    lines = ["<think>"]
    for (i, title), paragraph in zip(expected, paragraphs):
        lines += [f"**Step {i}: {title}**", paragraph]
    lines += ["</think>", " ".join(narrative.split()), f"<answer>{answer}</answer>"]
    return "\n".join(lines), []


def _number_problems(
    original: str, rewrite: str, rewrite_has_numeric_claim: bool, min_kept: float
) -> list[str]:
    problems = []
    before, after = _numbers(original), _numbers(rewrite)
    if before:
        kept = len(before & after) / len(before)
        if kept < min_kept:
            missing = sorted(before - after)
            problems.append(
                f"keeps {len(before & after)} of the {len(before)} numbers of the report "
                f"(less than {min_kept:.0%}; missing {_listed(missing)})"
            )
    added = sorted(_values_with_units(rewrite) - _values_with_units(original))
    if added:
        problems.append("adds values not in the report: " + _listed([f"{n} {u}" for n, u in added]))
    if not rewrite_has_numeric_claim and any(c.kind == "numeric" for c in extract_claims(original)):
        problems.append("drops every numeric claim of the report")
    return problems


def check_rewrite(
    original: str,
    rewrite: str,
    interpretation: Any,
    *,
    min_numbers_kept: float = 0.9,
    notes: list[str] | None = None,
) -> tuple[str | None, str | None, list[str]]:
    """Check a rewrite of ``original`` (no endpoint involved).

    ``interpretation`` is a protocol :class:`~ecgr1.protocol.types.Interpretation` (from
    :func:`ecgr1.verify.api.interpretation_for`). Returns ``(canonical text or None, reason or
    None, contradicted claim texts)``; the reason starts with ``"structure: "`` or
    ``"contradiction: "`` (a contradiction wins when both apply).
    """
    answer = _answer_of(original)
    if answer is None:
        raise ECGR1Error("the original report has no final <answer>...</answer>")
    canonical, problems = _layout(rewrite, answer)
    checked = canonical if canonical is not None else rewrite.strip()
    try:
        result = verify_interpretation(interpretation, checked, notes=notes)
    except ECGR1Error as exc:
        return None, f"structure: the verifier refused the text ({exc})", []
    numeric = any(v.claim.kind == "numeric" for v in result.verdicts)
    problems += _number_problems(original, checked, numeric, min_numbers_kept)
    # The <answer> is the original's verbatim (else a structure problem): its labels may be a
    # dataset's that the measurements do not support (corpus rows record that as agreement),
    # so a rewrite is judged on the text it changed, not on the answer it had to copy.
    answer_at = checked.rfind("<answer>") if _answer_of(checked) == answer else len(checked)
    wrong = [v for v in result.contradicted() if v.claim.start < answer_at]
    contradicted = [v.claim.text for v in wrong]
    if wrong:
        details = [f"{v.claim.text!r} ({v.reason})" for v in wrong]
        reason = "contradiction: " + _listed(details)
        if problems:
            reason += "; also " + "; ".join(problems)
        return None, reason, contradicted
    if problems:
        return None, "structure: " + "; ".join(problems), []
    return canonical, None, []


# --------------------------------------------------------------------------- the client


class Rephraser:
    """Ask an OpenAI-compatible endpoint for rewrites and keep only the verified ones.

    One instance per process (it holds a connection pool; it pickles without it, so workers
    can receive one). ``sleep`` waits between retries (tests pass a recorder).

    Example
    -------
    >>> rephraser = Rephraser(RephraseConfig("http://127.0.0.1:9/v1", "m", max_retries=0))
    >>> rephraser.endpoint
    'http://127.0.0.1:9/v1/chat/completions'
    """

    def __init__(self, config: RephraseConfig, *, sleep: Callable[[float], None] = time.sleep):
        if not isinstance(config, RephraseConfig):
            raise ECGR1Error(f"Rephraser needs a RephraseConfig, not {type(config).__name__}")
        self.config = config
        self.client = ChatClient(
            ChatConfig(
                config.url,
                config.model,
                api_key=config.api_key,
                temperature=config.temperature,
                max_tokens=config.max_tokens,
                timeout_s=config.timeout_s,
                max_retries=config.max_retries,
                backoff_s=config.backoff_s,
                max_response_chars=config.max_response_chars,
            ),
            sleep=sleep,
        )
        self.endpoint = self.client.endpoint

    # -- lifecycle
    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        self.client.close()

    def __enter__(self) -> Rephraser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the request
    def _request(self, report_text: str, record_id: str) -> ChatRequest:
        c = self.config
        return ChatRequest(
            [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": USER_PROMPT.format(report=report_text)},
            ],
            user=str(record_id),
            seed=None if c.seed is None else request_seed(c.seed, str(record_id)),
        )

    def request_body(self, report_text: str, *, record_id: str) -> dict[str, Any]:
        """The JSON body sent for one report (the same for the same inputs and config)."""
        return self.client.request_body(self._request(report_text, record_id))

    def complete(self, report_text: str, *, record_id: str) -> Completion:
        """Ask for one rewrite, retrying transient failures; checks nothing but the shape of
        the response (a chat completion whose content is a string)."""
        return self.client.complete(self._request(report_text, record_id))

    # -- the public call
    def rephrase(
        self, report_text: str, measurement_result: Any, *, record_id: str
    ) -> RephraseOutcome:
        """Rewrite ``report_text`` and keep the rewrite only when it passes every check.

        Parameters
        ----------
        report_text : a deterministic ECG-R1 report (``write_report``), ending in
            ``<answer>...</answer>``.
        measurement_result : what the report was written from, anything
            :func:`ecgr1.verify` accepts: a :class:`~ecgr1.measure.MeasurementResult` (or its
            dict), a protocol ``Interpretation`` or a ``RecordInterpretation`` (these two
            skip re-applying the protocol), or a record.
        record_id : the corpus row id, sent with the request and used for its seed.

        Never raises because of the endpoint or its answer; raises :class:`ECGR1Error` when
        ``report_text`` is not a report or ``measurement_result`` cannot be read.
        """
        if not isinstance(report_text, str) or _answer_of(report_text) is None:
            raise ECGR1Error("report_text must be an ECG-R1 report ending in <answer>...</answer>")
        interpretation, notes = interpretation_for(measurement_result)
        if interpretation is None:
            why = notes[0] if notes else "no measurement"
            return RephraseOutcome(
                False, report_text, f"unverifiable: {why}", [], 0, kind="unverifiable"
            )
        done = self.complete(report_text, record_id=record_id)
        attempts = done.attempts
        if done.content is None:
            return RephraseOutcome(False, report_text, done.failure, [], attempts, kind="endpoint")
        limit = self.config.max_response_chars
        if len(done.content) > limit:
            reason = (
                f"structure: the rewrite has {len(done.content):,} characters (limit {limit:,})"
            )
            return RephraseOutcome(False, report_text, reason, [], attempts, kind="structure")
        if done.finish_reason == "length":
            reason = "structure: the rewrite was cut at max_tokens (finish_reason length)"
            return RephraseOutcome(False, report_text, reason, [], attempts, kind="structure")
        text, reason, contradicted = check_rewrite(
            report_text,
            done.content,
            interpretation,
            min_numbers_kept=self.config.min_numbers_kept,
            notes=notes,
        )
        if text is None:
            kind = (reason or "structure").split(":", 1)[0]
            return RephraseOutcome(False, report_text, reason, contradicted, attempts, kind=kind)
        return RephraseOutcome(True, text, None, [], attempts, kind=None)
