"""The README's worked example: a user's Trainer subclass, registered and named in the config."""
import numpy as np
import pandas as pd
import torch.nn.functional as F

from base.errors import UserError
from trainer import get_trainer, register_trainer
from trainer.single_head import SingleHeadTrainer


@register_trainer("test_label_smoothing")
class LabelSmoothingTrainer(SingleHeadTrainer):
    calls = 0

    def loss(self, outputs, targets):
        LabelSmoothingTrainer.calls += 1
        return F.cross_entropy(outputs["class"], targets["class"], label_smoothing=0.1)


def test_a_registered_subclass_trains_by_name(tiny_cfg, tmp_path):
    cfg = tiny_cfg.replace(trainer="test_label_smoothing")
    trainer = get_trainer(cfg.trainer)(cfg)
    assert isinstance(trainer, LabelSmoothingTrainer)
    best = trainer.fit()
    assert LabelSmoothingTrainer.calls > 0 and best["epoch"] == 1
    assert len(pd.read_csv(trainer.run / "metrics.csv")) == 1
    _, val, _ = trainer.split_tables()
    probs, loss = trainer.predict(trainer.loader(val, train=False))
    assert probs.shape == (len(val), 18) and np.allclose(probs.sum(1), 1, atol=1e-5) and loss > 0


def test_unknown_trainer_lists_the_known_ones():
    try:
        get_trainer("singel")
    except UserError as err:
        assert "unknown trainer 'singel'; known:" in str(err) and "single" in str(err)
    else:
        raise AssertionError("no error")
