"""The model engines of the server, run in its worker processes.

- ``remote``: an OpenAI-compatible endpoint (e.g. vLLM serving ECG-R1), asked through
  :mod:`ecgr1.llm`. The chat API has no ECG-signal part, so it receives the text prompt and a
  picture only: the uploaded image, or the record rendered as a plain 12-lead page;
- ``model``: a local ECG-R1 model folder (:mod:`ecgr1.model`), which receives the signal and,
  when one was uploaded, the image too. Loaded once per worker process.

The protocol engine needs nothing here: it is the pipeline itself.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from ecgr1.errors import ECGR1Error

PROMPT = (
    "Interpret the provided ECG, identify key features and abnormalities in each lead, and "
    "generate a clinical diagnosis that is supported by the observed evidence."
)
_MODEL_NAMES: dict[str, str] = {}
_LOCAL: dict[str, tuple[Any, Any]] = {}


class EngineError(ECGR1Error):
    """A model engine failed (endpoint unreachable, bad answer): HTTP 502."""


def describe(engine: str, config: dict[str, Any]) -> str:
    """Who wrote the text, in words, for the page.

    >>> describe("protocol", {})
    'protocol engine (measurements + criteria table, deterministic)'
    >>> describe("remote", {"model_url": "http://gpu:8000/v1", "model_name": "ecg-r1"})
    'model ecg-r1 at http://gpu:8000/v1 (saw the rendered image and the prompt, not the signal)'
    """
    if engine == "remote":
        name = config.get("model_name") or _MODEL_NAMES.get(config.get("model_url") or "", "")
        return (
            f"model {name or '(first served)'} at {config.get('model_url')} "
            "(saw the rendered image and the prompt, not the signal)"
        )
    if engine == "model":
        return f"local ECG-R1 model {config.get('model_dir')} (saw the signal and any image)"
    return "protocol engine (measurements + criteria table, deterministic)"


def _served_model(url: str, timeout_s: float) -> str:
    """The first model of ``{url}/models`` (remembered per URL)."""
    if url not in _MODEL_NAMES:
        from ecgr1.llm import endpoint_url

        models_url = endpoint_url(url).rsplit("/chat/completions", 1)[0] + "/models"
        try:
            response = httpx.get(models_url, timeout=min(timeout_s, 30.0))
            response.raise_for_status()
            _MODEL_NAMES[url] = str(response.json()["data"][0]["id"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise EngineError(
                f"the model endpoint did not name its model ({type(exc).__name__}); start the "
                "server with --model-name NAME"
            ) from None
    return _MODEL_NAMES[url]


def remote_text(config: dict[str, Any], picture: bytes, mime: str = "image/png") -> str:
    """Ask the endpoint of ``config["model_url"]`` to interpret ``picture``; its text."""
    from ecgr1.llm import ChatClient, ChatConfig, ChatRequest

    url = config["model_url"]
    timeout = float(config.get("model_timeout_s") or 300.0)
    name = config.get("model_name") or _served_model(url, timeout)
    data_url = f"data:{mime};base64," + base64.b64encode(picture).decode("ascii")
    message = {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": data_url}},
            {"type": "text", "text": PROMPT},
        ],
    }
    chat = ChatConfig(url, name, max_tokens=2048, timeout_s=timeout, max_retries=1)
    with ChatClient(chat) as client:
        answer = client.complete(ChatRequest([message]))
    if answer.failure or answer.content is None:
        raise EngineError(f"the model endpoint failed: {answer.failure or 'no text'}")
    return answer.content


def _local_model(model_dir: str) -> tuple[Any, Any]:
    if model_dir not in _LOCAL:
        from ecgr1.model.loading import load_model_and_processor

        _LOCAL[model_dir] = load_model_and_processor(model_dir)
    return _LOCAL[model_dir]


def local_text(config: dict[str, Any], record: Any = None, image: str | None = None) -> str:
    """The local model's interpretation of the signal and/or the image (a path)."""
    from ecgr1.model.inference import generate_interpretation

    model, processor = _local_model(config["model_dir"])
    return generate_interpretation(model, processor, record=record, image=image)
