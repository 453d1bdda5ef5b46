"""A workflow config file checked as a reader would want it: every problem on its own line, named
where it is in the file.

:func:`check_config_file` reads the YAML strictly (a key given twice in one mapping, which YAML
loaders settle silently by keeping the last, and a syntax error with its line and column), then
validates it against the config schema (``config.schema.yaml`` beside this package, which refers
to the settings schema, :mod:`lwflow.settings`).  Each schema error becomes one line that names
the key's path, its line in the file and the fix; an unknown or misspelled key is named with the
known key nearest to it.  ``lwflow check-config`` prints them, and the workflow raises them before
Snakemake's own validation would dump the schema.

Example::

    >>> import pathlib, tempfile
    >>> mine = pathlib.Path(tempfile.mkdtemp()) / "mine.yaml"
    >>> _ = mine.write_text("seeds: [0]\\ntrainig: {max_steps: 10}\\n")
    >>> check_config_file(mine)
    Traceback (most recent call last):
    lwflow.stages.config_file.ConfigError: config file .../mine.yaml: ...
      line 2: trainig: not a key of the config; did you mean 'training'?...
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CONFIG_SCHEMA_PATH = Path(__file__).resolve().parents[1] / "config.schema.yaml"

__all__ = ["CONFIG_SCHEMA_PATH", "ConfigError", "check_config_file", "config_file_problems", "with_defaults"]


class ConfigError(ValueError):
    """A config that cannot run, found before any job."""


def check_config_file(path: str | Path) -> None:
    """Refuse a config file that is not well-formed YAML, gives a key twice in one mapping, or does
    not match the config schema, with every problem on its own line (module docstring)."""
    problems = config_file_problems(path)
    if len(problems) == 1:
        raise ConfigError(f"config file {path}: {problems[0]}")
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems)
        raise ConfigError(f"config file {path}: {len(problems)} problems\n{listed}")


def config_file_problems(path: str | Path) -> list[str]:
    """The problems of one config file, each a line that says where (line) and what to change;
    empty for a config that the workflow accepts."""
    import yaml

    text = Path(path).read_text()
    try:
        config = yaml.load(text, Loader=_strict_loader(path))  # a SafeLoader: plain data only
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        return [f"YAML syntax error at {where}: {error.problem or error}"]
    except ConfigError as error:
        return [str(error)]
    lines = _key_lines(yaml.compose(text, Loader=yaml.SafeLoader))
    found = [problem for error in _validator().iter_errors(config) for problem in _describe(error, lines)]
    found += _misspelled_problem_keys(config, lines)
    return [text for _, text in sorted(found, key=lambda problem: (problem[0] is None, problem[0] or 0, problem[1]))]


def _strict_loader(path: str | Path) -> type:
    """A SafeLoader that refuses a key given twice in one mapping, naming both lines."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"key {key!r} appears twice in one mapping (lines {seen[key]} and {line}); only the last "
                    "would count: merge them or delete one"
                )
            seen[key] = line
        return loader.construct_mapping(node, deep=True)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return StrictLoader


def with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with the config schema's defaults filled in wherever a key is missing,
    as the workflow's ``snakemake.utils.validate`` fills them, after checking it against the
    schema (:class:`jsonschema.ValidationError` when it does not match).

    Example (the test suite's small config, which leaves ``execution`` out)::

        >>> import yaml
        >>> smoke = yaml.safe_load((CONFIG_SCHEMA_PATH.parents[2] / "tests/config/smoke.yaml").read_text())
        >>> "execution" in smoke, with_defaults(smoke)["execution"]
        (False, {'local_cores': 'auto'})
    """
    import copy

    from jsonschema import Draft202012Validator, validators

    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def fill_then_check(validator: Any, properties: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    filling = validators.extend(Draft202012Validator, {"properties": fill_then_check})
    schema, registry = _schema()
    filled = copy.deepcopy(config)
    filling(schema, registry=registry).validate(filled)
    return filled


@functools.cache
def _schema() -> tuple[Any, Any]:
    """The config schema and the registry that resolves its references to the settings schema."""
    import yaml
    from referencing import Registry, Resource

    from lwflow.settings import SCHEMA_PATH

    settings = Resource.from_contents(yaml.safe_load(SCHEMA_PATH.read_text()))
    return yaml.safe_load(CONFIG_SCHEMA_PATH.read_text()), Registry().with_resource(SCHEMA_PATH.name, settings)


@functools.cache
def _validator() -> Any:
    """The config schema's validator, its references to the settings schema resolved."""
    from jsonschema import Draft202012Validator

    schema, registry = _schema()
    return Draft202012Validator(schema, registry=registry)


def _key_lines(node: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """The line (1-based) of every mapping key and list item, by its path in the document."""
    import yaml

    lines: dict[tuple[Any, ...], int] = {path: node.start_mark.line + 1} if node is not None else {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            key = (*path, key_node.value)
            lines[key] = key_node.start_mark.line + 1
            lines |= {k: v for k, v in _key_lines(value, key).items() if k != key}
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines |= _key_lines(item, (*path, index))
    return lines


def _describe(error: Any, lines: dict[tuple[Any, ...], int]) -> Iterator[tuple[int | None, str]]:
    """One line per problem of a schema error (with its line number, to sort by): where, what,
    and the nearest known key."""
    path = tuple(error.absolute_path)
    name = _dotted(path) or "the config"
    line = lines.get(path)
    at = f"line {line}: " if line else ""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(known), key=str):
            hint = _nearest(str(key), known)
            where = lines.get((*path, key)) or line
            yield where, f"{f'line {where}: ' if where else ''}{_dotted((*path, key))}: not a key of {name}; {hint}"
    elif error.validator == "required" and isinstance(error.instance, dict):
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        unknown = [str(k) for k in error.instance if k not in error.schema.get("properties", {})]
        close = difflib.get_close_matches(missing, unknown, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r} (line {lines.get((*path, close[0]))})?" if close else ""
        yield line, f"{at}{name}: {missing!r} is required{hint}"
    else:
        yield line, f"{at}{name}: {error.message}"


def _misspelled_problem_keys(config: Any, lines: dict[tuple[Any, ...], int]) -> list[tuple[int | None, str]]:
    """A problem entry's keys that the schema does not declare but that nearly spell one it does
    (``n_prior_sample``): the entries take their kind's own parameters besides the declared keys
    (``means``, ``radii``, ...), so the schema cannot refuse unknown keys there."""
    import yaml

    problems = config.get("problems") if isinstance(config, dict) else None
    if not isinstance(problems, dict):
        return []
    schema = yaml.safe_load(CONFIG_SCHEMA_PATH.read_text())
    declared = list(schema["properties"]["problems"]["additionalProperties"]["properties"])
    found = []
    for name, entry in problems.items():
        for key in entry if isinstance(entry, dict) else []:
            close = difflib.get_close_matches(str(key), declared, n=1, cutoff=0.85)
            if close and key not in declared:
                line = lines.get(("problems", name, key))
                where = f"line {line}: " if line else ""
                found.append(
                    (line, f"{where}problems.{name}.{key}: not a key of a problem; did you mean {close[0]!r}?")
                )
    return found


def _nearest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"


def _dotted(path: tuple[Any, ...]) -> str:
    """``('experiments', 0, 'modes')`` as ``experiments[0].modes``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text
