"""Three models, one per attribute, trained in turn into one run group.

    runs/<name>-<time>/   config.json, group.json, metrics.csv (the combined validation),
                          confusion matrices, per-class F1 and error gallery of the combined model
        mask/  gender/  age/   ordinary "attribute" runs

The group predicts P(mask) * P(gender) * P(age) from its three members, so inference.py,
metrics and ensembles take the group folder like any run.
"""
from __future__ import annotations

from pathlib import Path

from base.config import Config
from base.monitor import Monitor, Monitored
from group.run_group import RunGroup
from model.heads import ATTRIBUTES, attribute_heads, head_specs
from trainer.registry import register_trainer


@register_trainer("separate")
class SeparateModels(RunGroup):
    """Three models, one per attribute, trained in turn into one run group; it predicts their product."""
    kind = "separate"
    combine = "product"

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        for task in ATTRIBUTES:  # bad head knobs fail now, not after two models
            member = self.member_config(task, Path())
            head_specs(member, attribute_heads(member, (task,)))

    def plan(self) -> list[str]:
        return list(ATTRIBUTES)

    def member_config(self, name: str, group: Path) -> Config:
        # An 18-class metric says nothing about one attribute: each model keeps its own best epoch.
        joint = Monitor.of(self.cfg, Monitored).joint  # the metric as one model of this config would read it
        monitor = "auto" if joint else self.cfg.monitor
        return self.cfg.replace(trainer="attribute", task=name, name=name, monitor=monitor)
