"""A study end to end: settings -> data -> plan -> learners -> cells in the store -> answers
and outputs. The orchestration only: each step lives in its own stage."""

from __future__ import annotations

import hashlib
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dataeff.config import DEFAULT_SAMPLES, Settings, check_score_target
from dataeff.data.dataset import Dataset
from dataeff.data.load import load, rows_needed
from dataeff.data.source import source_for
from dataeff.errors import DataError, RunFolderError
from dataeff.data.groups import dropped_columns
from dataeff.experiment.acquire import MIN_SEEDS, random_twin, with_random_twins
from dataeff.experiment.sources import full_twin, with_dropped_columns, with_source_variants
from dataeff.experiment.diagnose import data_problem
from dataeff.learners.llm.labels import labeller_of, student_of, with_route_partners
from dataeff.experiment.facts import LearnerInfo, RunFacts
from dataeff.experiment.folder import check_folder, clear_owned, stored_meta
from dataeff.experiment.plan import PLAN_PROTOCOL, Plan, make_plan
from dataeff.experiment.runner import default_jobs, results_frame, run_cells
from dataeff.experiment.store import STORE_NAME, Store
from dataeff.experiment.workers import start_fork_server
from dataeff.learners.registry import REGISTRY, LearnerSpec, resolve_learners
from dataeff.learners.wiring import preflight_llms, wire_learners
from dataeff.learners.llm.spend import check_max_cost, estimate_bills, price_of, spend_note
from dataeff.learners.llm.workload import llm_workload
from dataeff.results import RunResult, analyze
from dataeff.terms import Placeholder, setting_name


def _check_pools(specs: list[LearnerSpec], dataset: Dataset, plan: Plan) -> None:
    """An llm-labels pool drawn from the data's own rows fits outside the test rows; where it
    meets the largest training sizes it shrinks there (said before the run)."""
    if dataset.unlabelled is not None:
        return
    for spec in specs:
        if spec.kind != "llm-labels":
            continue
        pool = spec.params["pool"]
        if pool > plan.pool_size:
            raise DataError(f"{spec.name}: a pool of {pool:,} rows is more than the {plan.pool_size:,} rows outside the "
                            f"test set; give {spec.name}=llm-labels(pool={plan.pool_size}) or fewer, or rows of your "
                            f"own with {setting_name('unlabelled', Placeholder('FILE'))}.")
        largest = max(plan.sizes_up_to(spec.max_size), default=0)
        if pool + largest > plan.pool_size:
            plan.notes.append(f"{spec.name}: its {pool:,} pool rows and the largest size ({largest:,}) share "
                              f"{pool + largest - plan.pool_size:,} rows; there the pool is smaller (the human "
                              "labels keep their rows)")


