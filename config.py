"""mask18 configuration: every knob, grouped, with its type and default.

Edit this file, or leave it alone and start from it:
    python train.py --config configs/my_experiment.py   # a file that sets only what differs
    python train.py --set lr=3e-4 backbone=resnet34     # single knobs on the command line
    python train.py --print-config --diff               # what differs from this file
The resolved configuration is validated at start-up (an unknown knob names the closest known
one) and saved as config.json in the run folder and inside every checkpoint.
Sizes are (height, width), as in the competition's 512x384 photos. The defaults are sized for
the built-in demo data on a CPU (about two minutes); for the real data start from
configs/competition.py or configs/best.py.
What these defaults score on real faces, beside the presets: docs/benchmarks.md. Every knob
as a page: docs/configuration.md (python -m base.config_reference --write after a change here).
"""
from typing import Any, Literal

# ---- run ------------------------------------------------------------------------------------
name: str = ""                   # run folder prefix; "" = the experiment file's name, else "run"
runs_dir: str = "runs"           # every run gets its own folder runs/<name>-<time>
seed: int = 42                   # one seed for the split, weights, shuffling and augmentation
device: str = "auto"             # "auto" (cuda when present), "cpu", "cuda", "cuda:1", ...
ddp_backend: Literal["auto", "gloo"] = "auto"  # under torchrun: "auto" = nccl on CUDA, gloo on CPU;
                                 # "gloo" on CUDA also lets processes share a GPU (slower than nccl)

# ---- data -----------------------------------------------------------------------------------
data_dir: str = "demo"           # the competition folder (train/ and eval/), or "demo"
demo_persons: int = 400          # "demo": built-in drawn faces, made once into the cache folder
                                 # ($MASK18_CACHE, default ~/.cache/mask18); training persons
demo_eval_persons: int = 100     # "demo": persons of its eval/ folder (with answers.csv)
demo_image_size: tuple[int, int] = (128, 96)  # "demo": picture size (height, width), each at least 32
demo_seed: int = 0               # "demo": the seed its faces are drawn with
age_thresholds: tuple[int, int] = (30, 60)  # training labels only: age >= t0 is 30-59, >= t1 is >=60
folds: int = 5                   # persons split into this many person-grouped, stratified folds
fold: int = 0                    # the fold held out for validation
skip_bad_images: bool = False    # every image is decoded once before training; a file that cannot be
                                 # (truncated, not an image) stops the run, or with True is left out

# ---- input pipeline -------------------------------------------------------------------------
face_crop: Literal["off", "auto", "mediapipe", "haar"] = "off"  # crop each picture to its face on the
                                 # fly, before the cache (detectors: "auto" = mediapipe if installed,
                                 # else haar); or once, offline: python -m data_loader.face_crop
face_crop_margin: float = 0.4    # added around the face box on every side, share of its size
face_crop_fallback: float = 0.6  # no face found: keep this share of the picture around its centre
image_size: tuple[int, int] = (64, 48)    # what the model sees (height, width), each at least 16; real
                                 # photos: 384x288
augment: str = "basic"           # preset: "none" (resize only), "basic" (+ horizontal flip), "strong"
                                 # (+ shift-scale-rotate, noise, blur, colour, brightness/contrast,
                                 # cutout), "randaugment" (flip + randaugment_n operations of
                                 # magnitude randaugment_m per picture, cutout among them), "custom"
                                 # (basic + augment_ops)
randaugment_n: int = 2           # "randaugment": operations drawn per picture
randaugment_m: float = 9.0       # "randaugment": their strength, 0 (none) .. 10 (the strongest)
augment_ops: list[dict[str, Any]] = []  # "custom": albumentations transforms by name with their
                                 # arguments, e.g. [{"name": "GaussNoise", "p": 0.3}]
resize: Literal["stretch", "pad", "crop"] = "stretch"  # to image_size: stretch, letterbox-pad, or
                                 # scale the short side and centre-crop
mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # normalisation, RGB in 0..1
std: tuple[float, float, float] = (0.229, 0.224, 0.225)  # ... divided by this
batch_size: int = 32             # pictures per training step (per process under torchrun)
num_workers: int = -1            # DataLoader processes; -1 = auto: with a GPU one per CPU core but
                                 # one (up to 8), on the CPU none (the model needs the cores)
