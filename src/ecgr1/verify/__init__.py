"""Verification (stage 6): check any ECG text, claim by claim, against the measured signal.

:func:`verify` finds the checkable claims of an interpretation (ECG-R1's six-step report, a
GEM/PULSE-style paragraph, a clinician's draft, a one-line machine statement) and says for each
whether the record's measurements support it, contradict it, or cannot decide (and why). The
package is itself callable: ``ecgr1.verify(record, text)`` is ``ecgr1.verify.verify(...)``.

- :func:`extract_claims` - text -> :class:`Claim` list with character spans (``lexicon.yaml``);
- :func:`check_claims` - claims + an interpretation -> :class:`ClaimVerdict` list
  (``checks.yaml``: what each finding means in the criteria table; ``tolerances.yaml``: how far
  a stated value may be from the measured one);
- :class:`VerificationResult` - verdicts, summaries (hallucination rate = contradicted /
  checkable), JSON; :mod:`ecgr1.verify.view` renders it for a terminal or a browser.

>>> import ecgr1
>>> result = ecgr1.verify(ecgr1.simulate("normal", seed=0).record, "PR interval 320 ms.")
>>> result.verdicts[0].verdict
'contradicted'
"""

from ecgr1._callable import make_callable
from ecgr1.verify.api import verify, verify_interpretation
from ecgr1.verify.check import check_claims, load_checks
from ecgr1.verify.claims import Claim, ClaimVerdict
from ecgr1.verify.extract import extract_claims
from ecgr1.verify.result import VerificationResult
from ecgr1.verify.tolerances import ToleranceTable, load_tolerances

__all__ = [
    "Claim",
    "ClaimVerdict",
    "ToleranceTable",
    "VerificationResult",
    "check_claims",
    "extract_claims",
    "load_checks",
    "load_tolerances",
    "verify",
    "verify_interpretation",
]

make_callable(__name__, verify)
