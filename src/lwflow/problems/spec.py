"""A problem from its config entry: a built-in ``kind`` with its parameters, or ``kind: user``."""

from __future__ import annotations

from typing import Any

from lwflow.problems.builtin import BUILTIN_KINDS
from lwflow.problems.problem import Problem
from lwflow.problems.user import load_user_problem


def problem_from_spec(name: str, spec: dict[str, Any]) -> Problem:
    """Build a problem from its config entry: ``{kind: ..., **parameters}`` or
    ``{kind: user, target: mod:attr, args: {...}, data: {...}}``."""
    spec = dict(spec)
    kind = spec.pop("kind")
    for key in ("n_prior_samples", "n_target_samples", "likelihood_chunks"):
        spec.pop(key, None)
    if kind == "user":
        return load_user_problem(spec["target"], spec.get("args"), spec.get("data"))
    if kind not in BUILTIN_KINDS:
        raise ValueError(f"problem {name!r}: unknown kind {kind!r}; choose one of {sorted(BUILTIN_KINDS)} or 'user'")
    return BUILTIN_KINDS[kind](name=name, **spec)
