"""Building blocks shared by every family: the conventions networks keep, layers and pure losses.
Nothing here knows a model or the training loop."""
