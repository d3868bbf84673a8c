"""The command line's setting options, made from the settings' one declaration (config.py): one
flag per setting, named by its flat name (``llm_shots`` -> ``--llm-shots``), typed by its field,
its help the field's description. A setting added to the declaration is a flag at once.

``with_setting_flags(command)`` adds them to a typer command: the command receives the values
given (``None`` for the rest, so a study TOML's keys stand) as one ``settings`` dict by flat name.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from typing import Annotated, Any

import typer
from rich.markup import escape

from dataeff.config import FLAT_NAMES, RENAMED, SPELLED, Settings, renamed_note
from dataeff.terms import flag as flag_name  # the option of a setting: --llm-shots, --data

# Short forms of some flags.
SHORT = {"source": "-d", "learners": "-l", "jobs": "-j", "out": "-o"}
# The analysis section's settings, which are flags of `analyze` too.
ANALYSIS = ("score_target", "label_cost", "predictions", "token_price", "compute_price")


def _field(flat: str):
    section, key = FLAT_NAMES[flat]
    return getattr(Settings.model_fields[section].annotation, "model_fields")[key]


def on_the_command_line(flat: str) -> bool:
    """False for a setting the declaration keeps to the study TOML (a list of tables)."""
    section, key = FLAT_NAMES[flat]
    extra = _field(flat).json_schema_extra or {}
    return extra.get("flag", True) and key not in Settings.model_fields[section].annotation.INTERNAL


def _cli_type(annotation: Any) -> type:
    """The type typer parses a setting's text into: the field's own for numbers and switches,
    text for the rest (lists, mappings and names are parsed by the setting's own check)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = args[0] if len(args) == 1 else str
    if typing.get_origin(annotation) is Annotated:  # a constrained type: its base (int of PositiveInt)
        annotation = typing.get_args(annotation)[0]
    return annotation if annotation in (int, float, bool) else str


def setting_parameters(names: list[str] | tuple[str, ...] | None = None) -> dict[str, inspect.Parameter]:
    """One keyword parameter per setting (all of them, or ``names``) by flat name, each an
    Annotated typer option."""
    parameters = {}
    for flat in [flat for flat in (names or FLAT_NAMES) if on_the_command_line(flat)]:
        info = _field(flat)
        kind = _cli_type(info.annotation)
        declared = [flag_name(flat), *([SHORT[flat]] if flat in SHORT else [])]
        if kind is bool and info.annotation is not bool:  # on, off, or the learner's own default
            declared = [f"{declared[0]}/{declared[0].replace('--', '--no-', 1)}"]
        # escaped: Rich reads "[column]" in a description as markup and drops it from the help
        option = typer.Option(*declared, help=escape(info.description or ""))
        parameters[flat] = inspect.Parameter(SPELLED.get(flat, flat), inspect.Parameter.KEYWORD_ONLY,
                                             annotation=Annotated[kind | None, option], default=None)
    return parameters


def renamed_parameters(added: dict[str, inspect.Parameter]) -> dict[str, inspect.Parameter]:
    """A hidden option for each old name of a setting among ``added`` (``--target`` of ``--label``)."""
    return {old: inspect.Parameter(f"old_{old}", inspect.Parameter.KEYWORD_ONLY, default=None,
                                   annotation=Annotated[typing.get_args(added[new].annotation)[0], typer.Option(
                                       flag_name(old), hidden=True, help=f"Old name of {flag_name(new)}.")])
            for old, new in RENAMED.items() if new in added}


def with_setting_flags(names: list[str] | tuple[str, ...] | None = None):
    """Give a typer command one flag per setting (or per setting in ``names``); it receives the
    values as ``settings``, by flat name."""
    def decorate(command):
        own = inspect.signature(command, eval_str=True)
        added = setting_parameters(names)
        back = {parameter.name: flat for flat, parameter in added.items()}
        old_names = renamed_parameters(added)

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            settings = {back[name]: kwargs.pop(name) for name in list(kwargs) if name in back}
            for old, new in [(old, RENAMED[old]) for old in old_names]:
                value = kwargs.pop(f"old_{old}")
                if value is not None:
                    renamed_note(flag_name(old), flag_name(new))
                    settings[new] = settings.get(new) if settings.get(new) is not None else value
            return command(*args, settings=settings, **kwargs)

        kept = [p for p in own.parameters.values() if p.name != "settings"]
        wrapper.__signature__ = own.replace(parameters=[*kept, *added.values(), *old_names.values()])
        return wrapper

    return decorate
