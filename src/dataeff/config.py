"""The study's settings, declared once: grouped sections whose fields are the TOML keys, the
Python keywords and the CLI flags, each checked by the constraint declared beside it.

A setting's flat name (``seeds``, ``llm_url``, ``score_target``) is how the Python API and the
CLI name it; in a study TOML it is the key of its section (``[llm] url``). Every problem is a
one-line ``ConfigError`` naming the setting and the fix. Nothing here imports a later stage.

Why this module is long: every setting, its default, its constraint and its message are
declared here together, so that one file answers "what can I set, and what does it accept".
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, FilePath, PrivateAttr,
                      ValidationError, ValidationInfo, model_validator)
from pydantic_core import PydanticCustomError

from dataeff import terms
from dataeff.errors import ConfigError, RenamedSetting, did_you_mean, one_line
from dataeff.experiment.metrics import DEFAULT_METRIC, METRICS, metric_range
from dataeff.terms import setting_name
from dataeff.variants import parse_learner_list, parse_variant, variants_from_toml

DEFAULT_DATA = "churn"
DEFAULT_LEARNERS = ["majority", "logreg", "tree", "xgboost", "mlp"]
DEFAULT_SHOTS = 8  # demonstrations llm-few puts in its prompt at most
DEFAULT_SAMPLES = 8  # answers sampled a row with sample scoring (measured: docs/results/any-llm.md)
# llm-finetune's recipe (learners/llm/finetune.py documents it and its measured cost): optimizer
# steps, LoRA rank, learning rate, rows per step
FINETUNE_STEPS = 16
LORA_RANK = 8
FINETUNE_LR = 3e-3
FINETUNE_BATCH = 8
# The answers' defaults, defined here once (analysis/efficiency.Prices and the suite read them):
# labels to 95% of the way from the baseline to the ceiling; a label, a month of predictions,
# a million LLM tokens (0: a local model) and a CPU hour.
DEFAULT_SCORE_TARGET = "95%"
DEFAULT_PRICES = {"label_cost": 0.50, "predictions": 1e6, "token_price": 0.0, "compute_price": 0.10}
MAX_DEFAULT_TEST_ROWS = 1000  # test rows per seed when not told: 20% of the rows, at most this
ENGINES = ("local", "dask")
LLM_BACKENDS = ("llamacpp", "transformers", "openai")
LLM_DEVICES = ("auto", "cpu", "cuda")
# How LLM answers are scored: an endpoint's log-probabilities of the next token or of the
# whole answer word (echo), or answers the model writes (sampled votes, a stated confidence).
LLM_SCORINGS = ("next-token", "echo", "sample", "verbal")
ROW_STYLES = ("list", "text")
PROBE_POOLINGS = ("last", "mean")  # llm-probe: the last token's hidden state, or the mean over tokens


# -- constraints: pydantic's, declared on the fields; a broken one becomes one ConfigError line
# naming the setting in its caller's terms (_one_line_error below). The few checks pydantic
# cannot express (a text parsed into a value, a URL's parts) raise PydanticCustomError, which
# reaches the user the same way.
def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("dataeff", message)


def _as_text(value: Any) -> Any:
    """A path is text to a setting (what it holds is read by the stage that opens it)."""
    return str(value) if isinstance(value, Path) else value


PositiveInt = Annotated[int, Field(strict=True, gt=0)]
Price = Annotated[float, Field(strict=True, ge=0)]
Text = Annotated[str | None, BeforeValidator(_as_text)]
Flag = Annotated[bool, Field(strict=True)]
ExistingFile = Annotated[FilePath | None, AfterValidator(lambda path: None if path is None else str(path))]


def _environment_name(value: Any) -> Any:
    """A variable's name (DB_PASSWORD), not its value: a password given here would be stored."""
    if value is not None and not (isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value)):
        raise _invalid("must be the name of an environment variable (like DB_PASSWORD), not the password")
    return value


EnvironmentName = Annotated[str | None, AfterValidator(_environment_name)]


def _learners(value: Any) -> Any:
    """Names, 'name=kind(setting=value)' texts and objects; texts become Variants."""
    if isinstance(value, str):
        value = parse_learner_list(value)
    if not isinstance(value, (list, tuple)) or not value:
        raise _invalid("must name one learner or more")
    return [parse_variant(item) if isinstance(item, str) else item for item in value]


