"""What the run's workers need before their first cell, imported once by the fork server they
fork from (experiment/workers.py): the runner, the featurization, skrub and XGBoost. Not the LLM
backends or torch: a run without LLM or MLP learners never loads them.

A library that fails to import here (XGBoost without its OpenMP runtime, say) is skipped: the
fork server's own preload stops only at an ImportError, and a server that died would fail
every run's pool, where a worker importing it fails only the cells that use it.
"""

import contextlib
import importlib

MODULES = ("dataeff.experiment.runner", "dataeff.learners.classic", "dataeff.learners.featurize", "skrub", "xgboost")

for _name in MODULES:
    with contextlib.suppress(Exception):
        importlib.import_module(_name)
