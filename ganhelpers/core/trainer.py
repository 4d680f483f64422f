"""One training loop for every GAN in the course.

The loop knows nothing about the model: the notebook (or a family in `ganhelpers.models`) writes two functions

    d_step(G, D, real, labels, trainer) -> {"loss_D": tensor, ...anything else to log}
    g_step(G, D, real, labels, trainer) -> {"loss_G": tensor, ...}

and the loop does the plumbing around them: batches, optimizers, mixed precision, `n_critic`,
logging without a host sync every step, checkpoints, resume, a time budget and callbacks
(dashboards, sample grids, metrics) that hook in through `Callback`. What a step logs names what it is:
"D_real"/"D_fake" are probabilities, "critic_real"/"critic_fake" raw critic scores (the plots read the keys).
"""
from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch

from ..data.sampler import BatchSampler
from ..nn.conventions import eval_mode
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state, write_history_csv, write_text_atomic
from .config import RESUME_KEYS, UNLIMITED, TrainConfig, amp_dtype
from .runtime import get_device, seed_everything


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite: the run stopped; the message names the step and checkpoint."""


class Trainer:
    """Trains any G/D pair with the given step functions. `fit()` runs and returns `history`.

    G must have `z_dim` and `n_classes` (see `ganhelpers.nn.conventions`). `data` is an ImageSet/PointSet
    (wrapped in a `BatchSampler` on the training device) or a ready `BatchSampler`.
    """

    def __init__(self, G, D, d_step, g_step, data, config: TrainConfig, callbacks=(), opt_G=None, opt_D=None,
                 meta: dict | None = None):
        self.config, self.meta = config, dict(meta or {})  # meta: e.g. model and dataset names
        self.device = get_device(config.device)
        seed_everything(config.seed)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.d_step, self.g_step = d_step, g_step
        self.sampler = data if isinstance(data, BatchSampler) else BatchSampler(
            data, config.batch_size, device=self.device, seed=config.seed)
        _check_sampler(self.sampler, self.device, config.batch_size)
        self.opt_G = opt_G or torch.optim.Adam(G.parameters(), lr=config.lr_G, betas=config.betas)
        self.opt_D = opt_D or torch.optim.Adam(D.parameters(), lr=config.lr_D, betas=config.betas)
        self.callbacks = list(callbacks)
        self.amp_dtype = amp_dtype(config.amp, self.device)
        fp16 = self.amp_dtype == torch.float16
        self.scaler_D = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.scaler_G = torch.amp.GradScaler(self.device.type, enabled=fp16)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # shapes never change in a run: let cuDNN pick its fastest kernels
        self.channels_last = config.channels_last and self.device.type == "cuda"
        if self.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        # fixed noise from its own generator, so progress grids never perturb the training RNG
        gen = torch.Generator().manual_seed(config.seed + 12345)
        self.fixed_z = torch.randn(config.n_fixed, G.z_dim, generator=gen).to(self.device)  # (n, z_dim)
        self.fixed_labels = (torch.arange(config.n_fixed) % G.n_classes).to(self.device) if G.n_classes else None
        self.step = 0
        self.history: dict[str, list] = {"step": []}
        self.stopped_reason = ""
        self._stop_request = None
        self._pending: list[dict] = []  # per-step logs still on the device
        self.last_checkpoint: Path | None = None
        self._ckpt_step = 0
        self._start = None  # monotonic time fit() started
        self._fit_start, self._seconds_done = None, 0.0  # wall-clock seconds of earlier fits (and of a resumed run)
        self.out_dir = Path(config.out_dir) if config.out_dir else None
        if config.resume:
            self._resume()

    # ---- public helpers for callbacks and notebooks ------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Ask the loop to end gracefully after the current step."""
        self._stop_request = reason

    def set_fixed_inputs(self, inputs: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """What progress pictures feed G from now on instead of the fixed noise: e.g. fixed test conditions
        (n, C_in, H, W) in [-1, 1] of an image-to-image model (see `callbacks.FixedInputs`)."""
        self.fixed_z = inputs.to(self.device)
        self.fixed_labels = None if labels is None else labels.to(self.device)

    @torch.no_grad()
    def sample_fixed(self) -> torch.Tensor:
        """G's output for the fixed noise batch, in eval mode: (n_fixed, C, H, W) in [-1, 1] on CPU."""
        with eval_mode(self.G):
            return self.G(self.fixed_z, self.fixed_labels).float().cpu()

    @property
    def progress(self) -> float:
        """How far the run is, in [0, 1]: steps done / steps, or the share of the time budget spent
        (`minutes`), whichever is further along. Schedules (e.g. annealed instance noise) use it."""
        done = self.step / self.config.steps
        if self.config.minutes is not None and self._start is not None:
            done = max(done, (time.monotonic() - self._start) / (self.config.minutes * 60))
        return min(1.0, done)

    @property
    def seconds(self) -> float:
        """Wall-clock seconds spent in fit() so far (training and callbacks), over every fit of this run,
        a resumed run's earlier ones included (the checkpoint keeps them)."""
        running = time.monotonic() - self._fit_start if self._fit_start is not None else 0.0
        return self._seconds_done + running

    def checkpoint_path(self) -> Path | None:
        return self.out_dir / "checkpoint.pt" if self.out_dir else None

    # ---- the loop ------------------------------------------------------------------------------
    def fit(self) -> dict:
        cfg = self.config
        if self.out_dir:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.out_dir / "config.json", json.dumps({**self.meta, "train": asdict(cfg)}, indent=2))
        start, start_step = time.monotonic(), self.step
        self._start = self._fit_start = start
        self._stop_request = None  # a stop ends the fit it was asked in; a later fit() continues the run
        for cb in self.callbacks:
            cb.on_train_start(self)
        bar = _progress(cfg, self.step)
        self.stopped_reason = "finished"
        try:
            while self.step < cfg.steps:
                self._one_step()
                self.step += 1
                if bar is not None:
                    bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    self._flush(bar)
                for cb in self.callbacks:
                    cb.on_step_end(self)
                if cfg.ckpt_every and self.step % cfg.ckpt_every == 0 and self.out_dir:
                    self.save()  # after the callbacks: a metric measured at this step is in the checkpoint
                if self._stop_request:
                    self.stopped_reason = self._stop_request
                    break
                if cfg.minutes is not None and time.monotonic() - start > cfg.minutes * 60:
                    self.stopped_reason = f"time budget of {cfg.minutes:g} min spent"
                    break
            self._flush(bar)
            if self.out_dir:
                self.save()
        finally:
            if bar is not None:
                bar.close()
            self._seconds_done, self._fit_start = self.seconds, None
        seconds = time.monotonic() - start
        self.steps_per_second = (self.step - start_step) / max(seconds, 1e-9)
        for cb in self.callbacks:
            cb.on_train_end(self)
        if cfg.progress:
            of = f"/{cfg.steps}" if cfg.steps < UNLIMITED else ""
            print(f"step {self.step}{of}: {self.stopped_reason} "
                  f"({seconds:.0f} s, {self.steps_per_second:.1f} steps/s)")
        return self.history

    def _one_step(self) -> None:
        cfg = self.config
        logs_D = []
        for _ in range(cfg.n_critic):
            real, labels = self._batch()
            with self._autocast():
                out_D = self.d_step(self.G, self.D, real, labels, self)
            _update(self.opt_D, self.scaler_D, _loss(out_D, "loss_D"))
            logs_D.append(_log_values(out_D, self.device))
        # D's weights need no gradient in G's step: skipping them saves a third of D's backward
        self.D.requires_grad_(False)
        try:
            with self._autocast():
                out_G = self.g_step(self.G, self.D, real, labels, self)
            _update(self.opt_G, self.scaler_G, _loss(out_G, "loss_G"))
        finally:
            self.D.requires_grad_(True)  # also when g_step raises: D must not stay frozen in a notebook
        logs_G = _log_values(out_G, self.device)
        shared = set(out_D) & set(logs_G)
        if shared:
            raise KeyError(f"d_step and g_step both log {sorted(shared)}: give G's values other names "
                           "(e.g. 'loss_G', 'G_fake') so neither hides the other in the history")
        # D's logs are the mean over its n_critic updates, so every update's loss is checked for NaN
        self._pending.append({**_mean_logs(logs_D), **logs_G})

    def _batch(self):
        real, labels = self.sampler.next()
        if self.channels_last and real.dim() == 4:
            real = real.contiguous(memory_format=torch.channels_last)
        return real, labels

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _flush(self, bar=None) -> None:
        """Move pending per-step logs to the host (one sync), check them, append a history row."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        rows = _to_host(pending)
        for i, logged in enumerate(rows):
            bad = [k for k, v in logged.items() if not math.isfinite(v)]
            if bad:
                bad_step = self.step - len(rows) + 1 + i
                where = (f"the last good checkpoint is {self.last_checkpoint} (step {self._ckpt_step})"
                         if self.last_checkpoint else "no checkpoint was written before it")
                self.stopped_reason = f"non-finite loss at step {bad_step}"
                raise NonFiniteLoss(f"{', '.join(bad)} became NaN/inf at step {bad_step}; training stopped "
                                    f"and nothing was saved after it; {where}. Try a lower learning rate, "
                                    f"amp='off', or check the data range ([-1, 1]).")
        row = {"step": self.step, **_mean_rows(rows)}
        for k, v in row.items():
            self.history.setdefault(k, []).append(v)
        if bar is not None:
            bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if k != "step"}, refresh=False)
        for cb in self.callbacks:
            cb.on_log(self, row)

    # ---- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step, "G": self.G.state_dict(), "D": self.D.state_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "scaler_G": self.scaler_G.state_dict(), "scaler_D": self.scaler_D.state_dict(),
            "sampler": self.sampler.state_dict(), "rng": rng_state(),
            "history": self.history, "config": asdict(self.config), "meta": self.meta, "seconds": self.seconds,
            "callbacks": {key: state for key, state in self._callback_states().items() if state},
        }

    def _callback_states(self) -> dict:
        return {f"{i}.{type(cb).__name__}": cb.state_dict() for i, cb in enumerate(self.callbacks)}

    def save(self, path=None, latest: bool = True) -> Path:
        """Flush logs and check the weights (refusing to save NaN), then write the checkpoint atomically.

        latest: the run's last good checkpoint, which an error names (False for a side copy such as best.pt)."""
        self._flush()
        path = Path(path) if path else self.checkpoint_path()
        if not self.weights_finite():
            where = (f"{self.last_checkpoint} (step {self._ckpt_step}) is untouched" if self.last_checkpoint
                     else "no checkpoint was written before")
            self.stopped_reason = f"non-finite weights at step {self.step}"
            raise NonFiniteLoss(f"the weights of G or D became NaN/inf by step {self.step} although the logged "
                                f"losses were finite; refusing to save them to {path}; {where}. Try a lower "
                                f"learning rate or amp='off'.")
        save_checkpoint(self.state_dict(), path)
        write_history_csv(self.history, path.parent / "history.csv")
        if latest:
            self.last_checkpoint, self._ckpt_step = path, self.step
        return path

    def weights_finite(self) -> bool:
        """Whether every parameter of G and D is finite (one host sync)."""
        params = [p for net in (self.G, self.D) for p in net.parameters()]
        return bool(torch.stack([torch.isfinite(p).all() for p in params]).all()) if params else True

    def _resume(self) -> None:
        path = self.checkpoint_path()
        if not path.is_file():
            raise FileNotFoundError(f"resume=True but there is no checkpoint at {path}: "
                                    "drop --resume to start a new run, or point out_dir at the old run")
        ckpt = load_checkpoint(path, map_location=self.device)
        old = ckpt["config"]
        for key in RESUME_KEYS:
            if old[key] != getattr(self.config, key):
                raise ValueError(f"cannot resume {path}: it was trained with {key}={old[key]}, "
                                 f"not {getattr(self.config, key)}")
        self.G.load_state_dict(ckpt["G"])
        self.D.load_state_dict(ckpt["D"])
        self.opt_G.load_state_dict(ckpt["opt_G"])
        self.opt_D.load_state_dict(ckpt["opt_D"])
        self.scaler_G.load_state_dict(ckpt["scaler_G"])
        self.scaler_D.load_state_dict(ckpt["scaler_D"])
        self.sampler.load_state_dict(ckpt["sampler"])
        saved = ckpt.get("callbacks", {})
        for key, cb in zip(self._callback_states(), self.callbacks):
            if key in saved:
                cb.load_state_dict(saved[key])
        set_rng_state(ckpt["rng"])
        self.history, self.step = ckpt["history"], ckpt["step"]
        self._seconds_done = ckpt.get("seconds", 0.0)  # absent in checkpoints written before it was kept
        self.last_checkpoint, self._ckpt_step = path, self.step