persistent_workers: bool = True  # keep DataLoader processes between epochs
prefetch_factor: int = 2         # batches each worker prepares ahead
cache: Literal["auto", "memory", "disk", "off"] = "auto"  # decode + resize every picture once: in
                                 # memory, or an .npy memmap on disk (kept for later runs); "auto":
                                 # memory when it fits cache_memory_gb, else disk
cache_memory_gb: float = 4.0     # memory budget of the "auto" cache
cache_size: tuple[int, int] = (0, 0)  # size the cache keeps (height, width); (0, 0) = image_size
cache_dir: str = ""              # where disk caches live; "" = $MASK18_CACHE/images
sampler: Literal["random", "weighted"] = "random"  # weighted: draw rare classes as often as common ones
sampler_target: Literal["class", "mask", "gender", "age"] = "class"  # whose inverse frequency weighs
sampler_share: float = 1.0       # share of the training pictures an epoch draws: 0.25 = four times
                                 # shorter, more frequent epochs that together see every picture once
                                 # ("random"; "weighted" draws anew each epoch); set epochs, warm-up and
                                 # patience in these shorter epochs; every training epoch drops its last
                                 # partial batch, so a short epoch of N pictures trains N // batch_size
drop_ages: list[tuple[int, int]] = []  # leave persons of these ages (inclusive bands) out of training,
                                 # never out of validation, e.g. [(26, 29), (59, 59)]: the ambiguous
                                 # ages at the group boundaries
mix: str = "none"                # batch mixing: "none", "cutmix", "vertical_cutmix" (full-height strip),
                                 # "half" (left half of one face, right of another), "mixup"
mix_prob: float = 0.5            # share of training batches that are mixed
mix_alpha: float = 1.0           # Beta(alpha, alpha) draws the mixing ratio

# ---- model ----------------------------------------------------------------------------------
trainer: str = "single"          # "single": one 18-class head; "multihead": mask, gender and age heads
                                 # on one backbone; "separate": three models, one per attribute, in one
                                 # run group; "attribute": one model for `task` alone
task: Literal["mask", "gender", "age"] = "mask"  # what an "attribute" trainer learns
backbone: str = "resnet10t"      # any timm.create_model name, or "tv:<name>" for a torchvision model
pretrained: bool = False         # hub weights (needs network once); see weights_file
weights_file: str = ""           # local .pth/.safetensors for the backbone (no network needed)
drop_rate: float = 0.0           # dropout before the head(s)
channels_last: bool | Literal["auto"] = "auto"  # NHWC memory layout (True) or NCHW (False); "auto":
                                 # the faster of the two, timed in a few steps on the real batch shape
                                 # once per machine (cached per backbone, size, batch, device, torch)
amp: Literal["auto", "off", "bf16", "fp16"] = "auto"  # autocast; "auto": bf16 on CUDA (fp16 where
                                 # bf16 is missing, with a GradScaler), off on CPU
compile: bool = False            # torch.compile the model for training
cudnn_benchmark: bool = True     # CUDA: cuDNN times its convolution algorithms per shape and keeps the
                                 # fastest; False: only its deterministic ones (slower; a first step to
                                 # GPU runs that repeat exactly)

# ---- heads and losses -----------------------------------------------------------------------
# Head names: "class" (the 18-class head), "mask", "gender", "age".
loss: str | dict[str, float] = "ce"  # every head's loss: "ce", "label_smoothing", "focal", "f1", "bce"
                                 # (sigmoid heads), or a weighted sum such as {"ce": 0.3, "f1": 0.7}
head_loss: dict[Literal["class", "mask", "gender", "age"], str | dict[str, float]] = {}  # per head,
                                 # e.g. {"age": "focal"}
class_weights: str | dict[str, list[float]] = "none"  # "none", "inverse", "sqrt_inverse" (from the
                                 # training split's class counts), or per head {"age": [1, 1, 4]};
                                 # every loss but "f1" (macro F1 counts each class once already)
