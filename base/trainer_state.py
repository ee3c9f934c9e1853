"""What a trainer writes into its checkpoints and how it continues from one.

A full checkpoint (last.pt) holds everything the next step depends on: the weights, every
resumable part (optimizer, schedule, and where they are on the AMP scaler and the EMA weights),
the epoch and, inside an epoch, its running totals (per process under DDP), the best metric,
the early-stop counter, a callback's stop and the random states. Shuffling, augmentation and
batch mixing are a function of (seed, epoch, step), so nothing else is needed. best.pt holds the
weights that were validated (the EMA's when it is on) and the config.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from base import checkpoint_files
from base.device import seed_process
from base.distributed import broadcast, gather, on_rank_0, same_everywhere
from base.epoch_progress import EpochProgress
from base.errors import UserError
from base.weight_average import validated_weights


class CheckpointMixin:
    stop_recorded: str | None = None  # the stop() reason record_stop() last wrote into last.pt

    def state(self, epoch: int, full: bool) -> dict:
        """`epoch` = epochs finished; inside an epoch, `step` batches of the next one are done too."""
        weights = self.model if full else self.updater.eval_model
        state = {"model": weights.state_dict(), "epoch": epoch, "config": self.cfg.to_dict(),
                 "trainer": self.cfg.trainer, "heads": dict(self.heads)}
        if full:
            progress = self.progress.state_dict() if self.progress else None
            per_process = (lambda value: gather(value, self.world)) if self.world.enabled else (lambda value: value)
            state.update({name: part.state_dict() for name, part in self.updater.resumable().items()})
            state.update(best=self.best, stale=self.stale, stopped=self.stop_reason,
                         rng=per_process(checkpoint_files.rng_state()),
                         step=self.progress.step if self.progress else 0, progress=per_process(progress),
                         channels_last=self.memory_format == torch.channels_last)
        return state

    def checked(self, path: Path, state: dict) -> dict:
        """`state` (read from `path`), refused when made for other heads or another backbone."""
        made = state.get("config", {}).get("backbone"), state.get("heads")
        if "model" not in state or made != (self.cfg.backbone, dict(self.heads)):
            raise UserError(f"{path}: made for backbone {made[0]!r} with heads {made[1]}, not {self.cfg.backbone!r} "
                            f"with {dict(self.heads)}; use the run folder it was trained in, or train anew")
        return state

    def load_weights(self, path: Path, for_inference: bool = False, state: dict | None = None) -> dict:
        """Load a checkpoint's weights (for inference: the EMA's where last.pt has them); refuse
        one made for other heads or another backbone. `state`: its contents, already read."""
        state = self.checked(path, checkpoint_files.load(path) if state is None else state)
        weights = validated_weights(state) if for_inference else state["model"]
        try:
            self.model.load_state_dict(weights)
        except RuntimeError as err:
            raise UserError(f"{path}: its weights do not fit this {self.cfg.backbone!r} model "
                            f"({str(err).splitlines()[0]}); use the run folder it was trained in") from None
        return state

    def read_last(self, run: Path) -> tuple[dict, list[dict]] | None:
        """(last.pt, the metrics.csv rows it has behind it) of `run`, or None when there is no
        last.pt. Rank 0 reads them for every process (agreed_last), so all continue from one epoch."""
        path = run / "last.pt"
        if not path.exists():
            return None
        state = self.checked(path, checkpoint_files.load(path))
        history = []
        if (run / "metrics.csv").exists():  # rows written after this checkpoint are redone
            rows = pd.read_csv(run / "metrics.csv")
            history = rows[rows["epoch"] <= state["epoch"]].to_dict("records")
        return state, history

    def agreed_last(self, run: Path) -> tuple[dict, list[dict]] | None:
        """read_last() as rank 0 answers it, on every process; a last.pt that some machine lacks
        (or holds another version of) stops them all: the next start may put rank 0 there."""
        saved = on_rank_0(lambda: self.read_last(run), self.world)
        if saved is not None:
            same_everywhere(run / "last.pt", self.world)
        return saved

    def complete(self, run: Path, state: dict, history: list[dict]) -> dict | None:
        """The best metrics row of a run that `state` (its last.pt) and `history` show complete
        under this configuration, said in one line; None when it has an epoch to train, or the end
        of a fit to finish (averaging, summary.json: a run killed after its last epoch). A complete
        run is left as it is: no file is written, so its config.json keeps the epochs it trained."""
        why = self.nothing_left(run, state)
        if why is None or not on_rank_0(lambda: ended(run), self.world):
            return None
        self.history = history
        saved = {k: json.dumps(v, default=list) for k, v in state.get("config", {}).items()}
        given = [k for k, v in self.cfg.to_dict().items() if saved.get(k, json.dumps(v, default=list)) !=
                 json.dumps(v, default=list)]
        self.log.info(f"{run} is complete: {why} (nothing trained, no file changed"
                      + (f", so {', '.join(given)} as given now is not saved)" if given else ")"))
        return self.best_row()

    def nothing_left(self, run: Path, state: dict) -> str | None:
        """Why the run would train no epoch from `state` under this configuration, naming the knob
        that would train more, or None; asking for fewer epochs than it trained is refused."""
        cfg, done = self.cfg, state["epoch"]
        if cfg.epochs < done:
            raise UserError(f"--resume {run}: it has trained {_epochs(done)}, more than epochs={cfg.epochs}; "
                            f"resume with epochs={done} or more, or start a new run")
        if cfg.epochs == done:
            return f"all {_epochs(done)} are trained; raise epochs to train more"
        if cfg.patience and state.get("stale", 0) >= cfg.patience:
            return (f"it stopped early (no better {self.monitor.metric} for {cfg.patience} epochs); raise patience, "
                    "or set it to 0, to train more")
        plan = state.get("scheduler") or {}  # a plan the time limit cut short, kept unless the knobs change it
        kept = plan.get("planned_epochs") == cfg.epochs and \
            state.get("config", {}).get("time_limit_minutes", 0) == cfg.time_limit_minutes
        if kept and done >= plan.get("epochs", cfg.epochs):
            return (f"the {_epochs(plan['epochs'])} that fit time_limit_minutes={cfg.time_limit_minutes:g} are "
                    "trained; raise time_limit_minutes, or set it to 0, to train more")
        return None

    def keep_layout(self, state: dict) -> None:
        """A resumed run keeps the memory layout it was started with when `channels_last` is
        "auto": the per-machine timing might pick the other one here, and the run would no longer
        be exact."""
        if self.cfg.channels_last != "auto" or "channels_last" not in state:
            return
        self.memory_format = torch.channels_last if state["channels_last"] else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        self.layout_note = (f"memory layout {'channels_last' if state['channels_last'] else 'contiguous'} "
                            "(auto: kept from last.pt, the layout this run started with)")

    def restore(self, path: Path, state: dict, history: list[dict]) -> int:
        """Continue from last.pt (`state`: its contents, `history`: its metrics rows, as read_last
        gives them); return the epoch to train next (self.progress holds how far it got when the
        checkpoint was taken inside it)."""
        self.load_weights(path, state=state)
        for name, part in self.updater.resumable().items():
            if state.get(name) is None and name == "scaler":  # e.g. a bf16 run resumed on a V100: fp16 now
                self.log.info(f"{path} was trained without fp16's loss scaler (amp now means fp16 here); "
                              "a fresh GradScaler starts, so the run is not bit-exact from here")
                continue
            if state.get(name) is None:
                raise UserError(f"{path}: holds no {name} state, so this configuration cannot continue it; "
                                "start a new run")
            try:
                part.load_state_dict(state[name])
            except ValueError as error:  # e.g. other parameter groups: a fine-tuning knob changed
                raise UserError(f"{path}: its {name} state does not fit this configuration ({error}); resume with "
                                "the knobs it was trained with, or start a new run") from None
        self.best, self.stale = state["best"], state["stale"]
        self.stop_reason = self.stop_recorded = state.get("stopped")  # a callback's stop holds, as patience's
        self.replan = state.get("config", {}).get("time_limit_minutes", 0) != self.cfg.time_limit_minutes
        if self.replan:  # the stored plan was made for another time limit: plan anew from the knobs now
            self.updater.schedule.set_epochs(self.cfg.epochs)
        rng = self.own(state["rng"], path, "random states")
        if rng is None:  # a process the run did not have: streams of its own, as at a fresh start
            seed_process(self.cfg.seed + state["epoch"], self.world.rank)
        elif note := checkpoint_files.set_rng_state(rng):
            self.log.info(f"{note}; the run is not bit-exact from here")
        progress = state.get("progress")  # one per process of a DDP run, or a single process's own
        progress = progress if isinstance(progress, list) else [progress]
        if len(progress) != self.world.size and any(progress):  # each process's share of the epoch differs
            raise UserError(f"{path}: written inside an epoch by {len(progress)} process(es); resume it with "
                            f"as many (torchrun --nproc_per_node={len(progress)}), or from an epoch end")
        progress = progress[self.world.rank] if len(progress) == self.world.size else None
        if progress:
            self.progress = EpochProgress.from_state(progress)
        self.history = history
        where = f"inside epoch {state['epoch'] + 1} at step {state['step']}" if state.get("step") else \
            f"after epoch {state['epoch']}"
        self.log.info(f"resumed from {path} {where}")
        return state["epoch"] + 1

    def record_stop(self, epoch: int) -> None:
        """Hand a stop() that rank 0's callbacks asked for to every process, and write it into
        last.pt (taken after `epoch` finished epochs) if it is new: --resume of the run then does
        not train on, as after early stopping."""
        reason = broadcast(self.stop_reason, self.world)
        if reason is not None and reason != self.stop_recorded:
            self.stop_reason = self.stop_recorded = reason
            self.save_last(epoch)

    def own(self, saved, path: Path, what: str):
        """This process's entry of a per-process list in a checkpoint (a single-process run's
        checkpoint holds the entry itself), or None where the run had fewer processes than now.
        Another process count than the run had is said in the log: not bit-exact from here."""
        entries = saved if isinstance(saved, list) else [saved]
        if len(entries) != self.world.size:
            self.log.info(f"{path}: written by {len(entries)} process(es), resumed by {self.world.size}; {what} "
                          "continue where a rank had them, so the run is not bit-exact from here")
        return entries[self.world.rank] if self.world.rank < len(entries) else None


def ended(run: Path) -> bool:
    """Whether a fit ended in `run`: summary.json, the last file a fit writes (logger/summary.py),
    says it finished."""
    try:
        return json.loads((Path(run) / "summary.json").read_text()).get("finished") is True
    except (OSError, ValueError, AttributeError):
        return False


def _epochs(count: int) -> str:
    return f"{count} epoch" + ("s" if count != 1 else "")
