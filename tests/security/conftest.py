"""Security tests: real projects, real kernels, and a real Jupyter server (pytest-jupyter) for
the HTTP side, with several authenticated users (tests/identities.py: send
`headers=as_user("alice")`); assertions are on the bytes that land on disk or in responses."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from ..conftest import ProjectFactory
from ..identities import as_user

# the real server of tests/server (pytest-jupyter's fixtures, the extension, the token users)
# and its two-step project at the server's root (`api_project`)
from ..server.conftest import *


@pytest.fixture
def served(jp_root_dir) -> ProjectFactory:
    """An empty project directory at the Jupyter server's root."""
    return ProjectFactory(jp_root_dir)


@pytest.fixture
def api(jp_fetch):
    """`await api(user, METHOD, path..., body=..., params=...)` -> (status, raw body bytes); never raises."""

    async def call(user, method, *parts, body=None, params=None):
        response = await jp_fetch(
            "dataops", *parts, method=method, headers=as_user(user), params=params or {},
            body=None if body is None else (body if isinstance(body, (str, bytes)) else json.dumps(body)),
            raise_error=False,
        )
        return response.code, response.body

    return call


async def wait_for_run(api, user: str, run_id: str, timeout: float = 180) -> dict:
    """Poll GET /dataops/runs/RUN_ID as `user` until the run is no longer running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body = await api(user, "GET", "runs", run_id)
        assert code == 200, body
        run = json.loads(body)
        if run["status"] != "running":
            return run
        await asyncio.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish")
