"""The learner registry: names and import paths resolved lazily into picklable LearnerSpecs
(no heavy import until a learner is built), with "did you mean ...?" for typos."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from dataeff.errors import LearnerError, did_you_mean, one_line
from dataeff.learners.base import Learner


@dataclass(frozen=True)
class Alias:
    """A registry entry: where the learner lives and what it is, without importing it."""

    target: str  # "module:callable" taking random_state
    summary: str
    needs_examples: bool = True


# Heavy imports (torch, xgboost) happen only when a learner is built.
REGISTRY: dict[str, Alias] = {
    "majority": Alias("dataeff.learners.classic:majority",
                      "Predicts the class shares seen in training: the floor every learner must beat."),
    "logreg": Alias("dataeff.learners.classic:logreg",
                    "Logistic regression (L2) on one-hot, imputed, scaled features."),
    "tree": Alias("dataeff.learners.classic:tree",
                  "Decision tree (CART) on ordinal-coded features; missing values handled natively."),
    "forest": Alias("dataeff.learners.classic:forest",
                    "Random forest, 300 trees, on ordinal-coded features."),
    "knn": Alias("dataeff.learners.classic:knn",
                 "k-nearest neighbours (k=5, distance-weighted) on scaled features."),
    "xgboost": Alias("dataeff.learners.classic:xgboost",
                     "XGBoost gradient-boosted trees (hist, 200 rounds) on ordinal-coded features."),
    "mlp": Alias("dataeff.learners.mlp:mlp",
                 "PyTorch MLP (2 hidden layers, dropout, AdamW) with early stopping on an inner split."),
    "llm-zero": Alias("dataeff.learners.llm.learners:llm_zero",
                      "Zero-shot LLM (Gemma 3 270M via llama.cpp): the task question per row, answers scored.",
                      needs_examples=False),
    "llm-few": Alias("dataeff.learners.llm.learners:llm_few",
                     "Few-shot LLM: up to 8 labelled rows as demonstrations in the prompt, classes balanced.",
                     needs_examples=False),
    "llm-few-similar": Alias("dataeff.learners.llm.learners:llm_few_similar",
                             "Few-shot LLM whose demonstrations, once the labels outnumber the prompt's room, "
                             "are the 8 most similar labelled rows per test row (MiniLM embeddings).",
                             needs_examples=False),
    "llm-embed": Alias("dataeff.learners.llm.learners:llm_embed",
                       "Sentence embeddings (all-MiniLM-L6-v2) of each row + logistic regression."),
    "llm-prior": Alias("dataeff.learners.llm.learners:llm_prior",
                       "Zero-shot LLM log-odds as a feature next to the classic features, into logreg."),
    "llm-prior-xgb": Alias("dataeff.learners.llm.learners:llm_prior_xgb",
                           "Zero-shot LLM log-odds as a feature next to the classic features, into XGBoost."),
}


def is_llm_spec(spec: LearnerSpec) -> bool:
    """LLM learners get the dataset's task (question, verbalizers) before they run."""
    return isinstance(spec.target, str) and spec.target.startswith("dataeff.learners.llm.")


@dataclass(frozen=True)
class LearnerSpec:
    """A picklable recipe for a fresh learner per cell: a registry alias, an import path or an object."""

    name: str
    target: Any  # "module:callable", "package.module.Class", or an estimator/Learner to clone
    params: dict = field(default_factory=dict, hash=False)
    needs_examples: bool = True

    def build(self, random_state: int) -> Learner:
        """A new, unfitted learner seeded with ``random_state``."""
        from dataeff.learners.classic import SklearnLearner

        target = self.target
        if isinstance(target, Learner):
            import copy

            learner = copy.deepcopy(target)
            if hasattr(learner, "random_state"):
                learner.random_state = random_state
            return learner
        if not isinstance(target, str):  # a scikit-learn estimator instance
            from sklearn.base import clone

            return SklearnLearner(_seeded(clone(target), random_state), "auto", random_state)
        if ":" in target:
            module, attr = target.split(":")
            factory = getattr(importlib.import_module(module), attr)
            return factory(random_state=random_state, **self.params)
        estimator_class = _import_class(target)
        return SklearnLearner(_seeded(estimator_class(**self.params), random_state), "auto", random_state)


def available_learners() -> dict[str, str]:
    """Learner aliases with their one-line summaries (no heavy import)."""
    return {name: alias.summary for name, alias in REGISTRY.items()}


def resolve_learners(learners: list[Any]) -> list[LearnerSpec]:
    """Turn names, import paths, estimators or Learner objects into unique LearnerSpecs."""
    if not learners:
        raise LearnerError(f"No learners given; pick some of: {', '.join(REGISTRY)}.")
    specs: list[LearnerSpec] = []
    for item in learners:
        spec = _resolve_one(item)
        if spec.name in {s.name for s in specs}:
            raise LearnerError(f"Learner '{spec.name}' is listed twice; list each learner once.")
        specs.append(spec)
    return specs


def _resolve_one(item: Any) -> LearnerSpec:
    if isinstance(item, LearnerSpec):
        return item
    if isinstance(item, Learner):
        return LearnerSpec(type(item).__name__.lower(), item, needs_examples=item.needs_examples)
    if isinstance(item, str):
        name = item.strip()
        if name in REGISTRY:
            alias = REGISTRY[name]
            return LearnerSpec(name, alias.target, needs_examples=alias.needs_examples)
        if "." in name:
            cls = _import_class(name)
            from sklearn.base import is_classifier

            if not is_classifier(cls()):
                raise LearnerError(f"'{name}' is not a scikit-learn classifier; give a classifier class path.")
            return LearnerSpec(name, name)
        raise LearnerError(
            f"Unknown learner '{name}'.{did_you_mean(name, REGISTRY)} Available: {', '.join(REGISTRY)}, "
            "or a scikit-learn classifier by import path (e.g. sklearn.svm.SVC)."
        )
    if hasattr(item, "fit") and hasattr(item, "get_params"):
        from sklearn.base import is_classifier

        if not is_classifier(item):
            raise LearnerError(f"{type(item).__name__} is not a classifier; pass a scikit-learn classifier.")
        return LearnerSpec(type(item).__name__.lower(), item)
    raise LearnerError(f"Cannot use {item!r} as a learner; pass a name, an import path or a classifier.")


def _import_class(path: str):
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise LearnerError(
            f"Cannot import learner '{path}': {one_line(exc)}. Check the import path "
            "(e.g. sklearn.svm.SVC) and that its package is installed."
        ) from None


def _seeded(estimator, random_state: int):
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=random_state)
    return estimator
