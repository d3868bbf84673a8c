"""Running a suite: one ordinary study per dataset in its own run folder inside the suite
folder, one after the other (on one Dask cluster with ``engine = "dask"``), a failed dataset
recorded with its one-line error while the others go on; then the aggregate and the outputs.

Rerunning a killed suite resumes it: each study skips the cells its folder holds already.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dataeff.errors import DataEffError, RunFolderError, one_line
from dataeff.results import analyze
from dataeff.study import Study
from dataeff.suite.aggregate import DatasetAnswers, SuiteAggregate, aggregate, labels_text
from dataeff.suite.settings import Suite, SuiteDataset
from dataeff.terms import setting_name


@dataclass
class SuiteResult:
    """What a suite run gives back: each dataset's answers (``failed`` ones with their error),
    the aggregate across them, and the suite folder with its outputs."""

    out: Path
    datasets: tuple[DatasetAnswers, ...]
    aggregate: SuiteAggregate
    seconds: float

    @property
    def failed(self) -> list[DatasetAnswers]:
        return [d for d in self.datasets if d.status != "ok"]


def run_suite(suite: Suite, out: str | Path, *, jobs: int | None = None, engine: str | None = None,
              scheduler: str | None = None, force: bool | None = None,
              log: Callable[[str], None] | None = None) -> SuiteResult:
    """Run every dataset's study in ``out/<name>`` and write suite.html, .md, .json and .csv.

    Examples
    --------
    >>> from dataeff.suite import load_suite, run_suite
    >>> result = run_suite(load_suite("suite.toml"), "runs/suite")   # doctest: +SKIP
    >>> [row.median for row in result.aggregate.learners]            # doctest: +SKIP
    """
    from dataeff.suite.outputs import write_suite_outputs

    log = log or (lambda message: None)
    out = Path(out)
    run = suite.settings.run
    engine = engine or run.engine
    scheduler = scheduler or run.scheduler
    started = time.perf_counter()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"Cannot create {setting_name('out', str(out))}: {exc.strerror}; choose another "
                             "folder.") from None
    answers = []
    with _one_cluster(engine, scheduler, jobs) as address:
        for index, dataset in enumerate(suite.datasets, 1):
            flat = {"jobs": jobs, "engine": engine, "scheduler": address, "force": force}
            answer = _run_one(dataset, dataset.settings.with_overrides(**flat), out, suite.score)
            answers.append(answer)
            log(f"[{index}/{len(suite.datasets)}] {progress_line(answer)}")
    result = SuiteResult(out, tuple(answers), aggregate(answers),
                         round(time.perf_counter() - started, 2))
    write_suite_outputs(out, result.aggregate, result.seconds)
    return result


def _run_one(dataset: SuiteDataset, settings, out: Path, score: float | None) -> DatasetAnswers:
    started = time.perf_counter()
    folder = out / dataset.name
    try:
        result = Study(settings=settings).run(folder, progress=False)
        fixed = None
        if score is not None:  # a second view of the same cells; the run folder keeps its own answers
            fixed = analyze(dataclasses.replace(result), score_target=str(score), write=False).analysis
        return DatasetAnswers.from_run(dataset.name, dataset.listed, result, fixed,
                                       seconds=time.perf_counter() - started)
    except DataEffError as exc:
        error = str(exc)
    except Exception as exc:  # a study stopped by what no check foresaw: recorded, the suite goes on
        error = f"{type(exc).__name__}: {one_line(exc)}"
    return DatasetAnswers.failure(dataset.name, dataset.listed, str(folder), error,
                                  seconds=time.perf_counter() - started)


def progress_line(answer: DatasetAnswers) -> str:
    """One line per dataset: how it ended, its ceiling and each learner's labels to the target."""
    took = f"{answer.seconds:,.0f} s"
    if answer.status != "ok":
        return f"{answer.name}: failed after {took}: {answer.error}"
    ceiling = f"ceiling {answer.ceiling:.3f} {answer.metric}" if answer.ceiling is not None else "no ceiling"
    labels = ", ".join(f"{learner} {labels_text(need)}" for learner, need in answer.labels[answer.target].items()
                       if answer.families.get(learner) != "baseline")
    return f"{answer.name}: done in {took}; {ceiling}; labels to {answer.target}: {labels or '-'}"


@contextlib.contextmanager
def _one_cluster(engine: str, scheduler: str | None, jobs: int | None) -> Iterator[str | None]:
    """The Dask scheduler every study of the suite sends its cells to: the one named, or a
    local cluster started once for the whole suite (one single-threaded worker per job)."""
    if engine != "dask" or scheduler:
        yield scheduler
        return
    from dataeff.experiment.runner import check_dask, default_jobs

    check_dask(None)
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=jobs or default_jobs(), threads_per_worker=1, processes=True,
                           dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
