"""A study end to end: data in, plan, cells run into the store, outputs written."""

from __future__ import annotations

import hashlib
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from dataeff.config import StudyConfig
from dataeff.data.builtin import is_builtin, load_builtin
from dataeff.data.dataset import Dataset, prepare_dataset
from dataeff.data.sources import looks_like_path, parquet_rows, read_parquet_sample, read_source
from dataeff.errors import ConfigError, DataError, RunFolderError
from dataeff.experiment.folder import check_folder, clear_owned
from dataeff.experiment.plan import Plan, make_plan
from dataeff.experiment.runner import default_jobs, results_frame, run_cells
from dataeff.experiment.store import STORE_NAME, Store
from dataeff.learners.base import LearnerSpec, is_llm_spec, resolve_learners
from dataeff.learners.llm.cache import default_cache_dir
from dataeff.results import RunResult, analyze


class Study:
    """A data-efficiency study: learners × training sizes × seeds on one dataset.

    Parameters mirror the CLI (see ``StudyConfig``); ``data`` is a built-in name, a file
    path or a DataFrame.

    Examples
    --------
    >>> import dataeff
    >>> study = dataeff.Study(data="churn", learners=["logreg", "xgboost"], seeds=3)  # doctest: +SKIP
    >>> result = study.run(out="runs/churn")                                          # doctest: +SKIP
    >>> result.curves().head()                                                         # doctest: +SKIP
    """

    def __init__(self, data: Any = None, *, config: StudyConfig | None = None, **settings: Any):
        base = config or StudyConfig()
        if data is not None:
            settings["source"] = data
        self.config = base.with_overrides(**settings)

    # -- preparation: everything here runs before the run folder is touched -------------
    def load_data(self) -> Dataset:
        cfg = self.config
        source = cfg.source
        if cfg.flattening is not None:
            from dataeff.data.relations import flatten

            decl = cfg.flattening
            return prepare_dataset(flatten(decl), cfg.target, Path(decl.entity).stem, drop=(decl.key,))
        if isinstance(source, Dataset):
            return source
        if isinstance(source, pd.DataFrame):
            return prepare_dataset(source, cfg.target, "dataframe")
        if isinstance(source, Path):
            source = str(source)
        if not isinstance(source, str) or not source:
            raise DataError(f"data must be a built-in name, a file path or a DataFrame; got {source!r}.")
        if is_builtin(source) and not Path(source).exists():
            if cfg.table or cfg.query:
                raise DataError("--table/--query apply to database files, not to built-in datasets; drop them.")
            dataset = load_builtin(source)
            if cfg.target and cfg.target != dataset.target:
                raise DataError(f"Built-in '{source}' has target '{dataset.target}'; drop --target or use it.")
            return dataset
        if not looks_like_path(source) and not Path(source).exists():
            return load_builtin(source)  # raises 'Unknown dataset' with a suggestion
        name = Path(source).name + (f":{cfg.table}" if cfg.table else "")
        needed = self._rows_needed()
        total = parquet_rows(source) if needed else None
        if total and cfg.target and total > 2 * needed:
            # A wide, long table: read only the rows a study this size can use.
            frame, note = read_parquet_sample(source, cfg.target, needed)
            dataset = prepare_dataset(frame, cfg.target, name)
            dataset.notes.insert(0, note)
            return dataset
        frame = read_source(source, table=cfg.table, query=cfg.query)
        return prepare_dataset(frame, cfg.target, name)

    def _rows_needed(self) -> int | None:
        """Rows a study can touch at most, when its sizes are given: each seed's test rows plus
        the largest training subset (with room to spare for dropped rows); None otherwise."""
        from dataeff.experiment.plan import MAX_DEFAULT_TEST_ROWS

        cfg = self.config
        if not cfg.sizes:
            return None
        return int(1.1 * (cfg.seeds * (cfg.test_rows or MAX_DEFAULT_TEST_ROWS) + max(cfg.sizes))) + 1000

    def prepare(self) -> tuple[Dataset, Plan, list[LearnerSpec]]:
        """Load data, draw the plan and resolve learners; raises on any bad input."""
        specs = resolve_learners(list(self.config.learners))
        dataset = self.load_data()
        plan = make_plan(dataset, seeds=self.config.seeds, sizes=self.config.sizes,
                         test_rows=self.config.test_rows)
        if any(is_llm_spec(s) for s in specs):
            from dataclasses import replace

            from dataeff.learners.llm.prompting import Task

            cfg = self.config
            template = Path(cfg.llm_template).read_text(encoding="utf-8") if cfg.llm_template else None
            descriptions = load_dictionary(cfg.llm_dictionary, dataset.X.columns) if cfg.llm_dictionary else None
            task = Task.for_dataset(dataset.name, dataset.target, plan.classes, question=cfg.llm_question,
                                    style=cfg.llm_style, descriptions=descriptions, template=template)
            if template is not None and len(dataset.X):
                _check_template(task, dataset.X.iloc[0])
            llm = self.config.llm_params()

            def configured(spec):
                params = {**spec.params, "task": task}
                if spec.target.endswith(":llm_embed"):  # the embedder is its own model
                    params.update(self.config.embed_params())
                else:
                    params.update({k: v for k, v in llm.items() if v is not None})
                if spec.target.endswith((":llm_few", ":llm_few_similar")):
                    params.setdefault("k_max", self.config.llm_shots)
                return replace(spec, params=params)

            specs = [configured(s) if is_llm_spec(s) else s for s in specs]
        return dataset, plan, specs

    def fingerprint(self, dataset: Dataset, plan: Plan, specs: list[LearnerSpec]) -> str:
        """Identity of the study: a run folder holds the cells of exactly one."""
        identity = {
            "data": dataset.fingerprint(),
            "target": dataset.target,
            # Endpoint timeouts and retries change how answers are fetched, not what they are.
            "learners": [[s.name, repr(s.target), sorted((k, repr(v)) for k, v in s.params.items()
                                                         if k != "backend_options")] for s in specs],
            "seeds": plan.seeds,
            "sizes": plan.sizes,
            "n_test": plan.n_test,
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]

    # -- the run ----------------------------------------------------------------------
    def run(self, out: str | Path | None = None, *, jobs: int | None = None, progress: bool = True,
            force: bool | None = None, log=None) -> RunResult:
        """Run every cell not yet finished in ``out`` and write the outputs.

        Rerunning on the same folder resumes: finished cells are skipped, failed ones retried.
        """
        log = log or (lambda message: None)
        cfg = self.config
        started = time.perf_counter()
        dataset, plan, specs = self.prepare()
        self._preflight(dataset, specs)
        out_path = Path(out or cfg.out or Path("runs") / _slug(dataset.name))
        fingerprint = self.fingerprint(dataset, plan, specs)
        action = check_folder(out_path, fingerprint, cfg.force if force is None else force)
        for note in [*dataset.notes, *plan.notes]:
            log(f"note: {note}")
        cells = plan.cells([(s.name, s.needs_examples) for s in specs])
        jobs = jobs or cfg.jobs or default_jobs()
        llm_note = _llm_workload(dataset, plan, specs)
        if llm_note:
            log(llm_note)
        log(f"{dataset.name}: {dataset.n_rows} rows, {dataset.X.shape[1]} feature columns, "
            f"classes {', '.join(plan.classes)}; {plan.n_test} test rows, pool {plan.pool_size}; "
            f"{len(specs)} learners × {len(plan.sizes)} sizes × {len(plan.seeds)} seeds = {len(cells)} cells "
            f"on {jobs} jobs -> {out_path}")
        # Only now, with every input checked, does the folder get touched.
        try:
            out_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(f"Cannot create --out {out_path}: {exc.strerror}; choose another folder.") from None
        if action == "restart":
            clear_owned(out_path)
        elif action == "resume":
            log("resuming: finished cells in this folder are kept")
        facts = self._facts(dataset, plan, specs, fingerprint)
        with Store(out_path / STORE_NAME) as store:
            store.set_meta({"fingerprint": fingerprint, "facts": facts, "metric": cfg.metric})
            counts = run_cells(cells, dataset, plan, specs, store, jobs=jobs, progress=progress,
                               engine=cfg.engine, scheduler=cfg.scheduler)
            results = results_frame(store)
            usage = store.llm_usage()
        if usage["llm_cells"]:
            from dataeff.report.answers import llm_traffic

            used = {s.params.get("backend") for s in specs}
            endpoints = [f"{cfg.llm_url} (model {cfg.llm_model})" if "openai" in used else None,
                         f"{cfg.llm_embed_url} (model {cfg.llm_embed_model})" if "openai-embed" in used else None]
            if any(endpoints):
                usage["endpoint"] = " and ".join(e for e in endpoints if e)
            facts["llm_usage"] = usage
            log(f"{llm_traffic(facts)} Cache: {default_cache_dir()} (--no-cache or DATAEFF_NO_CACHE=1 bypasses it).")
        facts["run_seconds"] = round(time.perf_counter() - started, 2)
        facts["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        facts["cells"] = counts
        store_path = out_path / STORE_NAME
        with Store(store_path) as store:
            store.set_meta({"facts": facts})
        result = RunResult(results, out_path, cfg.metric, facts)
        log("analysing: curve fits, ceiling, labels to target, crossovers, cost")
        return analyze(result, target=cfg.score_target, prices=cfg.prices())

    def _preflight(self, dataset: Dataset, specs: list[LearnerSpec]) -> None:
        """Inputs checked before the run folder is touched: the Dask scheduler; for LLMs the
        model file or endpoint, and (for the local model, whose context is known) that the
        prompts fit."""
        if self.config.engine == "dask":
            from dataeff.experiment.runner import check_dask

            check_dask(self.config.scheduler)
        from dataeff.learners.llm.backends import LOCAL_BACKENDS, local_token_counter, preflight
        from dataeff.learners.llm.prompting import check_prompts_fit

        asking = [s for s in specs if is_llm_spec(s) and "backend" in s.params]
        on_cluster = [s.name for s in asking if self.config.engine == "dask" and s.params["backend"] in LOCAL_BACKENDS]
        if on_cluster:
            # A model copy per worker would multiply memory and load time; a cluster shares a server.
            raise ConfigError(f"On a Dask cluster, {', '.join(on_cluster)} talk to an LLM endpoint, not a model per "
                              "worker: add --llm-backend openai --llm-url URL --llm-model NAME.")
        for spec in {(s.params["backend"], s.params.get("model")): s for s in asking}.values():
            preflight(spec.params["backend"], spec.params.get("model"), spec.params.get("backend_options"))
        local = [s for s in asking if s.params["backend"] in LOCAL_BACKENDS]
        if local:
            shots = max((s.params.get("k_max", 0) for s in local), default=0)
            counter, context = local_token_counter(local[0].params["backend"], local[0].params.get("model"))
            check_prompts_fit(dataset.X, local[0].params["task"], shots, counter, context)

    def _facts(self, dataset: Dataset, plan: Plan, specs: list[LearnerSpec], fingerprint: str) -> dict:
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
        return {
            "dataset": dataset.name,
            "data_fingerprint": dataset.fingerprint(),
            "study_fingerprint": fingerprint,
            "rows": dataset.n_rows,
            "columns": int(dataset.X.shape[1]),
            "target": dataset.target,
            "classes": plan.classes,
            "class_counts": {c: int(counts.get(c, 0)) for c in plan.classes},
            "n_test": plan.n_test,
            "own_test_split": dataset.test_mask is not None,
            "pool_size": plan.pool_size,
            "sizes": plan.sizes,
            "seeds": plan.seeds,
            "n_seeds": len(plan.seeds),
            "learners": [s.name for s in specs],
            "learner_settings": {s.name: _settings(s) for s in specs},
            "feature_columns": [str(c) for c in dataset.X.columns],
            "metric": self.config.metric,
            "notes": [*dataset.notes, *plan.notes],
            "known_ceiling": dataset.truth,
            "python": platform.python_version(),
            "versions": versions,
        }


def run(data: Any = None, *, out: str | Path | None = None, jobs: int | None = None, progress: bool = True,
        **settings: Any) -> RunResult:
    """Run a study and return its results (one row per cell) and run folder.

    Examples
    --------
    >>> import dataeff
    >>> result = dataeff.run(data=df, target="churned", learners=["logreg", "xgboost"],
    ...                      seeds=5, out="runs/x")                                # doctest: +SKIP
    >>> result.results.groupby(["learner", "n_train"])["roc_auc"].mean()       # doctest: +SKIP
    """
    return Study(data, **settings).run(out, jobs=jobs, progress=progress)


# Gemma 3 270M through llama.cpp, one thread per job, prompt tokens per second of this estimate:
# measured here 314 on the fine-foods study with 1,000 test rows (2,172,334 estimated tokens in
# 3,461 s on 2 jobs) and about 100 on the short make-demo study (model loads and embeddings
# weigh more there); between the two, so a long run is not overestimated threefold.
LOCAL_TOKENS_PER_SECOND = 250


def _llm_workload(dataset: Dataset, plan: Plan, specs: list[LearnerSpec]) -> str | None:
    """A rough size of the LLM work before it starts, so a user can shrink --test-rows first.

    Counts prompts the model must read at least once: zero-shot prompts once per seed (they
    repeat across sizes), few-shot prompts once per cell plus its demonstrations, and for
    llm-prior the zero-shot prompts of the largest training subset and the test rows.
    """
    from dataeff.data.serialize import serialize_row
    kinds = {s.name: s.target.rsplit(":", 1)[-1] for s in specs if is_llm_spec(s)}
    kinds = {name: kind for name, kind in kinds.items() if kind != "llm_embed"}
    if not kinds:
        return None
    sample = dataset.X.head(50)
    per_row = sum(len(serialize_row(r)) for _, r in sample.iterrows()) / max(len(sample), 1) / 4 + 15
    seeds, n_test = len(plan.seeds), plan.n_test
    rows = 0.0
    for name, kind in kinds.items():
        if kind == "llm_zero":
            rows += n_test * seeds
        elif kind == "llm_few":
            shots = next(s.params.get("k_max", 8) for s in specs if s.name == name)
            rows += n_test * seeds * (len(plan.sizes) + 1) + shots * len(plan.sizes) * seeds
        elif kind == "llm_few_similar":  # a prompt of its own per test row beyond the shots
            shots = next(s.params.get("k_max", 8) for s in specs if s.name == name)
            beyond = sum(1 for size in plan.sizes if size > shots)
            rows += n_test * seeds * (len(plan.sizes) + 1 + beyond * shots)
        else:  # llm_prior, llm_prior_xgb
            rows += (n_test + max(plan.sizes)) * seeds
    tokens = rows * per_row
    if any(s.params.get("backend") == "openai" for s in specs if s.name in kinds):
        return f"LLM work: about {tokens:,.0f} prompt tokens (before the cache) go to the endpoint."
    minutes = tokens / LOCAL_TOKENS_PER_SECOND / 60
    return (f"LLM work: about {tokens:,.0f} prompt tokens before the cache, roughly {minutes:,.0f} minutes of one "
            f"core at ~{LOCAL_TOKENS_PER_SECOND} tokens/s (fewer --test-rows or --sizes shrink it).")


def load_dictionary(path: str, columns) -> dict[str, str]:
    """A data dictionary: a CSV with columns 'column' and 'description', or a JSON object."""
    from dataeff.errors import did_you_mean, one_line

    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            entries = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(entries, dict):
                raise ValueError("not a JSON object of column -> description")
        else:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
            if list(table.columns[:2]) != ["column", "description"]:
                raise ValueError("the header must be 'column,description'")
            entries = dict(zip(table["column"], table["description"]))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ConfigError(f"Cannot read the data dictionary {path.name}: {one_line(exc)}; write it as a CSV "
                          "with a 'column,description' header or a JSON object.") from None
    known = [str(c) for c in columns]
    for column in entries:
        if column not in known:
            raise ConfigError(f"The data dictionary {path.name} describes '{column}', which is not a feature column."
                              f"{did_you_mean(str(column), known)}")
    return {str(k): str(v) for k, v in entries.items() if str(v).strip()}


def _check_template(task, row) -> None:
    from jinja2 import TemplateError

    from dataeff.errors import one_line

    try:
        task.row_text(row)
    except TemplateError as exc:
        raise ConfigError(f"The row template fails on the first row ({one_line(exc)}); it sees row['column'] "
                          f"for the columns {', '.join(map(str, row.index[:12]))}.") from None


def _settings(spec: LearnerSpec) -> str:
    """One line per learner for the report: what it is and any non-default settings."""
    from dataeff.learners.base import REGISTRY

    summary = REGISTRY[spec.name].summary if spec.name in REGISTRY else repr(spec.target)
    params = {k: v for k, v in spec.params.items() if k not in ("task", "backend_options") and v is not None}
    if "task" in spec.params:
        task = spec.params["task"]
        params["question"] = task.question
        params["answers"] = ", ".join(f"{label} → {word}" for label, word in task.verbalizers.items())
    extra = "; ".join(f"{k}: {v}" for k, v in params.items())
    return f"{summary}{' (' + extra + ')' if extra else ''}"


def _slug(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.rsplit(".", 1)[0])
    return keep.strip("-") or "run"
