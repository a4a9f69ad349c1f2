"""Locate the read-only shared data folder (``<repo>/../shared``) from tests.

Used for ``bad-inputs/`` and ``datasets/``. Locally a missing file skips the
test with the reason; in CI (``CI == "true"``) it fails, so the data cannot
silently stop being tested.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_ROOT = (REPO_ROOT / ".." / "shared").resolve()


def shared_path(*parts: str) -> Path:
    """Return ``SHARED_ROOT / parts...``, or skip/fail if it does not exist.

    Args:
        parts: path components under the shared folder, e.g.
            ``shared_path("bad-inputs", "I-18_empty.jpg")``.

    Returns:
        The existing path.

    Raises:
        pytest.skip.Exception: the path is absent and ``CI`` is not ``"true"``.
        pytest.fail.Exception: the path is absent and ``CI == "true"``.
    """
    path = SHARED_ROOT.joinpath(*parts)
    if not path.exists():
        reason = f"shared test data not found: {path} (expected next to the repository, in ../shared)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason, allow_module_level=True)
    return path
