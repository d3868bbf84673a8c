"""Writes the reference pages at build time (mkdocs-gen-files): every command and flag from the
command line's own declaration, every setting from the settings' (config.Settings), so neither
can drift from the code."""

from __future__ import annotations

import mkdocs_gen_files
import typer.main

from dataeff.cli import app
from dataeff.config import FLAT_NAMES, Settings

COMMAND = typer.main.get_command(app)
# flat setting names spelled otherwise as `dataeff run`'s flag and `dataeff.run()`'s keyword
SPELLED = {"source": "data"}


def cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def default_of(param) -> str:
    if param.is_flag:
        return "off"
    return "" if param.default in (None, ()) else f"`{param.default}`"


with mkdocs_gen_files.open("reference/cli.md", "w") as page:
    print("# Command line\n", file=page)
    print("Generated from the commands' own declarations (`src/dataeff/cli.py`).\n", file=page)
    for name, command in COMMAND.commands.items():
        print(f"## `dataeff {name}`\n", file=page)
        print(cell((command.help or "").split("\n\n")[0]) + "\n", file=page)
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        if arguments:
            print("Arguments: " + ", ".join(f"`{p.name.upper()}`" for p in arguments) + "\n", file=page)
        options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
        if options:
            print("| option | default | what it does |\n|---|---|---|", file=page)
            for p in options:
                print(f"| `{', '.join(p.opts)}` | {default_of(p)} | {cell(p.help or '')} |", file=page)
            print(file=page)

run_flags = {p.name: p for p in COMMAND.commands["run"].params if p.param_type_name == "option"}
with mkdocs_gen_files.open("reference/settings.md", "w") as page:
    print("# Settings\n", file=page)
    print("Generated from the one declaration of the settings (`config.Settings`). Each is a key of its "
          "table in a study TOML (`dataeff run --config study.toml`), a keyword of `dataeff.run()` (its flat "
          "name), and a flag of `dataeff run` where the last column names one.\n", file=page)
    flat_of = {place: flat for flat, place in FLAT_NAMES.items()}
    for section, field in Settings.model_fields.items():
        model = field.annotation
        print(f"## `[{section}]`\n", file=page)
        print(cell((model.__doc__ or "").strip().split("\n\n")[0]) + "\n", file=page)
        print("| key | Python keyword | default | flag | what it does |\n|---|---|---|---|---|", file=page)
        for key in model.keys():
            info = model.model_fields[key]
            default = info.default_factory() if info.default_factory else info.default
            flat = SPELLED.get(flat_of[(section, key)], flat_of[(section, key)])
            flag = run_flags.get(flat)
            said = info.description or (flag.help if flag else "")
            shown = "" if default is None else f"`{default!r}`"
            print(f"| `{key}` | `{flat}` | {cell(shown)} | {f'`{flag.opts[0]}`' if flag else ''} | {cell(said)} |",
                  file=page)
        print(file=page)
