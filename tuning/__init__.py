"""Hyper-parameter search on Optuna: what `python tune.py` is made of.

    space.py      the search space file: load it, check it on dry trials before any trial runs
    engine.py     Optuna by name (samplers, pruners, storages), imported only when a study runs
    study_dir.py  the study folder: study.json (what the study is), the trial folders
    trial.py      one trial: the base config plus the sampled knobs, trained as an ordinary run,
                  its epochs reported to the pruner
    results.py    trials.csv, best.py and the pictures, rewritten after every trial
    worker.py     the ask-train-tell loop of one process, and the K processes of --workers

It sits in the scripts layer: it trains configs through group.build, as train.py does.
"""
