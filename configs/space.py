"""The search space tune.py ships with: what the competition's teams showed matters.

    python tune.py --config configs/best.py --space configs/space.py --trials 40

space(trial) returns config knobs for one trial (define-by-run: a suggestion may depend on an
earlier one). Any knob of config.py may be searched except those that would validate trials on
other persons or labels (seed, folds, fold, data_dir, corrections) or score them by another
metric (monitor); tune.py checks the returned knobs on dry trials before the first trial runs.
"""


def space(trial):
    loss = trial.suggest_categorical("loss", ["ce", "label_smoothing", "focal", "ce+f1"])
    return {
        "lr": trial.suggest_float("lr", 3e-4, 6e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-5, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64]),
        # The ce+f1 mix of the 5th-place team; label smoothing and focal as the other teams used them.
        "loss": {"ce": 0.3, "f1": 0.7} if loss == "ce+f1" else loss,
        "class_weights": trial.suggest_categorical("class_weights", ["none", "sqrt_inverse", "inverse"]),
        # Several teams swept the old-age threshold: training 57-59-year-olds as >=60 adds examples
        # of the rarest group (validation always scores the official 30/60 groups).
        "age_thresholds": (30, trial.suggest_int("old_from", 56, 60)),
        "mix": trial.suggest_categorical("mix", ["none", "cutmix", "vertical_cutmix", "mixup"]),
        "augment": trial.suggest_categorical("augment", ["basic", "strong"]),
        "ema": trial.suggest_categorical("ema", [True, False]),
        "trainer": trial.suggest_categorical("trainer", ["single", "multihead"]),
    }