class Study:
    """A data-efficiency study: learners × training sizes × seeds on one dataset.

    Parameters mirror the CLI by their flat names (``seeds``, ``llm_url``, see
    ``dataeff.config.Settings``); ``data`` is a built-in name, a file path or a DataFrame.

    Examples
    --------
    >>> import dataeff
    >>> study = dataeff.Study(data="churn", learners=["logreg", "xgboost"], seeds=3)  # doctest: +SKIP
    >>> result = study.run(out="runs/churn")                                          # doctest: +SKIP
    >>> result.curves().head()                                                         # doctest: +SKIP
    """

    def __init__(self, data: Any = None, *, settings: Settings | None = None, **overrides: Any):
        if data is not None:
            overrides["source"] = data
        self.settings = (settings or Settings()).with_overrides(**overrides)

    # -- preparation: everything here runs before the run folder is touched -------------
    def load_data(self) -> Dataset:
        return load(self.settings.data, self.settings.study)

    def prepare(self) -> tuple[Dataset, Plan, list[LearnerSpec]]:
        """Load data, draw the plan and resolve learners; raises on any bad input."""
        with self.settings.named():  # a message names a setting read from a TOML as its key
            return self._prepare()

    def _prepare(self) -> tuple[Dataset, Plan, list[LearnerSpec]]:
        study = self.settings.study
        if self.settings.analysis.score_target is not None:  # before the run, not after it
            check_score_target(self.settings.analysis.score_target, study.metric)
        specs = with_route_partners(with_random_twins(resolve_learners(list(study.learners))))
        specs = with_source_variants(specs, study.worth_of)
        dataset = self.load_data()
        for group in [*(study.worth_of or ()), *(self.settings.data.group_costs or ())]:
            dropped_columns((group,), dataset.groups, setting_name("worth_of" if group in (study.worth_of or ())
                                                                   else "group_costs"))
        specs = with_dropped_columns(specs, dataset.groups)
        plan = make_plan(dataset, seeds=study.seeds, sizes=study.sizes, test_rows=study.test_rows)
        acquiring = [s.name for s in specs if s.acquire is not None]
        if acquiring and len(plan.seeds) < MIN_SEEDS:
            plan.notes.append(f"{', '.join(acquiring)} against {'its' if len(acquiring) == 1 else 'their'} random "
                              f"twin with {len(plan.seeds)} seeds: the same strategy can come out better or worse "
                              f"than random by chance; use {setting_name('seeds', MIN_SEEDS)} or more")
        specs = wire_learners(specs, dataset, plan.classes, self.settings.llm, self.settings.run, study.metric)
        _check_pools(specs, dataset, plan)
        return dataset, plan, specs

    def fingerprint(self, dataset: Dataset, plan: Plan) -> str:
        """Identity of the study: the data and the protocol (the target, the test rows, and
        how each seed draws its split and training order). Learners, sizes and seeds are not
        part of it: a run folder grows by them (``learner_identities`` keep a name to one
        learner)."""
        # "target" is the label column's key in identities already stored (renaming it would
        # orphan every existing run folder)
        identity = {"data": dataset.fingerprint(), "target": dataset.label, "n_test": plan.n_test,
                    "protocol": PLAN_PROTOCOL}
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]

    # -- the run ----------------------------------------------------------------------
    def run(self, out: str | Path | None = None, *, jobs: int | None = None, progress: bool = True,
            force: bool | None = None, log=None) -> RunResult:
        """Run every cell not yet finished in ``out`` and write the outputs.

        Rerunning on the same folder resumes: finished cells are skipped, failed ones retried.
        """
        with self.settings.named():
            return self._run(out, jobs=jobs, progress=progress, force=force, log=log)

    def _run(self, out, *, jobs, progress, force, log) -> RunResult:
        log = log or (lambda message: None)
        settings = self.settings
        started = time.perf_counter()
        dataset, plan, specs = self.prepare()
        jobs = jobs or settings.run.jobs or default_jobs()
        if settings.run.engine == "local" and jobs > 1:
            start_fork_server()  # its imports go on while the LLMs are checked and the folder is read
        if settings.run.engine == "dask":
            from dataeff.experiment.runner import check_dask

            check_dask(settings.run.scheduler)
        preflight_llms(specs, dataset, settings.run.engine)
        out_path = Path(out or settings.run.out or Path("runs") / _slug(dataset.name))
        fingerprint = self.fingerprint(dataset, plan)
        force = settings.run.force if force is None else force
        action = check_folder(out_path, fingerprint, force)
        earlier = RunFacts.of(_stored_json(out_path, "facts")) if action == "resume" else None
        identities = _stored_json(out_path, "learner_identities") if action == "resume" else {}
        if _renamed_learner(out_path, identities, specs, force):
            action, earlier, identities = "restart", None, {}
        for note in [*dataset.notes, *plan.notes]:
            log(f"note: {note}")
        cells = plan.cells([(s.name, s.needs_examples, s.max_size) for s in specs])
        llm_note = llm_workload(dataset, plan, specs)
        if llm_note:
            log(llm_note)
        bills = estimate_bills(dataset, plan, specs, settings.llm.input_price, settings.llm.output_price)
        check_max_cost(bills, settings.run.max_cost)  # before the folder, before any request
        if spend_note(bills):
            log(spend_note(bills))
        log(f"{dataset.name}: {dataset.n_rows} rows, {dataset.X.shape[1]} feature columns, "
            f"classes {', '.join(plan.classes)}; {plan.n_test} test rows, pool {plan.pool_size}; "
            f"{len(specs)} learners × {len(plan.sizes)} sizes × {len(plan.seeds)} seeds = {len(cells)} cells "
            f"on {jobs} jobs -> {out_path}")
        # Only now, with every input checked, does the folder get touched.
        try:
            out_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(f"Cannot create {setting_name('out', str(out_path))}: {exc.strerror}; choose another "
                                 "folder.") from None
        if action == "restart":
            clear_owned(out_path)
        elif action == "resume":
            log("resuming: finished cells in this folder are kept")
        facts = self._facts(dataset, plan, specs, fingerprint)
        facts = earlier.grown_by(facts) if earlier is not None else facts
        metric = settings.study.metric
        with Store(out_path / STORE_NAME) as store:
            # Names are claimed before any cell runs: a killed run still keeps a name to its learner.
            store.set_meta({"fingerprint": fingerprint, "metric": metric,
                            "learner_identities": {**identities, **{s.name: s.identity() for s in specs}}})
            stored = len(store.finished_keys() & {(c.learner, c.n_train, c.seed) for c in cells})
            log(f"{stored} cells already in the store, {len(cells) - stored} to run")
            counts = run_cells(cells, dataset, plan, specs, store, jobs=jobs, progress=progress,
                               engine=settings.run.engine, scheduler=settings.run.scheduler)
            results = results_frame(store)
            if counts.get("failed"):
                facts.data_problem = data_problem(results, dataset.X, dataset.y, specs)
            usage = store.llm_usage()
            if usage["llm_cells"]:
                facts.llm_usage = self._usage(usage, specs, store.billed_by_learner())
                from dataeff.report.answers import llm_traffic

                log(f"{llm_traffic(facts)} Cache: {settings.run.cache_folder()} "
                    f"({setting_name('no_cache', True)} bypasses it).")
            facts.run_seconds = round(time.perf_counter() - started, 2)
            facts.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            facts.cells = counts
            store.set_meta({"facts": facts.to_json()})
            log("analysing: curve fits, ceiling, labels to target, crossovers, cost")
            from dataeff.analysis.efficiency import Prices

            return analyze(RunResult(results, out_path, metric, facts), score_target=settings.analysis.score_target,
                           prices=Prices(**settings.analysis.prices()), store=store)

    def _usage(self, usage: dict, specs: list[LearnerSpec], billed: dict[str, dict[str, int]]) -> dict:
        """The store's LLM traffic, with the endpoints the rows went to (each variant's own), and
        per learner the tokens an endpoint billed and what they cost (``spend``; dollars None
        where no price is known)."""
        from dataeff.learners.llm.backends import runs_locally

        llm = self.settings.llm
        by_name = {s.name: s for s in specs}
        spend = {}
        for name, tokens in billed.items():
            spec = by_name.get(name)
            asking = spec.params.get("labeller", spec) if spec is not None else None
            priced = asking is not None and "model" in asking.params
            price = price_of(asking, llm.input_price, llm.output_price) if priced else None
            dollars = price.cost(tokens["input_tokens"], tokens["output_tokens"]) if price else None
            spend[name] = {**tokens, "dollars": None if dollars is None else round(dollars, 6),
                           "price": price.source if price else None}
        if spend:
            usage["spend"] = spend

        endpoints = []
        for spec in specs:
            if spec.params.get("backend") and not runs_locally(spec.params["backend"]):
                endpoint = spec.params["model"]
                endpoints.append(f"{endpoint.url} (model {endpoint.model})")
        if endpoints:
            usage["endpoint"] = " and ".join(dict.fromkeys(endpoints))
        return usage

    def _source(self) -> dict | None:
        """The data settings that read the table again (a file made absolute, a built-in name, a
        database URL without its password; a table in memory as source None, with its label and
        bins), or None (related tables)."""
        data = self.settings.data
        if data.flattening is not None or isinstance(data.source, Dataset):
            return None
        stored = source_for(data.source, table=data.table, query=data.query, sheet=data.sheet,
                            password_env=data.password_env).stored()
        extra = {"groups": data.groups} if data.groups else {}
        if rows_needed(self.settings.study):  # a long table is sampled to this many rows: read again, the same
            extra["rows_read"] = rows_needed(self.settings.study)
        return {**(stored or {"source": None}), "label": data.label, "bins": data.bins, **extra}  # None: in memory

    def _facts(self, dataset: Dataset, plan: Plan, specs: list[LearnerSpec], fingerprint: str) -> RunFacts:
        from importlib.metadata import PackageNotFoundError, version

        versions = {}
        for package in ("dataeff", "scikit-learn", "skrub", "xgboost", "torch", "pandas", "numpy"):
            try:
                versions[package] = version(package)
            except PackageNotFoundError:
                pass
        if "xgboost" not in versions:
            try:
                versions["xgboost"] = version("xgboost-cpu")
            except PackageNotFoundError:
                pass
        counts = dataset.y.value_counts()
        return RunFacts.of({
            "dataset": dataset.name,
            "data_fingerprint": dataset.fingerprint(),
            "study_fingerprint": fingerprint,
            "rows": dataset.n_rows,
            "columns": int(dataset.X.shape[1]),
            "label": dataset.label,
            "classes": plan.classes,
            "class_counts": {c: int(counts.get(c, 0)) for c in plan.classes},
            "n_test": plan.n_test,
            "own_test_split": dataset.test_mask is not None,
            "pool_size": plan.pool_size,
            "sizes": plan.sizes,
            "seeds": plan.seeds,
            "n_seeds": len(plan.seeds),
            "learners": [s.name for s in specs],
            "learner_info": {s.name: LearnerInfo(kind=s.kind or str(s.factory), family=s.family,
                                                 settings=_settings(s), acquire=s.acquire,
                                                 twin=random_twin(s, specs) if s.acquire else None,
                                                 labeller=labeller_of(s) if s.kind == "llm-labels" else None,
                                                 student=student_of(s, specs) if s.kind == "llm-labels" else None,
                                                 given=_json_settings(s.settings), without=list(s.without),
                                                 full=full_twin(s, specs))
                             for s in specs},
            "feature_columns": [str(c) for c in dataset.X.columns],
            "groups": {name: list(columns) for name, columns in dataset.groups.items()},
            "group_costs": dict(self.settings.data.group_costs or {}),
            "data_source": self._source(),
            "metric": self.settings.study.metric,
            "notes": [*dataset.notes, *plan.notes],
            "known_ceiling": dataset.truth,
            "python": platform.python_version(),
            "versions": versions,
        })


