"""Generation with an ECG-R1 model: one ECG, a batch of interchange rows, or a JSONL file.

Backends: ``"hf"`` (transformers ``generate``; CPU or GPU; greedy by default) and ``"vllm"``
(GPU only; used only when the ``vllm`` package is importable *and* a vLLM build of the ECG-R1
architecture is registered, e.g. by the ECG-R1 vLLM plugin; otherwise a clear error).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.errors import ECGR1Error, InvalidInputError, ModelError

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_PROMPT",
    "ECGR1_MAX_NEW_TOKENS",
    "GenerationSettings",
    "default_max_new_tokens",
    "done_ids",
    "generate_batch",
    "generate_interpretation",
    "interpretation_row",
    "is_ecgr1_config",
    "prediction_row",
    "run_inference",
]

DEFAULT_PROMPT = (
    "Interpret the provided ECG, identify key features and abnormalities in each lead, and "
    "generate a clinical diagnosis that is supported by the observed evidence."
)

#: Generation budget of a folder that says nothing (no generation config, not ECG-R1).
DEFAULT_MAX_NEW_TOKENS = 1024
#: The reference ECG-R1 inference budget (its six-step reasoning is cut short at 1024).
ECGR1_MAX_NEW_TOKENS = 2048


class GenerationSettings(dict):
    """Generation options recorded in every output row (``config``).

    ``max_new_tokens=None`` means "from the model folder": :func:`run_inference` resolves it
    with :func:`default_max_new_tokens` and records where the number came from in
    ``max_new_tokens_from``.
    """

    def __init__(
        self,
        max_new_tokens: int | None = DEFAULT_MAX_NEW_TOKENS,
        do_sample: bool = False,
        temperature: float | None = None,
        top_p: float | None = None,
        repetition_penalty: float | None = None,
        backend: str = "hf",
        system_prompt: str | None = None,
        max_new_tokens_from: str | None = None,
    ) -> None:
        super().__init__(
            max_new_tokens=None if max_new_tokens is None else int(max_new_tokens),
            max_new_tokens_from=max_new_tokens_from,
            do_sample=bool(do_sample),
            temperature=temperature,
            top_p=top_p,
            repetition_penalty=repetition_penalty,
            backend=backend,
            system_prompt=system_prompt,
        )

    def hf_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``model.generate``."""
        kw: dict[str, Any] = {"do_sample": self["do_sample"]}
        if self["max_new_tokens"] is not None:  # None: the model's generation config decides
            kw["max_new_tokens"] = self["max_new_tokens"]
        if self["do_sample"]:
            for key in ("temperature", "top_p"):
                if self[key] is not None:
                    kw[key] = self[key]
        else:  # silence "temperature is set but do_sample=False" from generation configs
            kw.update(temperature=None, top_p=None, top_k=None)
        if self["repetition_penalty"] is not None:
            kw["repetition_penalty"] = self["repetition_penalty"]
        return kw


def _model_device(model: Any) -> Any:
    return next(model.parameters()).device


def generate_batch(
    model: Any,
    processor: Any,
    rows: Sequence[dict[str, Any]],
    *,
    settings: GenerationSettings | None = None,
    ecg_root: str | Path | None = None,
    image_root: str | Path | None = None,
) -> list[str]:
    """Generate the assistant turn for interchange rows (a trailing assistant turn, if any, is
    the reference and is not shown to the model). Returns one decoded text per row."""
    import torch

    s = settings or GenerationSettings()
    batch = processor.prepare_batch(
        rows,
        train=False,
        ecg_root=ecg_root,
        image_root=image_root,
        system_prompt=s["system_prompt"],
    )
    device = _model_device(model)
    dtype = next(model.parameters()).dtype
    inputs = {}
    for k, v in batch.items():
        if k in ("pixel_values", "ecg_values") and v.is_floating_point():
            v = v.to(dtype)
        inputs[k] = v.to(device)
    with torch.inference_mode():
        out = model.generate(**inputs, **s.hf_kwargs(), pad_token_id=processor.pad_token_id)
    new = out[:, inputs["input_ids"].shape[1] :]
    return [t.strip() for t in processor.batch_decode(new, skip_special_tokens=True)]


def _row_ecg(record: Any) -> Any:
    """A record path or ECGRecord as is (the processor reads it under the folder's input
    convention); an array checked to be the (12, 5000) model tensor."""
    from ecgr1.io import ECGRecord

    if isinstance(record, (ECGRecord, str, Path)):
        return record
    arr = np.asarray(record, dtype=np.float32)
    if arr.shape != (12, 5000):
        raise InvalidInputError(f"ECG array must be (12, 5000), got {arr.shape}")
    return arr


