"""A problem from its config entry: a built-in ``kind`` with its parameters, or ``kind: user``."""

from __future__ import annotations

import inspect
from typing import Any

from lwflow.problems.builtin import BUILTIN_KINDS
from lwflow.problems.problem import Problem
from lwflow.problems.user import load_user_problem

WORKFLOW_KEYS = ("n_prior_samples", "n_target_samples", "likelihood_chunks")  # read by the workflow, not the problem
USER_KEYS = ("target", "args", "data")


def problem_from_spec(name: str, spec: dict[str, Any]) -> Problem:
    """Build a problem from its config entry: ``{kind: ..., **parameters}`` or
    ``{kind: user, target: mod:attr, args: {...}, data: {...}}``; a key the kind does not take,
    or a parameter it needs that is missing, is refused naming both."""
    spec = dict(spec)
    kind = spec.pop("kind")
    for key in WORKFLOW_KEYS:
        spec.pop(key, None)
    if kind == "user":
        unknown = sorted(set(spec) - set(USER_KEYS))
        if unknown:
            raise ValueError(
                f"problem {name!r} (kind: user) has keys {unknown} that user problems do not take "
                f"(known: {sorted(USER_KEYS + WORKFLOW_KEYS)}); pass the factory's parameters under args:"
            )
        return load_user_problem(spec["target"], spec.get("args"), spec.get("data"))
    if kind not in BUILTIN_KINDS:
        raise ValueError(f"problem {name!r}: unknown kind {kind!r}; choose one of {sorted(BUILTIN_KINDS)} or 'user'")
    factory = BUILTIN_KINDS[kind]
    parameters = inspect.signature(factory).parameters
    known = [p for p in parameters if p != "name"]
    unknown = sorted(set(spec) - set(known))
    missing = [p for p in known if p not in spec and parameters[p].default is inspect.Parameter.empty]
    if unknown or missing:
        what = "; ".join(
            part
            for part in (f"unknown keys {unknown}" if unknown else "", f"missing keys {missing}" if missing else "")
            if part
        )
        raise ValueError(
            f"problem {name!r} (kind: {kind}): {what}; its keys are {known} and {list(WORKFLOW_KEYS)}: "
            f"fix the spelling or add the missing ones"
        )
    try:
        return factory(name=name, **spec)
    except (ValueError, TypeError) as error:
        raise ValueError(f"problem {name!r} (kind: {kind}): {error}") from None
