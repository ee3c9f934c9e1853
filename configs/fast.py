"""Assumes config.py's CPU model, resnet10t from scratch at 64x48; real photos on a GPU: configs/competition_best.py.

A quick look at real data: 3 epochs of mask/gender/age heads, 58- and 59-year-olds trained as
>=60, label smoothing and sqrt_inverse class weights; no EMA, no TTA.

Eval 18-class macro F1 under the benchmark's pinned protocol P2 (torchvision mobilenet_v2, ImageNet
weights from a local file, 112x112, 3 epochs), seeds 42 / 7 / 1: 0.5449 +- 0.0223, against
0.5091 +- 0.0027 for the default config.py (docs/benchmarks.md has the tables);
measured with: python bench/presets.py configs/fast.py --seeds 42 7 1
"""
name = "fast"
trainer = "multihead"
age_thresholds = (30, 58)
loss = "label_smoothing"
class_weights = "sqrt_inverse"
epochs = 3
warmup_epochs = 0.5