def _answers(value: Any) -> Any:
    """Answer words per label: {"0": "No", "1": "Yes"}, or the text '0=No,1=Yes'."""
    if isinstance(value, str):
        pairs = [part.partition("=") for part in value.split(",") if part.strip()]
        if not pairs or any(not eq or not label.strip() or not word.strip() for label, eq, word in pairs):
            raise _invalid("must be label=word pairs like 0=No,1=Yes")
        value = {label.strip(): word.strip() for label, _, word in pairs}
    if value is not None and (not isinstance(value, dict) or not value
                              or not all(isinstance(w, str) and w.strip() for w in value.values())):
        raise _invalid("must give each label an answer word, like 0=No,1=Yes")
    return None if value is None else {str(k): v.strip() for k, v in value.items()}


def _names(value: Any) -> Any:
    """Names, or the text 'a,b'."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if value is not None and (not isinstance(value, (list, tuple)) or not value
                              or not all(isinstance(v, str) and v for v in value)):
        raise _invalid("must name one column group or more, like tickets,purchases")
    return None if value is None else list(value)


def _score_target(value: Any) -> Any:
    parse_target(value)
    return str(value)


def _url(value: Any, info: ValidationInfo) -> Any:
    return None if value is None else check_endpoint_url(_as_text(value), f"llm_{info.field_name}")


# -- the sections -----------------------------------------------------------------------------
class Section(BaseModel):
    """A group of settings; its fields are the keys of its TOML table."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)
    #: fields that are not TOML keys (built by load_config, or Python-only)
    INTERNAL: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def keys(cls) -> list[str]:
        return [name for name in cls.model_fields if name not in cls.INTERNAL]

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in type(self).model_fields}

    def updated(self, **values: Any):
        """A checked copy with ``values`` (by key) set over this section's."""
        return _build(type(self), {**self.values(), **values})


class DataSettings(Section):
    """[data]: where the rows come from and which column is the label."""

    INTERNAL: ClassVar[frozenset[str]] = frozenset({"flattening"})
    source: Any = Field(DEFAULT_DATA, description="Built-in name, file (CSV, Parquet, JSONL, Excel, SQLite, "
                        "DuckDB) or database URL (postgresql://USER@HOST:PORT/DB, with table or query); a pandas, "
                        "Polars or Arrow table from Python. Default: churn.")
    label: Text = Field(None, description="The label column, the class each row belongs to (built-ins know "
                        "theirs).")
    table: Text = Field(None, description="Table to read from a database (a SQLite/DuckDB file, or a URL; "
                        "schema.table too).")
    query: Text = Field(None, description="SQL query to read from a database (a SQLite/DuckDB file, or a URL).")
    sheet: Text = Field(None, description="Sheet to read from an Excel workbook (default: the first).")
    password_env: EnvironmentName = Field(None, description="The environment variable holding the database's "
                                          "password, for a URL without one (kept by name, so the run can be read "
                                          "again; PGPASSWORD and ~/.pgpass work too).",
                                          json_schema_extra={"secret": True})
    # related tables flattened into features (see data/relations.py); load_config parses
    # entity .. relations into ``flattening``
    entity: Text = Field(None, description="Related tables: the entity table (a file, or a table of the "
                         "SQLite/DuckDB file named by source), one row per labelled example.")
    entity_table: Text = Field(None, description="Related tables: the entity's table inside a SQLite/DuckDB file.")
    key: Text = Field(None, description="Related tables: the entity's key column, which child tables join on.")
    cutoff: Text = Field(None, description="Related tables: the entity's per-row cutoff time; child rows after "
                         "it never reach a feature.")
    relations: list | None = Field(None, description="Related tables: the child tables and the features drawn "
                                   "from each (a list of tables, in the study TOML only).",
                                   json_schema_extra={"flag": False})
    flattening: Any = None
    unlabelled: ExistingFile = Field(None, description="A file of unlabelled rows with the study's feature "
                                     "columns: the pool an llm-labels learner's LLM labels (default: rows of the "
                                     "data's own, their labels hidden).")
    groups: dict | None = Field(None, description="Column groups, the sources a study can value: name -> column "
                                "names or patterns (clickstream = [\"page_*\"]), in the study TOML only; related "
                                "tables make one group per relation.", json_schema_extra={"flag": False})
    group_costs: dict[str, Price] | None = Field(None, description="What each column group's pipeline costs to "
                                                 "run, in dollars a month (group -> dollars): the answers say whether "
                                                 "the labels it saves pay for it (in the study TOML only).",
                                                 json_schema_extra={"flag": False})
    # a numeric target cut into this many quantile classes (None: the target is a label already)
    bins: Annotated[int, Field(strict=True, ge=2)] | None = Field(
        None, description="Cut a numeric label column (a price, a score) into N quantile classes (N of 2 or "
        "more).")


