"""LLM learners made ready for a study: the task (question, answer words, how rows read) and the
backend settings handed to each, and the preflight checks run before the run folder is touched."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from dataeff.config import LLMSettings, RunSettings
from dataeff.data.dataset import Dataset
from dataeff.errors import ConfigError, did_you_mean, one_line
from dataeff.learners.registry import LearnerSpec, is_llm_spec
from dataeff.learners.llm.cache import CacheSettings
from dataeff.learners.llm.prompting import Task


def wire_llm_learners(specs: list[LearnerSpec], dataset: Dataset, classes: list[str], llm: LLMSettings,
                      run: RunSettings) -> list[LearnerSpec]:
    """Each LLM learner's spec with the dataset's task, its backend, model and options, and the
    answer cache; other specs unchanged."""
    if not any(is_llm_spec(s) for s in specs):
        return specs
    template = Path(llm.template).read_text(encoding="utf-8") if llm.template else None
    descriptions = load_dictionary(llm.dictionary, dataset.X.columns) if llm.dictionary else None
    task = Task.for_dataset(dataset.name, dataset.target, classes, question=llm.question, style=llm.style,
                            descriptions=descriptions, template=template)
    if template is not None and len(dataset.X):
        _check_template(task, dataset.X.iloc[0])
    cache = CacheSettings(run.cache_folder(), enabled=not run.no_cache)
    backend = backend_params(llm)

    def configured(spec: LearnerSpec) -> LearnerSpec:
        params = {**spec.params, "task": task, "cache": cache}
        if spec.target.endswith(":llm_embed"):  # the embedder is its own model
            params.update(embed_params(llm))
        else:
            params.update({k: v for k, v in backend.items() if v is not None})
        if spec.target.endswith((":llm_few", ":llm_few_similar")):
            params.setdefault("k_max", llm.shots)
        return replace(spec, params=params)

    return [configured(s) if is_llm_spec(s) else s for s in specs]


def backend_params(llm: LLMSettings) -> dict:
    """What LLM learners get: the backend alias, the model (a GGUF path or model folder, or
    URL::name) and the backend's options."""
    if llm.backend == "openai":
        options = {**llm.endpoint_options(), "scoring": llm.scoring}
        return {"backend": "openai", "model": f"{llm.url}::{llm.model}", "backend_options": options}
    if llm.backend == "transformers":
        return {"backend": "transformers", "model": llm.model, "backend_options": {"device": llm.device}}
    return {"backend": "llamacpp", "model": llm.model}


def embed_params(llm: LLMSettings) -> dict:
    """What llm-embed gets: the local MiniLM, or an endpoint's /embeddings."""
    if llm.embed_url:
        return {"backend": "openai-embed", "model": f"{llm.embed_url}::{llm.embed_model}",
                "backend_options": llm.endpoint_options()}
    return {}


def preflight_llms(specs: list[LearnerSpec], dataset: Dataset, engine: str) -> None:
    """Inputs checked before the run folder is touched: each model file or endpoint, and (for a
    local model, whose context is known) that the prompts fit."""
    from dataeff.learners.llm.backends import LOCAL_BACKENDS, local_token_counter, preflight
    from dataeff.learners.llm.prompting import check_prompts_fit

    asking = [s for s in specs if is_llm_spec(s) and "backend" in s.params]
    on_cluster = [s.name for s in asking if engine == "dask" and s.params["backend"] in LOCAL_BACKENDS]
    if on_cluster:
        # A model copy per worker would multiply memory and load time; a cluster shares a server.
        raise ConfigError(f"On a Dask cluster, {', '.join(on_cluster)} talk to an LLM endpoint, not a model per "
                          "worker: add --llm-backend openai --llm-url URL --llm-model NAME.")
    for spec in {(s.params["backend"], s.params.get("model")): s for s in asking}.values():
        preflight(spec.params["backend"], spec.params.get("model"), spec.params.get("backend_options"),
                  cache=spec.params.get("cache"))
    local = [s for s in asking if s.params["backend"] in LOCAL_BACKENDS]
    if local:
        shots = max((s.params.get("k_max", 0) for s in local), default=0)
        first = local[0].params
        counter, context = local_token_counter(first["backend"], first.get("model"), cache=first.get("cache"))
        check_prompts_fit(dataset.X, first["task"], shots, counter, context)


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
