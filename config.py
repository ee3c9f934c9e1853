"""mask18 configuration: every knob, grouped, with its type and default.

Edit this file, or leave it alone and start from it:
    python train.py --config configs/my_experiment.py   # a file that sets only what differs
    python train.py --set lr=3e-4 --set backbone=resnet34  # single knobs on the command line
The resolved configuration is validated at start-up (an unknown knob names the closest known
one) and saved as config.json in the run folder and inside every checkpoint.
Sizes are (height, width), as in the competition's 512x384 photos. The defaults are sized for
the built-in demo data on a CPU (about two minutes); for the real data start from
configs/competition.py.
"""
from typing import Literal

# ---- run ------------------------------------------------------------------------------------
name: str = ""                   # run folder prefix; "" = the experiment file's name, else "run"
runs_dir: str = "runs"           # every run gets its own folder runs/<name>-<time>
seed: int = 42                   # one seed for the split, weights, shuffling and augmentation
device: str = "auto"             # "auto" (cuda when present), "cpu", "cuda", "cuda:1", ...

# ---- data -----------------------------------------------------------------------------------
data_dir: str = "demo"           # the competition folder (train/ and eval/), or "demo"
demo_persons: int = 400          # "demo": built-in drawn faces, made once into the cache folder
demo_eval_persons: int = 100     # ($MASK18_CACHE, default ~/.cache/mask18)
demo_image_size: tuple[int, int] = (128, 96)
demo_seed: int = 0
age_thresholds: tuple[int, int] = (30, 60)  # training labels only: age >= t0 is 30-59, >= t1 is >=60
folds: int = 5                   # persons split into this many person-grouped, stratified folds
fold: int = 0                    # the fold held out for validation

# ---- input pipeline -------------------------------------------------------------------------
image_size: tuple[int, int] = (64, 48)    # what the model sees (height, width); real photos: 384x288
augment: str = "basic"           # preset: "none" (resize), "basic" (resize + horizontal flip)
mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # normalisation, RGB in 0..1
std: tuple[float, float, float] = (0.229, 0.224, 0.225)
batch_size: int = 32
num_workers: int = -1            # DataLoader processes; -1 = one per CPU core but one, up to 8

# ---- model ----------------------------------------------------------------------------------
trainer: str = "single"          # "single": one 18-class head; "multihead": mask, gender and age heads
                                 # on one backbone; "separate": three models, one per attribute, in one
                                 # run group; "attribute": one model for `task` alone
task: Literal["mask", "gender", "age"] = "mask"  # what an "attribute" trainer learns
backbone: str = "resnet10t"      # any timm.create_model name
pretrained: bool = False         # timm hub weights (needs network once); see weights_file
weights_file: str = ""           # local .pth/.safetensors for the backbone (no network needed)
drop_rate: float = 0.0           # dropout before the head(s)
channels_last: bool = True       # NHWC memory layout: faster convolutions on CPU and tensor cores

# ---- heads and losses -----------------------------------------------------------------------
# Head names: "class" (the 18-class head), "mask", "gender", "age".
loss: str = "ce"                 # every head's loss: "ce" (softmax CE; binary CE on sigmoid heads)
head_loss: dict[Literal["class", "mask", "gender", "age"], str] = {}  # per-head loss, e.g. {"age": "ce"}
head_weights: dict[Literal["mask", "gender", "age"], float] = {"mask": 1.0, "gender": 1.0, "age": 1.0}
sigmoid_heads: list[Literal["class", "mask", "gender", "age"]] = []  # one-vs-rest sigmoids, not softmax

# ---- optimisation ---------------------------------------------------------------------------
epochs: int = 12
optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
lr: float = 2e-3
weight_decay: float = 1e-4
momentum: float = 0.9            # sgd only
scheduler: Literal["cosine", "step", "none"] = "cosine"  # stepped every update
warmup_epochs: float = 0.0       # linear warm-up from 0 (fractions of an epoch allowed)
step_epochs: int = 5             # "step": multiply lr by step_gamma every step_epochs
step_gamma: float = 0.1

# ---- checkpoints and early stopping ---------------------------------------------------------
monitor: str = "auto"            # metrics.csv column that picks best.pt and drives early stopping;
                                 # "auto": val_f1, or val_f1_<task> for an "attribute" model
monitor_mode: Literal["max", "min"] = "max"
patience: int = 0                # stop after this many epochs without improvement; 0 = never

# ---- logging --------------------------------------------------------------------------------
plots: bool = True               # PNGs in the run folder: curves.png every epoch; confusion matrices,
                                 # per-class F1 and the error gallery at each new best epoch
gallery_size: int = 24           # most confidently wrong validation images in errors.png; 0 = none
tensorboard: bool = False        # TensorBoard logs in <run>/tensorboard (pip install -e ".[tensorboard]")
wandb: bool = False              # Weights & Biases logging (pip install -e ".[wandb]")
wandb_project: str = "mask18"
wandb_mode: Literal["offline", "online"] = "offline"  # offline: files in <run>/wandb, no network;
                                 # upload later with `wandb sync`

# ---- inference ------------------------------------------------------------------------------
checkpoint: Literal["best", "last"] = "best"
inference_batch_size: int = 128
