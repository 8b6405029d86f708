"""Stage packages that are also their stage's function: ``ecgr1.measure(...)`` measures and
``ecgr1.measure.engine`` is still the engine module.

A package and a function cannot share a name in ``ecgr1``'s namespace: importing any submodule
rebinds the package attribute. So the packages whose stage is one verb (``measure``,
``simulate``, ``verify``) make their module object callable instead; everything else about
them stays an ordinary module.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any


class _CallableModule(types.ModuleType):
    """A module whose call runs the function given to :func:`make_callable`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__dict__["_call_target"](*args, **kwargs)


def make_callable(module_name: str, fn: Callable[..., Any]) -> None:
    """Make ``sys.modules[module_name](...)`` call ``fn``."""
    module = sys.modules[module_name]
    module._call_target = fn
    module.__class__ = _CallableModule
