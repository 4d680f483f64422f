"""`TrainConfig`, the typed and validated settings of a run, and the choice of mixed-precision dtype."""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

AMP_MODES = ("off", "auto", "fp16", "bf16")

UNLIMITED = 10**9  # `steps` for a run bounded by its time budget only

RESUME_KEYS = ("batch_size", "n_critic", "seed")  # settings a resumed run must share with its checkpoint



@dataclass
class TrainConfig:
    steps: int = 1000              # generator updates; each one follows n_critic D updates
    batch_size: int = 64
    n_critic: int = 1              # D (critic) updates per G update: 5 for WGAN-GP
    lr_G: float = 2e-4
    lr_D: float = 2e-4
    betas: tuple = (0.5, 0.999)    # Adam; DCGAN's beta1 = 0.5 damps the oscillation of the game
    seed: int = 0
    device: str = "auto"           # auto | cpu | cuda | mps
    minutes: float | None = None   # time budget: stop gracefully (with a checkpoint) when spent
    log_every: int = 10            # history row every N steps (the only host sync in the loop)
    ckpt_every: int = 0            # checkpoint every N steps (0: only at the end); needs out_dir
    out_dir: str | None = None     # where checkpoint.pt, history.csv and config.json go
    resume: bool = False           # continue from out_dir/checkpoint.pt
    amp: str = "off"               # mixed precision on CUDA: off | auto | fp16 | bf16
    channels_last: bool = False    # NHWC memory layout on CUDA (faster convs on tensor cores)
    n_fixed: int = 64              # size of the fixed noise batch used for progress grids
    progress: bool = True          # tqdm progress bar

    def __post_init__(self):
        self.betas = tuple(float(b) if isinstance(b, (int, float)) else b for b in self.betas)  # Adam refuses an int 0
        problems = []
        for name in ("steps", "batch_size", "n_critic", "log_every", "n_fixed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name}={value!r} must be a whole number >= 1")
        if not isinstance(self.ckpt_every, int) or self.ckpt_every < 0:
            problems.append(f"ckpt_every={self.ckpt_every!r} must be >= 0 (0 = only at the end)")
        for name in ("lr_G", "lr_D"):
            if not getattr(self, name) > 0:
                problems.append(f"{name}={getattr(self, name)} must be > 0")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            problems.append(f"betas={self.betas} must be two numbers in [0, 1)")
        if self.minutes is not None and not self.minutes > 0:
            problems.append(f"minutes={self.minutes} must be > 0 (or None for no budget)")
        if self.amp not in AMP_MODES:
            problems.append(f"amp={self.amp!r} must be one of {AMP_MODES}")
        if self.resume and not self.out_dir:
            problems.append("resume=True needs out_dir (the run folder holding checkpoint.pt)")
        if problems:
            raise ValueError("bad TrainConfig: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Build from a dict (e.g. config.json); unknown keys are an error, not silently ignored."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)



def amp_dtype(amp: str, device: torch.device):
    """The autocast dtype: None (fp32) off CUDA or when off; on CUDA bf16 where the GPU computes it
    natively (compute capability 8.0+: A100, L4, H100), else fp16 with a gradient scaler (a T4 is 7.5).

    `torch.cuda.is_bf16_supported()` is not the test: it also answers True for emulated bf16 (a Colab
    T4 does), which is slow and has no cuDNN convolutions below 8.0.
    """
    if amp == "off" or device.type != "cuda":
        return None
    major, minor = torch.cuda.get_device_capability(device)
    native_bf16 = major >= 8
    if amp == "bf16" and not native_bf16:
        raise ValueError(f"amp='bf16' but this GPU (compute capability {major}.{minor}, e.g. a T4) has no native "
                         "bf16: use amp='fp16' or amp='auto' (which picks fp16 here)")
    if amp == "auto":
        return torch.bfloat16 if native_bf16 else torch.float16
    return torch.bfloat16 if amp == "bf16" else torch.float16
