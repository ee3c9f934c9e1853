"""Seconds-long run on a tiny demo set: checks an install, not a model."""
demo_persons = 30
demo_eval_persons = 5
image_size = (32, 32)
backbone = "test_resnet"
epochs = 1
batch_size = 16
folds = 3
