"""Losses by name, each usable on the 18-class head and on every attribute head.

A loss takes a head's logits (N, C) and probability targets (N, C): one-hot rows for plain
batches, mixed rows for CutMix/MixUp batches, so every loss works with batch mixing. It is
built per head, knowing the head's activation ("softmax" or one-vs-rest "sigmoid") and its
class weights (from the training split only). The config names a loss, or a weighted
combination of them: loss = {"ce": 0.3, "f1": 0.7}.

Class weights weigh samples in every loss but `f1`: a picture weighs its class's weight (a mixed
row, the mix of its classes' weights), on softmax and sigmoid heads alike, and a weighted loss is
the weighted mean over the batch, sum_i w_i * loss_i / sum_i w_i (F.cross_entropy(weight=...) for
hard targets): scaling the weights, or a sampler that draws the rare classes often, leaves its
scale alone. `f1` takes no class weights: macro F1 already counts every class once, whatever its
size. In a combination ({"ce": 0.3, "f1": 0.7}) the other parts are weighted.

    ce               cross-entropy (binary, one-vs-rest, on a sigmoid head), class-weighted
    label_smoothing  ce with targets smoothed by `label_smoothing`
    focal            focal loss: ce scaled by (1 - p)^focal_gamma; its alpha is the class weights

A loss with arguments of its own gets them from `loss_args`, by name: {"focal": {"gamma": 3.0}}
(focal_gamma and label_smoothing are the defaults of focal's gamma and label_smoothing's smoothing).
    f1               1 - soft macro F1 over the classes present (the competition metric, differentiable)
    bce              binary cross-entropy; sigmoid heads only
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

from base.errors import UserError
from base.registry import Registry

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSSES: Registry[Callable[..., Loss]] = Registry("loss")
BOTH = ("softmax", "sigmoid")
ENGINE_ARGS = ("activation", "weights")  # what build_loss passes itself; loss_args gives the rest


def supports(*activations: str) -> Callable:
    """Declare which head activations a loss works with (undeclared: both; checked at start-up)."""
    def mark(factory):
        factory.activations = activations
        return factory
    return mark


def _log_probs(logits: torch.Tensor, activation: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p, log (1 - p)) of each class; for softmax log (1 - p) is unused and returned as None."""
    logits = logits.float()
    if activation == "sigmoid":
        return F.logsigmoid(logits), F.logsigmoid(-logits)
    return logits.log_softmax(dim=1), None


def _weighted_ce(logits, target, activation, weights, gamma=0.0, labels=None):
    """Cross-entropy (focal with gamma > 0) of each sample, averaged with sample weights
    sum_c w_c * labels_c; `labels` are the unsmoothed targets, so smoothing spreads
    probability, not weight; `weights` is None or `_on_device`'s function of the device.

    Why samples and not classes on a sigmoid head: a weight on both terms of class c cancels
    in its one-vs-rest optimum, which stays at the base rate; a pos_weight-like weight on the
    positive term only moves it part of the way (inverse weights on 600/350/50 give priors
    0.43/0.32/0.25). Weighting whole samples reweights the data itself, so a sigmoid head
    balances exactly as a softmax head does (1/3 each).
    """
    log_p, log_not_p = _log_probs(logits, activation)
    p = log_p.exp()
    if activation == "sigmoid":  # one-vs-rest: every class is its own binary problem
        per_class = target * (1 - p) ** gamma * log_p + (1 - target) * p ** gamma * log_not_p
    else:
        per_class = target * (1 - p) ** gamma * log_p
    per_sample = -per_class.sum(dim=1)
    if weights is None:
        return per_sample.mean()
    sample_w = (target if labels is None else labels).float() @ weights(logits.device)
    return (sample_w * per_sample).sum() / sample_w.sum().clamp_min(1e-12)


def _on_device(weights: torch.Tensor | None) -> Callable[[torch.device], torch.Tensor] | None:
    """The class weights on a device, copied there once per device: the loss is built before the
    trainer knows its device, and a copy from pageable host memory at every step would make the
    host wait for the device (the training step never does, see base/epoch_progress.py)."""
    if weights is None:
        return None
    copies: dict[torch.device, torch.Tensor] = {}

    def on(device: torch.device) -> torch.Tensor:
        if device not in copies:
            copies[device] = weights.to(device)
        return copies[device]
    return on


@LOSSES.register("ce")
@supports(*BOTH)
def cross_entropy(activation: str, weights: torch.Tensor | None = None, **_) -> Loss:
    """Cross-entropy (binary, one-vs-rest, on a sigmoid head), class-weighted."""
    on = _on_device(weights)
    return lambda logits, target: _weighted_ce(logits, target, activation, on)


