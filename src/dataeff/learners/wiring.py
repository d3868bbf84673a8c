"""Learners made ready for a study: LLM learners get the task (question, answer words, how rows
read), their backend settings and the answer cache; tuned learners the metric to search by; and
the LLM preflight checks run before the run folder is touched."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from dataeff import terms
from dataeff.config import LLMSettings, RunSettings
from dataeff.data.dataset import Dataset
from dataeff.errors import ConfigError, did_you_mean, one_line
from dataeff.learners.llm.backends.endpoint import Endpoint
from dataeff.learners.registry import LearnerSpec, resolve_learners
from dataeff.learners.llm.cache import CacheSettings
from dataeff.learners.llm.prompting import Task
from dataeff.terms import Placeholder, setting_name
from dataeff.variants import Variant


def wire_learners(specs: list[LearnerSpec], dataset: Dataset, classes: list[str], llm: LLMSettings,
                  run: RunSettings, metric: str) -> list[LearnerSpec]:
    """Each spec with what the study must tell it: LLM learners their task, backend, model,
    options and answer cache (their own settings over the [llm] table); Learner objects that
    need the task get it too; tuned learners the metric their search scores by."""
    cache = CacheSettings(run.cache_folder(), enabled=not run.no_cache)
    tasks: dict[tuple, Task] = {}
    wired = []
    for spec in specs:
        params = dict(spec.params)
        if "tune" in params:
            params["metric"] = metric
        if spec.needs_task:
            own = variant_llm(spec, llm)
            key = (own.question, repr(own.answers), own.style, own.template, own.dictionary)
            if key not in tasks:
                tasks[key] = task_for(own, dataset, classes, spec.name)
            params.update(task=tasks[key], cache=cache)
            if spec.kind is not None:  # a registry kind: its backend and options too
                params.update(_learner_params(spec.kind, own))
            if spec.kind == "llm-finetune":  # a model it can train, and its recipe
                params.update(finetune_params(own, spec.settings.get("backend")))
        acquirer = None
        if spec.acquire == "llm-zero":  # the zero-shot LLM that picks the first rows, on the [llm] table
            zero = resolve_learners([Variant(f"{spec.name}:llm-zero", "llm-zero", {})])[0]
            acquirer = wire_learners([zero], dataset, classes, llm, run, metric)[0]
        wired.append(replace(spec, params=params, acquirer=acquirer))
    return [_route_params(spec, wired, dataset) if spec.kind == "llm-labels" else spec for spec in wired]


def _route_params(spec: LearnerSpec, wired: list[LearnerSpec], dataset: Dataset) -> LearnerSpec:
    """An llm-labels learner with its wired labeller (a learner of the study, by name) and its
    student's recipe (the plain classic kind); a pool from the user's own unlabelled rows is
    part of what the learner is (its identity: another file is another learner)."""
    from dataeff.learners.llm.labels import DEFAULT_POOL, DEFAULT_STUDENT, labeller_of

    labeller = {s.name: s for s in wired}[labeller_of(spec)]
    student = resolve_learners([Variant(f"{spec.name}:student", spec.settings.get("student", DEFAULT_STUDENT), {})])[0]
    params = {"labeller": labeller, "student": student, "pool": spec.settings.get("pool", DEFAULT_POOL),
              "human_weight": float(spec.settings.get("human_weight", 1.0))}
    settings = dict(spec.settings)
    if dataset.unlabelled is not None:
        from dataeff.errors import DataError

        if params["pool"] > len(dataset.unlabelled):
            raise DataError(f"{spec.name} asks for a pool of {params['pool']:,} rows but {setting_name('unlabelled')} "
                            f"has {len(dataset.unlabelled):,}; give pool = {len(dataset.unlabelled):,} or fewer, "
                            "or more unlabelled rows.")
        digest = pd.util.hash_pandas_object(dataset.unlabelled.iloc[:params["pool"]], index=False).sum()
        settings["unlabelled"] = f"{params['pool']} rows of your own ({int(digest) % 16**10:010x})"
    return replace(spec, params=params, settings=settings)


def variant_llm(spec: LearnerSpec, llm: LLMSettings) -> LLMSettings:
    """The [llm] table with the variant's own LLM settings over it, checked like the table."""
    if not spec.settings or spec.kind is None:
        return llm
    own = {k: v for k, v in spec.settings.items() if k in LLMSettings.model_fields}
    try:
        with terms.in_variant({f"llm_{key}": key for key in own}):  # named as the variant wrote them
            return llm.updated(**own)
    except ConfigError as exc:
        raise ConfigError(f"Learner '{spec.name}': {exc}") from None


def task_for(llm: LLMSettings, dataset: Dataset, classes: list[str], name: str) -> Task:
    """What the LLM is asked about each row, and the answer word of each label."""
    template = Path(llm.template).read_text(encoding="utf-8") if llm.template else None
    descriptions = load_dictionary(llm.dictionary, dataset.X.columns) if llm.dictionary else None
    missing = sorted(set(classes) - set(llm.answers)) if llm.answers else []
    if missing:
        raise ConfigError(f"The answer words of {name} lack the label(s) {', '.join(map(repr, missing))} of "
                          f"'{dataset.label}'; give a word for every label, e.g. "
                          f"{setting_name('llm_answers', {c: '...' for c in classes[:3]})}.")
    task = Task.for_dataset(dataset.name, dataset.label, classes, question=llm.question, style=llm.style,
                            verbalizers=llm.answers, descriptions=descriptions, template=template)
    if template is not None and len(dataset.X):
        _check_template(task, dataset.X.iloc[0])
    return task


