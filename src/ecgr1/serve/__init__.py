"""The web platform and HTTP API of ``ecgr1 serve`` (docs/serve.md).

- :mod:`~ecgr1.serve.app`: the FastAPI app (:func:`create_app`): page, API, errors, request ids;
- :mod:`~ecgr1.serve.config`: :class:`ServeConfig`, every setting with its default;
- :mod:`~ecgr1.serve.uploads`: uploads checked by content and saved under names of our own;
- :mod:`~ecgr1.serve.pool`: spawned worker processes, the bounded queue, time limits;
- :mod:`~ecgr1.serve.jobs`: the work of a request inside a worker, with its streamed events;
- :mod:`~ecgr1.serve.engines`: the model engines (a local folder, a remote endpoint);
- :mod:`~ecgr1.serve.text`: the steps, summary and answer of an interpretation text;
- ``static/``: the page (HTML, JavaScript, CSS; nothing loaded from elsewhere).

``create_app`` and ``ServeConfig`` are imported on first use, so that a worker process, which
imports :mod:`ecgr1.serve.jobs`, never loads FastAPI.

>>> from ecgr1.serve import ServeConfig
>>> ServeConfig(port=9000).engines()
['protocol']
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServeConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ecgr1.serve.app import create_app

        return create_app
    if name == "ServeConfig":
        from ecgr1.serve.config import ServeConfig

        return ServeConfig
    raise AttributeError(f"module 'ecgr1.serve' has no attribute {name!r}")
