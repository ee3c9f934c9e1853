"""Mixed precision follows the `amp` knob everywhere: training, validation (which picks best.pt)
and inference; `auto` never picks an emulated bf16."""
import math

import numpy as np
import pytest
import torch

from base.update import amp_dtype
from data_loader.layout import read_train
from trainer import get_trainer


def _fake_cuda_bf16(monkeypatch, native: bool):
    """A GPU whose bf16 is native (Ampere+) or only emulated (V100, T4), as torch reports it."""
    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return native or including_emulation
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)


@pytest.mark.parametrize(("native", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_auto_picks_bf16_only_where_the_gpu_computes_it(monkeypatch, native, expected):
    _fake_cuda_bf16(monkeypatch, native)
    assert amp_dtype("auto", torch.device("cuda")) is expected
    assert amp_dtype("bf16", torch.device("cuda")) is torch.bfloat16  # asked for by name: as asked
    assert amp_dtype("off", torch.device("cuda")) is None
    assert amp_dtype("auto", torch.device("cpu")) is None


def _dtypes_seen_in_predict(cfg, tiny_data) -> set:
    trainer = get_trainer("single")(cfg)
    seen = set()
    for head in trainer.model.heads.values():  # what the head's Linear layer computes in
        head.register_forward_hook(lambda _m, _inputs, out: seen.add(out.dtype))
    table = read_train(tiny_data).head(8)
    probs, _ = trainer.predict(trainer.loader(table, train=False))
    assert probs.shape == (8, 18)
    return seen


@pytest.mark.parametrize(("amp", "expected"), [("off", torch.float32), ("bf16", torch.bfloat16)])
def test_validation_and_inference_run_in_the_configured_precision(tiny_cfg, tiny_data, amp, expected):
    assert _dtypes_seen_in_predict(tiny_cfg.replace(amp=amp), tiny_data) == {expected}


def test_a_batch_that_overflows_under_autocast_is_scored_again_in_fp32(tiny_cfg, tiny_data, capfd):
    """fp16 overflows where a bf16 run is predicted on a GPU without native bf16: the batch's
    probabilities would be NaN and its argmax wrong. Here the model gives NaN under autocast."""
    plain = get_trainer("single")(tiny_cfg.replace(amp="off"))
    half = get_trainer("single")(tiny_cfg.replace(amp="bf16"))
    half.model.load_state_dict(plain.model.state_dict())
    forward = half.model.forward
    half.model.forward = lambda images: {k: v * (math.nan if torch.is_autocast_enabled("cpu") else 1.0)
                                         for k, v in forward(images).items()}
    table = read_train(tiny_data).head(40)
    probs, loss = half.predict(half.loader(table, train=False))
    warned = [line for line in capfd.readouterr().err.splitlines() if "scored again in fp32" in line]
    expected, expected_loss = plain.predict(plain.loader(table, train=False))
    assert np.isfinite(probs).all() and np.allclose(probs, expected, atol=1e-6) and math.isfinite(loss)
    assert loss == pytest.approx(expected_loss)
    assert warned == ["predict: 2 batch(es) gave non-finite probabilities in bfloat16; scored again in fp32"]
