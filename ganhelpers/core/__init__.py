"""The training core: the config, the one generic loop, callbacks, checkpoint I/O and the runtime
(device, seeds, run mode). Nothing here knows a model; models and notebooks hand the loop their steps.

    from ganhelpers.core import Trainer, TrainConfig, Callback
"""
from .callbacks import EMA, Callback, FixedInputs
from .config import UNLIMITED, TrainConfig
from .runtime import get_device, rehearse, run_mode, seed_everything
from .trainer import NonFiniteLoss, Trainer

__all__ = ["EMA", "Callback", "FixedInputs", "UNLIMITED", "TrainConfig", "get_device", "rehearse", "run_mode",
           "seed_everything", "NonFiniteLoss", "Trainer"]
