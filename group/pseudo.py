"""Pseudo-labelling rounds: label the eval images with a finished model, train again with them.

    runs/<name>-<time>/  config.json, group.json (predicts with the last round), metrics.csv
        round1/  pseudo_labels.csv (which eval images, which labels), then an ordinary run
        round2/  labelled by round1's model ...

Round 1 is labelled by the average of `pseudo_from` (runs, groups, k-fold groups); each later
round by the round before. Only predictions whose top probability reaches `pseudo_threshold`
are kept (at most `pseudo_max_per_class` per class); they join the training split, never the
validation one.
"""
from __future__ import annotations

from pathlib import Path

from base.atomic import write_csv
from base.config import Config
from base.errors import UserError
from base.run_dir import setup_logging
from data_loader import pseudo_labels
from data_loader.layout import data_root, read_eval
from group.registry import register_group
from group.run_group import RunGroup
from predict import predictor


@register_group("pseudo")
class PseudoLabelling(RunGroup):
    kind = "pseudo"
    combine = "mean"

    def prepare(self, run: Path | None, resume: bool) -> Path:
        # Checked by rank 0, which alone predicts with them (member_config).
        for source in self.cfg.pseudo_from:
            if not (Path(source) / "config.json").is_file():
                raise UserError(f"config knob 'pseudo_from': {source} is not a run folder made by train.py")
        return super().prepare(run, resume)

    def plan(self) -> list[str]:
        return [f"round{r}" for r in range(1, self.cfg.pseudo_rounds + 1)]

    def predicting_members(self) -> list[str]:
        return self.plan()[-1:]

    def member_config(self, name: str, group: Path) -> Config:
        folder = group / name
        labels = folder / "pseudo_labels.csv"
        if not labels.is_file():  # a resumed round keeps the labels it started with
            r = int(name.removeprefix("round"))
            sources = [Path(s) for s in self.cfg.pseudo_from] if r == 1 else [group / f"round{r - 1}"]
            table = read_eval(data_root(self.cfg))
            probs = predictor.combine_probabilities([predictor.load(s).predict(table) for s in sources], "mean")
            chosen = pseudo_labels.select(table["ImageID"], probs, self.cfg.pseudo_threshold,
                                          self.cfg.pseudo_max_per_class)
            folder.mkdir(parents=True, exist_ok=True)
            write_csv(labels, chosen)
            setup_logging().info(f"{name}: {len(chosen)} of {len(table)} eval images pseudo-labelled "
                                 f"(threshold {self.cfg.pseudo_threshold})")
        return self.cfg.replace(pseudo_from=[], pseudo_rounds=1, pseudo_labels=str(labels.resolve()), name=name)
