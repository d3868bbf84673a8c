"""Tabular featurization per learner kind, built from skrub's encoders.

Trees get ordinal codes and keep missing values (they split on them); linear models,
kNN and the MLP get one-hot codes, imputation with missing indicators and scaling.
High-cardinality strings (zip codes, free text) go through skrub's StringEncoder.
"""

from __future__ import annotations

from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OrdinalEncoder


def tree_features(random_state: int = 0) -> Pipeline:
    import skrub

    return make_pipeline(
        skrub.TableVectorizer(
            low_cardinality=OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
            high_cardinality=skrub.StringEncoder(random_state=random_state),
            drop_if_constant=True,
        )
    )


def dense_features(random_state: int = 0) -> Pipeline:
    import skrub

    return make_pipeline(
        skrub.TableVectorizer(
            high_cardinality=skrub.StringEncoder(random_state=random_state),
            datetime=skrub.DatetimeEncoder(periodic_encoding="spline"),
            drop_if_constant=True,
        ),
        # keep_empty_features: a column all-missing in a tiny subset keeps its slot.
        SimpleImputer(add_indicator=True, keep_empty_features=True),
        skrub.SquashingScaler(max_absolute_value=5),
    )


def features_for(kind: str, estimator=None, random_state: int = 0) -> Pipeline:
    """The featurizer for ``kind``: 'tree', 'dense', or 'auto' (skrub decides from the estimator).

    ``random_state`` seeds the string encoder's SVD: without it, two fits on the same
    rows differ, and a resumed run would not reproduce an uninterrupted one.
    """
    if kind == "tree":
        return tree_features(random_state)
    if kind == "dense":
        return dense_features(random_state)
    import skrub

    steps = skrub.tabular_pipeline(estimator).steps[:-1]
    for _, step in steps:
        if isinstance(step, skrub.TableVectorizer):
            step.set_params(high_cardinality=skrub.StringEncoder(random_state=random_state))
    return Pipeline(steps)