def interpretation_row(
    record: Any = None, image: Any = None, prompt: str = DEFAULT_PROMPT, row_id: str = "input"
) -> dict[str, Any]:
    """An interchange row asking for an interpretation of an ECG signal and/or image."""
    if record is None and image is None:
        raise InvalidInputError("give an ECG record, an image, or both")
    tags = ("<ecg>" if record is not None else "") + ("<image>" if image is not None else "")
    ecgs = [_row_ecg(record)] if record is not None else []
    images = []
    if image is not None:
        from ecgr1.model.data import load_image

        images = [load_image(image) if isinstance(image, (str, Path)) else image.convert("RGB")]
    return {
        "id": row_id,
        "messages": [{"role": "user", "content": f"{tags}\n{prompt}"}],
        "images": images,
        "objects": {"ecg": ecgs},
    }


def generate_interpretation(
    model: Any,
    processor: Any,
    record: Any = None,
    image: Any = None,
    *,
    prompt: str = DEFAULT_PROMPT,
    max_new_tokens: int | None = None,
    system_prompt: str | None = None,
) -> str:
    """The model's interpretation text of one ECG (signal, image or both).

    Parameters
    ----------
    model, processor : from :func:`ecgr1.model.load_model_and_processor`.
    record : an :class:`ecgr1.io.ECGRecord`, a record path (both turned into the model tensor
        under the folder's ECG input convention), or a ``(12, 5000)`` mV array (used as is).
    image : a PIL image or an image path.
    prompt : the user instruction after the media tags.
    max_new_tokens : generation budget (greedy decoding); None: the model's generation config
        ``max_new_tokens``, else 2048 (ECG-R1's).
    system_prompt : None = the processor's default.

    Returns
    -------
    The generated text (``<think>...</think> ... <answer>...</answer>`` for a trained model).
    """
    row = interpretation_row(record, image, prompt)
    if max_new_tokens is None:
        gen = getattr(model, "generation_config", None)
        max_new_tokens = getattr(gen, "max_new_tokens", None) or ECGR1_MAX_NEW_TOKENS
    settings = GenerationSettings(max_new_tokens=max_new_tokens, system_prompt=system_prompt)
    return generate_batch(model, processor, [row], settings=settings)[0]


# --------------------------------------------------------------------------------------------
# file-level inference


def _read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it is absent or not a readable JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_ecgr1_config(config: dict[str, Any]) -> bool:
    """Whether a ``config.json`` is an ECG-R1 model's: it carries the ECG fields that
    :func:`ecgr1.model.modeling.set_ecg_config` writes (``ecg_token_id``, ``ecg_model_config``)
    or names an ECG-R1 architecture (the reference folders and their vLLM plugin).

    >>> is_ecgr1_config({"model_type": "qwen3_vl", "ecg_token_id": 151669})
    True
    >>> is_ecgr1_config({"model_type": "qwen3_vl", "architectures": ["Qwen3VLForConditionalGeneration"]})
    False
    """
    if any(config.get(key) is not None for key in ("ecg_token_id", "ecg_model_config")):
        return True
    archs = config.get("architectures") or []
    return isinstance(archs, list) and any("ecgr1" in str(a).lower() for a in archs)


def default_max_new_tokens(model_dir: str | Path) -> tuple[int, str]:
    """The generation budget a model folder asks for, and where it came from.

    In order: ``max_new_tokens`` of the folder's ``generation_config.json``; 2048
    (:data:`ECGR1_MAX_NEW_TOKENS`, the reference setting) for an ECG-R1 folder
    (:func:`is_ecgr1_config`); else 1024 (:data:`DEFAULT_MAX_NEW_TOKENS`). A PEFT adapter folder
    without its own answer is looked up in its local base model. Reads JSON only (no torch).

    >>> import tempfile
    >>> default_max_new_tokens(tempfile.mkdtemp())
    (1024, 'default')
    """
    folder = Path(model_dir)
    for _ in range(4):  # an adapter's base may itself be an adapter; never loop forever
        gen = _read_json_object(folder / "generation_config.json") or {}
        value = gen.get("max_new_tokens")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value, "generation_config.json"
        config = _read_json_object(folder / "config.json")
        if config is not None:
            if is_ecgr1_config(config):
                return ECGR1_MAX_NEW_TOKENS, "ECG-R1 folder"
            break
        adapter = _read_json_object(folder / "adapter_config.json") or {}
        base = adapter.get("base_model_name_or_path")
        if not isinstance(base, str) or not base or not Path(base).is_dir():
            break
        folder = Path(base)
    return DEFAULT_MAX_NEW_TOKENS, "default"


