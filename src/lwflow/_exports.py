"""Lazy re-exports for the package ``__init__`` files (PEP 562).

A name is imported from its module on first use, so that a workflow job importing one
submodule does not pay for torch, scipy.stats and scikit-learn behind the others.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], exports: dict[str, str], deprecated: dict[str, str] | None = None
) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for a package whose names live in submodules
    (``exports``: name -> module); a name resolved once is cached in ``namespace``.
    ``deprecated``: old name -> its new name in ``exports``, kept for one release: it gives the
    new name's object with a ``DeprecationWarning`` that names the new one (and is not listed)."""

    def __getattr__(name: str) -> Any:
        if deprecated and name in deprecated:
            new = deprecated[name]
            warnings.warn(
                f"{namespace['__name__']}.{name} is renamed {new}; the old name goes in the next release",
                DeprecationWarning,
                stacklevel=2,
            )
            return __getattr__(new)
        if name not in exports:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