class StudySettings(Section):
    """[study]: learners, seeds, training sizes, test rows and the headline metric."""

    learners: Annotated[list, BeforeValidator(_learners)] = Field(
        default_factory=lambda: list(DEFAULT_LEARNERS),
        description="Comma-separated learners (see 'dataeff learners'), each a kind or a variant: xgboost, "
                    "xgb3=xgboost(max_depth=3), llm-few(shots=32).")
    seeds: PositiveInt = Field(5, description="Number of seeds (test draws and training orders).")
    sizes: Annotated[list[PositiveInt], Field(min_length=1)] | None = Field(
        None, description="Training sizes, e.g. 8,16,32. Default: 8, 11, 16, 23, ... up to the pool.")
    test_rows: PositiveInt | None = Field(None, description="Held-out test rows per seed. Default: 20% of "
                                           "rows, at most 1000.")
    metric: Literal[tuple(METRICS)] = Field(
        DEFAULT_METRIC, description="Headline metric: roc_auc, accuracy, balanced_accuracy, log_loss, f1_macro.")
    worth_of: Annotated[list[str], BeforeValidator(_names)] | None = Field(
        None, description="Column groups to value: each learner also runs without each group "
                          "(NAME-without-GROUP), and the answers say what the group is worth in labels and to the "
                          "ceiling.")


