"""What a run writes to disk, written so that nothing is lost: atomic checkpoints loaded with
`weights_only=True`, the state of every RNG the loop touches, atomic text files and history.csv."""
from __future__ import annotations

import csv
import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch



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
    """Restore what `rng_state` returned (also from a checkpoint mapped onto a GPU: RNG states are CPU tensors)."""
    state = _to_cpu(state)
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



def _to_cpu(x):
    """x with every tensor in it moved to the CPU (RNG states must be CPU ByteTensors)."""
    if torch.is_tensor(x):
        return x.cpu()
    if isinstance(x, dict):
        return {k: _to_cpu(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_to_cpu(v) for v in x]
    return x



def write_history_csv(history: dict, path) -> None:
    """history -> CSV, one row per step; metric columns ("fid" with "fid_step") merge in by step."""
    rows: dict[int, dict] = {}
    for key, values in history.items():
        if key == "step" or key.endswith("_step"):
            continue
        steps = history.get(f"{key}_step", history["step"])
        for s, v in zip(steps, values):
            rows.setdefault(int(s), {})[key] = v
    columns = ["step"] + [k for k in history if k != "step" and not k.endswith("_step")]
    tmp = Path(path).with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for s in sorted(rows):
            writer.writerow({"step": s, **rows[s]})
    tmp.replace(path)
