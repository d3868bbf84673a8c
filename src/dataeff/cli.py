"""The command line: parse flags, call the API, map errors to exit code 2 and one line."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer

from dataeff.errors import DataEffError
from dataeff.stopping import stop_on_signals

app = typer.Typer(
    name="dataeff",
    help="Measure how many labelled examples each kind of classifier needs on your data.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _err(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=False)


def _friendly(command):
    """Turn DataEffError into 'error: ...' and exit 2; Ctrl-C or SIGTERM into a resume hint and
    the shell's exit code for that signal (130, 143)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DataEffError as exc:
            _err(f"error: {exc}")  # one line: DataEffError squashes its message
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            import shlex
            import signal
            import sys

            signum = getattr(exc, "signum", signal.SIGINT)
            _err(f"stopped by {signal.Signals(signum).name}: finished cells are saved in the run folder and LLM "
                 f"answers in the cache; to resume, run the same command: dataeff {shlex.join(sys.argv[1:])}")
            raise typer.Exit(128 + signum) from None

    return wrapper


@app.command()
@_friendly
def datasets() -> None:
    """List the built-in datasets: name, rows, columns, target, classes, source and licence."""
    from rich.console import Console
    from rich.table import Table

    from dataeff.data.builtin import BUILTINS, load_builtin

    table = Table(title="Built-in datasets (use with --data NAME)")
    for column in ("name", "rows", "columns", "target", "classes", "about", "source", "licence"):
        table.add_column(column, overflow="fold")
    for name, spec in BUILTINS.items():
        ds = load_builtin(name)
        shares = ds.y.value_counts(normalize=True)
        classes = ", ".join(f"{c} {shares[c]:.0%}" for c in ds.classes)
        table.add_row(name, str(ds.n_rows), str(ds.X.shape[1]), ds.target, classes, spec.description, spec.source,
                      spec.licence)
    Console().print(table)


@app.command()
@_friendly
def learners() -> None:
    """List the learner kinds: what each is, its family and the settings a variant may give it."""
    from rich.console import Console
    from rich.table import Table

    from dataeff.learners.registry import REGISTRY

    table = Table(title="Learner kinds (--learners a,b,name=kind(setting=value))")
    table.add_column("kind")
    table.add_column("family")
    table.add_column("what it is", overflow="fold")
    table.add_column("settings", overflow="fold")
    for name, kind in REGISTRY.items():
        table.add_row(name, kind.family, kind.summary, ", ".join(kind.settings) or "-")
    table.add_row("<import path>", "classic", "Any scikit-learn classifier by import path, e.g. sklearn.svm.SVC.",
                  "its constructor's")
    console = Console()
    console.print(table)
    console.print("Every kind also takes max_size: the largest training size it runs at, e.g. llm-few(max_size=8) "
                  "skips the study's larger sizes for that learner.")