def prediction_row(
    row: dict[str, Any],
    response: str,
    *,
    model: str,
    engine: str,
    config: dict[str, Any],
    error: str | None = None,
) -> dict[str, Any]:
    """The interchange.md section-4 output row of one input row.

    The input's ``id``, ``messages`` (as given, a reference assistant turn included),
    ``images`` and ``objects`` are kept so that evaluators can pair and re-read the row;
    ``response`` is the generated text ("" for a row that failed, which also gets ``error``);
    ``labels`` the reference labels as a list (the row's ``labels``, else its assistant
    ``<answer>``, else its RL solution's answer, as :func:`ecgr1.evaluate.rows.reference_labels`
    reads them; None when unknown); ``model``, ``engine`` and ``config`` say what wrote it.

    >>> r = prediction_row({"id": 7, "messages": [{"role": "assistant",
    ...     "content": "<answer>AF; LBBB</answer>"}]}, "x", model="m", engine="model", config={})
    >>> r["id"], r["images"], r["objects"], r["labels"]
    (7, [], {'ecg': []}, ['AF', 'LBBB'])
    """
    from ecgr1.evaluate.rows import reference_labels

    objects = row.get("objects")
    out: dict[str, Any] = {
        "id": row.get("id"),
        "messages": row.get("messages") if row.get("messages") is not None else [],
        "images": row.get("images") if row.get("images") is not None else [],
        "objects": objects if objects is not None else {"ecg": []},
        "response": response,
        "labels": reference_labels(row),
        "model": model,
        "engine": engine,
        "config": config,
    }
    if error is not None:
        out["error"] = error
    return out


def done_ids(out: str | Path) -> set[str]:
    """The ids already written to an output file (for ``resume``); none when it is absent."""
    p = Path(out)
    done: set[str] = set()
    if not p.exists():
        return done
    for no, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise InvalidInputError(
                f"line {no}: not JSON: cannot resume from this file", str(p)
            ) from None
        if isinstance(row, dict):
            done.add(str(row.get("id")))
    return done


