"""One definition of lwflow's settings: every section's keys, types, ranges and defaults.

``settings.schema.yaml`` (beside this module) holds one JSON schema per settings section
(``training``, ``clipping``, ``model``, ``adaptive``, ...).  The library's settings
dataclasses call :func:`check_section` when they are built, and the workflow's config schema
refers to the same sections (``$ref``), so ``lwflow.fit(training={"max_steps": 0})`` and a
config's ``training: {max_steps: 0}`` are refused by the same rule.  A refusal names the
key, the value, the rule and the default, and suggests the known key closest to an unknown one.

Example::

    >>> check_section("training", {"max_steps": 0})
    Traceback (most recent call last):
    lwflow.settings.SettingsError: training.max_steps = 0: 0 is less than the minimum of 1; give an integer >= 1 ...
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, cast

SCHEMA_PATH = Path(__file__).with_name("settings.schema.yaml")


class _Section(Protocol):
    SECTION: ClassVar[str]  # the section of the settings schema the dataclass checks itself against


Settings = TypeVar("Settings", bound=_Section)

__all__ = ["SCHEMA_PATH", "SettingsError", "check_section", "schema_bounds", "section_schema", "settings_of"]


class SettingsError(ValueError):
    """A setting outside its section's schema: the message names the key, the value and the fix."""


@functools.cache
def _definitions() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text())["$defs"]


def section_schema(section: str) -> dict[str, Any]:
    """The JSON schema of one section (or one top-level value such as ``seed``)."""
    return _definitions()[section]


@functools.cache
def _validator(section: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(section_schema(section))


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, tuples as lists: what a YAML config would hold."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _rule(schema: dict[str, Any]) -> str:
    """What a value must be, in words, from its schema."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(option) for option in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    if "oneOf" in schema:
        return " or ".join(_rule(option) for option in schema["oneOf"])
    kinds = schema.get("type", "value")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    words = {"integer": "an integer", "number": "a number", "string": "a string", "null": "null", "object": "a mapping"}
    text = " or ".join(words.get(kind, kind) for kind in kinds)
    bounds = schema_bounds(schema)
    return text + (" " + " and ".join(bounds) if bounds else "")


def schema_bounds(schema: dict[str, Any]) -> list[str]:
    """A schema's numeric bounds as ``>= 1``, ``< 1`` (for messages and the configuration reference)."""
    signs = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
    return [f"{sign} {schema[key]}" for key, sign in signs if key in schema]


def _describe(schema: dict[str, Any]) -> str:
    default = f" (default {schema['default']!r})" if "default" in schema else ""
    about = f": {schema['description']}" if "description" in schema else ""
    return f"give {_rule(schema)}{default}{about}"


def _closest(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), 1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_section(section: str, values: Any, label: str | None = None) -> None:
    """Raise :class:`SettingsError` unless ``values`` satisfy the schema of ``section`` (a
    section's mapping, or one value such as ``seed``); ``label`` names it in the message.

    Beyond the schema, a number must be finite: JSON schema lets NaN pass every bound (every
    comparison with NaN is false), so ``final_ess = nan`` would otherwise be accepted."""
    label = label or section
    schema = section_schema(section)
    values = _plain(values)
    properties = schema.get("properties", {})
    if schema.get("type") == "object" and not isinstance(values, Mapping):
        raise SettingsError(
            f"{label}: give a mapping of its settings (keys {sorted(properties)}) or its settings object, "
            f"got {values!r}"
        )
    items = values.items() if isinstance(values, Mapping) else [(None, values)]
    for key, value in items:
        if isinstance(value, float) and not math.isfinite(value):
            where, rule = (f"{label}.{key}", properties.get(key, {})) if key is not None else (label, schema)
            raise SettingsError(f"{where} = {value!r} is not a finite number; {_describe(rule)}")
    error = next(iter(sorted(_validator(section).iter_errors(values), key=lambda e: list(e.path))), None)
    if error is None:
        return
    if error.validator == "additionalProperties":
        unknown = sorted(set(values) - set(properties))
        hints = [f"{key!r}{_closest(key, properties)}" for key in unknown]
        raise SettingsError(f"{label}: unknown setting {', '.join(hints)}; known: {sorted(properties)}")
    path = [str(part) for part in error.path]
    key = path[0] if path else None
    rule = properties.get(key, schema) if key is not None else schema
    where = ".".join([label, *path])
    raise SettingsError(f"{where} = {error.instance!r}: {error.message}; {_describe(rule)}")


def settings_of(kind: type[Settings], value: Settings | Mapping[str, Any] | None) -> Settings:
    """A settings dataclass from itself, a dict of its fields (a config section) or None
    (defaults), checked against its section of the settings schema (:mod:`lwflow.settings`)."""
    if value is None:
        return kind()
    if isinstance(value, kind):
        return value
    check_section(kind.SECTION, value)  # names an unknown key or a wrong type before the dataclass does
    return kind(**cast(Mapping[str, Any], value))
