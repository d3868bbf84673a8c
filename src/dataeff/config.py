"""The study config: one dataclass, filled from TOML, CLI flags or keyword arguments, validated once."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dataeff.errors import ConfigError, did_you_mean, one_line
from dataeff.experiment.metrics import DEFAULT_METRIC, check_metric
from dataeff.learners.llm.prompting import DEFAULT_K_MAX

DEFAULT_DATA = "churn"
DEFAULT_LEARNERS = ["majority", "logreg", "tree", "xgboost", "mlp"]

# TOML layout: which keys live in which section.
SECTIONS = {
    "data": ["source", "target", "table", "query", "entity", "entity_table", "key", "cutoff", "relations"],
    "study": ["learners", "seeds", "sizes", "test_rows", "metric"],
    "run": ["out", "jobs", "force", "engine", "scheduler"],
    "analysis": ["target", "label_cost", "predictions", "token_price", "compute_price"],
    "llm": ["backend", "model", "url", "scoring", "shots", "question", "style", "template", "dictionary",
            "embed_url", "embed_model", "api_key_env", "timeout", "retries", "concurrency"],
}
# TOML key -> setting name: every [llm] key is the setting with an 'llm_' prefix (url ->
# llm_url), and [analysis] target is a score, not a column.
RENAMED = {("analysis", "target"): "score_target", **{("llm", key): f"llm_{key}" for key in SECTIONS["llm"]}}


LLM_BACKENDS = ["llamacpp", "transformers", "openai"]
LLM_DEVICES = ["auto", "cpu", "cuda"]

@dataclass
class StudyConfig:
    """Everything that defines a study and where it runs.

    Example TOML::

        [data]
        source = "customers.csv"   # a built-in name or a file; paths are relative to this file
        target = "churned"

        [study]
        learners = ["logreg", "xgboost"]
        seeds = 5
        sizes = [16, 64, 256, 1024]   # omit for the sqrt(2) anchor schedule
        test_rows = 1000
        metric = "roc_auc"

        [run]
        out = "runs/mine"
        jobs = 2

        [analysis]
        target = "95%"        # or a score such as 0.85
        label_cost = 0.50     # per label
        predictions = 1e6     # per month
        token_price = 0.0     # per million tokens
        compute_price = 0.10  # per CPU hour
    """

    source: Any = DEFAULT_DATA  # built-in name, file path, or a DataFrame (Python API)
    flattening: Any = None  # a relations.Flattening: entity table + related tables (from [data])
    target: str | None = None
    table: str | None = None
    query: str | None = None
    learners: list = field(default_factory=lambda: list(DEFAULT_LEARNERS))
    seeds: int = 5
    sizes: list[int] | None = None
    test_rows: int | None = None
    metric: str = DEFAULT_METRIC
    out: str | None = None
    jobs: int | None = None
    force: bool = False
    engine: str = "local"  # or "dask": cells on a Dask cluster (scheduler, or a local one)
    scheduler: str | None = None  # tcp://HOST:PORT of a running Dask scheduler
    # the answers: a score target (0.85) or a share of the ceiling (95%), and prices
    score_target: str = "95%"
    label_cost: float = 0.50
    predictions: float = 1e6
    token_price: float = 0.0
    compute_price: float = 0.10
    # the LLM behind llm-zero, llm-few, llm-prior: llamacpp (a GGUF file; default Gemma 3 270M),
    # transformers (a model folder or GGUF file in PyTorch; on a GPU where there is one), or
    # openai (an OpenAI-compatible server at llm_url serving llm_model)
    llm_backend: str = "llamacpp"
    llm_model: str | None = None
    llm_device: str = "auto"  # transformers: auto (CUDA when there is one), cpu or cuda
    llm_url: str | None = None
    llm_shots: int = DEFAULT_K_MAX  # demonstrations llm-few puts in its prompt at most
    llm_scoring: str = "next-token"  # endpoint: next-token top log-probs, or echo (multi-token answers)
    # llm-embed through an endpoint's /embeddings instead of the local MiniLM
    llm_embed_url: str | None = None
    llm_embed_model: str | None = None
    # how rows become text: the question asked, 'list' or 'text' style, or a Jinja template
    # file; a data dictionary file (CSV column,description or a JSON object) adds meanings
    llm_question: str | None = None
    llm_style: str = "list"
    llm_template: str | None = None
    llm_dictionary: str | None = None
    # the endpoint: the environment variable holding the API key (the key itself is never
    # configured, stored or logged), seconds per request, retries, requests in flight
    llm_api_key_env: str = "OPENAI_API_KEY"
    llm_timeout: float = 60.0
    llm_retries: int = 6
    llm_concurrency: int = 4

    def with_overrides(self, **values: Any) -> StudyConfig:
        """A copy with every non-None value applied (CLI flags over the config file)."""
        known = {f.name for f in fields(self)}
        for key in values:
            if key not in known:
                raise ConfigError(f"Unknown setting '{key}'.{did_you_mean(key, known)}")
        return replace(self, **{k: v for k, v in values.items() if v is not None}).validated()

    def validated(self) -> StudyConfig:
        """Check types and ranges; raise ConfigError naming the setting and the fix."""
        _positive_int("seeds", self.seeds)
        if self.jobs is not None:
            _positive_int("jobs", self.jobs)
        if self.test_rows is not None:
            _positive_int("test_rows", self.test_rows)
        if self.sizes is not None:
            if isinstance(self.sizes, (str, bytes)) or not isinstance(self.sizes, (list, tuple)) or not self.sizes:
                raise ConfigError(f"The 'sizes' setting must be a list of positive integers. Got {self.sizes!r} instead.")
            for size in self.sizes:
                _positive_int("sizes", size, item=True)
        if isinstance(self.learners, str):
            self.learners = [part for part in self.learners.split(",") if part.strip()]
        if not isinstance(self.learners, (list, tuple)) or not self.learners:
            raise ConfigError(f"The 'learners' setting must be a non-empty list. Got {self.learners!r} instead.")
        check_metric(self.metric)
        for name in ("target", "table", "query", "out"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, Path)):
                raise ConfigError(f"The '{name}' setting must be a string. Got {value!r} instead.")
        from dataeff.experiment.runner import ENGINES

        if self.engine not in ENGINES:
            raise ConfigError(f"Unknown engine '{self.engine}'.{did_you_mean(str(self.engine), ENGINES)} "
                              f"Engines: {', '.join(ENGINES)}.")
        if self.scheduler is not None and self.engine != "dask":
            raise ConfigError("--scheduler needs --engine dask; add it, or drop --scheduler.")
        if not isinstance(self.force, bool):
            raise ConfigError(f"The 'force' setting must be true or false. Got {self.force!r} instead.")
        for name in ("label_cost", "predictions", "token_price", "compute_price"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"The '{name}' setting must be a number >= 0. Got {value!r} instead.")
        if self.llm_backend not in LLM_BACKENDS:
            raise ConfigError(f"Unknown LLM backend '{self.llm_backend}'.{did_you_mean(self.llm_backend, LLM_BACKENDS)} "
                              f"Choose {', '.join(LLM_BACKENDS[:-1])} or {LLM_BACKENDS[-1]}.")
        if self.llm_device not in LLM_DEVICES:
            raise ConfigError(f"Unknown LLM device '{self.llm_device}'.{did_you_mean(self.llm_device, LLM_DEVICES)} "
                              f"Choose {', '.join(LLM_DEVICES)}.")
        if self.llm_backend == "openai" and not (self.llm_url and self.llm_model):
            raise ConfigError("The openai backend needs --llm-url (e.g. http://127.0.0.1:8000/v1) and --llm-model.")
        if not isinstance(self.llm_api_key_env, str) or not self.llm_api_key_env.replace("_", "").isalnum():
            raise ConfigError("The 'llm_api_key_env' setting must name an environment variable (like OPENAI_API_KEY), "
                              "not hold the key itself.")
        if isinstance(self.llm_timeout, bool) or not isinstance(self.llm_timeout, (int, float)) or self.llm_timeout <= 0:
            raise ConfigError(f"The 'llm_timeout' setting must be a number of seconds > 0. Got {self.llm_timeout!r} instead.")
        if isinstance(self.llm_retries, bool) or not isinstance(self.llm_retries, int) or self.llm_retries < 0:
            raise ConfigError(f"The 'llm_retries' setting must be an integer >= 0. Got {self.llm_retries!r} instead.")
        _positive_int("llm_concurrency", self.llm_concurrency)
        _positive_int("llm_shots", self.llm_shots)
        if self.llm_scoring not in ("next-token", "echo"):
            raise ConfigError(f"Unknown endpoint scoring '{self.llm_scoring}'; choose next-token or echo.")
        if bool(self.llm_embed_url) != bool(self.llm_embed_model):
            raise ConfigError("An embedding endpoint needs both --llm-embed-url and --llm-embed-model.")
        for url in (self.llm_url, self.llm_embed_url):
            if url is not None:
                check_endpoint_url(url)
        if self.llm_style not in ("list", "text"):
            raise ConfigError(f"Unknown row style '{self.llm_style}'; choose list or text (or give a template file).")
        for name in ("llm_template", "llm_dictionary"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise ConfigError(f"The {name.removeprefix('llm_')} file {value} does not exist; check the path.")
        if self.llm_template is not None:
            from dataeff.data.serialize import compile_template

            compile_template(Path(self.llm_template).read_text(encoding="utf-8"))
        parse_target(self.score_target)
        self.score_target = str(self.score_target)
        return self

    def llm_params(self) -> dict:
        """What LLM learners get: the backend alias, the model (a GGUF path or model folder, or
        URL::name) and the backend's options."""
        if self.llm_backend == "openai":
            options = {**self.endpoint_options(), "scoring": self.llm_scoring}
            return {"backend": "openai", "model": f"{self.llm_url}::{self.llm_model}", "backend_options": options}
        if self.llm_backend == "transformers":
            return {"backend": "transformers", "model": self.llm_model,
                    "backend_options": {"device": self.llm_device}}
        return {"backend": "llamacpp", "model": self.llm_model}

    def embed_params(self) -> dict:
        """What llm-embed gets: the local MiniLM, or an endpoint's /embeddings."""
        if self.llm_embed_url:
            return {"backend": "openai-embed", "model": f"{self.llm_embed_url}::{self.llm_embed_model}",
                    "backend_options": self.endpoint_options()}
        return {}

    def endpoint_options(self) -> dict:
        return {"api_key_env": self.llm_api_key_env, "timeout": float(self.llm_timeout),
                "retries": self.llm_retries, "concurrency": self.llm_concurrency}

    def prices(self):
        from dataeff.analysis.efficiency import Prices

        return Prices(float(self.label_cost), float(self.predictions), float(self.token_price),
                      float(self.compute_price))


