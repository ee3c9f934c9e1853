"""A quick look at real data: 3 epochs of mask/gender/age heads, 58- and 59-year-olds trained as
>=60, label smoothing and sqrt_inverse class weights; no EMA, no TTA.

Eval 18-class macro F1 under the benchmark's protocol P (mobilenetv3_small_100 from scratch,
112x112, 2 CPU cores): 0.3812 in 241 s (seed 42; the default config.py: 0.4185 in ~575 s);
measured with: python bench/presets.py configs/fast.py
"""
name = "fast"
trainer = "multihead"
age_thresholds = (30, 58)
loss = "label_smoothing"
class_weights = "sqrt_inverse"
epochs = 3
warmup_epochs = 0.5