focal_gamma: float = 2.0         # "focal": (1 - p)^gamma down-weights easy examples
label_smoothing: float = 0.1     # "label_smoothing": share of the target spread over all classes
loss_args: dict[str, dict[str, Any]] = {}  # a loss's own arguments, by loss name, e.g. {"focal": {"gamma":
                                 # 3.0}} or those of a loss you registered (focal_gamma, label_smoothing: defaults)
head_weights: dict[Literal["mask", "gender", "age"], float] = {"mask": 1.0, "gender": 1.0, "age": 1.0}  # each
                                 # head's share of the loss (multihead and attribute trainers)
sigmoid_heads: list[Literal["class", "mask", "gender", "age"]] = []  # one-vs-rest sigmoids, not softmax
age_target: Literal["group", "years"] = "group"  # what an age head learns: "group", the 3 age groups;
                                 # "years", the age in years as a distribution over 0..120 (a Gaussian
                                 # of width age_sigma), summed into the groups at age_thresholds
                                 # (multihead, separate and attribute trainers; docs/training-recipes.md)
age_sigma: float = 2.0           # "years": the width in years of each person's age distribution

# ---- optimisation ---------------------------------------------------------------------------
epochs: int = 12                 # passes over the training split (fewer with time_limit_minutes or patience)
optimizer: Literal["adamw", "adam", "sgd"] = "adamw"  # torch.optim's (fused on a GPU)
lr: float = 2e-3                 # the peak learning rate the schedule starts from (after warm-up)
weight_decay: float = 1e-4       # decoupled for adamw; not applied to norms and biases
momentum: float = 0.9            # sgd only
backbone_lr_scale: float = 1.0   # the backbone's lr is lr x this (the heads keep lr): below 1 is gentler
                                 # on pretrained weights, e.g. 0.1
layer_decay: float = 0.0         # timm's layer-wise lr decay over the backbone (0 = off): each layer's lr is
                                 # this times the next one's, e.g. 0.75; timm backbones only
freeze_backbone_epochs: int = 0  # the backbone's lr is 0 for the first N epochs: the new heads learn
                                 # first (its BatchNorm statistics still follow the data)
scheduler: Literal["cosine", "step", "onecycle", "plateau", "none"] = "cosine"  # how lr falls over the epochs
scheduler_interval: Literal["step", "epoch"] = "step"  # advance the schedule every update or epoch
warmup_epochs: float = 0.0       # linear warm-up (fractions of an epoch allowed); it ramps per update
                                 # under either interval; onecycle: its rising part (0 = 30% of training)
step_epochs: int = 5             # "step": multiply lr by step_gamma every step_epochs
step_gamma: float = 0.1          # "step" and "plateau": the factor
plateau_patience: int = 2        # "plateau": epochs without a better monitored metric before a cut
accumulate_steps: int = 1        # batches per optimizer update (effective batch = batch_size x this)
clip_grad_norm: float = 0.0      # clip the gradient norm to this; 0 = off
ema: bool = False                # keep an EMA of the weights; validate and keep best.pt on it
ema_decay: float = 0.999         # the EMA's weight on its past per update
ema_warmup: bool = True          # the decay grows as 1 - (1 + update)^(-2/3) up to ema_decay, so a short
                                 # run averages its recent weights, not its random start

time_limit_minutes: float = 0.0  # wall-time budget of the training (reading the images and the epochs);
                                 # after each epoch the schedule is re-planned to the epochs that fit at
                                 # the recent pace (never past epochs) and no epoch starts that would end
                                 # past it; 0 = no limit

# ---- checkpoints and early stopping ---------------------------------------------------------
monitor: str = "auto"            # metrics.csv column that picks best.pt and drives early stopping;
                                 # "auto": val_f1, or val_f1_<task> for an "attribute" model
monitor_mode: Literal["max", "min"] = "max"  # "min" for a loss column such as val_loss
patience: int = 0                # stop after this many epochs without improvement; 0 = never
min_delta: float = 0.0           # early stopping: an epoch improves only when it beats the best by more
                                 # than this (e.g. 0.002 of macro F1); best.pt still takes any better epoch
