"""Mixed precision follows the `amp` knob everywhere: training, validation (which picks best.pt)
and inference; `auto` never picks an emulated bf16."""
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
