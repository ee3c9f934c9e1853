"""Assumes config.py's CPU model and size (resnet10t, 64x48); real photos on a GPU: configs/competition_best.py.

The best recipe found for a backbone that starts from ImageNet weights. It sets no weights itself
(the backbone is config.py's or yours): add pretrained = True or a local weights_file, or it
trains from scratch, where configs/best.py is the better recipe. The recipe: mask/gender/age
heads with the age learnt in years (age_target = "years", summed into groups split at 30 and 58,
so 58- and 59-year-olds count as >=60), label smoothing, sqrt_inverse class weights, EMA and flip
TTA, with the gentler start usual for fine-tuning (half the scratch lr and a short warm-up; not
measured apart from the rest).

Eval 18-class macro F1 under the benchmark's pinned protocol P2 (torchvision mobilenet_v2, ImageNet
weights from a local file, 112x112, 3 epochs), seeds 42 / 7 / 1: 0.5916 +- 0.0135, >=60 F1 0.52;
with the age groups as the target (age_target = "group") 0.5678 +- 0.0119, >=60 F1 0.46; the
default config.py's plain argmax 0.5091 +- 0.0027 (docs/benchmarks.md has the tables). From
scratch (protocol P) use configs/best.py;
measured with: python bench/presets.py config.py configs/best_pretrained.py --seeds 42 7 1
"""
name = "best_pretrained"
trainer = "multihead"
age_thresholds = (30, 58)
age_target = "years"
loss = "label_smoothing"
class_weights = "sqrt_inverse"
ema = True
tta = ["flip"]
epochs = 10
lr = 1e-3
warmup_epochs = 0.5