def run(data: Any = None, *, out: str | Path | None = None, jobs: int | None = None, progress: bool = True,
        **settings: Any) -> RunResult:
    """Run a study and return its results (one row per cell) and run folder.

    Examples
    --------
    >>> import dataeff
    >>> result = dataeff.run(data=df, label="churned", learners=["logreg", "xgboost"],
    ...                      seeds=5, out="runs/x")                                # doctest: +SKIP
    >>> result.results.groupby(["learner", "n_train"])["roc_auc"].mean()       # doctest: +SKIP
    """
    return Study(data, **settings).run(out, jobs=jobs, progress=progress)



def _settings(spec: LearnerSpec) -> str:
    """One line per learner for the report: what it is and the settings it was given."""
    params = dict(spec.settings)
    if "task" in spec.params:
        task = spec.params["task"]
        params["question"] = task.question
        params["answers"] = ", ".join(f"{label} → {word}" for label, word in task.verbalizers.items())
    written = spec.params.get("scoring")
    if written == "sample":
        k = spec.params.get("samples", DEFAULT_SAMPLES)
        params["scoring"] = (f"vote shares of {k} answers sampled a row (no log-probabilities: a row's probability "
                             f"takes at most {k + 1} values, so roc_auc ranks rows in at most {k + 1} steps)")
    elif written == "verbal":
        params["scoring"] = "the confidence one written answer states (0-100; none stated counts as sure)"
    elif spec.kind in REGISTRY and REGISTRY[spec.kind].workload in ("zero", "few", "few_similar", "prior"):
        params["scoring"] = "the answer words' log-probabilities"
    extra = "; ".join(f"{k}: {v}" for k, v in params.items())
    kind = f"{spec.kind}: " if spec.kind and spec.kind != spec.name else ""
    return f"{kind}{spec.summary}{' (' + extra + ')' if extra else ''}"


def _stored_json(out: Path, key: str) -> dict:
    return json.loads(stored_meta(out / STORE_NAME, key) or "{}")


def _renamed_learner(out: Path, stored: dict, specs: list[LearnerSpec], force: bool) -> bool:
    """True when a learner name in the folder stands for other settings and --force starts
    over; without --force that is refused (a name means one learner in a run folder)."""
    clash = [s.name for s in specs if s.name in stored and stored[s.name] != s.identity()]
    if clash and not force:
        raise RunFolderError(f"{setting_name('out', str(out))} holds cells of a learner named '{clash[0]}' with other "
                             f"settings; give the variant another name, or add {setting_name('force', True)} to start "
                             "over there.")
    return bool(clash)


def _json_settings(settings: dict) -> dict:
    """A variant's settings that JSON keeps as they are (all of those written in TOML or on the
    command line)."""
    return {k: v for k, v in settings.items() if isinstance(v, (str, int, float, bool, type(None), list, dict))}


def _slug(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.rsplit(".", 1)[0])
    return keep.strip("-") or "run"
