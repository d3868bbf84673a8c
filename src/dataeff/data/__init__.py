"""Data in: sources, built-in datasets and the Dataset every later stage reads."""

from dataeff.data.dataset import Dataset, prepare_dataset

__all__ = ["Dataset", "prepare_dataset"]
