"""Fuzzing (issue 17): mutated real ECG files give a clear error or an honestly flagged answer.

The mutation operators and the oracle live in ``benchmarks/_fuzz_mutations.py`` (shared with the
long run, ``benchmarks/fuzz.py``; its docstring defines the verdicts). Here every operator is
tried once on a fixed input, hypothesis draws a bounded number of further inputs (derandomised,
so CI sees the same ones every run), and two planted bugs check that the oracle catches them.
A failing input is rebuilt by its operator, record and seed:
``fm.Corpus(root).mutate(op, key, seed)``; the assertion message names all three.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _fuzz_mutations as fm  # noqa: E402

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]

#: Inputs drawn by hypothesis (about 0.07-0.2 s each; the module takes 15-30 s).
MAX_EXAMPLES = 150
OPS = sorted(fm.OPERATORS)
PASSING = ("pass", "unstable")  # "unstable": a meaning-preserving rewrite, information only


@pytest.fixture(scope="module")
def oracle(shared_data: Path) -> Iterator[fm.Oracle]:
    corpus = fm.Corpus(shared_data)
    if not corpus.keys:
        pytest.skip("no seed records in the shared data folder")
    with tempfile.TemporaryDirectory(prefix="ecgr1-fuzz-test-") as tmp:
        yield fm.Oracle(corpus, Path(tmp))


def _check(oracle: fm.Oracle, op: str, pick: int, seed: int) -> dict:
    corpus = oracle.corpus
    keys = [k for s in corpus.sources_for(op) for k in corpus.by_source[s]]
    key = keys[pick % len(keys)]
    outcome = oracle.check(corpus.mutate(op, key, seed))
    outcome["repro"] = f"fm.Corpus(root).mutate({op!r}, {key!r}, {seed})"
    return outcome


@pytest.mark.parametrize("op", OPS)
def test_every_operator_gives_a_clear_error_or_a_flagged_answer(oracle: fm.Oracle, op: str) -> None:
    outcome = _check(oracle, op, pick=OPS.index(op) * 7919, seed=17)
    assert outcome["verdict"] in PASSING, f"{fm.explain(outcome)}\n{outcome['repro']}"


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: op, record and seed are labels
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    op=st.sampled_from(OPS),
    pick=st.integers(0, 10**6),
    seed=st.integers(0, 2**63 - 1),
)
def test_mutated_inputs_give_a_clear_error_or_a_flagged_answer(
    oracle: fm.Oracle, op: str, pick: int, seed: int
) -> None:
    outcome = _check(oracle, op, pick, seed)
    assert outcome["verdict"] in PASSING, f"{fm.explain(outcome)}\n{outcome['repro']}"


def test_unmutated_copies_read_like_their_sources(oracle: fm.Oracle, tmp_path: Path) -> None:
    """The baseline is a rewritten excerpt: the first record of each source reads back with the
    samples and lead names of the original file (its first 60 s), and the same warnings when it
    is no longer than that."""
    from ecgr1.io import read_record

    corpus = oracle.corpus
    for source, keys in corpus.by_source.items():
        original = read_record(corpus.root / f"{keys[0]}.hea")
        copy = read_record(corpus.unmutated(keys[0], "wfdb").write(tmp_path / source))
        assert copy.leads == original.leads, keys[0]
        np.testing.assert_array_equal(
            copy.signal, original.signal[:, : copy.n_samples], err_msg=keys[0]
        )
        if copy.n_samples == original.n_samples:
            assert copy.warnings == original.warnings, keys[0]


def test_the_oracle_catches_planted_bugs(oracle: fm.Oracle, monkeypatch) -> None:
    """A statement dropped without a flag is an unflagged corrupted answer (an "unstable" one
    for a meaning-preserving rewrite); an exception other than ECGR1Error is a traceback."""
    import ecgr1.pipeline as pipeline

    corpus = oracle.corpus
    key = corpus.by_source[sorted(corpus.by_source)[0]][0]
    same = dataclasses.replace(corpus.unmutated(key, "wfdb"), op="planted", family="data")
    assert oracle.check(same)["verdict"] == "pass"  # also caches the true baseline
    assert oracle.baseline(key, "wfdb")["statements"], "the planted bug needs a statement"
    real = pipeline.interpret_record

    def drops_a_statement(*args, **kwargs):
        out = real(*args, **kwargs)
        out.interpretation.statements = out.interpretation.statements[1:]
        return out

    monkeypatch.setattr(pipeline, "interpret_record", drops_a_statement)
    assert oracle.check(same)["verdict"] == "unflagged_corrupted_answer"
    assert oracle.check(dataclasses.replace(same, family="equivalent"))["verdict"] == "unstable"

    def crashes(*args, **kwargs):
        raise KeyError("planted")

    monkeypatch.setattr(pipeline, "interpret_record", crashes)
    outcome = oracle.check(same)
    assert outcome["verdict"] == "traceback"
    assert "KeyError" in outcome["kind"]


#: Inputs of ``benchmarks/fuzz.py --seed 0`` that were unflagged corrupted answers before the
#: quality flags below existed (index: the damage and the flag that now reports it).
FORMER_FAILURES = {
    5609: "white noise at 100 Hz: noise measured from the second difference",
    3117: "60 Hz mains aliased to 40 Hz at 100 Hz: noise",
    1480: "11-sample burst of pattern bytes in every lead: spikes (short burst)",
    855: "512 byte flips, one-sample jumps of 0.1-0.4 mV: glitches",
    7140: "64 byte flips: glitches",
    3007: "0xFF bytes, every lead at one value for 100 ms: dropout (filler)",
    3575: "0xFF bytes, every lead frozen for 5 samples: dropout (filler)",
    4332: "30 mV drift at 0.3 Hz in a wandering lead: baseline_wander_severe",
}


@pytest.mark.parametrize("index", sorted(FORMER_FAILURES))
def test_former_fuzz_failures_are_flagged(oracle: fm.Oracle, index: int) -> None:
    mutation = oracle.corpus.draw(index, 0)
    outcome = oracle.check(mutation)
    assert outcome["verdict"] in PASSING, f"{FORMER_FAILURES[index]}\n{fm.explain(outcome)}"
