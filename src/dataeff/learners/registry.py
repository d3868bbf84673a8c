"""The learner registry: kinds that say what they are (family, whether they need the task, their
featurization, how their LLM work is sized, the settings they take), resolved lazily into
picklable LearnerSpecs (no heavy import until a learner is built), with "did you mean ...?"."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from dataeff.errors import LearnerError, did_you_mean, one_line
from dataeff.learners.base import Learner
from dataeff.variants import Variant

FAMILIES = ("baseline", "classic", "llm")

# What an LLM variant may set: the [llm] keys (config.LLMSettings) that make sense per row.
_LLM_COMMON = ("backend", "model", "device", "url", "scoring", "samples", "question", "answers", "style", "template",
               "dictionary", "api_key_env", "timeout", "retries", "concurrency")
_SEARCH = ("tune",)  # a cross-validated search over the kind's documented space (learners/tuning.py)
# Taken by every kind: the largest training size the learner runs at (the study's sizes above
# it are skipped for this learner only: llm-few with 2 shots learns nothing from 2,048 labels).
MAX_SIZE = "max_size"
# Taken by the kinds that learn a model from labels: which rows to label, chosen by the learner
# itself (experiment/acquire.py), llm-zero's first rows by the zero-shot LLM; random is the plain curve.
ACQUIRE = "acquire"
ACQUISITIONS = ("random", "margin", "entropy", "llm-zero")
# Taken by every kind: column groups (data/groups.py) the learner never sees, dropped before its
# featurization (an LLM's row text lacks them too): what a data source is worth is the learner
# with it against the learner without it (analysis/sources.py).
WITHOUT = "without"
# llm-labels: the classic kinds a student may be (they train on rows and serve without an LLM),
# and those whose fit takes a weight per row (a human weight other than 1 needs one).
STUDENTS = ("logreg", "tree", "forest", "xgboost", "knn", "mlp")
WEIGHTED_STUDENTS = ("logreg", "tree", "forest", "xgboost")
CAN_ACQUIRE = ("logreg", "tree", "forest", "knn", "xgboost", "mlp", "llm-embed", "llm-probe", "llm-prior",
               "llm-prior-xgb")


@dataclass(frozen=True)
class Kind:
    """A registry entry: where the learner lives and what it is, without importing it."""

    factory: str  # "module:callable" taking random_state and the settings
    summary: str
    family: str = "classic"  # baseline, classic or llm
    needs_examples: bool = True  # False: it answers with no labelled row (scored at n = 0)
    needs_task: bool = False  # True: it gets the dataset's question and answer words
    features: str = "dense"  # what it reads: "tree" or "dense" features, or rows as "text"
    workload: str | None = None  # how its LLM work is sized (learners/llm/workload.py)
    settings: tuple[str, ...] = ()  # what a variant may set
    llm_settings: bool = False  # its settings are [llm] settings, merged over the [llm] table
    reads_training_rows: bool = False  # its fit sends the training rows through the LLM (tokens)


# Heavy imports (torch, xgboost) happen only when a learner is built.
REGISTRY: dict[str, Kind] = {
    "majority": Kind("dataeff.learners.classic:majority",
                     "Predicts the class shares seen in training: the floor every learner must beat.",
                     family="baseline"),
    "logreg": Kind("dataeff.learners.classic:logreg",
                   "Logistic regression (L2) on one-hot, imputed, scaled features.",
                   settings=("C", "l1_ratio", "class_weight", "max_iter", *_SEARCH)),
    "tree": Kind("dataeff.learners.classic:tree",
                 "Decision tree (CART) on ordinal-coded features; missing values handled natively.", features="tree",
                 settings=("max_depth", "min_samples_leaf", "min_samples_split", "criterion", "class_weight",
                           "ccp_alpha", *_SEARCH)),
    "forest": Kind("dataeff.learners.classic:forest", "Random forest, 300 trees, on ordinal-coded features.",
                   features="tree", settings=("n_estimators", "max_depth", "min_samples_leaf", "max_features",
                                              "class_weight", *_SEARCH)),
    "knn": Kind("dataeff.learners.classic:knn", "k-nearest neighbours (k=5, distance-weighted) on scaled features.",
                settings=("n_neighbors", "weights", "p", *_SEARCH)),
    "xgboost": Kind("dataeff.learners.classic:xgboost",
                    "XGBoost gradient-boosted trees (hist, 200 rounds) on ordinal-coded features.", features="tree",
                    settings=("n_estimators", "max_depth", "learning_rate", "subsample", "colsample_bytree",
                              "min_child_weight", "reg_lambda", "reg_alpha", "gamma", *_SEARCH)),
    "mlp": Kind("dataeff.learners.mlp:mlp",
                "PyTorch MLP (2 hidden layers, dropout, AdamW) with early stopping on an inner split.",
                settings=("hidden", "dropout", "lr", "weight_decay", "max_epochs", "batch_size", *_SEARCH)),
    "llm-zero": Kind("dataeff.learners.llm.learners:llm_zero",
                     "Zero-shot LLM (Gemma 3 270M via llama.cpp): the task question per row, answers scored.",
                     family="llm", needs_examples=False, needs_task=True, features="text", workload="zero",
                     settings=(*_LLM_COMMON, "calibrate"), llm_settings=True),
    "llm-few": Kind("dataeff.learners.llm.learners:llm_few",
                    "Few-shot LLM: up to 8 labelled rows (shots) as demonstrations in the prompt, classes balanced.",
                    family="llm", needs_examples=False, needs_task=True, features="text", workload="few",
                    settings=(*_LLM_COMMON, "shots", "calibrate"), llm_settings=True),
    "llm-few-similar": Kind("dataeff.learners.llm.learners:llm_few_similar",
                            "Few-shot LLM whose demonstrations, once the labels outnumber the prompt's room, "
                            "are the most similar labelled rows per test row, classes in turn (MiniLM embeddings).",
                            family="llm", needs_examples=False, needs_task=True, features="text",
                            workload="few_similar", settings=(*_LLM_COMMON, "shots", "calibrate"), llm_settings=True),
    "llm-embed": Kind("dataeff.learners.llm.learners:llm_embed",
                      "Sentence embeddings (all-MiniLM-L6-v2) of each row + logistic regression.",
                      family="llm", needs_task=True, features="text", reads_training_rows=True,
                      settings=("embed_url", "embed_model", "style", "template", "dictionary", "api_key_env",
                                "timeout", "retries", "concurrency"), llm_settings=True),
    "llm-probe": Kind("dataeff.learners.llm.probe:llm_probe",
                      "The LLM's own hidden state of each row (last layer, mean over tokens; layer and pooling "
                      "settable) + logistic regression; one forward pass per row for the whole curve.",
                      family="llm", needs_task=True, features="text", workload="probe", reads_training_rows=True,
                      settings=(*_LLM_COMMON, "layer", "pooling"), llm_settings=True),
    "llm-prior": Kind("dataeff.learners.llm.learners:llm_prior",
                      "Zero-shot LLM log-odds as a feature next to the classic features, into logreg.",
                      family="llm", needs_task=True, workload="prior", settings=(*_LLM_COMMON, "calibrate"),
                      llm_settings=True, reads_training_rows=True),
    "llm-prior-xgb": Kind("dataeff.learners.llm.learners:llm_prior_xgb",
                          "Zero-shot LLM log-odds as a feature next to the classic features, into XGBoost.",
                          family="llm", needs_task=True, features="tree", workload="prior",
                          settings=(*_LLM_COMMON, "calibrate"), llm_settings=True, reads_training_rows=True),
    "llm-labels": Kind("dataeff.learners.llm.labels:llm_labels",
                       "An LLM labels a pool of unlabelled rows (pool = 1000) and a cheap student (student = "
                       "logreg) trains on them and the human labels, then serves without the LLM.",
                       family="llm", needs_examples=False, workload="labels",
                       settings=("labeller", "student", "pool", "human_weight")),
    "llm-finetune": Kind("dataeff.learners.llm.finetune:llm_finetune",
                         "LoRA fine-tuning (peft; 16 steps of 8 rows, rank 8) of the LLM on the labelled rows "
                         "through the transformers backend, then answer words scored.",
                         family="llm", needs_examples=False, needs_task=True, features="text", workload="finetune",
                         settings=(*_LLM_COMMON, "calibrate", "steps", "rank", "lr", "batch_size"),
                         llm_settings=True, reads_training_rows=True),
}


@dataclass(frozen=True)
class LearnerSpec:
    """A picklable recipe for a fresh learner per cell: a kind with settings, an import path,
    or an object to copy. ``settings`` are what the user set (shown in the run facts, and part
    of the variant's identity); ``params`` what the learner's constructor gets."""

    name: str
    factory: Any  # "module:callable", "package.module.Class", or an estimator/Learner to clone
    params: dict = field(default_factory=dict, hash=False)
    needs_examples: bool = True
    kind: str | None = None  # the registry kind, None for import paths and objects
    family: str = "classic"
    needs_task: bool = False
    settings: dict = field(default_factory=dict, hash=False)
    max_size: int | None = None  # run only at training sizes up to this (None: every size)
    acquire: str | None = None  # margin, entropy or llm-zero: it chooses its rows (None: the seed's random ones)
    acquirer: LearnerSpec | None = None  # acquire = llm-zero: the zero-shot LLM that picks its first rows
    without: tuple[str, ...] = ()  # column groups left out (data/groups.py)
    dropped: tuple[str, ...] = ()  # their columns, once the study knows the data's groups

    @property
    def summary(self) -> str:
        return REGISTRY[self.kind].summary if self.kind in REGISTRY else repr(self.factory)

    def identity(self) -> str:
        """What the learner is, as text: the same name with another identity is another learner."""
        shown = sorted((k, repr(v)) for k, v in self.settings.items())
        if self.kind is None:  # an import path or object: its constructor arguments too
            shown += sorted((k, repr(v)) for k, v in self.params.items() if k not in ("task", "cache"))
        return repr([self.kind or repr(self.factory), shown])

    def build(self, random_state: int) -> Learner:
        """A new, unfitted learner seeded with ``random_state``."""
        from dataeff.learners.classic import SklearnLearner

        factory = self.factory
        if isinstance(factory, Learner):
            import copy

            learner = copy.deepcopy(factory)
            for key, value in self.params.items():  # the task and cache a study hands it
                setattr(learner, key, value)
            if hasattr(learner, "random_state"):
                learner.random_state = random_state
            return learner
        if not isinstance(factory, str):  # a scikit-learn estimator instance
            from sklearn.base import clone

            return SklearnLearner(_seeded(clone(factory), random_state), "auto", random_state)
        if ":" in factory:
            module, attr = factory.split(":")
            factory = getattr(importlib.import_module(module), attr)
            return factory(random_state=random_state, **self.params)
        estimator_class = _import_class(factory)
        return SklearnLearner(_seeded(estimator_class(**self.params), random_state), "auto", random_state)


def available_learners() -> dict[str, str]:
    """Learner kinds with their one-line summaries (no heavy import)."""
    return {name: kind.summary for name, kind in REGISTRY.items()}


def resolve_learners(learners: list[Any]) -> list[LearnerSpec]:
    """Turn kinds, variants, import paths, estimators or Learner objects into uniquely named
    LearnerSpecs; an unknown kind or a setting a kind does not take is one clear error."""
    if not learners:
        raise LearnerError(f"No learners given; pick some of: {', '.join(REGISTRY)}.")
    specs: list[LearnerSpec] = []
    for item in learners:
        spec = _resolve_one(item)
        if spec.name in {s.name for s in specs}:
            raise LearnerError(f"Learner '{spec.name}' is listed twice; give each learner (or variant) its own name.")
        specs.append(spec)
    return specs


def _resolve_one(item: Any) -> LearnerSpec:
    if isinstance(item, LearnerSpec):
        return item
    if isinstance(item, Learner):
        return LearnerSpec(type(item).__name__.lower(), item, needs_examples=item.needs_examples,
                           family=item.family, needs_task=item.needs_task)
    if isinstance(item, str):
        item = Variant(item.strip(), item.strip())
    if isinstance(item, Variant):
        return _from_variant(item)
    if hasattr(item, "fit") and hasattr(item, "get_params"):
        from sklearn.base import is_classifier

        if not is_classifier(item):
            raise LearnerError(f"{type(item).__name__} is not a classifier; pass a scikit-learn classifier.")
        return LearnerSpec(type(item).__name__.lower(), item)
    raise LearnerError(f"Cannot use {item!r} as a learner; pass a name, an import path or a classifier.")


def _from_variant(variant: Variant) -> LearnerSpec:
    name, kind_name = variant.name, variant.kind
    if kind_name in REGISTRY:
        kind = REGISTRY[kind_name]
        takes = (*kind.settings, MAX_SIZE, WITHOUT, *((ACQUIRE,) if kind_name in CAN_ACQUIRE else ()))
        if ACQUIRE in variant.settings and kind_name not in CAN_ACQUIRE:
            raise LearnerError(f"{kind_name} cannot choose which rows to label ({name}: acquire): it learns no "
                               f"model from labels to rank the unlabelled rows by. Kinds that can: "
                               f"{', '.join(CAN_ACQUIRE)}.")
        unknown = [key for key in variant.settings if key not in takes]
        if unknown:
            raise LearnerError(f"{kind_name} does not take '{unknown[0]}'.{did_you_mean(unknown[0], takes)} "
                               f"It takes: {', '.join(takes)}.")
        tune = variant.settings.get("tune")
        if "tune" in variant.settings and (isinstance(tune, bool) or not isinstance(tune, int) or tune <= 0):
            raise LearnerError(f"The 'tune' setting of {name} must be a positive integer (settings to try). "
                               f"Got {tune!r} instead.")
        if kind_name == "llm-labels":
            _check_route(name, variant.settings)
        # An LLM kind's settings are [llm] settings, merged over that table by the study's
        # LLM wiring; a classic kind's go to its estimator.
        params = {} if kind.llm_settings else {k: v for k, v in variant.settings.items()
                                               if k not in (MAX_SIZE, ACQUIRE, WITHOUT)}
        return LearnerSpec(name, kind.factory, params, kind.needs_examples, kind_name, kind.family, kind.needs_task,
                           dict(variant.settings), _max_size(name, variant.settings), _acquire(name, variant.settings),
                           without=_without(name, variant.settings))
    if "." in kind_name:
        cls = _import_class(kind_name)
        from sklearn.base import is_classifier

        params = {k: v for k, v in variant.settings.items() if k != WITHOUT}
        try:
            estimator = cls(**params)
        except TypeError as exc:
            raise LearnerError(f"{kind_name} does not take these settings ({one_line(exc)}).") from None
        if not is_classifier(estimator):
            raise LearnerError(f"'{kind_name}' is not a scikit-learn classifier; give a classifier class path.")
        return LearnerSpec(name, kind_name, params, settings=dict(variant.settings),
                           without=_without(name, variant.settings))
    raise LearnerError(
        f"Unknown learner kind '{kind_name}'.{did_you_mean(kind_name, REGISTRY)} Available: {', '.join(REGISTRY)}, "
        "or a scikit-learn classifier by import path (e.g. sklearn.svm.SVC)."
    )


def _check_route(name: str, settings: dict) -> None:
    """An llm-labels variant's own settings, checked (its labeller is checked against the study's
    learners when the study is wired)."""
    student = settings.get("student", "logreg")
    if student not in STUDENTS:
        raise LearnerError(f"The 'student' of {name} must be a classic kind ({', '.join(STUDENTS)}): it trains on "
                           f"the LLM's labels and serves without an LLM.{did_you_mean(str(student), STUDENTS)} "
                           f"Got {student!r}.")
    pool = settings.get("pool", 1000)
    if isinstance(pool, bool) or not isinstance(pool, int) or pool <= 0:
        raise LearnerError(f"The 'pool' of {name} must be a positive number of unlabelled rows for the LLM to label, "
                           f"e.g. llm-labels(pool=1000). Got {pool!r}.")
    weight = settings.get("human_weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
        raise LearnerError(f"The 'human_weight' of {name} must be a number above 0 (how many LLM labels one human "
                           f"label weighs). Got {weight!r}.")
    if weight != 1 and student not in WEIGHTED_STUDENTS:
        raise LearnerError(f"{name}: the student {student} takes no weights per row, so human_weight must stay 1; "
                           f"or choose a student of {', '.join(WEIGHTED_STUDENTS)}.")
    labeller = settings.get("labeller", "llm-zero")
    if not isinstance(labeller, str) or not labeller:
        raise LearnerError(f"The 'labeller' of {name} must name an LLM learner (llm-zero, llm-few, or a variant of "
                           f"the study's). Got {labeller!r}.")


def _max_size(name: str, settings: dict) -> int | None:
    """The variant's ``max_size``, checked: a whole number of labelled rows (0 or more)."""
    if MAX_SIZE not in settings:
        return None
    value = settings[MAX_SIZE]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LearnerError(f"The 'max_size' setting of {name} must be a whole number of labelled rows (0 or more), "
                           f"e.g. llm-few(max_size=8). Got {value!r} instead.")
    return value


def _acquire(name: str, settings: dict) -> str | None:
    """The variant's acquisition, checked; random (the seed's own rows) is None."""
    value = settings.get(ACQUIRE, "random")
    if value not in ACQUISITIONS:
        raise LearnerError(f"The 'acquire' setting of {name} must be {', '.join(ACQUISITIONS[:-1])} or "
                           f"{ACQUISITIONS[-1]}.{did_you_mean(str(value), ACQUISITIONS)} Got {value!r} instead.")
    return None if value == "random" else value


def _without(name: str, settings: dict) -> tuple[str, ...]:
    """The variant's ``without`` groups, checked: a group's name or a list of them."""
    value = settings.get(WITHOUT, ())
    groups = (value,) if isinstance(value, str) else value
    if not isinstance(groups, (list, tuple)) or not all(isinstance(g, str) and g for g in groups) \
            or (WITHOUT in settings and not groups):
        raise LearnerError(f"The 'without' setting of {name} must name column groups, e.g. "
                           f"xgboost(without=tickets) or xgboost(without=[tickets, purchases]). Got {value!r}.")
    return tuple(dict.fromkeys(groups))


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