def _loss(out: dict, key: str) -> torch.Tensor:
    if not isinstance(out, dict) or key not in out:
        raise KeyError(f"the step function must return a dict with the loss to minimise under {key!r}, "
                       f"got {type(out).__name__} with keys {list(out) if isinstance(out, dict) else '-'}")
    return out[key]


def _update(opt, scaler, loss) -> None:
    opt.zero_grad(set_to_none=True)
    if loss.grad_fn is None:  # a constant (e.g. pix2pix-l1's unused D): nothing to learn, and a GradScaler
        return                # would refuse to step an optimizer whose gradients it never saw
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()


def _log_values(out: dict, device: torch.device) -> dict:
    """A step's outputs as 0-d float32 tensors on the training device, without a host sync.

    Python numbers become `torch.full` on the device (a fill kernel, not a host-to-device copy); tensors
    are moved there without blocking (the losses are there already), so the flush can stack them all.
    """
    logs = {}
    for k, v in out.items():
        if torch.is_tensor(v):
            if v.numel() != 1:
                raise ValueError(f"the step logged {k!r} with shape {tuple(v.shape)}: log scalars only "
                                 "(e.g. .mean() of it)")
            logs[k] = v.detach().float().reshape(()).to(device, non_blocking=True)  # ()
        else:
            logs[k] = torch.full((), float(v), dtype=torch.float32, device=device)  # ()
    return logs