@LOSSES.register("label_smoothing")
@supports(*BOTH)
def label_smoothing(activation: str, weights: torch.Tensor | None = None, smoothing: float = 0.1, **_) -> Loss:
    """Cross-entropy with the targets smoothed by `label_smoothing`."""
    on = _on_device(weights)

    def loss(logits, target):
        n = target.shape[1]
        smooth = target * (1 - smoothing) + smoothing / (n if activation == "softmax" else 2)
        return _weighted_ce(logits, smooth, activation, on, labels=target)
    return loss


@LOSSES.register("focal")
@supports(*BOTH)
def focal(activation: str, weights: torch.Tensor | None = None, gamma: float = 2.0, **_) -> Loss:
    """Focal loss: cross-entropy scaled by (1 - p)^focal_gamma; its alpha is the class weights."""
    on = _on_device(weights)
    return lambda logits, target: _weighted_ce(logits, target, activation, on, gamma)


@LOSSES.register("bce")
@supports("sigmoid")
def binary_cross_entropy(activation: str, weights: torch.Tensor | None = None, **_) -> Loss:
    """Binary cross-entropy, one-vs-rest, class-weighted."""
    on = _on_device(weights)
    return lambda logits, target: _weighted_ce(logits, target, activation, on)


@LOSSES.register("f1")
@supports(*BOTH)
def soft_f1(activation: str, **_) -> Loss:
    """1 - macro F1 computed on probabilities, over the classes in the targets or the argmax,
    as the competition's (scikit-learn's) macro F1 counts them; ~0 for a perfect prediction.
    Unweighted: class_weights do not apply (every class already counts once in a macro mean)."""
    # The mean over the counted classes is a masked sum, not f1[counted]: a boolean index has a
    # size known only from the data, so it would make the host wait for the device every step.
    def loss(logits, target):
        p = _log_probs(logits, activation)[0].exp()
        if activation == "sigmoid":
            p = p / p.sum(dim=1, keepdim=True).clamp_min(1e-12)
        tp = (p * target).sum(0)
        fp = (p * (1 - target)).sum(0)
        fn = ((1 - p) * target).sum(0)
        f1 = 2 * tp / (2 * tp + fp + fn).clamp_min(1e-7)
        counted = ((target.sum(0) > 0) | F.one_hot(p.argmax(1), p.shape[1]).bool().any(0)).float()
        return 1 - (f1 * counted).sum() / counted.sum().clamp_min(1)
    return loss


def class_weights(counts: torch.Tensor, how: str | Mapping | None, head: str) -> torch.Tensor | None:
    """Per-class weights of one head from its training-split counts, scaled so the average
    training sample weighs 1: "inverse" (1/n), "sqrt_inverse" (1/sqrt n), explicit, or none."""
    if how in (None, "none"):
        return None
    if isinstance(how, Mapping):
        if head not in how:
            return None
        weights = torch.tensor(how[head], dtype=torch.float32)
        if len(weights) != len(counts):
            raise UserError(f"config knob 'class_weights': {head!r} needs {len(counts)} weights, got {len(weights)}")
        return weights
    n = counts.float().clamp_min(1)
    weights = 1 / n if how == "inverse" else 1 / n.sqrt()
    return weights * counts.sum() / (weights * counts).sum().clamp_min(1e-12)


def check_loss_args(loss_args: Mapping[str, Mapping]) -> None:
    """Every loss `loss_args` names is registered and takes the arguments it is given."""
    for name, given in loss_args.items():
        LOSSES.get(name)
        LOSSES.check_keywords(name, given, "loss_args", ENGINE_ARGS)


def build_loss(spec: str | Mapping[str, float], head: str, activation: str, cfg,
               counts: torch.Tensor | None = None,
               expand: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Loss:
    """The loss of one head: a registered name, or {name: weight, ...} summed. `expand` maps the
    class weights of the head's labels to its outputs where they differ (an age head over years)."""
    parts = {spec: 1.0} if isinstance(spec, str) else dict(spec)
    weights = class_weights(counts, cfg.class_weights, head) if counts is not None else None
    if weights is not None and expand is not None:
        weights = expand(weights)
    losses = []
    for name, share in parts.items():
        factory = LOSSES.get(name)
        supported = getattr(factory, "activations", BOTH)
        if activation not in supported:
            fix = f"remove {head!r} from sigmoid_heads" if activation == "sigmoid" else f"add {head!r} to sigmoid_heads"
            raise UserError(f"config knobs 'loss'/'head_loss': loss {name!r} works on {' or '.join(supported)} heads "
                            f"only, but head {head!r} is a {activation} head; {fix}, or give {head!r} another loss "
                            "with head_loss")
        given = cfg.loss_args.get(name, {})
        LOSSES.check_keywords(name, given, "loss_args", ENGINE_ARGS)
        arguments = {"gamma": cfg.focal_gamma, "smoothing": cfg.label_smoothing, **given}
        losses.append((share, factory(activation=activation, weights=weights, **arguments)))
    if len(losses) == 1 and losses[0][0] == 1.0:
        return losses[0][1]
    return lambda logits, target: sum(share * fn(logits, target) for share, fn in losses)
