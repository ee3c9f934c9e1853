"""Imbalance and regularisation tools against the plain baseline, same data, split and budget.

Prints the validation macro F1 (18-class, per head and the >=60 group) and the wall time of:
cross-entropy, focal loss, 0.3 CE + 0.7 soft-F1, the weighted sampler, and the strong
augmentation preset with vertical CutMix.

    python bench/compare_imbalance.py [--data DIR] [--set knob=value ...]
"""
from variants import compare, parse_args

if __name__ == "__main__":
    compare([("cross-entropy (baseline)", ["loss=ce"]),
             ("focal (gamma 2)", ["loss=focal"]),
             ("0.3 CE + 0.7 F1", ["loss={'ce': 0.3, 'f1': 0.7}"]),
             ("weighted sampler", ["sampler=weighted"]),
             ("strong aug + vertical CutMix", ["augment=strong", "mix=vertical_cutmix"])], parse_args(__doc__))
