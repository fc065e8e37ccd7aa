"""A real Jupyter server (pytest-jupyter) with the dataops_nb server extension, over a real project."""

from __future__ import annotations

import pytest

from ..conftest import TWO_STEPS, ProjectFactory

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config():
    return {"ServerApp": {"jpserver_extensions": {"dataops_nb.server": True}}}


@pytest.fixture
def api_project(jp_root_dir) -> ProjectFactory:
    """The two-step project at the server's root."""
    project = ProjectFactory(jp_root_dir)
    project.notebook(
        "make",
        "n = 10",
        """
        import dataops_nb as dn
        step = dn.step()
        step.publish("raw.numbers", f"select range as i, 'user' || range || '@example.com' as email from range({n})")
        """,
    )
    project.notebook(
        "double",
        "factor = 2",
        """
        import polars as pl
        import dataops_nb as dn
        step = dn.step()
        df = step.read("raw.numbers").with_columns((pl.col("i") * factor).alias("j"))
        step.publish("staging.doubled", df)
        """,
    )
    project.spec(TWO_STEPS)
    return project