@app.command()
@_friendly
def run(
    data: Annotated[str | None, typer.Option("--data", "-d", help="Built-in name or file (CSV, Parquet, JSONL, SQLite, DuckDB). Default: churn.")] = None,
    target: Annotated[str | None, typer.Option(help="Label column (built-ins know theirs).")] = None,
    table: Annotated[str | None, typer.Option(help="Table to read from a SQLite/DuckDB file.")] = None,
    query: Annotated[str | None, typer.Option(help="SQL query to read from a SQLite/DuckDB file.")] = None,
    bins: Annotated[int | None, typer.Option(help="Cut a numeric target (a price, a score) into N quantile classes.")] = None,
    learners: Annotated[str | None, typer.Option("--learners", "-l", help="Comma-separated learners (see 'dataeff learners'), each a kind or a variant: xgboost, xgb3=xgboost(max_depth=3), llm-few(shots=32).")] = None,
    seeds: Annotated[int | None, typer.Option(help="Number of seeds (test draws and training orders). Default 5.")] = None,
    sizes: Annotated[str | None, typer.Option(help="Training sizes, e.g. 8,16,32. Default: 8, 11, 16, 23, ... up to the pool.")] = None,
    test_rows: Annotated[int | None, typer.Option(help="Held-out test rows per seed. Default: 20% of rows, at most 1000.")] = None,
    metric: Annotated[str | None, typer.Option(help="Headline metric: roc_auc, accuracy, balanced_accuracy, log_loss, f1_macro.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel cells. Default: all cores.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder. Default: runs/<dataset>.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Study TOML; flags override it.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Start over in an --out folder that holds another study.")] = False,
    engine: Annotated[str | None, typer.Option(help="Where cells run: local (a process pool, default) or dask (a Dask cluster).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --engine dask; without it, a local cluster of --jobs workers).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notes.")] = False,
    score_target: Annotated[str | None, typer.Option("--score-target", help="Target for 'labels needed': a score (0.85) or a share of the ceiling (95%, default).")] = None,
    label_cost: Annotated[float | None, typer.Option(help="Cost of one label (default 0.50).")] = None,
    predictions: Annotated[float | None, typer.Option(help="Predictions served per month (default 1e6).")] = None,
    token_price: Annotated[float | None, typer.Option(help="Price per million LLM tokens (default 0).")] = None,
    compute_price: Annotated[float | None, typer.Option(help="Price per CPU hour (default 0.10).")] = None,
    open_report: Annotated[bool, typer.Option("--open", help="Open report.html in a browser when done.")] = False,
    cache_dir: Annotated[Path | None, typer.Option(help="Where LLM answers are cached (default ~/.cache/dataeff).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the LLM again even for prompts it has answered.")] = False,
    llm_backend: Annotated[str | None, typer.Option(help="LLM for llm-* learners: llamacpp (local GGUF, default), transformers (PyTorch; a GPU where there is one) or openai (a server).")] = None,
    llm_model: Annotated[str | None, typer.Option(help="A GGUF file (llamacpp), a GGUF file or model folder (transformers), or the served model's name (openai).")] = None,
    llm_device: Annotated[str | None, typer.Option(help="Where the transformers backend runs: auto (CUDA when there is one, default), cpu or cuda.")] = None,
    llm_url: Annotated[str | None, typer.Option(help="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")] = None,
    llm_question: Annotated[str | None, typer.Option(help="The question the LLM is asked about each row (built-ins have theirs).")] = None,
    llm_style: Annotated[str | None, typer.Option(help="How a row reads: list ('column: value' lines, default) or text ('The age is 43.').")] = None,
    llm_template: Annotated[Path | None, typer.Option(help="A Jinja file that writes a row as text (sees row[column] and fields), instead of 'column: value' lines.")] = None,
    llm_dictionary: Annotated[Path | None, typer.Option(help="A data dictionary (CSV column,description, or JSON) whose meanings follow the column names in prompts.")] = None,
    llm_scoring: Annotated[str | None, typer.Option(help="Endpoint scoring: next-token (default; answer words must start differently) or echo (multi-token answers, where the server returns prompt log-probabilities).")] = None,
    llm_embed_url: Annotated[str | None, typer.Option(help="An OpenAI-compatible server whose /embeddings llm-embed uses instead of the local MiniLM.")] = None,
    llm_embed_model: Annotated[str | None, typer.Option(help="The embedding model's name on --llm-embed-url.")] = None,
    llm_shots: Annotated[int | None, typer.Option(help="Demonstrations llm-few puts in its prompt at most (default 8).")] = None,
    llm_answers: Annotated[str | None, typer.Option(help="The answer word of each label, e.g. 0=No,1=Yes (built-ins have theirs; default: the label itself).")] = None,
    llm_api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the endpoint's API key (default OPENAI_API_KEY); the key is never written anywhere.")] = None,
) -> None:
    """Run a study: learning curves for each learner, the answers, written to the run folder."""
    from dataeff.config import Settings, load_config, parse_sizes
    from dataeff.study import Study

    base = load_config(config) if config else Settings()
    overrides = dict(source=data, target=target, table=table, query=query, bins=bins, seeds=seeds,
                     test_rows=test_rows,
                     metric=metric, jobs=jobs, out=str(out) if out else None, force=force or None,
                     engine=engine, scheduler=scheduler, cache_dir=str(cache_dir) if cache_dir else None,
                     no_cache=no_cache or None,
                     score_target=score_target, label_cost=label_cost, predictions=predictions,
                     token_price=token_price, compute_price=compute_price, llm_backend=llm_backend,
                     llm_model=llm_model, llm_device=llm_device, llm_url=llm_url, llm_api_key_env=llm_api_key_env,
                     llm_shots=llm_shots, llm_answers=llm_answers, llm_question=llm_question, llm_style=llm_style,
                     llm_scoring=llm_scoring,
                     llm_embed_url=llm_embed_url, llm_embed_model=llm_embed_model,
                     llm_template=str(llm_template) if llm_template else None,
                     llm_dictionary=str(llm_dictionary) if llm_dictionary else None)
    if learners is not None:
        overrides["learners"] = learners  # kinds and variants, parsed by the settings
    if sizes is not None:
        overrides["sizes"] = parse_sizes(sizes)
    study = Study(settings=base, **overrides)
    log = (lambda message: None) if quiet else _err
    with stop_on_signals():
        result = study.run(progress=not quiet, log=log)
    _print_summary(result)
    _print_answers(result)
    if open_report:
        _open(result.out / "report.html")
    if (result.results["status"] != "ok").any():
        raise typer.Exit(1)  # the answers stand on the cells that finished; the rest need a rerun


