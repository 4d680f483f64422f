"""Data: datasets (embedded, generated and downloaded), the tensor-resident batch sampler and paired sets.

    from ganhelpers.data import load_dataset, to_float, DATASETS
"""
from .datasets import DATASETS, DatasetUnavailable, load_dataset
from .pairs import PairSampler, PairSet, greyscale, heldout_pairs, make_pairs, sobel_edges
from .sampler import BatchSampler
from .sets import ImageSet, PointSet, to_float, to_uint8
from .synthetic import make_mixture, make_shapes, mixture_centers

# the download folder is ganhelpers.data.datasets.DATA_DIR (set GANHELPERS_DATA to move it)
__all__ = ["DATASETS", "DatasetUnavailable", "load_dataset", "PairSampler", "PairSet", "greyscale",
           "heldout_pairs", "make_pairs", "sobel_edges", "BatchSampler", "ImageSet", "PointSet", "to_float",
           "to_uint8", "make_mixture", "make_shapes", "mixture_centers"]
