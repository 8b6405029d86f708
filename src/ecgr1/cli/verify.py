"""``ecgr1 verify``: check an ECG interpretation text claim by claim against the record's signal.

One text: ``ecgr1 verify RECORD --text FILE|-`` (RECORD: any record ``ecgr1 interpret`` reads,
or a measurement JSON written by ``ecgr1 measure --json-dir``). A batch:
``ecgr1 verify --rows PRED.jsonl --ecg-root DIR``: for every interchange row, its ``response``
(else its last assistant turn) against the record ``objects.ecg[0]`` under ``DIR``; one JSON
line per row on stdout (or ``--out``) and the counts over all rows on stderr. See
docs/verify.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from ecgr1.cli._batch import (
    add_command,
    add_debug_option,
    add_read_options,
    age_years,
    batch_exit_status,
    emit,
    os_error_text,
    output_errors,
    read_options,
    run_batch,
    sex_value,
)
from ecgr1.errors import ECGR1Error, InvalidInputError, OutputError

# Same limit as ecgr1.verify.api.MAX_TEXT_CHARS (kept here so that --help and the reading of a
# huge --text never import the verifier): texts longer than this are refused.
MAX_TEXT_CHARS = 200_000
MAX_ROW_CHARS = 8 * MAX_TEXT_CHARS  # a row holds the text, the prompt and some metadata
# Never in a real record path; in an error line they could drive the user's terminal. The set
# of the view (ecgr1.verify.view.UNSAFE_CHARS) plus tab and newline, kept here so that --help
# never imports the verifier.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)

DESCRIPTION = """\
Find the checkable claims of an ECG interpretation text (rate, rhythm, intervals, axis,
conduction, hypertrophy, ST/T, QT, ... in an ECG-R1 six-step report, GEM/PULSE prose or a
short machine statement) and check each against the record's measured signal: supported,
contradicted (with the measured value and tolerance) or not checkable (with the reason).

One text against one record:
  ecgr1 verify A0001.hea --text report.txt                 marked text, problems, summary
  model-output | ecgr1 verify A0001.hea --text - --format json
  ecgr1 verify out/measure/A0001.json --text report.txt    a measurement JSON of ecgr1 measure
  ecgr1 verify sim_normal_0.hea --text report.txt --format html --out report.html

A batch of interchange rows (the output of ecgr1 infer, or a data set with reference texts):
  ecgr1 verify --rows pred.jsonl --ecg-root data/ --out verified.jsonl
  ecgr1 verify --rows pred.jsonl --ecg-root data/ --format html --out verified.html
Each row's text is its "response" (else its last assistant turn); its record is
objects.ecg[0] under --ecg-root (default: the folder of the rows file; for --rows -, the
current folder), which it may not leave. A row without ECG gives a result whose claims are all "not checkable". Each record is
measured once however many rows name it. Output: one JSON line per row (the result of
--format json plus row_index, line, row_id and ecg); the counts over all rows go to stderr.

A record that cannot be measured, an empty text or a text without ECG claims gives a result
with every claim "not checkable" and a note saying why (exit status 0). Texts longer than
200,000 characters are refused. Schema and verdict rules: docs/verify.md.

Exit status (docs/cli.md): 0 every text verified; 1 some rows failed (unreadable record, bad
JSON line, ...) and the rest were verified, or an internal error; 2 usage error, unwritable
--out, unreadable --text or --rows, or nothing could be verified. Each failure is one line on
stderr naming the file (and line of --rows).
"""


def register(subparsers: Any) -> None:
    """Add the ``verify`` subcommand."""
    p = add_command(
        subparsers,
        "verify",
        run,
        help="check an interpretation text claim by claim against the record's signal",
        description=DESCRIPTION,
    )
    p.add_argument(
        "record",
        nargs="?",
        metavar="RECORD",
        help="the record the text is about (any format ecgr1 reads), or a measurement JSON "
        "written by ecgr1 measure --json-dir",
    )
    p.add_argument("--text", metavar="FILE", help="the text to verify ('-': standard input)")
    p.add_argument(
        "--rows", metavar="JSONL", help="verify every interchange row of this file ('-': stdin)"
    )
    p.add_argument(
        "--ecg-root",
        metavar="DIR",
        help="folder the rows' objects.ecg paths are relative to and may not leave "
        "(default: the folder of --rows; the current folder for --rows -)",
    )
    p.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default=None,
        help="output: text (marked text and tables; default for one record), json (default "
        "for --rows: one line per row), html (a self-contained page)",
    )
    p.add_argument("--out", metavar="FILE", help="write the output to this file (else stdout)")
    p.add_argument("--age", type=age_years, help="patient age in years (overrides the record)")
    p.add_argument(
        "--sex",
        type=sex_value,
        metavar="M|F",
        help="patient sex: M, F, male or female (overrides the record)",
    )
    add_read_options(p)
    add_debug_option(p)


# --------------------------------------------------------------------------- inputs


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})", where
        ) from None


def read_text(source: str, stdin: TextIO | None = None) -> str:
    """The text of ``--text``: a file, or standard input for ``-``; at most
    :data:`MAX_TEXT_CHARS` characters (longer is an error, not a silent cut)."""
    limit = 4 * MAX_TEXT_CHARS  # bytes: more than this is more than MAX_TEXT_CHARS characters
    if source == "-":
        where = "<stdin>"
        stream = stdin or sys.stdin
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            data = buffer.read(limit + 1)
            text = None if len(data) > limit else _decode(data, where)
        else:  # a text stream without bytes underneath (tests, notebooks)
            text = stream.read(MAX_TEXT_CHARS + 1)
    else:
        where = source
        if Path(source).is_dir():
            raise InvalidInputError("--text names a folder, not a file", source)
        with open(source, "rb") as f:
            data = f.read(limit + 1)
        text = None if len(data) > limit else _decode(data, where)
    if text is None or len(text) > MAX_TEXT_CHARS:
        raise InvalidInputError(
            f"the text is longer than {MAX_TEXT_CHARS:,} characters (the limit)", where
        )
    return text


def parse_json(text: str, where: str) -> Any:
    """``json.loads`` with its failures (bad syntax, absurd nesting) as input errors."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"not valid JSON: {exc}", where) from None
    except RecursionError:
        raise InvalidInputError("not valid JSON: nested too deeply", where) from None