def _by_key(dicts: list[dict]) -> dict:
    """key -> the values of the dicts that hold it, keys in first-seen order (a key may be logged sometimes)."""
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out.setdefault(k, []).append(v)
    return out


def _mean_logs(logs: list[dict]) -> dict:
    """Per-key mean over several updates' logs (the n_critic D updates of one step), still on the device."""
    return {k: torch.stack(values).mean() for k, values in _by_key(logs).items()}


def _to_host(pending: list[dict]) -> list[dict]:
    """Pending per-step logs (0-d tensors on the device) -> one dict of Python floats per step.

    One stack and one copy for all of them: the only host sync of the loop. A key a step did not log
    is simply absent from that step's dict.
    """
    flat = [v for row in pending for v in row.values()]  # 0-d, all on `device` already (_log_values)
    values = iter(torch.stack(flat).cpu().tolist() if flat else [])  # (sum of keys per step,)
    return [{k: next(values) for k in row} for row in pending]


def _mean_rows(rows: list[dict]) -> dict:
    """The history row: each key's mean over the steps that logged it."""
    return {k: sum(values) / len(values) for k, values in _by_key(rows).items()}


def _check_sampler(sampler: BatchSampler, device: torch.device, batch_size: int) -> None:
    """A ready-made sampler must live on the training device and draw the configured batch size
    (the one a resume checks)."""
    if sampler.device.type != device.type or (device.index is not None and sampler.device != device):
        raise ValueError(f"the BatchSampler holds its data on {sampler.device} but training runs on {device}: "
                         f"make it with BatchSampler(data, batch_size, device={str(device)!r}) or pass the "
                         "dataset itself")
    if sampler.batch_size != batch_size:
        raise ValueError(f"the BatchSampler draws batches of {sampler.batch_size} but TrainConfig.batch_size is "
                         f"{batch_size}: make them equal")


def _progress(cfg: TrainConfig, initial: int):
    if not cfg.progress:
        return None
    from tqdm.auto import tqdm
    total = cfg.steps if cfg.steps < UNLIMITED else None  # a time budget alone: no misleading total
    return tqdm(total=total, initial=initial, desc="training", unit="step", mininterval=1.0)
