"""Where and how a run happens: the device, the seeds, the notebooks' run mode and the rehearsal switch."""
from __future__ import annotations

import os
import platform
import random
from datetime import datetime, timezone

import numpy as np
import torch

RUN_MODES = ("smoke", "full")



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



def run_mode(extra: tuple[str, ...] = ()) -> str:
    """"smoke" or "full" for the notebooks, or one of a notebook's `extra` modes.

    `GANHELPERS_MODE` decides when set (the test plugin sets "smoke"); otherwise full on a CUDA GPU
    and smoke anywhere else, so a teacher's laptop runs the quick version by default: an Apple laptop
    too (MPS), where full mode's CIFAR-10 settings would take hours and AMP does not apply. A notebook whose
    experiment has a reference protocol names it in `extra` (notebook 03's "cpu": the measured ablation), so
    `GANHELPERS_MODE=cpu` runs that protocol headless and writes its record (`ganhelpers.records`).
    """
    modes = RUN_MODES + tuple(extra)
    mode = os.environ.get("GANHELPERS_MODE", "").strip().lower()
    if mode:
        if mode not in modes:
            raise ValueError(f"GANHELPERS_MODE={mode!r}: use " + " or ".join(repr(m) for m in modes)
                             + (" (other modes belong to other notebooks)" if not extra else ""))
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


def environment(device="cpu") -> dict:
    """Where and when a run happens, for the record of a reference run: UTC date, torch and Python versions,
    the machine (CPU model, cores, the GPU's name on CUDA), the device, torch's CPU threads and the load average
    over the last 1, 5 and 15 minutes (other work on the machine slows a timed run; None where the OS has none)."""
    device = torch.device(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:  # Linux names the CPU model here; elsewhere platform's answer stays
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "torch": str(torch.__version__),  # a str subclass weights_only refuses
            "python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count(), "device": str(device), "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "load": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}