def default_cache_dir() -> Path:
    """Where LLM answers and model files are kept unless told: ``$DATAEFF_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/dataeff``, else ``~/.cache/dataeff`` (the user's environment, read here only)."""
    if os.environ.get("DATAEFF_CACHE_DIR"):
        return Path(os.environ["DATAEFF_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dataeff"


class RunSettings(Section):
    """[run]: where the run folder is, how many jobs, which engine, the LLM answer cache."""

    out: Text = Field(None, description="Run folder. Default: runs/<dataset>.")
    jobs: PositiveInt | None = Field(None, description="Parallel cells. Default: all cores.")
    force: Flag = Field(False, description="Start over in an out folder that holds another study.")
    engine: Literal[ENGINES] = Field(
        "local", description="Where cells run: local (a process pool) or dask (a Dask cluster).")
    scheduler: Text = Field(None, description="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                            "(with engine dask; without it, a local cluster of jobs workers).")
    cache_dir: Text = Field(None, description="Where LLM answers are cached (default ~/.cache/dataeff).")
    max_cost: Price | None = Field(None, description="Dollars the LLM endpoint may cost at most: a run estimated "
                                   "to cost more is refused before any request.")
    no_cache: Flag = Field(default_factory=lambda: bool(os.environ.get("DATAEFF_NO_CACHE")),
                           description="Ask the LLM again even for prompts it has answered.")

    @model_validator(mode="after")
    def _scheduler_needs_dask(self) -> RunSettings:
        if self.scheduler is not None and self.engine != "dask":
            raise ConfigError(f"{setting_name('scheduler')} needs {setting_name('engine', 'dask')}; add it, or drop "
                              f"{setting_name('scheduler')}.")
        return self

    def cache_folder(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()


class AnalysisSettings(Section):
    """[analysis]: the target of 'labels needed' and the prices of the cost answer."""

    score_target: Annotated[str, BeforeValidator(_score_target)] = Field(
        DEFAULT_SCORE_TARGET, description="Target for 'labels needed': a score (0.85) or a share of the ceiling (95%).")
    label_cost: Price = Field(DEFAULT_PRICES["label_cost"], description="Cost of one label.")
    predictions: Price = Field(DEFAULT_PRICES["predictions"], description="Predictions served per month.")
    token_price: Price = Field(DEFAULT_PRICES["token_price"], description="Price per million LLM tokens.")
    compute_price: Price = Field(DEFAULT_PRICES["compute_price"], description="Price per CPU hour.")

    def prices(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in ("label_cost", "predictions", "token_price", "compute_price")}


class LLMSettings(Section):
    """[llm]: the LLM behind llm-zero, llm-few and llm-prior, how rows read, the endpoint."""

    backend: Literal[LLM_BACKENDS] = Field(
        "llamacpp", description="LLM for llm-* learners: llamacpp (local GGUF, default), transformers (PyTorch; "
        "a GPU where there is one) or openai (a server).")
    model: Text = Field(None, description="A GGUF file (llamacpp), a GGUF file or model folder (transformers), "
                        "or the served model's name (openai).")
    device: Literal[LLM_DEVICES] = Field(
        "auto", description="Where the transformers backend runs: auto (CUDA when there is one), cpu or cuda.")
    url: Annotated[str | None, BeforeValidator(_url)] = Field(
        None, description="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")
    scoring: Literal[LLM_SCORINGS] = Field(
        "next-token", description="How answers are scored: from log-probabilities, next-token (endpoint: answer "
        "words must start differently) or echo (endpoint: whole answer words, where the server returns prompt "
        "log-probabilities); or from written answers, for models without log-probabilities: sample (vote "
        "shares of llm_samples answers) or verbal (one answer stating its confidence).")
    samples: PositiveInt = Field(DEFAULT_SAMPLES, description="Answers sampled a row with sample scoring (k votes "
                                 "rank rows in at most k + 1 steps).")
    shots: PositiveInt = Field(DEFAULT_SHOTS, description="Demonstrations llm-few puts in its prompt at most.")
    steps: PositiveInt = Field(FINETUNE_STEPS, description="llm-finetune: optimizer steps of its LoRA training.")
    rank: PositiveInt = Field(LORA_RANK, description="llm-finetune: the LoRA adapters' rank.")
    lr: Annotated[float, Field(strict=True, gt=0)] = Field(
        FINETUNE_LR, description="llm-finetune: the learning rate (AdamW, decaying linearly to 0).")
    batch_size: PositiveInt = Field(FINETUNE_BATCH, description="llm-finetune: labelled rows per step.")
    answers: Annotated[dict[str, str] | None, BeforeValidator(_answers)] = Field(
        None, description="The answer word of each label, e.g. 0=No,1=Yes (built-ins have theirs; default: the "
        "label itself).")
    calibrate: Flag | None = Field(
        None, description="Contextual calibration of zero- and few-shot answers (default: the learner's own).")
    layer: Annotated[int, Field(strict=True, ge=0)] | None = Field(
        None, description="llm-probe: the hidden layer read (0: the token embeddings; default: the last, after "
        "the final norm).")
    pooling: Literal[PROBE_POOLINGS] | None = Field(
        None, description="llm-probe: how a row's tokens pool into one vector, last or mean (default: the "
        "learner's own).")
    question: Text = Field(None, description="The question the LLM is asked about each row (built-ins have theirs).")
    style: Literal[ROW_STYLES] = Field(
        "list", description="How a row reads: list ('column: value' lines) or text ('The age is 43.').")
    template: ExistingFile = Field(None, description="A Jinja file that writes a row as text (sees row[column] and "
                                   "fields), instead of 'column: value' lines.")
    dictionary: ExistingFile = Field(None, description="A data dictionary (CSV column,description, or JSON) whose "
                                     "meanings follow the column names in prompts.")
    embed_url: Annotated[str | None, BeforeValidator(_url)] = Field(
        None, description="An OpenAI-compatible server whose /embeddings llm-embed uses instead of the local MiniLM.")
    embed_model: Text = Field(None, description="The embedding model's name on embed_url.")
    api_key_env: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        "OPENAI_API_KEY", description="Environment variable holding the endpoint's API key; the key is never "
        "written anywhere.", json_schema_extra={"hint": "name an environment variable (like OPENAI_API_KEY), "
                                                        "not the key itself"})
    timeout: Annotated[float, Field(strict=True, gt=0)] = Field(60.0, description="Endpoint: seconds per request.")
    retries: Annotated[int, Field(strict=True, ge=0)] = Field(
        6, description="Endpoint: retries of a failed request (backoff with jitter, Retry-After honoured).")
    concurrency: PositiveInt = Field(4, description="Endpoint: requests in flight at most.")
    input_price: Price | None = Field(None, description="Endpoint: dollars per million input tokens (default: the "
                                      "model's list price, where genai-prices knows it).")
    output_price: Price | None = Field(None, description="Endpoint: dollars per million output tokens (default: the "
                                       "model's list price).")

    @model_validator(mode="after")
    def _endpoint_complete(self) -> LLMSettings:
        if self.backend == "openai" and not (self.url and self.model):
            raise ConfigError(f"The openai backend needs {setting_name('llm_url', 'http://127.0.0.1:8000/v1')} (the "
                              f"server's base URL) and {setting_name('llm_model')} (the served model's name).")
        if (self.input_price is None) != (self.output_price is None):
            raise ConfigError(f"A price needs both {setting_name('llm_input_price')} and "
                              f"{setting_name('llm_output_price')} (dollars per million tokens).")
        if bool(self.embed_url) != bool(self.embed_model):
            raise ConfigError(f"An embedding endpoint needs both {setting_name('llm_embed_url')} and "
                              f"{setting_name('llm_embed_model')}.")
        return self

    def endpoint_options(self) -> dict:
        return {"api_key_env": self.api_key_env, "timeout": self.timeout, "retries": self.retries,
                "concurrency": self.concurrency}


class Settings(BaseModel):
    """Everything that defines a study and where it runs, section by section (docs/guide/config.md
    shows the TOML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    data: DataSettings = Field(default_factory=DataSettings)
    study: StudySettings = Field(default_factory=StudySettings)
    run: RunSettings = Field(default_factory=RunSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)

    #: the settings read from a TOML (flat name -> (table, key)), named as its keys in messages
    _files: dict[str, tuple[str, str]] = PrivateAttr(default_factory=dict)

    def with_overrides(self, *, written_in: str | None = None, **values: Any) -> Settings:
        """A copy with every non-None value applied, by flat name (CLI flags over the file);
        ``written_in``: the TOML table that gave them by flat name ([overrides.NAME] of a suite)."""
        updates: dict[str, dict[str, Any]] = {}
        given = set()
        for flat, value in values.items():
            if flat in RENAMED and value is not None:
                renamed_note(setting_name(flat), setting_name(RENAMED[flat]))
                flat = RENAMED[flat]
            if flat not in FLAT_NAMES:
                raise ConfigError(f"Unknown setting '{flat}'.{did_you_mean(flat, FLAT_NAMES)}")
            if value is not None:
                section, key = FLAT_NAMES[flat]
                updates.setdefault(section, {})[key] = value
                given.add(flat)
        if not updates:
            return self
        files = {flat: place for flat, place in self._files.items() if flat not in given}
        if written_in:
            files.update({flat: (written_in, flat) for flat in given})
        sections = {name: getattr(self, name) for name in SECTIONS}
        with terms.from_file(files):
            for name, changed in updates.items():
                sections[name] = _build(type(sections[name]), {**sections[name].values(), **changed})
        return Settings(**sections).from_files(files)

    def from_files(self, files: dict[str, tuple[str, str]]) -> Settings:
        """This object, remembering which settings a TOML gave (flat name -> (table, key))."""
        self._files = dict(files)
        return self

    def named(self):
        """A block in which messages name the settings read from a TOML as its keys."""
        return terms.from_file(self._files)


def renamed_note(old: str, new: str) -> None:
    """The one-line note for a renamed setting, as a FutureWarning (the CLI prints it as a note)."""
    import warnings

    warnings.warn(RenamedSetting(f"{old} is now {new}; the old name still works."), stacklevel=4)


def _build(section: type[Section], values: dict[str, Any]) -> Section:
    try:
        return section(**values)
    except ValidationError as exc:
        raise _one_line_error(section, exc) from None


def _one_line_error(section: type[Section], exc: ValidationError) -> ConfigError:
    """The first broken constraint as one line: the setting as its caller names it, what it
    must be, and what it got."""
    error = exc.errors()[0]
    loc = error["loc"]
    key = str(loc[0]) if loc else ""
    field = section.model_fields.get(key)
    name = setting_name(_flat(section, key)) if field is not None else f"'{key}'"
    entry = f" (entry {loc[1] + 1})" if len(loc) > 1 and isinstance(loc[1], int) else ""
    ctx, kind = error.get("ctx") or {}, error["type"]
    if kind == "literal_error":
        choices = [str(c) for arg in get_args(field.annotation) for c in (get_args(arg) or [arg])
                   if c is not None and not isinstance(c, type)]
        return ConfigError(f"{name}{entry} must be {_listed(choices)}. Got {error['input']!r}."
                           f"{did_you_mean(str(error['input']), choices)}")
    if kind == "greater_than":
        what = "must be a positive integer" if ctx.get("gt") == 0 and _whole(field.annotation) \
            else f"must be greater than {ctx['gt']:g}"
    elif kind == "greater_than_equal":
        what = f"must be {ctx['ge']:g} or more"
    else:
        what = _PHRASES.get(kind) or error["msg"][:1].lower() + error["msg"][1:]
    hint = ((field.json_schema_extra or {}).get("hint") if field is not None else None)
    secret = field is not None and (field.json_schema_extra or {}).get("secret")  # a misplaced password
    got = "" if kind == "missing" or secret else f" Got {error['input']!r}."
    return ConfigError(f"{name}{entry} {what}{': ' + hint if hint else ''}.{got}")


_PHRASES = {
    "int_type": "must be a whole number", "int_from_float": "must be a whole number",
    "int_parsing": "must be a whole number", "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false", "string_type": "must be text",
    "list_type": "must be a list", "dict_type": "must be a table of label = word pairs",
    "too_short": "must not be empty", "path_not_file": "names no file; check the path",
    "string_pattern_mismatch": "is not valid",
}  # any other kind (our own checks' PydanticCustomError included) says it in pydantic's words


def _whole(annotation: Any) -> bool:
    """True for a setting of whole numbers (int, int | None, list[int])."""
    return annotation is int or any(_whole(arg) for arg in get_args(annotation))


def _listed(choices: list[str]) -> str:
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def _flat(section: type[Section], key: str) -> str:
    """A key's flat name: the [llm] table's take ``llm_`` (``llm_shots``), the others are their key."""
    return f"llm_{key}" if section is LLMSettings else key


# TOML layout and flat names, both derived from the declaration above. Flat names spelled
# otherwise on the command line and in Python (``dataeff.run(data=...)``):
SPELLED = {"source": "data"}
# Settings renamed: the old flat name or TOML key still works, with a note saying the new one.
RENAMED = {"target": "label"}
RENAMED_KEYS = {("data", "target"): "label", ("analysis", "target"): "score_target"}
SECTIONS: dict[str, list[str]] = {name: field.annotation.keys() for name, field in Settings.model_fields.items()}
FLAT_NAMES: dict[str, tuple[str, str]] = {
    _flat(field.annotation, key): (section, key)
    for section, field in Settings.model_fields.items() for key in field.annotation.model_fields
}
terms.declare(SPELLED)


def parse_sizes(text: str) -> list[int]:
    """'8,16,32' -> [8, 16, 32], with a clear error for anything else."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{setting_name('sizes')} must be comma-separated positive integers like 8,16,32. "
                          f"Got '{text}'.") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise ConfigError(f"{setting_name('sizes')} must be comma-separated positive integers like 8,16,32. "
                          f"Got '{text}'.")
    return sizes


def load_config(path: str | Path) -> Settings:
    """Read a study TOML; relative file paths in it are taken relative to the TOML's folder."""
    return settings_from_tables(read_toml(path), Path(path))


def read_toml(path: str | Path, what: str = "Config") -> dict:
    """A TOML file's tables; a missing or unreadable file is one ConfigError line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} file not found: {path}. Check the path.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {one_line(exc)}. Fix the file.") from None


def settings_from_tables(raw: dict, path: Path, other_sections: tuple[str, ...] = ()) -> Settings:
    """Settings from a TOML's tables ([data], [study], ..., [learners.NAME]); ``path`` names the
    file in messages and anchors its relative paths; ``other_sections`` are the caller's own
    tables, named in the message about an unknown one."""
    raw = dict(raw)
    variants = variants_from_toml(raw.pop("learners"), path.name) if "learners" in raw else []
    for section, content in raw.items():
        if section not in SECTIONS:
            choices = [*SECTIONS, *other_sections]
            raise ConfigError(
                f"Unknown section [{section}] in {path.name}.{did_you_mean(section, choices)} "
                f"Sections: {', '.join(f'[{s}]' for s in [*choices, 'learners.NAME'])}."
            )
        if not isinstance(content, dict):
            raise ConfigError(f"'{section}' in {path.name} must be a [{section}] table of settings.")
        for old, new in [(o, n) for (sec, o), n in RENAMED_KEYS.items() if sec == section and o in content]:
            if new in content:
                raise ConfigError(f"[{section}] in {path.name} has both '{old}' and '{new}' ('{old}' is its old "
                                  f"name); keep '{new}'.")
            renamed_note(f"'{old}' in [{section}] of {path.name}", f"'{new}'")
            raw[section] = content = {(new if k == old else k): v for k, v in content.items()}
        for key in content:
            if key not in SECTIONS[section]:
                raise ConfigError(
                    f"Unknown key '{key}' in [{section}] of {path.name}.{did_you_mean(key, SECTIONS[section])} "
                    f"Keys there: {', '.join(SECTIONS[section])}."
                )
    base = path.parent
    data = dict(raw.get("data", {}))
    relational = {k: data.pop(k) for k in ("entity", "entity_table", "key", "cutoff", "relations") if k in data}
    if relational:
        from dataeff.data.relations import parse_declaration  # the declaration's own parser and checks

        if "source" in data:
            raise ConfigError(f"[data] in {path.name} has both 'source' and 'entity'; an entity table with "
                              "relations replaces 'source': keep one.")
        data["flattening"] = parse_declaration(relational, base)
        data["source"] = data["flattening"].source_name
    source = data.get("source")
    from dataeff.data.source import is_database_url, looks_like_path  # the one place a source's form is read

    if isinstance(source, str) and not is_database_url(source) and looks_like_path(source) \
            and not Path(source).is_absolute():
        data["source"] = str(base / source)
    sections = {**raw, "data": data}
    if variants:  # [learners.NAME] tables run next to (or, alone, instead of) [study] learners
        study = sections.get("study", {})
        sections["study"] = {**study, "learners": [*study.get("learners", []), *variants]}
    for section, key in (("run", "out"), ("run", "cache_dir"), ("llm", "template"), ("llm", "dictionary")):
        value = sections.get(section, {}).get(key)
        if isinstance(value, str) and not Path(value).is_absolute():
            sections[section] = {**sections[section], key: str(base / value)}
    files = {_flat(Settings.model_fields[name].annotation, key): (name, key)
             for name, content in sections.items() for key in content}
    with terms.from_file(files):
        built = {name: _build(Settings.model_fields[name].annotation, content) for name, content in sections.items()}
    return Settings(**built).from_files(files)


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
        raise ConfigError(f"{setting_name('score_target')} must be a score like 0.85 or a share of the ceiling "
                          f"like 95%. Got '{spec}'.") from None


def check_score_target(spec, metric: str) -> None:
    """A score target (not a share of the ceiling) within ``metric``'s range, or one line: a
    roc_auc of 1.5 is no question to answer."""
    kind, value = parse_target(spec)
    low, high = metric_range(metric)
    if kind == "absolute" and not low <= value <= high:
        span = f"[{low:g}, {high:g}]" if high < float("inf") else f"{low:g} or more"
        raise ConfigError(f"{setting_name('score_target', spec)} is outside {metric}'s range {span}; give a score "
                          "in it (e.g. 0.85), or a share of the way to the ceiling like 95%.")


def check_endpoint_url(url: str, flat: str = "llm_url") -> str:
    """A base URL without credentials (a key in the URL would end up in logs and cache keys)."""
    from urllib.parse import urlsplit

    url = str(url).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = f"; got {url!r}" if "@" not in url else ""
        raise ConfigError(f"{setting_name(flat)} must be an http(s) URL such as http://127.0.0.1:8000/v1{shown}.")
    if parts.username or parts.password:
        raise ConfigError(f"{setting_name(flat)} must not carry credentials (user:password@host); put the API key "
                          f"in an environment variable and name it with {setting_name('llm_api_key_env')}.")
    return url
