"""Small shared pieces: device choice, seeding, run mode, RNG state and atomic checkpoints."""
from __future__ import annotations

import os
import pickle
import random
import zipfile
import tempfile
from pathlib import Path

import numpy as np
import torch

MODES = ("smoke", "full")


def get_device(name: str = "auto") -> torch.device:
    """Return a torch device: "auto" picks CUDA, then Apple MPS, then CPU.

    Asking for a device that is not there is an error that says what is available,
    never a silent fallback (a student expecting a GPU should know they are on CPU).
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name not in ("cpu", "cuda", "mps") and not name.startswith("cuda:"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda or mps")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for but no CUDA GPU is visible: use --device auto or cpu "
                         "(in Colab: Runtime > Change runtime type > GPU)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' asked for but Apple MPS is not available: use --device auto or cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so CPU runs repeat exactly."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_mode() -> str:
    """"smoke" or "full" for the notebooks.

    `GANHELPERS_MODE` decides when set (the test plugin sets "smoke"); otherwise full on a CUDA GPU
    and smoke anywhere else, so a teacher's laptop runs the quick version by default: an Apple laptop
    too (MPS), where full mode's CIFAR-10 settings would take hours and AMP does not apply.
    """
    mode = os.environ.get("GANHELPERS_MODE", "").strip().lower()
    if mode:
        if mode not in MODES:
            raise ValueError(f"GANHELPERS_MODE={mode!r}: use 'smoke' or 'full'")
        return mode
    return "full" if torch.cuda.is_available() else "smoke"


def rehearsing() -> bool:
    """Whether `GANHELPERS_REHEARSAL` asks for a rehearsal of full mode (see `rehearse`)."""
    value = os.environ.get("GANHELPERS_REHEARSAL", "").strip().lower()
    if value not in ("", "0", "1", "false", "true", "no", "yes"):
        raise ValueError(f"GANHELPERS_REHEARSAL={value!r}: use 1 (rehearse full mode) or 0")
    return value in ("1", "true", "yes")


REHEARSAL = dict(steps=2, every=1, time_divisor=60, trials=2, samples_divisor=1000, min_samples=8)


def rehearse(settings: dict, mode: str) -> dict:
    """A notebook's settings, as they are, or cut down for a rehearsal of full mode.

    With `GANHELPERS_REHEARSAL=1` and mode "full", every other setting stays as full mode has it (the
    real dataset, the full-size networks, AMP, checkpoints, FID with Inception) and only the counts
    shrink, by the names of the keys:
      * `steps` and `*_steps`: at most 2;   * `every` and `*_every`: 1 (so every event still fires);
      * time budgets `minutes`, `seconds`: divided by 60 (a 30-minute run gets 30 seconds, though its
        2 steps usually end it first);       * a search's `trials`: at most 2 besides the default;
      * sample counts (`n`, `n_*` but `n_critic`, `per_class`, each entry of `sizes`): divided by 1000,
        at least 8. `None` ("all of them") stays.
    So "does the 30-minute configuration run here?" is answered in a few minutes before the real run
    (CI rehearses every notebook this way on a CPU). Without the variable, or in smoke mode, `settings`
    comes back unchanged. Nested dicts (e.g. a search's settings) are cut by the same rules.
    """
    if mode != "full" or not rehearsing():
        return settings
    cut = _cut(settings)
    changed = {k: f"{settings[k]} -> {v}" for k, v in cut.items() if v != settings[k]}
    print("rehearsal of full mode (GANHELPERS_REHEARSAL=1): " + ", ".join(f"{k} {c}" for k, c in changed.items()))
    return cut


def _cut(settings: dict) -> dict:
    r = REHEARSAL
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out[key] = _cut(value)
        elif value is None or isinstance(value, bool) or not isinstance(value, (int, float, tuple, list)):
            out[key] = value
        elif key == "steps" or key.endswith("_steps"):
            out[key] = min(value, r["steps"])
        elif key == "every" or key.endswith("_every"):
            out[key] = min(value, r["every"]) if value else value  # 0 means "never": keep it
        elif key in ("minutes", "seconds"):
            out[key] = value / r["time_divisor"]
        elif key == "trials":
            out[key] = min(value, r["trials"])
        elif key in ("n", "per_class", "sizes") or (key.startswith("n_") and key != "n_critic"):
            def fewer(n):
                return min(n, max(r["min_samples"], -(-n // r["samples_divisor"])))
            out[key] = type(value)(fewer(v) for v in value) if isinstance(value, (tuple, list)) else fewer(value)
        else:
            out[key] = value
    return out


def rng_state() -> dict:
    """Every RNG the training loop touches, as tensors and plain types (safe for weights_only)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if _mps_available():  # steps draw noise on the device: an Apple laptop's resume needs its generator too
        state["mps"] = torch.mps.get_rng_state()
    return state


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def set_rng_state(state: dict) -> None:
    """Restore what `rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    npst = state["numpy"]
    np.random.set_state(("MT19937", npst["key"].numpy().astype(np.uint32), npst["pos"],
                         npst["has_gauss"], npst["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and _mps_available():
        torch.mps.set_rng_state(state["mps"])


def save_checkpoint(obj: dict, path: str | os.PathLike) -> Path:
    """Write `obj` with torch.save atomically: a temporary file in the same folder, fsync, rename.

    A crash mid-write leaves the previous checkpoint untouched, never a truncated file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint with `weights_only=True`: tensors and plain containers only, no code.

    A file that would run code when unpickled (a malicious or foreign pickle) is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train first, or check the run folder")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError) as e:  # code in the pickle, not a checkpoint
        device_problem = [line for line in str(e).splitlines() if "device" in line.lower()]
        if device_problem:  # torch < 2.5 reports a map_location onto a missing GPU as an unpickling error
            raise RuntimeError(f"cannot load {path} onto {map_location}: {device_problem[0].strip()}") from e
        raise ValueError(f"refusing to load {path}: it is not a plain-tensor checkpoint written by "
                         f"ganhelpers ({type(e).__name__}: {str(e).splitlines()[0]})") from e
    except RuntimeError as e:
        if "zip archive" not in str(e) and "PytorchStreamReader" not in str(e):
            raise  # e.g. map_location asks for a device that is not there: torch's own message says so
        raise ValueError(f"cannot load {path}: the file is truncated or damaged ({str(e).splitlines()[0]}); "
                         "use an earlier checkpoint or retrain") from e


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def count_params(module: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
