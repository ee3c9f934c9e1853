"""Assumes config.py's CPU model, resnet10t from scratch at 64x48; real photos on a GPU: configs/competition_best.py.

A quick look at real data: 3 epochs of mask/gender/age heads, 58- and 59-year-olds trained as
>=60, label smoothing and sqrt_inverse class weights; no EMA, no TTA.

Eval 18-class macro F1 under the benchmark's protocol P (mobilenetv3_small_100 from scratch,
112x112, 2 CPU cores): 0.3796 in 376 s (seed 42; on the same machine the default config.py
scored 0.3604 +- 0.0110 over three seeds in its 615 s, which fitted the same 3 epochs);
measured with: python bench/presets.py configs/fast.py
"""
name = "fast"
trainer = "multihead"
age_thresholds = (30, 58)
loss = "label_smoothing"
class_weights = "sqrt_inverse"
epochs = 3
warmup_epochs = 0.5
