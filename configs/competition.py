"""A strong starting point for the real competition data (a GPU recommended)."""
name = "competition"
data_dir = "/opt/ml/input/data"  # the competition servers' folder (train/ and eval/)
image_size = (384, 288)
backbone = "efficientnet_b0"
pretrained = True                # or weights_file = "/path/to/efficientnet_b0.safetensors"
batch_size = 64
epochs = 15
lr = 3e-4
warmup_epochs = 1
patience = 4
