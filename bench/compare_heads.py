"""One 18-class head vs mask/gender/age heads vs three separate models, on equal terms.

Each way trains with the same config (the defaults: the demo data, or --data DIR), the same
split and the same epochs per model; "separate (equal compute)" gives each of its three models
a third of the epochs. Prints the validation macro F1 (18-class, per head and the >=60 group;
official age groups) and the wall time.

    python bench/compare_heads.py [--data DIR] [--set knob=value ...]
"""
from variants import compare, parse_args

from base import config as config_lib

if __name__ == "__main__":
    common = parse_args(__doc__)
    epochs = config_lib.load(overrides=common).epochs
    compare([("single (18-class head)", ["trainer=single"]),
             ("multihead (3 heads, 1 backbone)", ["trainer=multihead"]),
             ("separate (3 models)", ["trainer=separate"]),
             ("separate (equal compute)", ["trainer=separate", f"epochs={max(1, epochs // 3)}"])], common)
