"""TrainConfig's validation and the choice of the autocast dtype (amp_dtype) per GPU."""
import pytest
import torch

from ganhelpers.core.config import RESUME_KEYS, TrainConfig, amp_dtype


@pytest.mark.parametrize("bad, match", [
    (dict(steps=0), "steps"), (dict(batch_size=-1), "batch_size"), (dict(lr_G=0.0), "lr_G"),
    (dict(betas=(0.5, 1.5)), "betas"), (dict(minutes=-1), "minutes"), (dict(amp="fp8"), "amp"),
    (dict(resume=True), "out_dir"), (dict(n_critic=2.5), "n_critic"),
])
def test_config_is_validated_on_creation(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**bad)


def test_config_from_dict_rejects_unknown_keys():
    assert TrainConfig.from_dict({"steps": 5}).steps == 5
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        TrainConfig.from_dict({"step": 5})


def test_integer_betas_become_floats_and_resume_keys_are_fields():
    config = TrainConfig(betas=[0, 0.9])  # e.g. from JSON: Adam refuses an int beta
    assert config.betas == (0.0, 0.9) and all(type(b) is float for b in config.betas)
    assert set(RESUME_KEYS) <= set(vars(config))


@pytest.mark.parametrize("capability, amp, expected", [
    ((7, 5), "auto", torch.float16),   # a T4: is_bf16_supported() says True (emulation), fp16 is right
    ((8, 0), "auto", torch.bfloat16),  # an A100
    ((9, 0), "auto", torch.bfloat16),  # an H100 / H200
    ((7, 5), "fp16", torch.float16),
    ((8, 9), "bf16", torch.bfloat16),  # an L4
    ((7, 5), "off", None),
])
def test_amp_auto_picks_fp16_on_a_t4(monkeypatch, capability, amp, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: capability)
    assert amp_dtype(amp, torch.device("cuda")) == expected
    assert amp_dtype(amp, torch.device("cpu")) is None  # autocast only on CUDA


def test_bf16_on_a_t4_is_refused_with_what_to_do(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 5))
    with pytest.raises(ValueError, match="no native bf16: use amp='fp16' or amp='auto'"):
        amp_dtype("bf16", torch.device("cuda"))