def _vllm_generate(
    model_dir: str,
    rows: list[dict],
    settings: GenerationSettings,
    ecg_root: Any,
    image_root: Any,
    processor: Any,
) -> list[str]:
    """vLLM path (GPU only). Needs vLLM and a registered ECG-R1 vLLM model (the ECG-R1 vLLM
    plugin registers ``ECGR1ForConditionalGeneration`` with ``ecg`` multimodal data)."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        raise ModelError(
            "backend 'vllm' needs the vllm package (GPU only): pip install vllm"
        ) from None
    # The ECG-R1 vLLM plugin registers its model as "ECGR1ForConditionalGeneration"; our folders
    # name the transformers class, so point vLLM at the plugin's architecture.
    extra: dict[str, Any] = {}
    if processor.image_min_tokens or processor.image_max_tokens:
        # the folder's image token bounds, as the reference passes them (min/max_pixels)
        unit = (
            int(getattr(processor.image_processor, "patch_size", 16)) * processor.merge_size
        ) ** 2
        pixels = {}
        if processor.image_min_tokens:
            pixels["min_pixels"] = int(processor.image_min_tokens) * unit
        if processor.image_max_tokens:
            pixels["max_pixels"] = int(processor.image_max_tokens) * unit
        extra["mm_processor_kwargs"] = pixels
    llm = LLM(
        model=model_dir,
        trust_remote_code=False,
        limit_mm_per_prompt={"image": 1, "ecg": 1},
        hf_overrides={"architectures": ["ECGR1ForConditionalGeneration"]},
        **extra,
    )
    params = SamplingParams(
        max_tokens=settings["max_new_tokens"],
        temperature=(settings["temperature"] or 1.0) if settings["do_sample"] else 0.0,
        top_p=settings["top_p"] or 1.0,
    )
    prompts = []
    for row in rows:
        ecgs, images = processor.load_media(row, ecg_root=ecg_root, image_root=image_root)
        ecgs = [processor.stack_ecgs([e])[0].numpy() for e in ecgs]
        msgs = [m for m in row.get("messages", []) if m.get("role") != "assistant"]
        text = processor.apply_chat_template(
            msgs, add_generation_prompt=True, system_prompt=settings["system_prompt"]
        )
        # vLLM expands single placeholders itself
        text = text.replace("<ecg>", "<|ecg_start|><|ecg_pad|><|ecg_end|>").replace(
            "<image>", "<|vision_start|><|image_pad|><|vision_end|>"
        )
        mm: dict[str, Any] = {}
        if images:
            mm["image"] = images[0] if len(images) == 1 else images
        if ecgs:
            mm["ecg"] = np.stack(ecgs) if len(ecgs) > 1 else ecgs[0]
        prompts.append({"prompt": text, "multi_modal_data": mm})
    outs = llm.generate(prompts, params)
    return [o.outputs[0].text.strip() for o in outs]


def run_inference(
    model_dir: str | Path,
    data: str | Path,
    out: str | Path,
    *,
    batch_size: int = 4,
    settings: GenerationSettings | None = None,
    ecg_root: str | Path | None = None,
    image_root: str | Path | None = None,
    device: str | None = None,
    dtype: Any = None,
    resume: bool = False,
    progress: bool | None = None,
    model: Any = None,
    processor: Any = None,
    limit: int | None = None,
    ecg_convention: str | None = None,
    image_min_tokens: int | None = None,
    image_max_tokens: int | None = None,
) -> dict[str, Any]:
    """Generate for every row of ``data`` and write interchange.md section-4 rows to ``out``.

    One output row per input row, in input order (:func:`prediction_row`: the input's ``id``,
    ``messages``, ``images`` and ``objects``, then ``response``, ``labels``, ``model`` (the
    folder), ``engine`` ("model") and ``config`` (the generation settings used)). A row that
    fails gets ``response`` "" and an ``error``. Without ``settings`` (or with
    ``max_new_tokens`` None in them) the budget comes from the folder
    (:func:`default_max_new_tokens`). ``limit``: only the first N rows of ``data``. With
    ``resume`` the ids already in ``out`` are skipped and new rows appended.
    ``ecg_convention``, ``image_min_tokens``, ``image_max_tokens`` replace the folder's
    settings (:func:`ecgr1.model.loading.load_model_and_processor`); the values used are
    recorded in each row's ``config`` (``ecg_input_convention``, ``image_tokens``).

    Returns a summary: ``{"rows", "written", "skipped", "failed", "seconds"}``.
    """
    from tqdm import tqdm

    from ecgr1.model.data import read_jsonl

    s = GenerationSettings(max_new_tokens=None)
    if settings is not None:
        s.update(settings)
    if s["max_new_tokens"] is None:
        s["max_new_tokens"], s["max_new_tokens_from"] = default_max_new_tokens(model_dir)
    rows = read_jsonl(data)
    if limit is not None:
        rows = rows[: max(0, int(limit))]
    out_p = Path(out)
    done = done_ids(out_p) if resume else set()
    todo = [r for r in rows if str(r.get("id")) not in done]
    if model is None or processor is None:
        if s["backend"] == "vllm":
            from ecgr1.model.processing import ECGR1Processor

            processor = ECGR1Processor.from_pretrained(
                model_dir,
                ecg_convention=ecg_convention,
                image_min_tokens=image_min_tokens,
                image_max_tokens=image_max_tokens,
            )
        else:
            from ecgr1.model.loading import load_model_and_processor

            model, processor = load_model_and_processor(
                model_dir,
                device=device,
                dtype=dtype,
                ecg_convention=ecg_convention,
                image_min_tokens=image_min_tokens,
                image_max_tokens=image_max_tokens,
            )
    s["ecg_input_convention"] = processor.ecg_convention
    s["image_tokens"] = [processor.image_min_tokens, processor.image_max_tokens]
    out_p.parent.mkdir(parents=True, exist_ok=True)
    show = sys.stderr.isatty() if progress is None else progress
    start = time.perf_counter()
    failed = written = 0
    with out_p.open("a" if resume else "w", encoding="utf-8") as fh:

        def emit(row: dict[str, Any], response: str, error: str | None = None) -> None:
            rec = prediction_row(
                row, response, model=str(model_dir), engine="model", config=dict(s), error=error
            )
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()

        if s["backend"] == "vllm":
            texts = _vllm_generate(str(model_dir), todo, s, ecg_root, image_root, processor)
            for row, text in zip(todo, texts):
                emit(row, text)
                written += 1
        else:
            bar = tqdm(total=len(todo), desc="infer", unit="row", disable=not show)
            for i in range(0, len(todo), max(1, batch_size)):
                chunk = todo[i : i + batch_size]
                try:
                    texts = generate_batch(
                        model,
                        processor,
                        chunk,
                        settings=s,
                        ecg_root=ecg_root,
                        image_root=image_root,
                    )
                    results = [(r, t, None) for r, t in zip(chunk, texts)]
                except ECGR1Error:
                    # retry one by one so that one bad row does not sink its batch
                    results = []
                    for r in chunk:
                        try:
                            t = generate_batch(
                                model,
                                processor,
                                [r],
                                settings=s,
                                ecg_root=ecg_root,
                                image_root=image_root,
                            )[0]
                            results.append((r, t, None))
                        except ECGR1Error as exc:
                            results.append((r, "", str(exc)))
                for r, t, err in results:
                    emit(r, t, err)
                    written += 1
                    failed += err is not None
                bar.update(len(chunk))
            bar.close()
    return {
        "rows": len(rows),
        "written": written,
        "skipped": len(rows) - len(todo),
        "failed": failed,
        "seconds": round(time.perf_counter() - start, 3),
    }