def _learner_params(kind: str, llm: LLMSettings) -> dict:
    """Constructor arguments of a registry LLM kind from its settings."""
    if kind == "llm-embed":  # the embedder is its own model
        return embed_params(llm)
    if kind == "llm-probe":
        return probe_params(llm)
    params = {k: v for k, v in backend_params(llm).items() if v is not None}
    if kind in ("llm-few", "llm-few-similar"):
        params["k_max"] = llm.shots
    if llm.calibrate is not None:
        params["calibrate"] = llm.calibrate
    return params


def backend_params(llm: LLMSettings) -> dict:
    """What LLM learners get: the backend alias, the model (a GGUF path or model folder, or
    an Endpoint) and the backend's options; with written answers (sample, verbal scoring),
    the learner's scoring and samples."""
    written = {"scoring": llm.scoring, "samples": llm.samples} if llm.scoring in ("sample", "verbal") else {}
    if llm.backend == "openai":
        options = {**llm.endpoint_options(), **({} if written else {"scoring": llm.scoring})}
        return {"backend": "openai", "model": Endpoint(llm.url, llm.model), "backend_options": options, **written}
    if llm.backend == "transformers":
        return {"backend": "transformers", "model": llm.model, "backend_options": {"device": llm.device}, **written}
    return {"backend": "llamacpp", "model": llm.model, **written}


def finetune_params(llm: LLMSettings, own_backend: str | None) -> dict:
    """What llm-finetune gets: the transformers backend (the only one that trains) on the
    [llm] model, the default Gemma GGUF unless another is named, and its recipe. A study-wide
    llamacpp backend (the default) means the same GGUF file through transformers; a backend
    that cannot train, given to the variant itself or study-wide for an endpoint, is refused."""
    from dataeff.learners.llm.finetune import check_trainable

    check_trainable(own_backend or ("openai" if llm.backend == "openai" else "transformers"))
    return {"backend": "transformers", "model": llm.model, "backend_options": {"device": llm.device},
            "steps": llm.steps, "rank": llm.rank, "lr": llm.lr, "batch_size": llm.batch_size}


def probe_params(llm: LLMSettings) -> dict:
    """What llm-probe gets: the LLM backend, its layer and pooling; through an endpoint, the
    server's /embeddings (whose layer and pooling the server chooses)."""
    if llm.backend == "openai":
        from dataeff.learners.llm.backends.endpoint import check_endpoint_probe

        check_endpoint_probe(llm.layer, llm.pooling)
        return {"backend": "openai-embed", "model": Endpoint(llm.url, llm.model),
                "backend_options": llm.endpoint_options(), "pooling": None}
    # A probe reads hidden states, never answers: a study-wide scoring is not its own.
    params = {k: v for k, v in backend_params(llm).items() if v is not None and k not in ("scoring", "samples")}
    return {**params, "layer": llm.layer, **({"pooling": llm.pooling} if llm.pooling else {})}


def embed_params(llm: LLMSettings) -> dict:
    """What llm-embed gets: the local MiniLM, or an endpoint's /embeddings."""
    if llm.embed_url:
        return {"backend": "openai-embed", "model": Endpoint(llm.embed_url, llm.embed_model),
                "backend_options": llm.endpoint_options()}
    return {}


def preflight_llms(specs: list[LearnerSpec], dataset: Dataset, engine: str) -> None:
    """Inputs checked before the run folder is touched: each model file or endpoint, and (for a
    local model, whose trained context is known) that the prompts fit."""
    from dataeff.learners.llm.backends import local_token_counter, preflight, runs_locally
    from dataeff.learners.llm.backends.preflight import check_probe_layer
    from dataeff.learners.llm.prompting import check_prompts_fit

    asking = [s for s in [*specs, *(s.acquirer for s in specs if s.acquirer is not None)]
              if "backend" in s.params and "task" in s.params]
    on_cluster = [s.name for s in asking if engine == "dask" and runs_locally(s.params["backend"])]
    if on_cluster:
        # A model copy per worker would multiply memory and load time; a cluster shares a server.
        raise ConfigError(f"On a Dask cluster, {', '.join(on_cluster)} talk to an LLM endpoint, not a model per "
                          f"worker: add {setting_name('llm_backend', 'openai')}, {setting_name('llm_url', Placeholder('URL'))} "
                          f"and {setting_name('llm_model', Placeholder('NAME'))}.")
    for spec in {(s.params["backend"], s.params.get("model")): s for s in asking}.values():
        preflight(spec.params["backend"], spec.params.get("model"), spec.params.get("backend_options"),
                  cache=spec.params.get("cache"))
    counters: dict[tuple, tuple] = {}
    for spec in asking:
        params = spec.params
        if not runs_locally(params["backend"]):
            continue
        model = (params["backend"], params.get("model"))
        if model not in counters:
            counters[model] = local_token_counter(*model, cache=params.get("cache"))
        check_prompts_fit(dataset.X, params["task"], params.get("k_max", 0), *counters[model], name=spec.name)
    for spec in asking:  # llm-probe: a layer the model has
        if spec.params.get("layer") is not None:
            try:
                check_probe_layer(spec.params["backend"], spec.params.get("model"), spec.params["layer"],
                                  cache=spec.params.get("cache"))
            except ConfigError as exc:
                raise ConfigError(f"Learner '{spec.name}': {exc}") from None


def load_dictionary(path: str, columns) -> dict[str, str]:
    """A data dictionary: a CSV with columns 'column' and 'description', or a JSON object."""
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


def _check_template(task: Task, row) -> None:
    from jinja2 import TemplateError

    try:
        task.row_text(row)
    except TemplateError as exc:
        raise ConfigError(f"The row template fails on the first row ({one_line(exc)}); it sees row['column'] "
                          f"for the columns {', '.join(map(str, row.index[:12]))}.") from None
