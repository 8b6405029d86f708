"""ECGR1Processor: Qwen-VL tokenizer + image processor, plus ECG tokens and ECG tensors.

Text conventions (interchange.md sections 1 and 3)
--------------------------------------------------
* ``<ecg>`` in a user turn becomes ``<|ecg_start|>`` + N x ``<|ecg_pad|>`` + ``<|ecg_end|>``
  (N = encoder tokens, 101 for ECG-CoCa); the i-th tag takes the i-th ECG.
* ``<image>`` becomes ``<|vision_start|>`` + M x ``<|image_pad|>`` + ``<|vision_end|>`` with M
  from the image's patch grid, exactly as the Qwen-VL processors do.
* Already-expanded single-placeholder forms (``<|vision_start|><|image_pad|><|vision_end|>``,
  ``<|ecg_start|><|ecg_pad|><|ecg_end|>``, as emitted by chat templates for
  ``{"type": "image"}`` parts) are expanded the same way.
* Chat format is Qwen's (``<|im_start|>role\\n...<|im_end|>\\n``). A system turn is added with
  the processor's ``system_prompt`` (ECG-R1's default) unless the messages carry their own or
  ``system_prompt=""`` is passed.
* Training labels are -100 everywhere except the assistant turns (content + ``<|im_end|>``).

Folder settings (``ecgr1_processor.json``; docs/model.md)
--------------------------------------------------------
* ``ecg_input_convention``: ``"reference"`` or ``"standard"`` (:mod:`ecgr1.model.data`); the
  model config's ``ecg_input_convention`` wins when the folder's config.json has one.
* ``image_min_tokens`` / ``image_max_tokens``: LLM tokens per image. A folder without
  ``ecgr1_processor.json`` (a published ECG-R1 or a plain Qwen-VL folder) gets ECG-R1's
  ``IMAGE_MIN_TOKEN_NUM=4`` / ``IMAGE_MAX_TOKEN_NUM=768``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ecgr1.errors import InvalidInputError, ModelError

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "ECG_END",
    "ECG_PAD",
    "ECG_START",
    "ECG_TAG",
    "ECGR1Processor",
    "IGNORE_INDEX",
    "IMAGE_TAG",
    "build_training_example",
]

ECG_START, ECG_PAD, ECG_END = "<|ecg_start|>", "<|ecg_pad|>", "<|ecg_end|>"
VISION_START, IMAGE_PAD, VISION_END = "<|vision_start|>", "<|image_pad|>", "<|vision_end|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
ECG_TAG, IMAGE_TAG = "<ecg>", "<image>"
ECG_TOKENS = (ECG_START, ECG_PAD, ECG_END)
IGNORE_INDEX = -100
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful, harmless clinical ECG assistant. Provide concise, evidence-based "
    "interpretations."
)
PROCESSOR_FILE = "ecgr1_processor.json"
#: ECG-R1's bounds on LLM tokens per image (``IMAGE_MIN_TOKEN_NUM`` / ``IMAGE_MAX_TOKEN_NUM`` in
#: its ``register.py``; Qwen3-VL's own preprocessor allows up to 16,384).
ECGR1_IMAGE_MIN_TOKENS = 4
ECGR1_IMAGE_MAX_TOKENS = 768

# One media placeholder: a bare tag or an unexpanded single-pad block.
_MEDIA_RE = re.compile(
    "|".join(
        re.escape(s)
        for s in (
            ECG_START + ECG_PAD + ECG_END,
            VISION_START + IMAGE_PAD + VISION_END,
            ECG_TAG,
            IMAGE_TAG,
        )
    )
)


def _is_ecg(match: str) -> bool:
    return match in (ECG_TAG, ECG_START + ECG_PAD + ECG_END)


def _as_ecg_tensor(value: Any, leads: int, seq_length: int, convention: str) -> torch.Tensor:
    """An ECG given as tensor/array, record path or ECGRecord -> float32 ``(leads, seq_length)``
    (paths and records under the folder's input ``convention``)."""
    from ecgr1.io import ECGRecord

    if isinstance(value, (str, Path)):
        from ecgr1.model.data import load_ecg

        value = load_ecg(value, seq_length=seq_length, convention=convention)
    elif isinstance(value, ECGRecord):
        from ecgr1.model.data import record_tensor

        value = record_tensor(value, convention, seq_length=seq_length, leads=leads)
    t = torch.as_tensor(
        np.asarray(value, dtype=np.float32) if not isinstance(value, torch.Tensor) else value
    ).float()
    if t.ndim == 3 and t.shape[0] == 1:
        t = t[0]
    if t.shape != (leads, seq_length):
        raise InvalidInputError(
            f"ECG tensor must be ({leads}, {seq_length}) (interchange.md section 3), "
            f"got {tuple(t.shape)}"
        )
    return torch.nan_to_num(t, nan=0.0, posinf=0.0, neginf=0.0)


def _flatten(items: Any) -> list[Any]:
    """Per-sample lists or a flat list -> flat list (None -> [])."""
    if items is None:
        return []
    if isinstance(items, (torch.Tensor, np.ndarray)) and items.ndim == 3:
        return list(items)
    if not isinstance(items, (list, tuple)):
        return [items]
    out: list[Any] = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out.extend(item)
        elif item is not None:
            out.append(item)
    return out


class ECGR1Processor:
    """Tokenizer + image processor + ECG handling for ECG-R1 models.

    Parameters
    ----------
    tokenizer : a Qwen(-like) fast tokenizer; the ECG special tokens are added if missing
        (then the model's embeddings must be resized: :func:`ecgr1.model.add_ecg_tokens`).
    image_processor : a Qwen2-VL image processor (None: text/ECG only).
    num_ecg_tokens : ``<|ecg_pad|>`` per ECG (101 for ECG-CoCa ViT-B).
    system_prompt : default system turn ("" for none).
    ecg_leads, ecg_seq_length : the ECG tensor shape (12, 5000).
    image_min_tokens, image_max_tokens : bounds on LLM tokens per image (None: the image
        processor's own ``size``). ECG-R1 trained with 4 and 768 (:meth:`from_pretrained`
        gives those to folders that record none).
    ecg_convention : ECG input convention, ``"reference"`` (default; the published ECG-R1
        checkpoint's) or ``"standard"``; see :mod:`ecgr1.model.data`.

    Example
    -------
    >>> from ecgr1.model.tiny import build_tiny_tokenizer
    >>> proc = ECGR1Processor(build_tiny_tokenizer(), num_ecg_tokens=3)
    >>> proc.expand_text("<ecg> hi").count(ECG_PAD)
    3
    """

    def __init__(
        self,
        tokenizer: Any,
        image_processor: Any = None,
        num_ecg_tokens: int = 101,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        ecg_leads: int = 12,
        ecg_seq_length: int = 5000,
        image_min_tokens: int | None = None,
        image_max_tokens: int | None = None,
        ecg_convention: str | None = None,
    ) -> None:
        from ecgr1.model.data import check_convention

        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.num_ecg_tokens = int(num_ecg_tokens)
        self.system_prompt = system_prompt
        self.ecg_leads = int(ecg_leads)
        self.ecg_seq_length = int(ecg_seq_length)
        self.image_min_tokens = image_min_tokens
        self.image_max_tokens = image_max_tokens
        self.ecg_convention = check_convention(ecg_convention)
        self.tokens_added = self.add_ecg_tokens()  # 3 for a plain Qwen-VL tokenizer
        if getattr(self.tokenizer, "pad_token", None) is None:
            self.tokenizer.pad_token = getattr(self.tokenizer, "eos_token", None) or IM_END

    # ---------------------------------------------------------------------------- tokens
    def add_ecg_tokens(self) -> int:
        """Add ``<|ecg_start|>``, ``<|ecg_pad|>``, ``<|ecg_end|>`` if missing; returns how
        many were added (0 for ECG-R1 tokenizers, which already have them)."""
        from tokenizers import AddedToken

        vocab = self.tokenizer.get_vocab()
        missing = [t for t in ECG_TOKENS if t not in vocab]
        if not missing:
            return 0
        return int(
            self.tokenizer.add_tokens(
                [AddedToken(t, special=True, normalized=False) for t in missing],
                special_tokens=True,
            )
        )

    def token_id(self, token: str) -> int:
        """Id of a single (special) token; raises if the tokenizer lacks it."""
        tid = self.tokenizer.convert_tokens_to_ids(token)
        if tid is None or tid == getattr(self.tokenizer, "unk_token_id", None):
            raise ModelError(f"tokenizer has no token {token!r}")
        return int(tid)

    @property
    def ecg_token_id(self) -> int:
        """Id of ``<|ecg_pad|>``."""
        return self.token_id(ECG_PAD)

    @property
    def ecg_start_token_id(self) -> int:
        """Id of ``<|ecg_start|>``."""
        return self.token_id(ECG_START)

    @property
    def ecg_end_token_id(self) -> int:
        """Id of ``<|ecg_end|>``."""
        return self.token_id(ECG_END)

    @property
    def image_token_id(self) -> int:
        """Id of ``<|image_pad|>``."""
        return self.token_id(IMAGE_PAD)

    @property
    def pad_token_id(self) -> int:
        """Padding id."""
        return int(self.tokenizer.pad_token_id)

    @property
    def merge_size(self) -> int:
        """Image patches merged per side into one LLM token (2 for Qwen-VL)."""
        return int(getattr(self.image_processor, "merge_size", 2) or 2)

    # ---------------------------------------------------------------------------- chat
    def apply_chat_template(
        self,
        messages: Sequence[dict[str, Any]],
        tokenize: bool = False,
        add_generation_prompt: bool = False,
        system_prompt: str | None = None,
        **_: Any,
    ) -> str:
        """Render interchange messages in Qwen chat format; ``<ecg>``/``<image>`` stay verbatim.

        ``system_prompt``: None uses the messages' own system turn, else the processor's
        default; a string replaces both ("" = no system turn). Contents may be strings or lists
        of ``{"type": "text"|"image"|"ecg"}`` parts (rendered as tags).
        """
        if tokenize:
            raise ModelError(
                "apply_chat_template(tokenize=True) is not supported; call the "
                "processor on the returned text"
            )
        parts = []
        for m in self.effective_messages(messages, system_prompt):
            parts.append(f"{IM_START}{m['role']}\n{self._content_text(m.get('content'))}{IM_END}\n")
        if add_generation_prompt:
            parts.append(f"{IM_START}assistant\n")
        return "".join(parts)

    def effective_messages(
        self, messages: Sequence[dict[str, Any]], system_prompt: str | None = None
    ) -> list[dict[str, Any]]:
        """Messages with the system turn policy of :meth:`apply_chat_template` applied."""
        msgs = [dict(m) for m in messages]
        own_system = bool(msgs) and msgs[0].get("role") == "system"
        if system_prompt is not None:
            if own_system:
                msgs = msgs[1:]
            if system_prompt:
                msgs = [{"role": "system", "content": system_prompt}, *msgs]
        elif not own_system and self.system_prompt:
            msgs = [{"role": "system", "content": self.system_prompt}, *msgs]
        return msgs

    @staticmethod
    def _content_text(content: Any) -> str:
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        out = []
        for part in content:
            kind = part.get("type")
            if kind == "image":
                out.append(IMAGE_TAG)
            elif kind == "ecg":
                out.append(ECG_TAG)
            else:
                out.append(str(part.get("text", "")))
        return "".join(out)

    # ---------------------------------------------------------------------------- expansion
    def image_token_counts(self, image_grid_thw: torch.Tensor | None) -> list[int]:
        """LLM tokens per image from the processor's patch grid (t*h*w / merge^2)."""
        if image_grid_thw is None:
            return []
        return [int(g.prod()) // (self.merge_size**2) for g in image_grid_thw]

    def expand_text(self, text: str, image_counts: Sequence[int] = ()) -> str:
        """Expand every media placeholder of ``text`` (see module docstring)."""
        counts = iter(image_counts)

        def repl(m: re.Match) -> str:
            if _is_ecg(m.group(0)):
                return ECG_START + ECG_PAD * self.num_ecg_tokens + ECG_END
            try:
                n = next(counts)
            except StopIteration:
                raise InvalidInputError("more <image> tags than images") from None
            return VISION_START + IMAGE_PAD * n + VISION_END

        out = _MEDIA_RE.sub(repl, text)
        if next(counts, None) is not None:
            raise InvalidInputError("more images than <image> tags")
        return out

    @staticmethod
    def count_tags(text: str) -> tuple[int, int]:
        """(number of ECG placeholders, number of image placeholders) in ``text``."""
        found = _MEDIA_RE.findall(text)
        n_ecg = sum(1 for f in found if _is_ecg(f))
        return n_ecg, len(found) - n_ecg

    def process_images(self, images: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Run the image processor: ``pixel_values`` and ``image_grid_thw`` (empty -> {})."""
        if not images:
            return {}
        if self.image_processor is None:
            raise ModelError("this processor has no image processor; it cannot take images")
        kwargs: dict[str, Any] = {}
        if self.image_min_tokens or self.image_max_tokens:
            # one LLM token covers (patch * merge)^2 pixels
            patch = int(getattr(self.image_processor, "patch_size", 14) or 14)
            unit = (patch * self.merge_size) ** 2
            size = dict(getattr(self.image_processor, "size", None) or {})
            size = {k: size[k] for k in ("shortest_edge", "longest_edge") if size.get(k)}
            if self.image_min_tokens:
                size["shortest_edge"] = int(self.image_min_tokens) * unit
            if self.image_max_tokens:
                size["longest_edge"] = int(self.image_max_tokens) * unit
            kwargs["size"] = size
        out = self.image_processor(images=list(images), return_tensors="pt", **kwargs)
        return {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]}

    def stack_ecgs(self, ecgs: Sequence[Any]) -> torch.Tensor | None:
        """ECGs (tensors, arrays or record paths) -> ``(n, 12, 5000)`` float32, or None."""
        if not ecgs:
            return None
        return torch.stack(
            [
                _as_ecg_tensor(e, self.ecg_leads, self.ecg_seq_length, self.ecg_convention)
                for e in ecgs
            ]
        )

    def load_media(
        self,
        row: dict[str, Any],
        *,
        ecg_root: str | Path | None = None,
        image_root: str | Path | None = None,
    ) -> tuple[list[Any], list[Any]]:
        """(ECGs, images) of an interchange row, ECGs read under this folder's input
        convention (:func:`ecgr1.model.data.load_row_media`)."""
        from ecgr1.model.data import load_row_media

        return load_row_media(
            row,
            ecg_root=ecg_root,
            image_root=image_root,
            seq_length=self.ecg_seq_length,
            convention=self.ecg_convention,
        )

    # ---------------------------------------------------------------------------- encode
    def _mm_types(self, ids: torch.Tensor) -> torch.Tensor:
        types = torch.zeros_like(ids, dtype=torch.int)
        types[ids == self.image_token_id] = 1
        video = self.tokenizer.convert_tokens_to_ids("<|video_pad|>")
        if isinstance(video, int) and video != getattr(self.tokenizer, "unk_token_id", None):
            types[ids == video] = 2
        return types

    def _tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def __call__(
        self,
        text: str | Sequence[str] | None = None,
        images: Any = None,
        ecgs: Any = None,
        padding: bool | str = True,
        padding_side: str | None = None,
        return_tensors: str | None = "pt",
        max_length: int | None = None,
        truncation: bool = False,
        add_special_tokens: bool = False,
        **_: Any,
    ) -> dict[str, torch.Tensor]:
        """Tokenize texts with their media.

        Parameters
        ----------
        text : one string or a batch; ``<ecg>``/``<image>`` tags (or single-pad blocks) mark
            where each ECG / image goes, in order across the batch.
        images : PIL images, flat or one list per text.
        ecgs : ECG tensors/arrays ``(12, 5000)`` (or record paths), flat or one list per text.
        padding_side : "right" (training) or "left" (generation); default the tokenizer's.
        max_length, truncation : with ``truncation=True`` texts are cut on the right to
            ``max_length`` tokens (never inside a media block: that raises).

        Returns
        -------
        dict with ``input_ids``, ``attention_mask``, ``mm_token_type_ids`` (B, L); and when
        present ``pixel_values``, ``image_grid_thw``, ``ecg_values`` (n_ecg, 12, 5000).
        """
        if text is None:
            raise InvalidInputError("text is required")
        texts = [text] if isinstance(text, str) else list(text)
        flat_images = _flatten(images)
        flat_ecgs = _flatten(ecgs)
        n_ecg_tags = n_img_tags = 0
        per_text_images: list[int] = []
        for t in texts:
            e, i = self.count_tags(t)
            n_ecg_tags += e
            n_img_tags += i
            per_text_images.append(i)
        if n_ecg_tags != len(flat_ecgs):
            raise InvalidInputError(f"{n_ecg_tags} <ecg> tags but {len(flat_ecgs)} ECGs")
        if n_img_tags != len(flat_images):
            raise InvalidInputError(f"{n_img_tags} <image> tags but {len(flat_images)} images")
        out: dict[str, Any] = {}
        vision = self.process_images(flat_images)
        out.update(vision)
        counts = self.image_token_counts(vision.get("image_grid_thw"))
        rows, start = [], 0
        for t, n_img in zip(texts, per_text_images):
            ids = self._tokenize(self.expand_text(t, counts[start : start + n_img]))
            start += n_img
            if truncation and max_length is not None and len(ids) > max_length:
                ids = self._truncate(ids, max_length)
            rows.append(ids)
        ecg_values = self.stack_ecgs(flat_ecgs)
        if ecg_values is not None:
            out["ecg_values"] = ecg_values
        out.update(self.pad([{"input_ids": r} for r in rows], padding_side=padding_side))
        if return_tensors not in ("pt", None):
            raise ModelError("only return_tensors='pt' is supported")
        return out

    def _truncate(self, ids: list[int], max_length: int) -> list[int]:
        # Dropping any placeholder would desynchronise tokens and media tensors: refuse.
        media = {
            self.ecg_token_id,
            self.ecg_start_token_id,
            self.ecg_end_token_id,
            self.image_token_id,
        }
        if any(i in media for i in ids[max_length:]):
            raise InvalidInputError(f"max_length {max_length} would cut a media block")
        return ids[:max_length]

    def pad(
        self, examples: Sequence[dict[str, Any]], padding_side: str | None = None
    ) -> dict[str, torch.Tensor]:
        """Pad per-example ``input_ids`` (and ``labels``) lists/1-D tensors into a batch with
        ``attention_mask`` and ``mm_token_type_ids``."""
        side = padding_side or getattr(self.tokenizer, "padding_side", "right") or "right"
        longest = max(len(e["input_ids"]) for e in examples)
        has_labels = any("labels" in e for e in examples)
        ids = torch.full((len(examples), longest), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(examples), longest), dtype=torch.long)
        labels = torch.full((len(examples), longest), IGNORE_INDEX, dtype=torch.long)
        for r, e in enumerate(examples):
            seq = torch.as_tensor(e["input_ids"], dtype=torch.long).reshape(-1)
            n = seq.numel()
            sl = slice(0, n) if side == "right" else slice(longest - n, longest)
            ids[r, sl] = seq
            mask[r, sl] = 1
            if "labels" in e:
                labels[r, sl] = torch.as_tensor(e["labels"], dtype=torch.long).reshape(-1)
        out = {
            "input_ids": ids,
            "attention_mask": mask,
            "mm_token_type_ids": self._mm_types(ids) * mask.int(),
        }
        if has_labels:
            out["labels"] = labels
        return out

    def encode_example(
        self,
        messages: Sequence[dict[str, Any]],
        images: Sequence[Any] = (),
        ecgs: Sequence[Any] = (),
        *,
        train: bool = True,
        system_prompt: str | None = None,
        max_length: int | None = None,
    ) -> dict[str, Any]:
        """One conversation -> ``input_ids`` (list), ``labels`` (train) and its media tensors.

        ``train=True``: every assistant turn is encoded with labels (content + ``<|im_end|>``),
        the rest is -100. ``train=False``: a trailing assistant turn is dropped and the
        generation prompt appended. Assistant text is tokenized separately from the prompt so
        the label boundary is exact. ``max_length`` cuts the end of the sequence (assistant
        text) but never a media block.
        """
        msgs = list(messages)
        if not train and msgs and msgs[-1].get("role") == "assistant":
            msgs = msgs[:-1]
        vision = self.process_images(list(images))
        counts = iter(self.image_token_counts(vision.get("image_grid_thw")))
        segments: list[tuple[str, bool]] = []
        for m in self.effective_messages(msgs, system_prompt):
            body = self._content_text(m.get("content"))
            is_label = train and m.get("role") == "assistant"
            segments.append((f"{IM_START}{m['role']}\n", False))
            segments.append((body + IM_END, is_label))
            segments.append(("\n", False))
        if not train:
            segments.append((f"{IM_START}assistant\n", False))
        elif (
            segments
            and segments[-1] == ("\n", False)
            and msgs
            and msgs[-1].get("role") == "assistant"
        ):
            segments.pop()  # training sequences end with the final <|im_end|>
        ids: list[int] = []
        labels: list[int] = []
        for text, is_label in segments:
            if not text:
                continue
            n_img = self.count_tags(text)[1]
            seg_counts = [next(counts, None) for _ in range(n_img)]
            if None in seg_counts:
                raise InvalidInputError("more <image> tags than images")
            expanded = self.expand_text(text, seg_counts)
            seg = self._tokenize(expanded)
            ids += seg
            labels += seg if is_label else [IGNORE_INDEX] * len(seg)
        if next(counts, None) is not None:
            raise InvalidInputError("more images than <image> tags")
        n_ecg_tags = sum(self.count_tags(self._content_text(m.get("content")))[0] for m in msgs)
        if n_ecg_tags != len(ecgs):
            raise InvalidInputError(f"{n_ecg_tags} <ecg> tags but {len(ecgs)} ECGs")
        if max_length is not None and len(ids) > max_length:
            ids = self._truncate(ids, max_length)
            labels = labels[:max_length]
        out: dict[str, Any] = {"input_ids": ids}
        if train:
            out["labels"] = labels
        out.update(vision)
        ecg_values = self.stack_ecgs(list(ecgs))
        if ecg_values is not None:
            out["ecg_values"] = ecg_values
        return out

    def collate(
        self, examples: Sequence[dict[str, Any]], padding_side: str | None = None
    ) -> dict[str, torch.Tensor]:
        """Batch :meth:`encode_example` outputs: pad token fields, concatenate media in order."""
        batch = self.pad(examples, padding_side=padding_side)
        for key in ("pixel_values", "image_grid_thw", "ecg_values"):
            parts = [e[key] for e in examples if e.get(key) is not None]
            if parts:
                batch[key] = torch.cat(parts, dim=0)
        return batch

    def prepare_batch(
        self,
        rows: Sequence[dict[str, Any]],
        *,
        train: bool = True,
        ecg_root: str | Path | None = None,
        image_root: str | Path | None = None,
        system_prompt: str | None = None,
        max_length: int | None = None,
        padding_side: str | None = None,
    ) -> dict[str, torch.Tensor]:
        """Interchange rows -> model batch (loads ECGs/images from the rows' paths).

        Training batches are right-padded with ``labels``; inference batches (``train=False``)
        end with the generation prompt and are left-padded.
        """
        examples = [
            build_training_example(
                r,
                self,
                train=train,
                ecg_root=ecg_root,
                image_root=image_root,
                system_prompt=system_prompt,
                max_length=max_length,
            )
            for r in rows
        ]
        side = padding_side or ("right" if train else "left")
        return self.collate(examples, padding_side=side)

    # ---------------------------------------------------------------------------- decode
    def batch_decode(self, ids: Any, skip_special_tokens: bool = True, **kw: Any) -> list[str]:
        """Decode a batch of id sequences."""
        return self.tokenizer.batch_decode(ids, skip_special_tokens=skip_special_tokens, **kw)

    def decode(self, ids: Any, skip_special_tokens: bool = True, **kw: Any) -> str:
        """Decode one id sequence."""
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens, **kw)

    # ---------------------------------------------------------------------------- persistence
    def save_pretrained(self, out_dir: str | Path) -> None:
        """Save tokenizer, image processor and ECG settings (``ecgr1_processor.json``)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(out)
        if self.image_processor is not None:
            self.image_processor.save_pretrained(out)
        (out / PROCESSOR_FILE).write_text(
            json.dumps(
                {
                    "num_ecg_tokens": self.num_ecg_tokens,
                    "system_prompt": self.system_prompt,
                    "ecg_leads": self.ecg_leads,
                    "ecg_seq_length": self.ecg_seq_length,
                    "image_min_tokens": self.image_min_tokens,
                    "image_max_tokens": self.image_max_tokens,
                    "ecg_input_convention": self.ecg_convention,
                },
                indent=2,
            )
        )

    @classmethod
    def from_pretrained(
        cls, path: str | Path, config: Any = None, **overrides: Any
    ) -> ECGR1Processor:
        """Load from a model folder (ours, a published ECG-R1 one, or a plain Qwen-VL one).

        Settings come from ``ecgr1_processor.json`` when present, else from the model config
        (``config`` or ``path/config.json``: encoder tokens) with ECG-R1's image token bounds
        (4..768); ``ecg_input_convention`` comes from the model config when it has one, else
        from the processor file, else ``"reference"``; ``overrides`` win (None values ignored).
        """
        from transformers import AutoImageProcessor, AutoTokenizer

        p = Path(path)
        settings: dict[str, Any] = {}
        if config is None and (p / "config.json").exists():
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(str(p))
        if (p / PROCESSOR_FILE).exists():
            settings.update(json.loads((p / PROCESSOR_FILE).read_text()))
            if "ecg_input_convention" in settings:
                settings["ecg_convention"] = settings.pop("ecg_input_convention")
        else:
            settings.update(
                image_min_tokens=ECGR1_IMAGE_MIN_TOKENS, image_max_tokens=ECGR1_IMAGE_MAX_TOKENS
            )
        if config is not None and getattr(config, "ecg_input_convention", None):
            settings["ecg_convention"] = config.ecg_input_convention
        if config is not None and not (p / PROCESSOR_FILE).exists():
            from ecgr1.model.modeling import ecg_encoder_config

            enc = ecg_encoder_config(config)
            settings.update(
                num_ecg_tokens=enc.num_tokens, ecg_leads=enc.leads, ecg_seq_length=enc.seq_length
            )
        settings.update({k: v for k, v in overrides.items() if v is not None})
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(p))
        except Exception as exc:  # noqa: BLE001 - report as a model-folder problem
            raise ModelError(f"cannot load a tokenizer: {exc}", str(p)) from exc
        image_processor = None
        if (p / "preprocessor_config.json").exists():
            image_processor = AutoImageProcessor.from_pretrained(str(p))
        return cls(tokenizer, image_processor, **settings)


def build_training_example(
    row: dict[str, Any],
    processor: ECGR1Processor,
    *,
    train: bool = True,
    ecg_root: str | Path | None = None,
    image_root: str | Path | None = None,
    system_prompt: str | None = None,
    max_length: int | None = None,
) -> dict[str, Any]:
    """One interchange row -> :meth:`ECGR1Processor.encode_example` output.

    The row's ECG/image entries may be paths (resolved against the roots and loaded) or
    already-loaded tensors/arrays/PIL images.
    """
    ecgs, images = processor.load_media(row, ecg_root=ecg_root, image_root=image_root)
    return processor.encode_example(
        row.get("messages") or [],
        images=images,
        ecgs=ecgs,
        train=train,
        system_prompt=system_prompt,
        max_length=max_length,
    )
