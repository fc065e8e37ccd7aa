"""Bad input in `notify:`, `owners:` and `schedule:`: one sentence naming the line, exit 2."""

from __future__ import annotations

import pytest

BASE = """
name: alerts
steps:
  - {name: make, notebook: notebooks/make.ipynb}
notify:
  channels:
    data-eng: {url_env: DATAENG_URL}
  rules:
    - {on: [run_failed], to: owners}
owners:
  data-eng: {notify: [data-eng]}
"""


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ("on: [run_failed]", "on: [run_fialed]", 8, "unknown event 'run_fialed' (did you mean 'run_failed'?)"),
    ("to: owners}", "to: [data-egn]}", 8, "unknown channel 'data-egn' (did you mean 'data-eng'?)"),
    ("{on: [run_failed], to: owners}", "{on: [run_failed]}", 8, "'to' is required"),
    ("notify: [data-eng]", "notify: [oncall]", 10, "owner 'data-eng' notifies unknown channel 'oncall'"),
    ("{url_env: DATAENG_URL}", "{url_env: 'json://host/token'}", 6, "must name an environment variable"),
    ("owners:", "schedule: '61 6 * * *'\nowners:", 9,
     "schedule '61 6 * * *' is not a cron expression: the minute field allows 0-59, not '61'"),
])
def test_bad_alerting_config_names_its_line_and_exits_2(project, old, new, line, message):
    project.notebook("make", "x = 1", "pass")
    project.spec(BASE.replace(old, new))
    before = project.snapshot()
    result = project.cli("status", check=2)
    assert f"dataops.yaml:{line}: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "json://host/token" not in result.stderr
    assert project.snapshot() == before


def test_a_good_schedule_is_what_export_airflow_schedules(project):
    project.notebook("make", "x = 1", "pass")
    project.spec(BASE.replace("owners:", "schedule: '30 6 * * mon-fri'\nowners:"))
    project.cli("export", "airflow", check=0)
    assert "schedule='30 6 * * mon-fri'" in (project.root / "airflow" / "alerts.py").read_text()