def load_measurement_json(path: str) -> Any:
    """A :class:`~ecgr1.measure.result.MeasurementResult` from ``ecgr1 measure --json-dir``."""
    from ecgr1.measure.result import MeasurementResult

    with open(path, "rb") as f:
        raw = f.read()
    data = parse_json(_decode(raw, path), path)
    if not isinstance(data, dict):
        raise InvalidInputError("not a measurement JSON (expected an object)", path)
    missing = [k for k in ("id", "fs", "duration_s") if k not in data]
    if missing:
        raise InvalidInputError(
            f"not a measurement JSON written by ecgr1 measure (no {', '.join(missing)})", path
        )
    try:
        return MeasurementResult.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidInputError(f"not a valid measurement JSON: {exc}", path) from None


def load_data(path: str, args: argparse.Namespace) -> Any:
    """What ``RECORD`` holds: an ECGRecord, or a MeasurementResult for a ``.json`` file."""
    if path.lower().endswith(".json"):
        return load_measurement_json(path)
    from ecgr1.io import read_record

    return read_record(path, **read_options(args))


def row_text(row: dict[str, Any]) -> tuple[str, str | None]:
    """``(text, note)`` of a row: its ``response``, else its last assistant turn; the note
    says when the row has neither (the text is then empty)."""
    response = row.get("response")
    if response is not None:
        if not isinstance(response, str):
            raise InvalidInputError(f"'response' is a {type(response).__name__}, not a string")
        return response, None
    messages = row.get("messages")
    if messages is None:
        messages = []
    if not isinstance(messages, list):
        raise InvalidInputError(f"'messages' is a {type(messages).__name__}, not a list")
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "assistant":
            return _content_text(message.get("content")), None
    return "", "the row has no response and no assistant turn: nothing to verify"


def _content_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    raise InvalidInputError(f"assistant content is a {type(content).__name__}, not text")


def row_record(row: dict[str, Any]) -> str | None:
    """``objects.ecg[0]`` of a row, or None when the row has no ECG."""
    objects = row.get("objects")
    if objects is None:
        return None
    if not isinstance(objects, dict):
        raise InvalidInputError(f"'objects' is a {type(objects).__name__}, not an object")
    ecgs = objects.get("ecg")
    if ecgs is None or ecgs == []:
        return None
    if isinstance(ecgs, str):
        ecgs = [ecgs]
    if not isinstance(ecgs, list):
        raise InvalidInputError(f"'objects.ecg' is a {type(ecgs).__name__}, not a list")
    ref = ecgs[0]
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInputError("'objects.ecg[0]' is not a record path")
    return ref


def inside_root(root: str, ref: str) -> str:
    """``ref`` (relative to ``root``, or absolute) as a path that stays inside ``root``.

    Rows are untrusted: a path that leaves the root (``../``, an absolute path elsewhere) is
    refused. The check is on the normalised path, so links the owner of the root put there
    are followed.

    >>> inside_root("/data", "ptbxl/00001")
    '/data/ptbxl/00001'
    >>> inside_root("/data", "../etc/passwd")
    Traceback (most recent call last):
    ...
    ecgr1.errors.InvalidInputError: ECG path '../etc/passwd' is outside --ecg-root /data
    """
    shown = ref if len(ref) <= 200 else ref[:200] + "..."
    if _CONTROL.search(ref):
        raise InvalidInputError(f"ECG path {shown!r} holds control characters")
    base = os.path.normpath(os.path.abspath(root))
    target = os.path.normpath(os.path.join(base, ref))
    if target != base and not target.startswith(base.rstrip(os.sep) + os.sep):
        raise InvalidInputError(f"ECG path {shown!r} is outside --ecg-root {root}")
    return target


