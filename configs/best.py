"""Assumes config.py's CPU model, resnet10t from scratch at 64x48; real photos on a GPU: configs/competition_best.py.

The recipe that scored best on real faces (facebench) under the benchmark's protocol P.

Eval 18-class macro F1 on facebench (docs/benchmarks.md has the tables, the seed spread and what
each ingredient was measured to add), seeds 42 / 7 / 1:
    P2 (torchvision mobilenet_v2 with ImageNet weights from a local file, 112x112, 3 epochs):
       0.5618 +- 0.0067; the default config.py 0.5091 +- 0.0027; configs/best_pretrained.py,
       which also learns the exact ages, 0.5916 +- 0.0135
    P  (timm mobilenetv3_small_100 from scratch, 112x112, 615 s on 2 CPU cores): 0.4158 +- 0.0322
       (3-5 epochs fitted); the default config.py 0.3604 +- 0.0110 on the same machine
measured with: python bench/presets.py config.py configs/best.py --seeds 42 7 1
Add your data and model: data_dir, backbone, image_size (and pretrained or weights_file);
time_limit_minutes fits the schedule to the time you have.
"""
name = "best"
age_thresholds = (30, 58)        # train 58- and 59-year-olds as >=60: more of the rarest group to learn from
loss = "label_smoothing"
class_weights = "sqrt_inverse"   # rare classes weigh more, by 1/sqrt(share)
ema = True                       # validate and keep the weights' moving average (with its warm-up)
tta = ["flip"]                   # inference averages each picture and its mirror image
epochs = 10
warmup_epochs = 1
