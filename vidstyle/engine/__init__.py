"""Everything that imports TensorFlow: the VGG19 feature extractor, the losses and the optimizer."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
