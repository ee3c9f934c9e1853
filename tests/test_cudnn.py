"""`cudnn_benchmark`: on CUDA, cuDNN's autotuner on (the default) or its deterministic algorithms
only; the CPU is never touched."""
import pytest
import torch

from base import config as config_lib
from base.device import configure_cudnn


@pytest.fixture
def cudnn_flags():
    saved = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    yield
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved


@pytest.mark.parametrize("benchmark", [True, False])
def test_the_knob_sets_cudnn_on_a_gpu_and_leaves_the_cpu_alone(cudnn_flags, benchmark):
    before = (not benchmark, benchmark)  # the opposite of what the knob asks for
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before
    configure_cudnn(torch.device("cpu"), benchmark)
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) == before
    configure_cudnn(torch.device("cuda"), benchmark)
    assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) == (benchmark, not benchmark)


def test_the_default_is_the_fast_one():
    assert config_lib.load().cudnn_benchmark is True
