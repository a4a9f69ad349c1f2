"""A per-process cache of loaded models, by name.

The names and their loaders are declared in one place, :mod:`vision.catalog`,
whose ``setup()`` registers them all at process start. Nothing heavy happens
at import time: a model is read from disk on the first ``load(name)`` call in
a process and kept for that process's lifetime (a Celery worker child loads
each model once, after the fork). Weights come from installed packages, never
from the network.
"""

from __future__ import annotations

from typing import Any, Callable

_LOADERS: dict[str, Callable[[str], Any]] = {}


_CACHE: dict[str, Any] = {}


def register(name: str, loader: Callable[[str], Any]) -> None:
    """Add a model loader (``loader(name) -> model``) under ``name``; a model
    already loaded under that name is forgotten (the new loader may read
    other files)."""
    _LOADERS[name] = loader
    _CACHE.pop(name, None)


def unregister(name: str) -> None:
    """Forget ``name`` and its loaded model (a test's stand-in, once the test is done); unknown names are ignored."""
    _LOADERS.pop(name, None)
    _CACHE.pop(name, None)


def names() -> list[str]:
    """Names of every model the registry can load."""
    return sorted(_LOADERS)


def load(name: str) -> Any:
    """Load a model once per process and return the cached instance.

    Raises:
        ValueError: unknown model name.
        WeightsMissingError: its weights file is not on disk.
    """
    if name not in _LOADERS:
        raise ValueError(f"Unknown model {name!r}; known: {names()}")
    if name not in _CACHE:  # a failed load (missing weights) is not cached: it is retried
        _CACHE[name] = _LOADERS[name](name)
    return _CACHE[name]


_CACHED: dict[str, Any] = {}


def cached(key: str, factory: Callable[[], Any], *, max_items: int = 8) -> Any:
    """A per-process cache for models known only at run time (e.g. a trained
    classifier version): ``factory()`` runs on the first call for ``key``.
    The oldest entries are dropped past ``max_items`` to bound memory."""
    if key not in _CACHED:
        while len(_CACHED) >= max_items:
            _CACHED.pop(next(iter(_CACHED)))
        _CACHED[key] = factory()
    return _CACHED[key]