@app.command()
@_friendly
def suite(
    config: Annotated[Path, typer.Option("--config", "-c", help="Suite TOML: [suite] datasets = [...], the study tables, [overrides.NAME].")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Suite folder: one run folder per dataset, and suite.html/md/json/csv.")],
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel cells. Default: all cores.")] = None,
    engine: Annotated[str | None, typer.Option(help="Where cells run: local (default) or dask (one cluster for every dataset).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler (with --engine dask; without it, one local cluster of --jobs workers for the suite).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Start over in dataset folders that hold another study.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No line per dataset.")] = False,
) -> None:
    """Run a study per dataset of a suite and put the answers side by side (exit 1 when a dataset failed)."""
    from dataeff.config import Settings
    from dataeff.suite import load_suite, run_suite
    from dataeff.suite.outputs import SHORT_HEADERS, spread_row, target_title

    suite_config = load_suite(config)
    Settings().with_overrides(jobs=jobs, engine=engine, scheduler=scheduler)  # checked before any folder
    with stop_on_signals():
        result = run_suite(suite_config, out, jobs=jobs, engine=engine, scheduler=scheduler, force=force or None,
                           log=(lambda message: None) if quiet else _err)
    from rich.console import Console
    from rich.table import Table

    for target in result.aggregate.targets:
        table = Table(title=f"Labels to reach {target_title(target)}")
        for header in SHORT_HEADERS.values():
            table.add_column(header)
        for spread in result.aggregate.spreads(target):
            row = spread_row(spread)
            table.add_row(*[row[key] for key in SHORT_HEADERS])
        Console().print(table)
    for crossover in result.aggregate.crossovers:
        print(crossover.sentence())
    print(f"Suite: {out / 'suite.html'} ({len(result.datasets) - len(result.failed)} of {len(result.datasets)} "
          f"datasets finished in {result.seconds:,.0f} s)")
    if result.failed:
        _err(f"{len(result.failed)} dataset(s) failed: {', '.join(d.name for d in result.failed)}; "
             "see suite.md. Rerun the same command to retry them.")
        raise typer.Exit(1)


@app.command()
@_friendly
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by 'dataeff run'.")],
    open_report: Annotated[bool, typer.Option("--open", help="Open it in a browser.")] = False,
    learners: Annotated[str | None, typer.Option("--learners", "-l", help="Only these learners of the run folder (comma-separated); the store keeps every cell.")] = None,
) -> None:
    """Rebuild report.html and curves.png from a run folder's store (no refitting)."""
    from dataeff.results import report as build

    path = build(run_dir, learners=_names(learners))
    print(f"Report: {path}")
    if open_report:
        _open(path)


@app.command()
@_friendly
def features(
    config: Annotated[Path, typer.Option("--config", "-c", help="Study TOML whose [data] declares an entity and relations.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the flattened table (.parquet or .csv).")],
) -> None:
    """Flatten related tables (point in time) into one wide table you can inspect."""
    from dataeff.config import load_config
    from dataeff.data.relations import flatten
    from dataeff.errors import ConfigError

    flattening = load_config(config).data.flattening
    if flattening is None:
        raise ConfigError(f"{config} declares no relations: [data] needs 'entity', 'key' and [[data.relations]].")
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ConfigError(f"--out must end in .parquet or .csv; got {out.name}.")
    wide = flatten(flattening)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    wide.to_parquet(tmp, index=False) if out.suffix.lower() == ".parquet" else wide.to_csv(tmp, index=False)
    tmp.replace(out)
    print(f"{out}: {len(wide):,} rows, {wide.shape[1]} columns "
          f"({sum(len(r.features) for r in flattening.relations)} flattened features)")


