from __future__ import annotations

import pytest

from .sink import AlertSink


@pytest.fixture
def sink():
    with AlertSink() as server:
        yield server
