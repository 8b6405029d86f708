"""Settings of a corpus build: one validated, picklable object (``ecgr1 corpus build`` options or
a ``--config FILE.yaml`` give the same fields).

Image defaults are chosen for throughput (``benchmarks/corpus_bench.py``): 100 dpi, four layouts
in fixed proportions, 10 % of images augmented (an augmented 100-dpi image costs ~100 ms and
~1.2 MB against ~5 ms and ~45 kB for a plain one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ecgr1.errors import InvalidInputError

DISAGREEMENT_POLICIES: tuple[str, ...] = ("keep", "flag", "drop")
DEFAULT_LAYOUTS: dict[str, float] = {"3x4+II": 0.55, "3x4": 0.15, "6x2": 0.15, "12x1": 0.15}
DEFAULT_SYSTEM_PROMPT = (
    "You are a careful ECG reading assistant. Reason step by step from the measured waveform "
    "and the image, cite the leads and values behind every finding, then give the diagnosis."
)
#: Questions of the user turn; one is drawn per record with the build's seed.
QUESTIONS: tuple[str, ...] = (
    "Interpret this 12-lead ECG step by step and give the diagnosis.",
    "Read this ECG: describe rhythm, conduction, axis, intervals, voltage, ST-T and QT, then "
    "state your diagnosis.",
    "What does this electrocardiogram show? Justify each finding with lead-specific evidence.",
    "Analyse the ECG systematically and list the diagnostic statements it supports.",
    "Provide a structured interpretation of this ECG with the measurements that support it.",
    "Please review this 12-lead recording and report your findings and final diagnosis.",
    "Walk through the ECG from rate and rhythm to the QT interval and conclude with a diagnosis.",
    "Give an evidence-based reading of this ECG, lead by lead where it matters.",
)


@dataclass
class CorpusConfig:
    """What a build writes and how.

    Attributes
    ----------
    seed : drives question, phrasing, layout and augmentation choices, splits and
        modality-missing subsets. Same seed, same records → byte-identical rows.
    seconds : the window analysed, rendered and described (the first N seconds).
    test_fraction : share of patients held out where a dataset has no official test fold.
    images : render a PNG per record (else rows carry no image).
    dpi, layouts, augment_share : image settings (layout name → share; shares sum to 1).
    style : report phrasing, ``varied`` (seeded connectives) or ``deterministic``.
    disagreement : rows whose source labels the measurements do not support are kept as
        they are (``keep``), kept with ``"flagged": true`` (``flag``) or left out (``drop``).
    missing_percents : the modality-missing variants written for every test split.
    ecgbench : write the ECGBench-style test files.
    system_prompt : the system turn ("" for none).
    shard_size : records per shard (the unit of work, of atomic writes and of resume).
    """

    seed: int = 0
    seconds: float = 10.0
    test_fraction: float = 0.1
    images: bool = True
    dpi: float = 100.0
    layouts: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_LAYOUTS))
    augment_share: float = 0.1
    style: str = "varied"
    disagreement: str = "flag"
    missing_percents: tuple[int, ...] = (25, 50, 100)
    ecgbench: bool = True
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    shard_size: int = 64

    def __post_init__(self) -> None:
        if self.disagreement not in DISAGREEMENT_POLICIES:
            raise InvalidInputError(
                f"disagreement policy must be one of {', '.join(DISAGREEMENT_POLICIES)}, "
                f"got {self.disagreement!r}"
            )
        if self.style not in ("varied", "deterministic"):
            raise InvalidInputError(
                f"style must be 'varied' or 'deterministic', got {self.style!r}"
            )
        if not 0.0 < self.seconds <= 60.0:
            raise InvalidInputError(f"seconds must be in (0, 60], got {self.seconds}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise InvalidInputError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if not 0.0 <= self.augment_share <= 1.0:
            raise InvalidInputError(f"augment_share must be in [0, 1], got {self.augment_share}")
        if not 20.0 <= self.dpi <= 600.0:
            raise InvalidInputError(f"dpi must be in [20, 600], got {self.dpi}")
        if self.shard_size < 1:
            raise InvalidInputError(f"shard_size must be at least 1, got {self.shard_size}")
        self._check_layouts()
        try:
            self.missing_percents = tuple(int(p) for p in self.missing_percents)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"missing percents must be whole numbers, got {self.missing_percents!r}"
            ) from None
        if any(not 0 < p <= 100 for p in self.missing_percents):
            raise InvalidInputError("missing percents must be in 1..100")

    def _check_layouts(self) -> None:
        from ecgr1.render.page import LAYOUTS

        unknown = [name for name in self.layouts if name not in LAYOUTS]
        if unknown:
            raise InvalidInputError(
                f"unknown layout(s) {', '.join(unknown)}; choose from {', '.join(LAYOUTS)}"
            )
        total = sum(self.layouts.values())
        if any(v < 0 for v in self.layouts.values()) or abs(total - 1.0) > 1e-6:
            raise InvalidInputError(
                f"layout shares must be non-negative and sum to 1 (got {total:g})"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (recorded in the manifest and the plan)."""
        out = asdict(self)
        out["missing_percents"] = list(self.missing_percents)
        return out

    @classmethod
    def from_mapping(cls, data: dict[str, Any], where: str = "config") -> CorpusConfig:
        """Settings from a mapping (a YAML file); unknown keys are an error."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise InvalidInputError(f"{where}: unknown setting(s) {', '.join(unknown)}")
        for name, value in data.items():
            if not _fits(value, getattr(cls(), name)):
                raise InvalidInputError(f"{where}: {name} = {value!r} is not a valid value")
        return cls(**data)


def _fits(value: Any, default: Any) -> bool:
    """Whether a setting read from YAML has the type of its default (ints allowed for floats;
    the value's range is checked by the config itself)."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list))
    return isinstance(value, type(default))


def load_build_file(path: str | Path) -> dict[str, Any]:
    """A ``--config FILE.yaml``: ``sources`` (list of KIND:PATH), ``out``, engine settings and
    :class:`CorpusConfig` fields, as a dict (validated by the caller)."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"not valid YAML: {exc}".splitlines()[0], str(p)) from None
    if not isinstance(data, dict):
        raise InvalidInputError("a corpus config must be a mapping of settings", str(p))
    return data