@app.command()
@_friendly
def synth(
    kind: Annotated[str, typer.Argument(help="What to generate: 'customers'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the tables, truth.json and study.toml.")],
    rows: Annotated[int, typer.Option(help="Customers to generate.")] = 10_000,
    noise: Annotated[float, typer.Option(help="Label noise (temperature): higher means a lower ceiling.")] = 1.0,
    irrelevant: Annotated[int, typer.Option(help="Extra columns unrelated to the label.")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet (one file per table) or sqlite (one file).")] = "parquet",
) -> None:
    """Generate synthetic customers with purchases and tickets, and their known ceiling."""
    from dataeff.data.synthetic import generate, write
    from dataeff.errors import ConfigError

    if kind != "customers":
        raise ConfigError(f"Unknown synthetic dataset '{kind}'; the one available is 'customers'.")
    if rows < 10 or noise <= 0 or irrelevant < 0:
        raise ConfigError("--rows must be at least 10, --noise above 0 and --irrelevant 0 or more.")
    if fmt not in ("parquet", "sqlite"):
        raise ConfigError(f"--format must be parquet or sqlite; got {fmt}.")
    data = generate(rows=rows, noise=noise, irrelevant=irrelevant, seed=seed)
    written = write(data, out, fmt)
    print(f"wrote {', '.join(p.name for p in written)} to {out}/; Bayes-optimal roc_auc "
          f"{data.truth['bayes_roc_auc']:.3f}, accuracy {data.truth['bayes_accuracy']:.3f}. "
          f"Next: dataeff run --config {out}/study.toml")


def _open(path: Path) -> None:
    import webbrowser

    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        _err(f"note: no browser found here; open {path} yourself.")
        return
    browser.open(path.resolve().as_uri())


@app.command()
@_friendly
def analyze(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by 'dataeff run'.")],
    target: Annotated[str, typer.Option("--target", "-t", help="A score (0.85) or a share of the ceiling (95%).")] = "95%",
    metric: Annotated[str | None, typer.Option(help="Analyse this metric instead of the run's headline.")] = None,
    label_cost: Annotated[float, typer.Option(help="Cost of one label.")] = 0.50,
    predictions: Annotated[float, typer.Option(help="Predictions served per month.")] = 1e6,
    token_price: Annotated[float, typer.Option(help="Price per million LLM tokens.")] = 0.0,
    compute_price: Annotated[float, typer.Option(help="Price per CPU hour.")] = 0.10,
    learners: Annotated[str | None, typer.Option("--learners", "-l", help="Only these learners of the run folder (comma-separated); the store keeps every cell.")] = None,
) -> None:
    """Answer from a finished run (no refitting): ceiling, labels to target, crossovers, cost."""
    from dataeff.analysis.efficiency import Prices
    from dataeff.config import Settings
    from dataeff.results import analyze as run_analysis

    settings = Settings().with_overrides(score_target=target, label_cost=label_cost, predictions=predictions,
                                         token_price=token_price, compute_price=compute_price)
    result = run_analysis(run_dir, target=settings.analysis.target, prices=Prices(**settings.analysis.prices()),
                          metric=metric, learners=_names(learners))
    _print_answers(result)


def _names(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _print_answers(result) -> None:
    from dataeff.report.answers import sentences

    console = _console()
    said = sentences(result.analysis, result.facts)
    if said:
        console.print("[bold]Answers[/bold]")
        for sentence in said:
            console.print(f"- {sentence}", markup=False)
    console.print(f"Details: {result.out}/summary.md, report: {result.out}/report.html", markup=False)


def _console():
    """stdout for people: wrapped to a terminal's width, and in a log or a pipe never wrapped at
    all (soft wrap: a sentence stays on its line)."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=True)
    return console


def _print_summary(result) -> None:
    from rich.table import Table

    from dataeff.report.tables import curve_pivot, markdown_table

    pivot = curve_pivot(result.curves(), result.facts.get("learners"))
    title = f"{result.facts.get('dataset')}: {result.metric} (mean ± 95% CI half-width)"
    console = _console()
    if console.is_terminal:
        table = Table(title=title)
        table.add_column("n_train", justify="right")
        for learner in pivot.columns:
            table.add_column(str(learner), justify="right")
        for n_train, row in pivot.iterrows():
            table.add_row(str(n_train), *row.tolist())
        console.print(table)
    else:  # a log or a pipe: one line a size, whatever the width
        for line in [title, "", *(markdown_table(pivot) if not pivot.empty else ["No cell finished."]), ""]:
            console.print(line, markup=False)
    cells = result.facts.get("cells", {})
    failed = result.results[result.results["status"] != "ok"]
    console.print(f"{cells.get('ok', 0)} cells run, {cells.get('skipped', 0)} resumed from the store, "
                  f"{len(failed)} failed; {result.facts.get('run_seconds')} s. Outputs in {result.out}/")
    if len(failed):
        _err(failed_cells_line(failed, result.out))


def failed_cells_line(failed, out: Path) -> str:
    """One line for the failed cells: the first few errors, where the rest are, how to retry."""
    def said(row) -> str:
        where, error = f"{row.learner} n={row.n_train} seed {row.seed}", str(row.error).rstrip(".")
        return error if where in error else f"{where}: {error}"

    shown = [said(row) for row in failed.head(3).itertuples()]
    more = f" and {len(failed) - len(shown)} more" if len(failed) > len(shown) else ""
    return (f"{len(failed)} cell{'s' if len(failed) > 1 else ''} failed: {'; '.join(shown)}{more} (the error "
            f"column of {out}/results.csv); rerun the same command to retry {'them' if len(failed) > 1 else 'it'}.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
