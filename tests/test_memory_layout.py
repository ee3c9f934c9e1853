"""channels_last = "auto": the faster layout, timed once on the real batch shape and cached."""
import json

import torch

from base import memory_layout
from trainer import get_trainer


class FakeClock:
    """Steps of the first layout timed (contiguous) take `first` seconds, of the second `second`."""

    def __init__(self, first: float, second: float):
        self.first, self.second, self.calls, self.now = first, second, 0, 0.0

    def __call__(self) -> float:
        per_layout = 2 * (memory_layout.WARMUP + memory_layout.TIMED)  # a start and an end per step
        self.now += (self.first if self.calls < per_layout else self.second) if self.calls % 2 else 0.0
        self.calls += 1
        return self.now


def test_auto_keeps_the_faster_layout_and_caches_it(tiny_cfg, tmp_path):
    cfg = tiny_cfg.replace(channels_last="auto")
    model = get_trainer("single")(cfg.replace(channels_last=False)).model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    cache = tmp_path / "layouts.json"
    clock = FakeClock(first=0.010, second=0.004)
    last, note = memory_layout.choose(cfg, model, torch.device("cpu"), None, cache, timer=clock)
    assert last and "channels_last (auto" in note and "4.0 ms channels_last, 10.0 ms contiguous" in note
    assert clock.calls == 4 * (memory_layout.WARMUP + memory_layout.TIMED)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # a copy was timed
    assert torch.equal(torch.get_rng_state(), rng)  # and the run's random stream is untouched
    saved = json.loads(cache.read_text())
    (key,) = saved
    assert "test_resnet 32x32 batch 16" in key and torch.__version__ in key

    slow = FakeClock(first=0.001, second=0.1)  # cached: not timed again, whatever the clock says
    assert memory_layout.choose(cfg, model, torch.device("cpu"), None, cache, timer=slow)[0] and slow.calls == 0
    other = cfg.replace(batch_size=8)  # another batch shape is timed anew
    last, _ = memory_layout.choose(other, model, torch.device("cpu"), None, cache, timer=FakeClock(0.001, 0.1))
    assert not last and len(json.loads(cache.read_text())) == 2


def test_true_and_false_force_the_layout(tiny_cfg, tmp_path):
    model = torch.nn.Conv2d(3, 3, 1)
    for value in (True, False):
        clock = FakeClock(1, 1)
        last, note = memory_layout.choose(tiny_cfg.replace(channels_last=value), model, torch.device("cpu"), None,
                                          tmp_path / "x.json", timer=clock)
        assert last is value and clock.calls == 0 and "knob" in note


def test_the_trainer_uses_the_chosen_layout(tiny_cfg):
    for value, fmt in ((True, torch.channels_last), (False, torch.contiguous_format)):
        trainer = get_trainer("single")(tiny_cfg.replace(channels_last=value))
        assert trainer.memory_format == fmt
        assert trainer.to_device(torch.zeros(2, 3, 32, 32, dtype=torch.uint8)).is_contiguous(memory_format=fmt)