def _positive_int(name: str, value: Any, item: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        what = f"every entry of '{name}'" if item else f"the '{name}' setting"
        raise ConfigError(f"{what[0].upper() + what[1:]} must be a positive integer. Got {value!r} instead.")


def parse_sizes(text: str) -> list[int]:
    """'8,16,32' -> [8, 16, 32], with a clear error for anything else."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--sizes must be comma-separated positive integers like 8,16,32. Got '{text}'.") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise ConfigError(f"--sizes must be comma-separated positive integers like 8,16,32. Got '{text}'.")
    return sizes


def load_config(path: str | Path) -> StudyConfig:
    """Read a study TOML; relative file paths in it are taken relative to the TOML's folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file not found: {path}. Check the --config path.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {one_line(exc)}. Fix the file.") from None
    values: dict[str, Any] = {}
    relational = {}
    for section, content in raw.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"Unknown section [{section}] in {path.name}.{did_you_mean(section, SECTIONS)} "
                f"Sections: {', '.join(f'[{s}]' for s in SECTIONS)}."
            )
        if not isinstance(content, dict):
            raise ConfigError(f"'{section}' in {path.name} must be a [{section}] table of settings.")
        for key, value in content.items():
            if key not in SECTIONS[section]:
                raise ConfigError(
                    f"Unknown key '{key}' in [{section}] of {path.name}.{did_you_mean(key, SECTIONS[section])} "
                    f"Keys there: {', '.join(SECTIONS[section])}."
                )
            if section == "data" and key in ("entity", "entity_table", "key", "cutoff", "relations"):
                relational[key] = value
                continue
            values[RENAMED.get((section, key), key)] = value
    base = path.parent
    if relational:
        from dataeff.data.relations import parse_declaration

        if "source" in values:
            raise ConfigError(f"[data] in {path.name} has both 'source' and 'entity'; an entity table with "
                              "relations replaces 'source': keep one.")
        values["flattening"] = parse_declaration(relational, base)
        values["source"] = Path(values["flattening"].entity).name
    source = values.get("source")
    if isinstance(source, str) and ("/" in source or Path(source).suffix) and not Path(source).is_absolute():
        values["source"] = str(base / source)
    for key in ("out", "llm_template", "llm_dictionary"):
        if isinstance(values.get(key), str) and not Path(values[key]).is_absolute():
            values[key] = str(base / values[key])
    return StudyConfig().with_overrides(**values)


def parse_target(spec) -> tuple[str, float]:
    """'95%' -> ('relative', 0.95) of the ceiling; '0.85' or 0.85 -> ('absolute', 0.85)."""
    text = str(spec).strip()
    try:
        if text.endswith("%"):
            value = float(text[:-1]) / 100
            if not 0 < value <= 1:
                raise ValueError
            return "relative", value
        return "absolute", float(text)
    except ValueError:
        raise ConfigError(
            f"--target must be a score like 0.85 or a share of the ceiling like 95%. Got '{spec}'."
        ) from None


def check_endpoint_url(url: str) -> str:
    """A base URL without credentials (a key in the URL would end up in logs and cache keys)."""
    from urllib.parse import urlsplit

    url = str(url).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = f"; got {url!r}" if "@" not in url else ""
        raise ConfigError(f"--llm-url must be an http(s) URL such as http://127.0.0.1:8000/v1{shown}.")
    if parts.username or parts.password:
        raise ConfigError("--llm-url must not carry credentials (user:password@host); put the API key in an "
                          "environment variable and name it with --llm-api-key-env.")
    return url
