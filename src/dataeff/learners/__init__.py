"""Learners: the contract, the alias registry, classic models, the PyTorch MLP and LLM learners."""

from dataeff.learners.base import Learner
from dataeff.learners.registry import LearnerSpec, available_learners, resolve_learners

__all__ = ["Learner", "LearnerSpec", "available_learners", "resolve_learners"]
