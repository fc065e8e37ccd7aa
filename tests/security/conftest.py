"""Security tests: real projects, real kernels, and a real Jupyter server (pytest-jupyter) for
the HTTP side; assertions are on the bytes that land on disk or in responses."""

from __future__ import annotations

import pytest

# pytest-jupyter's fixtures and hooks (jp_fetch, jp_root_dir, ...), as in tests/server
from pytest_jupyter.jupyter_server import *

from ..conftest import ProjectFactory


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"dataops_nb.server": True}}}


@pytest.fixture
def served(jp_root_dir) -> ProjectFactory:
    """An empty project directory at the Jupyter server's root."""
    return ProjectFactory(jp_root_dir)
