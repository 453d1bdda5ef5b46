"""User problems: ``module:attribute`` naming a :class:`Problem` or a factory of one, with
``args`` and ``data`` files, and the files a workflow stage must track for it."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from lwflow.problems.problem import Problem


def _split_reference(reference: str) -> tuple[str, str]:
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"user problem {reference!r} must be written 'module:attribute', e.g. 'my_model:problem'")
    return module_name, attribute


def _refuse_python_itself(reference: str, module_name: str) -> None:
    if module_name.split(".")[0] in sys.stdlib_module_names:
        raise ValueError(
            f"user problem {reference!r} names {module_name!r}, a module of Python itself, not a problem: "
            "name an lwflow.Problem, or a function of your own module that returns one"
        )


def user_module_file(reference: str) -> Path:
    """The source file of the module named by ``module:attribute`` (found, not imported): an
    input of the workflow's stages, so that editing it reruns them."""
    module_name, _ = _split_reference(reference)
    _refuse_python_itself(reference, module_name)
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as error:
        raise ValueError(f"user problem {reference!r}: cannot find module {module_name!r} ({error})") from error
    if spec is None or spec.origin is None or not Path(spec.origin).is_file():
        raise ValueError(
            f"user problem {reference!r}: cannot find module {module_name!r}; put it on PYTHONPATH or install it"
        )
    origin = Path(spec.origin).resolve()
    return origin.relative_to(Path.cwd()) if origin.is_relative_to(Path.cwd()) else origin


def load_user_problem(
    reference: str, args: dict[str, Any] | None = None, data: dict[str, str] | None = None
) -> Problem:
    """Import ``module:attribute``: a :class:`Problem`, or a factory returning one, called as
    ``factory(**args, **data)``.  The problem's shapes are checked (:meth:`Problem.check`).

    Arguments:
        reference: ``module:attribute``, the module importable (on ``PYTHONPATH``).
        args: keyword arguments of a factory.
        data: keyword arguments of a factory that are file paths (their content is tracked).

    Returns:
        The :class:`Problem`.
    """
    module_name, attribute = _split_reference(reference)
    _refuse_python_itself(reference, module_name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"user problem {reference!r}: cannot import module {module_name!r} ({error}); "
            "put it on PYTHONPATH or install it"
        ) from error
    if not hasattr(module, attribute):
        raise ValueError(f"user problem {reference!r}: module {module_name!r} has no attribute {attribute!r}")
    obj = getattr(module, attribute)
    if inspect.isbuiltin(obj):
        raise ValueError(
            f"user problem {reference!r} names {module_name!r}, a module of Python itself, not a problem: "
            "name an lwflow.Problem, or a function of your own module that returns one"
        )
    keywords = {**(args or {}), **(data or {})}
    if isinstance(obj, Problem):
        if keywords:
            raise ValueError(
                f"user problem {reference!r} is a Problem, not a factory, so it cannot take args or data "
                f"{sorted(keywords)}; make {attribute!r} a function that returns the Problem"
            )
        problem = obj
    elif callable(obj):
        try:
            problem = obj(**keywords)
        except TypeError as error:
            raise ValueError(
                f"user problem {reference!r}: calling it with {sorted(keywords)} failed: {error}"
            ) from error
    else:
        problem = obj
    if not isinstance(problem, Problem):
        raise ValueError(f"user problem {reference!r} must be an lwflow.Problem, got {type(problem).__name__}")
    problem.check()
    return problem


def problem_files(spec: dict[str, Any], data: bool = True) -> list[str]:
    """The files a problem is made of beyond lwflow: a user problem's module source and (with
    ``data``) its data files; empty for built-ins.  The prior draws depend on the module only."""
    if spec["kind"] != "user":
        return []
    if not data:
        return [str(user_module_file(spec["target"]))]
    files = [str(path) for path in spec.get("data", {}).values()]
    for key, path in spec.get("data", {}).items():
        check_data_file(key, Path(path))
    return [str(user_module_file(spec["target"])), *files]


def check_data_file(key: str, path: Path) -> None:
    """Refuse a data file that is missing, not a regular file (a folder, a FIFO, a device: reading
    one hangs or fails late), or that lies outside the working directory once ``..`` and links are
    resolved (the audit reads no file outside it, so every artefact would stay unverified)."""
    where = f"data {key!r}: {path}"
    if not path.exists():
        raise ValueError(f"{where} does not exist (paths are relative to the working directory {Path.cwd()})")
    if path.is_dir():
        raise ValueError(f"{where} is a folder; give one file (the factory receives its path)")
    if not path.is_file():
        raise ValueError(f"{where} is not a regular file (a FIFO or a device); copy its content into a file")
    if not path.resolve().is_relative_to(Path.cwd().resolve()):
        raise ValueError(
            f"{where} lies outside the working directory {Path.cwd()} once .. and links are resolved; the audit "
            "reads no file outside it, so every result would stay unverified: copy the file under the working "
            "directory and give its relative path"
        )
