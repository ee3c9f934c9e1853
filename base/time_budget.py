"""How many epochs fit in `time_limit_minutes`, re-planned after every epoch.

The first epoch is the slow one (workers start, caches and kernels warm up): planning from the
mean of all epochs so far left 29% of a 615 s budget unused after a 70 s first epoch and 50 s
epochs. So the pace is the mean of the last three epochs, leaving the first out once there are
others, and the plan may grow again (up to the configured `epochs`) as well as shrink.
`TimeBudget.fit_schedule` applies the plan to the learning-rate schedule after every epoch.
"""
from __future__ import annotations

import time

from base.distributed import World, broadcast
from base.optim import Schedule

clock = time.perf_counter  # a test may set a fake one
RECENT = 3  # epochs the pace is measured over: enough to smooth jitter, few enough to follow a slowdown


def epoch_pace(epoch_seconds: list[float]) -> float:
    """Seconds the next epoch is expected to take."""
    recent = (epoch_seconds[1:] if len(epoch_seconds) > 1 else epoch_seconds)[-RECENT:]
    return sum(recent) / len(recent)


def plan_epochs(limit: float, startup: float, epoch_seconds: list[float], configured_epochs: int) -> int:
    """The epochs the run should end after: those done, plus as many as fit in what is left of
    `limit` at the recent pace (so none starts that would end past it), at most `configured_epochs`."""
    done = len(epoch_seconds)
    left = limit - startup - sum(epoch_seconds)
    more = int(left // epoch_pace(epoch_seconds)) if left > 0 else 0
    return max(done, min(configured_epochs, done + more))


class TimeBudget:
    """The wall clock of a run under `time_limit_minutes`. Epochs are timed lap to lap (one lap
    per epoch end), so what happens between two epochs (metrics.csv, checkpoints, pictures,
    loggers) counts as well as training and validation; a resumed run starts from the seconds of
    its earlier epochs (`earlier`, and `carried` of the one it resumes inside)."""

    def __init__(self, minutes: float, startup: float, earlier: list[float], carried: float = 0.0):
        self.minutes, self.limit, self.startup = minutes, minutes * 60, startup
        self.seconds, self.mark = list(earlier), clock() - carried

    @classmethod
    def start(cls, minutes: float, startup: float, history: list[dict], progress=None) -> TimeBudget | None:
        """The budget of a run that has `history` (metrics rows) and maybe a restored epoch
        `progress` (EpochProgress) behind it; None without a limit."""
        if not minutes:
            return None
        return cls(minutes, startup, [row["seconds"] for row in history], progress.seconds() if progress else 0.0)

    def plan(self, epoch: int, configured_epochs: int) -> int:
        """After `epoch` ended: the epoch the run should end after (never one already done)."""
        now = clock()
        self.seconds.append(now - self.mark)
        self.mark = now
        return max(epoch, plan_epochs(self.limit, self.startup, self.seconds, configured_epochs))

    def fit_schedule(self, schedule: Schedule, epoch: int, configured_epochs: int, world: World) -> str | None:
        """After `epoch`, re-plan `schedule` to the epochs that fit at the recent pace, longer (up to
        `configured_epochs`) or shorter, never before `epoch`, so the learning rate anneals by the
        last one. Returns what changed, for the log (None: nothing)."""
        if epoch >= configured_epochs:
            return None
        return self._set(schedule, self.plan(epoch, configured_epochs), configured_epochs, world)

    def fit_resumed(self, schedule: Schedule, done: int, configured_epochs: int, world: World) -> str | None:
        """Right after resuming a run whose time limit changed (the stored plan belongs to the old
        one): plan `schedule` for this limit from the `done` epochs already timed. With none done
        yet the first re-plan comes after the next epoch, as in a new run."""
        if not self.seconds or done >= configured_epochs:
            return None
        fit = max(done, plan_epochs(self.limit, self.startup, self.seconds, configured_epochs))
        return self._set(schedule, fit, configured_epochs, world)

    def _set(self, schedule: Schedule, fit: int, configured_epochs: int, world: World) -> str | None:
        """Rank 0's `fit` made every process's schedule length; what changed, for the log."""
        fit, was = broadcast(fit, world), schedule.epochs
        if fit == was:  # rank 0's clock decided, for every process
            return None
        schedule.set_epochs(fit)
        return self.describe(fit, was, configured_epochs)

    def describe(self, fit: int, was: int, configured_epochs: int) -> str:
        used = self.startup + sum(self.seconds)
        return (f"time_limit_minutes {self.minutes:g}: {fit} of {configured_epochs} epochs fit at "
                f"{epoch_pace(self.seconds):.0f}s per recent epoch ({used:.0f}s of {self.limit:.0f}s used, "
                f"{self.startup:.0f}s of it reading the images); the schedule now ends after epoch {fit}, "
                f"not {was}")
