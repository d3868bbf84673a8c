"""Studies across many datasets: the suite TOML, one ordinary run folder per dataset, and the
answers side by side (labels to the target per learner across datasets, next to the rule of
thumb). ``load_suite`` reads a suite, ``run_suite`` runs it and writes suite.html/md/json/csv."""

from dataeff.suite.runner import SuiteResult, run_suite
from dataeff.suite.settings import Suite, SuiteDataset, load_suite

__all__ = ["Suite", "SuiteDataset", "SuiteResult", "load_suite", "run_suite"]
