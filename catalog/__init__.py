"""What a knob may name, without a run: `python train.py --list [KIND [PATTERN]]`.

    listing.py    the kinds (losses, trainers, TTA views, ...), read from the registries, and the text shown
    backbones.py  timm's models and torchvision's, their pretrained weights, and which of those this
                  machine holds already

Nothing is trained, read or downloaded, and an optional package that is missing is named with the
pip line that installs it, never raised. It sits in the scripts layer: it imports group/, so every
trainer and run group is registered, as train.py does.
"""
