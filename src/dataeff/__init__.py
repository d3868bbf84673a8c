"""dataeff: how many labelled examples does each kind of model need on your data?

Public API: :class:`Study`, :func:`run`, :func:`analyze`, :func:`load_run`, :func:`next_labels`.
"""

from dataeff.errors import DataEffError
from dataeff.labelling import next_labels
from dataeff.results import RunResult, analyze, load_run
from dataeff.study import Study, run

__version__ = "0.1.0"
__all__ = ["DataEffError", "RunResult", "Study", "analyze", "load_run", "next_labels", "run", "__version__"]