def record_key(path: str) -> str:
    """One name per record, so that ``x``, ``x.hea``, ``./x.dat`` are measured once."""
    base, sep, fragment = path.partition("#")
    p = Path(base)
    if not p.exists() and p.with_name(p.name + ".hea").is_file():
        p = p.with_name(p.name + ".hea")
    elif p.suffix.lower() in (".dat", ".mat") and p.with_suffix(".hea").is_file():
        p = p.with_suffix(".hea")
    return os.path.realpath(p) + sep + fragment


# --------------------------------------------------------------------------- output


class Sink:
    """Where results go: stdout, or the ``--out`` file opened before any input is read."""

    def __init__(self, out: str | None) -> None:
        self.path = out
        self.stream: TextIO = sys.stdout
        if out is not None:
            if Path(out).is_dir():
                raise OutputError("--out names a folder, not a file", out)
            with output_errors():
                Path(out).parent.mkdir(parents=True, exist_ok=True)
                self.stream = open(out, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    @property
    def terminal(self) -> bool:
        return self.path is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")

    def write(self, text: str) -> None:
        if self.path is None:
            emit(text.rstrip("\n"))
            sys.stdout.flush()
            return
        with output_errors():
            self.stream.write(text)
            self.stream.flush()

    def close(self) -> None:
        if self.path is not None:
            with output_errors():
                self.stream.close()


def _render(result: Any, fmt: str, color: bool) -> str:
    from ecgr1.verify import view

    if fmt == "json":
        # ASCII JSON: the text is untrusted and stdout may be a terminal
        return result.to_json(indent=1, ensure_ascii=True) + "\n"
    if fmt == "html":
        return view.to_html(result)
    return view.to_text(result, color=color)


# --------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status of docs/cli.md."""
    if args.rows is not None:
        if args.record is not None:
            raise ECGR1Error("give RECORD --text FILE, or --rows JSONL, not both")
        if args.text is not None:
            raise ECGR1Error("--text goes with RECORD; with --rows each row's response is verified")
        if args.age is not None or args.sex is not None:
            raise ECGR1Error(
                "--age/--sex apply to one RECORD; with --rows they come from each record"
            )
        return _run_rows(args)
    if args.record is None:
        raise ECGR1Error("give RECORD --text FILE|- (one text), or --rows JSONL (a batch)")
    if args.text is None:
        raise ECGR1Error("--text FILE|- is required: the text to verify against RECORD")
    if args.ecg_root is not None:
        raise ECGR1Error("--ecg-root goes with --rows")
    return _run_one(args)


def _run_one(args: argparse.Namespace) -> int:
    fmt = args.format or "text"
    text = read_text(args.text)
    sink = Sink(args.out)

    def one(path: str) -> None:
        from ecgr1.verify.api import verify

        data = load_data(path, args)
        result = verify(data, text, age=args.age, sex=args.sex)
        if not text.strip():
            result.notes.insert(0, "the text is empty")
        sink.write(_render(result, fmt, color=sink.terminal))

    try:
        outcome = run_batch(
            [args.record],
            one,
            desc="verify",
            debug=getattr(args, "debug", False),
            command="ecgr1 verify",
        )
    finally:
        sink.close()
    return batch_exit_status(outcome)


class _Row:
    """One line of ``--rows``; named ``FILE:LINE`` in error lines."""

    def __init__(self, source: str, line: int, index: int, raw: str | None) -> None:
        self.source, self.line, self.index, self.raw = source, line, index, raw

    def __str__(self) -> str:
        return f"{self.source}:{self.line}"


def read_rows(path: str, stdin: TextIO | None = None) -> list[_Row]:
    """The non-blank lines of ``--rows`` (``-``: standard input). An unreadable or empty file
    is a usage error (status 2); a line that is not UTF-8 fails as its row."""
    if path == "-":
        stream = stdin or sys.stdin
        buffer = getattr(stream, "buffer", None)
        data = buffer.read() if buffer is not None else stream.read().encode("utf-8")
        path = "<stdin>"
    else:
        if Path(path).is_dir():
            raise InvalidInputError("--rows names a folder, not a file", path)
        with open(path, "rb") as f:
            data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    rows = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = None  # fails as its row, with the line number
        if line is None or line.strip():
            rows.append(_Row(path, number, len(rows), line))
    if not rows:
        raise InvalidInputError("no rows found (an empty file)", path)
    return rows


def _run_rows(args: argparse.Namespace) -> int:
    from ecgr1.protocol.table import load_table
    from ecgr1.verify import api
    from ecgr1.verify.tolerances import load_tolerances
    from ecgr1.verify.view import batch_html, category_table, summary_line, verdict_counts

    fmt = args.format or "json"
    rows = read_rows(args.rows)
    if args.ecg_root is not None:
        root = args.ecg_root
    else:
        root = "." if args.rows == "-" else str(Path(args.rows).parent)
    if not Path(root).is_dir():
        raise InvalidInputError("--ecg-root is not a folder", root)
    sink = Sink(args.out)
    table = load_table()
    tolerances = load_tolerances()
    # path -> (interpretation or None, notes, record id) or the exception reading it raised.
    measured: dict[str, Any] = {}
    verdicts: list[Any] = []  # every verdict, for the counts over all rows
    pages: list[tuple[Any, str]] = []  # (result, heading) for --format html

    def interpretation(path: str) -> tuple[Any, list[str], str | None]:
        """What ``api.verify(path, text)`` would measure, computed once per record."""
        key = record_key(path)
        if key not in measured:
            try:
                data = load_data(path, args)
                interp, notes = api.interpretation_for(data, table=table)
                record_id = getattr(data, "record_id", None) or getattr(data, "id", None)
                measured[key] = (interp, notes, record_id)
            except (ECGR1Error, OSError) as exc:
                measured[key] = exc  # every row naming it fails the same way, read once
        value = measured[key]
        if isinstance(value, BaseException):
            raise value
        return value

    def one(row: _Row) -> None:
        if row.raw is None:
            raise InvalidInputError("not UTF-8 text", str(row))
        if len(row.raw) > MAX_ROW_CHARS:
            raise InvalidInputError(
                f"the row is longer than {MAX_ROW_CHARS:,} characters", str(row)
            )
        data = parse_json(row.raw, str(row))
        if not isinstance(data, dict):
            raise InvalidInputError("not a JSON object", str(row))
        try:
            text, note = row_text(data)
            ref = row_record(data)
            if len(text) > MAX_TEXT_CHARS:
                raise InvalidInputError(
                    f"the text is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}"
                )
            if ref is None:
                result = api.verify(None, text, table=table, tolerances=tolerances)
            else:
                interp, notes, record_id = interpretation(inside_root(root, ref))
                result = api.verify_interpretation(
                    interp, text, notes=notes, table=table, tolerances=tolerances
                )
                result.id = result.id or record_id
        except (ECGR1Error, OSError) as exc:  # name the row, whatever the problem was about
            detail = str(exc) if isinstance(exc, ECGR1Error) else os_error_text(exc)
            raise InvalidInputError(detail, str(row)) from exc
        if note:
            result.notes.insert(0, note)
        elif not text.strip():
            result.notes.insert(0, "the text is empty")
        verdicts.extend(result.verdicts)
        row_id = data.get("id")
        if not isinstance(row_id, (str, int, float)) or isinstance(row_id, bool):
            row_id = None
        if fmt == "html":
            heading = f"Row {row.index} (line {row.line})"
            if row_id is not None:
                heading += f": {row_id}"
            if ref is not None:
                heading += f" · {ref}"
            pages.append((result, heading))
        elif fmt == "json":
            out = {"row_index": row.index, "line": row.line, "row_id": row_id, "ecg": ref}
            out.update(result.to_dict())
            from ecgr1.measure.result import _clean  # NaN -> null: always valid JSON

            sink.write(json.dumps(_clean(out), ensure_ascii=True, allow_nan=False) + "\n")
        else:
            from ecgr1.verify.view import terminal_safe

            head = f"=== row {row.index} (line {row.line})"
            if row_id is not None:
                head += f": {terminal_safe(str(row_id))}"
            sink.write(head + " ===\n" + _render(result, "text", color=sink.terminal))

    try:
        outcome = run_batch(
            rows, one, desc="verify", debug=getattr(args, "debug", False), command="ecgr1 verify"
        )
        if fmt == "html" and pages:
            sink.write(batch_html([r for r, _ in pages], [h for _, h in pages]))
    finally:
        sink.close()
    verified = outcome.n_inputs - outcome.unreadable - outcome.internal_errors
    failed = outcome.n_inputs - verified
    counts = verdict_counts(verdicts)
    total = counts["summary"]
    lines = [
        f"ecgr1 verify: {verified} of {outcome.n_inputs} rows verified"
        + (f" ({failed} failed)" if failed else "")
        + f": {summary_line(total)}"
    ]
    if verdicts:
        lines += category_table(counts["by_category"], total)
    emit("\n".join(lines), file=sys.stderr)
    return batch_exit_status(outcome)
