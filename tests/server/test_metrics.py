"""GET /dataops/metrics on a real Jupyter server: token-authenticated, Prometheus' text format."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import HTTPClientError

from dataops_nb.project import Project

from ..metrics_data import fill

pytestmark = pytest.mark.usefixtures("api_project")


async def test_metrics_are_served_to_a_token_holder(jp_fetch, api_project, jp_base_url, http_server_client):
    fill(Project(api_project.root).writable_ledger())
    response = await jp_fetch("dataops", "metrics")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(response.body.decode())}
    runs = {tuple(sorted(s.labels.items())): s.value for s in families["dataops_runs"].samples}
    assert runs[(("environment", "prod"), ("pipeline", "twosteps"), ("status", "success"))] == 2.0

    with pytest.raises(HTTPClientError) as refused:
        await http_server_client.fetch(f"{jp_base_url}dataops/metrics")
    assert refused.value.code == 403
    with pytest.raises(HTTPClientError) as outside:
        await jp_fetch("dataops", "metrics", params={"project": "../.."})
    assert outside.value.code == 400
