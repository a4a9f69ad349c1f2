"""Who may download which uploaded file. Each app registers a rule for the
folder its files live in (from its ``AppConfig.ready``); staff may open
everything; a file in a folder no app claims is staff-only."""

from __future__ import annotations

from typing import Callable

_RULES: list[tuple[str, Callable]] = []


def media_rule_register(prefix: str, check: Callable) -> None:
    """``check(user, path) -> bool`` decides for paths under ``prefix`` (e.g. ``"detect/"``)."""
    _RULES.append((prefix, check))
    _RULES.sort(key=lambda r: -len(r[0]))  # the most specific folder decides


def media_allowed(user, path: str) -> bool:
    if user.is_staff:
        return True
    for prefix, check in _RULES:
        if path.startswith(prefix):
            return bool(check(user, path))
    return False


def staff_only(user, path: str) -> bool:
    return False
