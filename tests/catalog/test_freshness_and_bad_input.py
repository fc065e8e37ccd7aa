"""`dataops-nb freshness` for cron, and bad input to the catalog: clear sentences, no injection."""

from __future__ import annotations

import json
import os
import sys

import pytest


def test_freshness_reports_ages_and_fails_past_error_after(people):
    people.cli("run", check=0)
    result = people.cli("freshness", "--json")
    assert result.returncode == 1
    report = {row["dataset"]: row for row in json.loads(result.stdout)}
    assert report["marts.people_by_city"]["status"] == "error"  # error_after: 0s
    assert report["raw.people"]["status"] == "ok"  # newest signed_up is today; warn after 2 days
    assert report["raw.people"]["measured_by"] == "max(signed_up)"
    assert report["raw.people"]["sla"] == {"column": "signed_up", "warn_after": 172800.0, "error_after": 2592000.0}
    assert "1 dataset(s) past their error_after: marts.people_by_city." in result.stderr
    assert "Traceback" not in result.stderr

    human = people.cli("freshness")
    assert human.returncode == 1 and "marts.people_by_city" in human.stdout and "error" in human.stdout


@pytest.mark.parametrize(
    "query",
    ['"people', "people'", "NEAR(people", "people OR", "* AND", "^people", "'; DROP TABLE datasets; --",
     "people) OR (1=1", "col:x:y", "\\", "%_"],
)
def test_search_survives_quotes_operators_and_sql(people, query):
    people.cli("run", check=0)
    before = people.ledger_rows("select count(*) from datasets")
    result = people.cli("catalog", "search", query, "--json")
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        assert isinstance(json.loads(result.stdout), list)
    else:
        assert result.stderr.startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
    assert people.ledger_rows("select count(*) from datasets") == before
    assert people.ledger_rows("PRAGMA integrity_check") == [("ok",)]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("catalog", "show", "raw.peeple"), "did you mean 'raw.people'"),
        (("catalog", "versions", "raw.nope"), "raw.nope"),
        (("lineage", "raw.nope"), "raw.nope"),
        (("catalog", "show", "x; drop table y"), "Unknown dataset 'x; drop table y'"),
    ],
)
def test_unknown_or_malformed_dataset_is_one_sentence(people, args, fragment):
    people.cli("run", check=0)
    before = people.ledger_rows("select * from datasets order by name")
    result = people.cli(*args)
    assert result.returncode == 2
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert people.ledger_rows("select * from datasets order by name") == before  # nothing written


def notebook_by_hand(people, code):
    """`code` run in the project as a notebook run by hand would, by a member whose role may read."""
    import subprocess

    return subprocess.run([sys.executable, "-c", code], cwd=people.root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DATAOPS_USER": "alice"})


def test_time_travel_bad_versions_are_clear(people):
    people.cli("run", check=0)
    code = """
import dataops_nb as dn
for kwargs in ({"version": "20990101-000000-0000000"}, {"version": "nonsense"}, {"as_of": "yesterday"},
               {"as_of": "20990101-000000-0000000"}, {"version": "marts.other@20990101-000000-0000000"}):
    try:
        dn.read("raw.people", **kwargs)
    except dn.DataOpsError as exc:
        print(type(exc).__name__, "|", exc)
"""
    out = notebook_by_hand(people, code)
    lines = out.stdout.splitlines()
    assert len(lines) == 5, out.stderr
    assert lines[0].startswith("NotFoundError |") and "20990101-000000-0000000" in lines[0]
    assert "'nonsense' is not a version" in lines[1]
    assert "'yesterday' is not a run id for as_of" in lines[2]
    assert lines[3].startswith("NotFoundError |") and "run" in lines[3]
    assert "is not a version of raw.people" in lines[4]


def test_time_travel_reads_the_old_version(people):
    people.cli("run", check=0)
    first = people.ledger_rows("select run_id from runs order by run_id")[-1][0]
    people.cli("run", "-p", "bump=-50", check=0)
    code = f"""
import dataops_nb as dn
print(dn.read("raw.people", as_of="{first}")["score"].to_list())
print(dn.read("raw.people", version="{first}")["score"].to_list())
print(dn.read("raw.people")["score"].to_list())
"""
    out = notebook_by_hand(people, code)
    assert out.stdout.splitlines() == ["[10, 20, None, 40, 55, 20]", "[10, 20, None, 40, 55, 20]",
                                       "[10, 20, None, 40, 5, 20]"], out.stderr
