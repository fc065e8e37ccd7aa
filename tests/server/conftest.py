"""A real Jupyter server (pytest-jupyter) with the dataops_nb server extension, over a real project."""

from __future__ import annotations

import pytest

# pytest-jupyter's fixtures and hooks, for these tests only (its autouse event loop would
# fight Playwright's in tests/ui)
from pytest_jupyter.jupyter_server import *  # noqa: F403

from ..conftest import ProjectFactory, make_two_steps
from ..identities import server_config


@pytest.fixture
def jp_server_config():
    return server_config()


@pytest.fixture
def api_project(jp_root_dir) -> ProjectFactory:
    """The two-step project at the server's root."""
    return make_two_steps(ProjectFactory(jp_root_dir))
