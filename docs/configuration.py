"""Write the configuration reference (docs/configuration.md) from the config schema's own types,
defaults and descriptions, so that it cannot drift from what the workflow accepts.  Usage::

    python docs/configuration.py > docs/configuration.md

``tests/test_lint.py`` checks that the file is what this script writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from lwflow.settings import schema_bounds

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def _resolved(node: Any, base: Path) -> Any:
    """``node`` with every ``$ref`` (a file relative to ``base`` and a JSON pointer, as the config
    schema refers to the library's settings schema) replaced by what it points at."""
    if isinstance(node, list):
        return [_resolved(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        file, pointer = node["$ref"].split("#", 1)
        target_path = (base / file).resolve()
        target = yaml.safe_load(target_path.read_text())
        for part in pointer.strip("/").split("/"):
            target = target[part]
        rest = {key: value for key, value in node.items() if key != "$ref"}
        return _resolved({**target, **rest}, target_path.parent)
    return {key: _resolved(value, base) for key, value in node.items()}


def _type(node: dict[str, Any]) -> str:
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    if "oneOf" in node:
        return " or ".join(_type(option) for option in node["oneOf"])
    kind = node.get("type", "")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and "items" in node:
        return f"array of {_type(node['items'])}"
    bounds = schema_bounds(node)
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _rows(node: dict[str, Any], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, child in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        default = f"`{json.dumps(child['default'])}`" if "default" in child else ""
        description = " ".join(str(child.get("description", "")).split()).replace("|", "\\|")
        rows.append((f"`{key}`", _type(child), default, description))
        if child.get("type") == "object":
            rows += _rows(child, f"{key}.")
            if isinstance(child.get("additionalProperties"), dict):
                rows += _rows(child["additionalProperties"], f"{key}.<name>.")
        if child.get("type") == "array" and child.get("items", {}).get("type") == "object":
            rows += _rows(child["items"], f"{key}[].")
    return rows


def reference() -> str:
    schema = _resolved(yaml.safe_load(SCHEMA.read_text()), SCHEMA.parent)
    lines = [
        "# Configuration reference",
        "",
        "<!-- written by: python docs/configuration.py > docs/configuration.md (from the config schema) -->",
        "",
        "Every key the workflow accepts, with its type, default and meaning; `config.yaml` is the default",
        "run and `tests/config/smoke.yaml` the tiny one. Required at the top: "
        + ", ".join(f"`{k}`" for k in schema.get("required", []))
        + ". A config given with `--configfile` stands alone: what it leaves out takes these defaults.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in _rows(schema, "")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