checkpoint_every_steps: int = 0  # also write last.pt every N training steps inside an epoch; 0 = epoch ends only
keep_last: int = 0               # also keep the last K epochs' checkpoints as epoch-NNN.pt; 0 = none
average_last: int = 0            # after training, average the validated weights of the last K epochs
                                 # (batch-norm statistics recomputed), validate the average and save it
                                 # as averaged.pt (inference.py --checkpoint averaged); 0 = off

# ---- k-fold, pseudo-labels, label fixes ------------------------------------------------------
kfold: bool = False              # train one run per fold into one group; scores out-of-fold (OOF)
kfold_folds: list[int] = []      # with kfold: train only these folds ([] = all), e.g. one per machine
pseudo_from: list[str] = []      # runs whose averaged prediction labels the eval images: turns on
                                 # pseudo-labelling rounds (train again with the confident ones)
pseudo_rounds: int = 1           # each later round is labelled by the round before
pseudo_threshold: float | list[float] = 0.9  # keep a prediction whose top probability reaches this
                                 # (or a list of 18, one per predicted class)
pseudo_max_per_class: int = 0    # keep at most this many per class, the most confident; 0 = all
pseudo_labels: str = ""          # csv ImageID,ans of eval images to add to training (the rounds
                                 # write it; or bring your own)
corrections: str = ""            # csv id,field,value of label fixes applied when the data is read

# ---- logging --------------------------------------------------------------------------------
plots: bool = True               # PNGs in the run folder: curves.png every epoch; confusion matrices,
                                 # per-class F1 and the error gallery at each new best epoch
gallery_size: int = 24           # most confidently wrong validation images in errors.png; 0 = none
tensorboard: bool = False        # TensorBoard logs in <run>/tensorboard (pip install -e ".[tensorboard]")
wandb: bool = False              # Weights & Biases logging (pip install -e ".[wandb]")
wandb_project: str = "mask18"    # the W&B project runs are logged to
wandb_mode: Literal["offline", "online"] = "offline"  # offline: files in <run>/wandb, no network;
                                 # upload later with `wandb sync`

# ---- your own code --------------------------------------------------------------------------
# Trainers, losses, callbacks and the rest, registered by name: docs/extending.md.
custom_imports: list[str] = []   # your modules that register them, imported before any name is looked
                                 # up: module names (on PYTHONPATH) or paths of .py files (kept as
                                 # absolute paths); config.json keeps them, so inference.py and --resume
                                 # import them too
callbacks: list[str] = []        # registered callbacks to run beside the built-in ones (pictures,
                                 # summary.json, TensorBoard, W&B), in this order; one registered in
                                 # a file of trainer/ runs only where it is named here (python
                                 # train.py --list callbacks)

# ---- inference ------------------------------------------------------------------------------
checkpoint: Literal["best", "last", "averaged"] = "best"  # "averaged": needs average_last
inference_batch_size: int = 128  # pictures per step when predicting (validation, inference.py)
tta: list[str] = []              # test-time views averaged with the plain one, e.g. ["flip"] (the names:
                                 # python train.py --list views; inference.py --tta overrides)
tta_args: dict[str, dict[str, Any]] = {}  # a view's own arguments, by view name, e.g. {"scale": {"zoom":
                                 # 1.2}, "shift": {"share": 0.1}, "brightness": {"gain": 1.2}}
decision_offsets: Literal["off", "head", "class"] = "head"  # log-offsets toward rare classes fitted on
                                 # validation for macro F1 (before the person vote): "head" 8 (per class
                                 # of each head), "class" 18, "off"; applied only when they gain on persons
                                 # they were not fitted on (inference.py --offsets; docs/leaderboard.md)
person_vote: Literal["off", "vote", "assign"] = "off"  # find each person's pictures among the eval
                                 # pictures (no labels needed) and decide gender and age per person;
                                 # "assign": and 5 worn / 1 incorrect / 1 none masks in each group of
                                 # seven (inference.py --person-vote overrides; docs/person-vote.md)
person_vote_size: int = 7        # the most pictures one person has among the eval pictures (the
                                 # competition: 7); no group grows past it; 0 = no limit
person_vote_guard: bool = True   # the vote first measures what it does to validation macro F1 and
                                 # acts only as strongly as that evidence allows (docs/person-vote.md);
                                 # False: vote in full, unmeasured
