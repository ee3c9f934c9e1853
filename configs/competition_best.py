"""Real data on a GPU with the best recipe: efficientnet_b0 from ImageNet weights at 384x288.

The first command for the competition's 384x512 photos: configs/competition.py's model, size and
schedule (efficientnet_b0, pretrained, 384x288, batch 64) with the recipe that scored best on real
faces (configs/best_pretrained.py): mask/gender/age heads with the age learnt in years, 58- and
59-year-olds counted as >=60, label smoothing, sqrt_inverse class weights, EMA of the weights and
flip TTA. The recipe's ingredients were measured on a CPU benchmark with a small model (docs/benchmarks.md); this
combination itself has not been measured on the competition data.

    python train.py --config configs/competition_best.py --set data_dir=/opt/ml/input/data

No network at run time: set weights_file to a local copy of the ImageNet weights instead of
pretrained = True where the machine cannot download them.
"""
_base_ = "competition.py"
name = "competition_best"
trainer = "multihead"
age_thresholds = (30, 58)
age_target = "years"
loss = "label_smoothing"
class_weights = "sqrt_inverse"
ema = True
tta = ["flip"]
