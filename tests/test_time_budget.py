"""time_limit_minutes: the epochs planned from the recent epoch times use the budget, never overrun it."""
import pytest

from base.time_budget import plan_epochs


def _run(limit: float, startup: float, seconds: list[float], epochs: int) -> tuple[float, list[int]]:
    """A run whose epoch i takes seconds[i] (the last value repeats), re-planned after every epoch as
    the trainer does; (wall time used, the plan after each epoch)."""
    done, plans = [], []
    planned = epochs
    while len(done) < planned:
        done.append(seconds[min(len(done), len(seconds) - 1)])
        planned = plan_epochs(limit, startup, done, epochs)
        plans.append(planned)
    return startup + sum(done), plans


def test_a_slow_first_epoch_does_not_waste_the_budget():
    used, plans = _run(615, 20, [70, 50], 12)  # the benchmark protocol with the default config
    assert 0.95 * 615 <= used <= 615, (used, plans)
    assert plans == [8, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11]  # lengthened once the slow epoch is past


def test_never_past_the_configured_epochs():
    used, plans = _run(615, 20, [70, 50], 6)
    assert plans == [6] * 6 and used == 20 + 70 + 5 * 50


def test_epochs_that_get_slower_shorten_the_plan_again():
    used, plans = _run(615, 20, [70, 50, 50, 50, 80, 80, 80], 12)
    assert plans[:4] == [8, 11, 11, 11] and plans[-1] < 11 and used <= 615, (used, plans)
    assert plans[-1] == len(plans)  # the last epoch run is the one the schedule ends at


@pytest.mark.parametrize("steady", [7.0, 20.0, 30.0])  # an epoch of at most 5% of the limit
def test_steady_epochs_end_inside_95_to_100_percent_of_the_limit(steady):
    used, _ = _run(615, 20, [steady * 1.3, steady], 1000)
    assert 0.95 * 615 <= used <= 615


def test_a_resumed_run_counts_its_earlier_epochs_and_the_startup(monkeypatch):
    from base import time_budget

    times = iter([1000.0, 1030.0])  # the restored epoch had done 20 s before; it ends 30 s later here
    monkeypatch.setattr(time_budget, "clock", lambda: next(times))

    class Progress:
        def seconds(self):
            return 20.0

    budget = time_budget.TimeBudget.start(10.25, 20.0, [{"seconds": 70.0}, {"seconds": 50.0}], Progress())
    assert budget.plan(3, 12) == 11 and budget.seconds == [70.0, 50.0, 50.0]  # 590 s of 615 s
    assert time_budget.TimeBudget.start(0.0, 20.0, [], None) is None  # no limit, no clock
