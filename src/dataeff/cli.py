"""The command line: parse flags, call the API, map errors to exit code 2 and one line."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Annotated

import typer

from dataeff import terms
from dataeff.errors import DataEffError
from dataeff.flags import ANALYSIS, with_setting_flags
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
            with terms.caller("cli"), _notes():  # messages name flags; a renamed setting's note is a line
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


@contextlib.contextmanager
def _notes():
    """Show a renamed setting's FutureWarning as one 'note:' line on stderr."""
    import warnings

    from dataeff.errors import RenamedSetting

    with warnings.catch_warnings():
        shown = warnings.showwarning
        warnings.simplefilter("always", RenamedSetting)

        def show(message, category, *args, **kwargs):
            if issubclass(category, RenamedSetting):
                _err(f"note: {message}")
            else:
                shown(message, category, *args, **kwargs)
        warnings.showwarning = show
        yield


@app.command()
@_friendly
def datasets() -> None:
    """List the built-in datasets: name, rows, columns, target, classes, source and licence."""
    from rich.console import Console
    from rich.table import Table

    from dataeff.data.builtin import BUILTINS, load_builtin

    table = Table(title="Built-in datasets (use with --data NAME)")
    for column in ("name", "rows", "columns", "label", "classes", "about", "source", "licence"):
        table.add_column(column, overflow="fold")
    for name, spec in BUILTINS.items():
        ds = load_builtin(name)
        shares = ds.y.value_counts(normalize=True)
        classes = ", ".join(f"{c} {shares[c]:.0%}" for c in ds.classes)
        table.add_row(name, str(ds.n_rows), str(ds.X.shape[1]), ds.label, classes, spec.description, spec.source,
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
                  "skips the study's larger sizes for that learner. Kinds that learn from labels take acquire "
                  "(margin, entropy): they choose which rows to label, read against their random twin.")


@app.command()
@_friendly
@with_setting_flags()
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Study TOML; flags override it.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notes.")] = False,
    open_report: Annotated[bool, typer.Option("--open", help="Open report.html in a browser when done.")] = False,
    settings: dict | None = None,
) -> None:
    """Run a study: learning curves for each learner, the answers, written to the run folder.

    Every setting of a study TOML is a flag too, named after its key: label of the data table
    is --label, shots of the llm table --llm-shots (docs: reference/settings.md)."""
    from dataeff.config import Settings, load_config, parse_sizes
    from dataeff.study import Study

    base = load_config(config) if config else Settings()
    overrides = dict(settings or {})
    if overrides.get("sizes") is not None:
        overrides["sizes"] = parse_sizes(overrides["sizes"])
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
    config: Annotated[Path, typer.Option("--config", "-c", help="Suite TOML: \\[suite] datasets = \\[...], the study tables, \\[overrides.NAME].")],
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
    config: Annotated[Path, typer.Option("--config", "-c", help="Study TOML whose \\[data] table declares an entity and relations.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the flattened table (.parquet or .csv).")],
) -> None:
    """Flatten related tables (point in time) into one wide table you can inspect."""
    from dataeff.config import load_config
    from dataeff.data.relations import flatten
    from dataeff.errors import ConfigError

    data = load_config(config).data
    if (flattening := data.flattening) is None:
        raise ConfigError(f"{config} declares no relations: [data] needs 'entity', 'key' and [[data.relations]].")
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ConfigError(f"--out must end in .parquet or .csv; got {out.name}.")
    wide = flatten(flattening, password_env=data.password_env)
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


@app.command("analyze")
@_friendly
@with_setting_flags(ANALYSIS)
def analyze_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by 'dataeff run'.")],
    target: Annotated[str | None, typer.Option("--target", "-t", hidden=True,
                                               help="Deprecated: --score-target.")] = None,
    metric: Annotated[str | None, typer.Option(help="Analyse this metric instead of the run's headline.")] = None,
    learners: Annotated[str | None, typer.Option("--learners", "-l", help="Only these learners of the run folder (comma-separated); the store keeps every cell.")] = None,
    settings: dict | None = None,
) -> None:
    """Answer from a finished run (no refitting): ceiling, labels to target, crossovers, cost."""
    from dataeff.analysis.efficiency import Prices
    from dataeff.config import Settings, renamed_note
    from dataeff.results import analyze

    settings = dict(settings or {})
    if target is not None:  # the old name of the score target ('target' was the label column in run)
        renamed_note("dataeff analyze --target", "--score-target")
        settings["score_target"] = settings.get("score_target") or target
    chosen = Settings().with_overrides(**settings).analysis
    result = analyze(run_dir, score_target=chosen.score_target, prices=Prices(**chosen.prices()), metric=metric,
                     learners=_names(learners))
    _print_answers(result)


@app.command("next-labels")
@_friendly
def next_labels_command(
    run_dir: Annotated[Path, typer.Option("--run", help="A run folder written by 'dataeff run'.")],
    unlabelled: Annotated[str, typer.Option("--from", help="Unlabelled rows with the run's feature columns: a file "
                                                           "(CSV, Parquet, JSONL, Excel, SQLite, DuckDB) or a "
                                                           "database URL with --table or --query.")],
    k: Annotated[int, typer.Option("--k", help="How many rows to label next.")] = 100,
    learner: Annotated[str | None, typer.Option("--learner", "-l", help="The run's learner that ranks them "
                                                "(default: the acquiring learner whose choosing paid most, else the "
                                                "best at the largest size).")] = None,
    strategy: Annotated[str | None, typer.Option(help="margin or entropy (default: the learner's own acquire, "
                                                      "else margin).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write them (default: "
                                             "RUN/next-labels.csv).")] = None,
    table: Annotated[str | None, typer.Option(help="The table of --from (a database file or URL).")] = None,
    query: Annotated[str | None, typer.Option(help="The SQL query to read from --from.")] = None,
    password_env: Annotated[str | None, typer.Option(help="The variable holding --from's database password.")] = None,
) -> None:
    """Rank unlabelled rows by how unsure a run's learner is of each: the rows to label next."""
    from dataeff.labelling import next_labels

    path = next_labels(run_dir, unlabelled, k, learner, strategy, out, table=table, query=query, password_env=password_env)
    print(f"{path}: the {k:,} rows to label next, most uncertain first")


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

    pivot = curve_pivot(result.curves(), result.facts.learners)
    title = f"{result.facts.dataset}: {result.metric} (mean ± 95% CI half-width)"
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
    cells = result.facts.cells
    failed = result.results[result.results["status"] != "ok"]
    console.print(f"{cells.get('ok', 0)} cells run, {cells.get('skipped', 0)} resumed from the store, "
                  f"{len(failed)} failed; {result.facts.run_seconds} s. Outputs in {result.out}/")
    if len(failed):
        _err(result.facts.data_problem or failed_cells_line(failed, result.out))


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
