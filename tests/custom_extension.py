"""What a user's own module registers, for custom_imports under torchrun (tests/ddp_paths.py):
a loss every process needs, and a callback (rank 0's alone) that stops a run after epoch 1."""
from base.callbacks import Callback, register_callback
from model.loss import LOSSES, supports


@LOSSES.register("test_poly1")
@supports("softmax")
def poly1(activation, weights=None, epsilon=1.0, **_):
    """Cross-entropy plus epsilon * (1 - p_true)."""
    def loss(logits, target):
        log_p = logits.float().log_softmax(dim=1)
        p_true = (target * log_p.exp()).sum(dim=1)
        return (-(target * log_p).sum(dim=1) + epsilon * (1 - p_true)).mean()
    return loss


class StopAtOne(Callback):
    def on_epoch_end(self, trainer, row, improved, val_probs):
        if row["epoch"] == 1:
            trainer.stop("a callback's stop")


@register_callback("test_stop_at_one")
def _stop_at_one(cfg):
    return StopAtOne()
