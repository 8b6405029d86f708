#!/usr/bin/env python
"""Store the output of ECG-R1's own ECG-CoCa tower for a small seeded configuration.

Usage::

    mkdir /tmp/ecg-r1 && git --git-dir=/path/to/ECG-R1.git archive HEAD | tar -x -C /tmp/ecg-r1
    python scripts/make_encoder_reference.py /tmp/ecg-r1 tests/data/encoder_reference.npz \
        --commit "$(git --git-dir=/path/to/ECG-R1.git rev-parse HEAD)"

The reference code is imported from the checkout given on the command line; nothing of it is
copied into this repository, and this script does not import ``ecgr1`` (the test that reads the
file, ``tests/test_model_encoder_reference.py``, loads the stored weights into ``ecgr1``'s
encoder and compares the outputs).

What is imported: ``ecg_coca/open_clip/model.py`` (``CLIPEcgCfg``, ``_build_ecg_tower``: the
function ECG-CoCa builds its ECG tower with) and, through it, ``transformer.py``
(``EcgTransformer``, the reference blocks and attention). They are loaded as submodules of a
package object whose ``__path__`` is the checkout's ``ecg_coca/open_clip``, so the package
``__init__`` (which pulls in the tokenizer, ftfy, the training code...) is not executed.

One import is stubbed: ``ecg_coca/open_clip/utils.py`` imports ``FrozenBatchNorm2d`` from
``torchvision.ops.misc`` at module level, for ``freeze_batch_norm_2d`` (image ResNet/timm towers
only; the ECG tower never calls it). When torchvision is not installed a stand-in module
providing that one name is registered; the file records whether the stub was used.

The tower is run the way ECG-R1 runs it: ``ecg_tower(x, output_last_transformer_layer=True)``
(tokens of the last residual block, class token first, before ``ln_post``), in float32 and eval
mode. Stored (float32 unless noted): ``weight/<name>`` for every tower state-dict entry, ``input``
``(B, leads, seq_length)`` (seeded normal noise, standard deviation 0.5 mV),
``output`` ``(B, tokens, width)``, ``config`` (JSON text of the ``CLIPEcgCfg`` fields and
``embed_dim``), ``reference_commit`` (the checkout's git commit, or "unknown"),
``torchvision_stub`` (bool) and ``torch_version``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import json
import subprocess
import sys
import types
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

#: A small tower: every code path of the ViT-B one (conv patching over all leads, class token,
#: learned positions, ln_pre, pre-norm blocks with multi-head attention and a GELU MLP) at a
#: size that keeps the .npz file small. Several heads and a batch of 3 so that mistakes in the
#: head split or the batch/token axes change the output.
SMALL_TOWER = {
    "width": 32,
    "head_width": 8,  # 4 heads
    "layers": 2,
    "mlp_ratio": 4.0,
    "patch_size": 50,
    "seq_length": 500,
    "lead_num": 12,
    "output_tokens": True,
}
EMBED_DIM = 16
BATCH = 3
SEED = 20260415


def _commit(checkout: Path) -> str:
    """The checkout's commit: ``git rev-parse HEAD`` there, else a ``REFERENCE_COMMIT`` file."""
    try:
        out = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        marker = checkout / "REFERENCE_COMMIT"
        return marker.read_text().strip() if marker.is_file() else "unknown"


def _stub_torchvision() -> bool:
    """Register a stand-in for ``torchvision.ops.misc.FrozenBatchNorm2d`` if torchvision is
    missing; returns True when the stand-in was used."""
    try:
        importlib.import_module("torchvision.ops.misc")
        return False
    except ImportError:
        pass

    class FrozenBatchNorm2d(torch.nn.Module):  # never instantiated for the ECG tower
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("torchvision stand-in: FrozenBatchNorm2d is not available")

    # transformers (imported by the reference's hf_model.py) probes for torchvision: let it
    # settle first, on the real environment, before the stand-in exists.
    importlib.import_module("transformers")
    names = ("torchvision", "torchvision.ops", "torchvision.ops.misc")
    mods = {n: types.ModuleType(n) for n in names}
    for name, mod in mods.items():
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    mods["torchvision.ops.misc"].FrozenBatchNorm2d = FrozenBatchNorm2d
    mods["torchvision"].ops = mods["torchvision.ops"]
    mods["torchvision.ops"].misc = mods["torchvision.ops.misc"]
    sys.modules.update(mods)
    return True


def _import_reference(checkout: Path) -> types.ModuleType:
    """``ecg_coca.open_clip.model`` from the checkout, without the packages' ``__init__``."""
    root = checkout / "ecg_coca"
    if not (root / "open_clip" / "model.py").is_file():
        raise SystemExit(f"{checkout}: not an ECG-R1 checkout (no ecg_coca/open_clip/model.py)")
    for name, path in (("ecg_coca", root), ("ecg_coca.open_clip", root / "open_clip")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(path)]
        sys.modules[name] = pkg
    return importlib.import_module("ecg_coca.open_clip.model")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="ECG-R1 source checkout (work tree)")
    parser.add_argument("out", type=Path, help="the .npz to write")
    parser.add_argument(
        "--commit",
        default=None,
        help="the reference commit, for a checkout that is not a git work tree (git archive)",
    )
    args = parser.parse_args(argv)
    checkout = args.checkout.resolve()
    stubbed = _stub_torchvision()
    ref = _import_reference(checkout)

    cfg = ref.CLIPEcgCfg(**SMALL_TOWER)
    torch.manual_seed(SEED)
    tower = ref._build_ecg_tower(EMBED_DIM, cfg, quick_gelu=False, cast_dtype=None)
    # EcgTransformer.init_parameters is a no-op: give every tensor seeded values of a size that
    # keeps activations in a realistic range (LayerNorm weights around 1, biases around 0).
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, tensor in tower.state_dict().items():
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight")):
                tensor.copy_(1.0 + 0.1 * torch.randn(tensor.shape, generator=gen))
            else:
                std = 0.02 if tensor.ndim < 2 else tensor.shape[-1] ** -0.5
                tensor.copy_(std * torch.randn(tensor.shape, generator=gen))
    tower.eval()
    x = 0.5 * torch.randn(BATCH, cfg.lead_num, cfg.seq_length, generator=gen)
    with torch.no_grad():
        y = tower(x, output_last_transformer_layer=True)
    expected = (BATCH, cfg.seq_length // cfg.patch_size + 1, cfg.width)
    if tuple(y.shape) != expected:
        raise SystemExit(f"reference tower returned {tuple(y.shape)}, expected {expected}")

    arrays: dict[str, np.ndarray] = {
        f"weight/{k}": v.detach().cpu().numpy().astype(np.float32)
        for k, v in tower.state_dict().items()
    }
    config = {**asdict(cfg), "embed_dim": EMBED_DIM, "heads": cfg.width // cfg.head_width}
    arrays.update(
        input=x.numpy().astype(np.float32),
        output=y.numpy().astype(np.float32),
        config=np.array(json.dumps(config, sort_keys=True)),
        reference_commit=np.array(args.commit or _commit(checkout)),
        torchvision_stub=np.array(stubbed),
        torch_version=np.array(torch.__version__),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({size / 1024:.0f} KiB): {len(tower.state_dict())} tensors, "
        f"input {tuple(x.shape)}, output {tuple(y.shape)}, commit {arrays['reference_commit']}, "
        f"torchvision stub {stubbed}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
