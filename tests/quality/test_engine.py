"""Every check type on real parquet through DuckDB: counts, outcomes, samples, masking."""

from __future__ import annotations

import duckdb
import pytest

from dataops_nb.quality.checks import CheckDefinitionError, Threshold, parse_check
from dataops_nb.quality.engine import Target, explain, run_checks


@pytest.fixture
def flights(tmp_path):
    path = tmp_path / "flights.parquet"
    planes = tmp_path / "planes.parquet"
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT range AS id,
                    CASE WHEN range % 20 = 0 THEN NULL ELSE range * 10 END AS dep_time,
                    ['AA', 'UA', 'DL', 'ZZ'][range % 4 + 1] AS carrier,
                    'N' || (range % 7) AS tailnum,
                    'user' || range || '@example.com' AS email,
                    TIMESTAMP '2013-01-01' + INTERVAL (range) HOUR AS time_hour
             FROM range(200)
             UNION ALL SELECT 5, 50, 'UA', 'N5', 'dupe@example.com', TIMESTAMP '2013-01-01')
           TO '{path}' (FORMAT parquet)"""
    )
    con.execute(f"COPY (SELECT 'N' || range AS tailnum FROM range(5)) TO '{planes}' (FORMAT parquet)")
    schema = [{"name": n, "type": t} for n, t, *_ in con.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
    return Target("staging.flights", str(path), schema, {"raw.planes": str(planes)}, pii=("email",))


def check(entry, column=None):
    return parse_check(entry, dataset="staging.flights", column=column)


def test_each_check_counts_failing_rows(flights):
    checks = [
        check("not_null", "dep_time"),
        check("unique", "id"),
        check({"unique": {"columns": ["id", "carrier"]}}),
        check({"accepted_values": {"values": ["AA", "UA", "DL"]}}, "carrier"),
        check({"range": {"min": 0, "max": 1000}}, "dep_time"),
        check({"regex": {"pattern": "N[0-9]+"}}, "tailnum"),
        check({"relationships": {"to": "raw.planes", "field": "tailnum"}}, "tailnum"),
        check({"row_count": {"min": 1000}}),
        check({"sql": {"query": "select * from {this} where dep_time < 0"}}),
    ]
    results = {r.check.name: r for r in run_checks(checks, flights)}
    assert results["not_null(dep_time)"].failing == 10
    assert results["unique(id)"].failing == 1
    assert results["unique(id,carrier)"].failing == 1
    assert results["accepted_values(carrier)"].failing == 50
    assert results["range(dep_time)"].failing == 189 - 90 + 1 - 5  # dep_time = 10*range > 1000, nulls excluded
    assert results["regex(tailnum)"].failing == 0
    assert results["relationships(tailnum)"].failing == sum(1 for i in range(200) if i % 7 >= 5) + 1  # the duplicate row has N5 too
    assert results["row_count"].status == "error" and "201 rows" in results["row_count"].message
    assert results["sql"].failing == 0 and results["sql"].status == "pass"
    assert all(r.rows == 201 for r in results.values())


def test_samples_only_for_failures_limited_and_masked(flights):
    results = run_checks([check("unique", "id"), check("not_null", "id")], flights)
    dupes, passing = results
    assert passing.sample == []
    assert len(dupes.sample) == 2 and {row["id"] for row in dupes.sample} == {5}
    assert all(row["email"] == "********" for row in dupes.sample)
    limited = run_checks([check({"accepted_values": {"values": ["AA"]}}, "carrier")],
                         Target(**{**flights.__dict__, "sample_limit": 3}))
    assert len(limited[0].sample) == 3


def test_severity_and_thresholds(flights):
    warn = check({"not_null": {"severity": "warn"}}, "dep_time")
    under = check({"not_null": {"severity": "warn", "warn_if": ">10%"}}, "dep_time")
    between = check({"not_null": {"error_if": "between 5 and 20"}}, "dep_time")
    above = check({"not_null": {"error_if": ">50", "warn_if": ">0"}}, "dep_time")
    statuses = [r.status for r in run_checks([warn, under, between, above], flights)]
    assert statuses == ["warn", "pass", "error", "warn"]
    assert Threshold.parse(">1%").matches(3, 200) and not Threshold.parse(">1%").matches(2, 200)
    for bad in ("more than 5", "between 1% and 5", ">>3"):
        with pytest.raises(CheckDefinitionError):
            Threshold.parse(bad)


def test_freshness_schema_and_missing_column(flights):
    stale = check({"freshness": {"warn_after": 86400, "error_after": 86400 * 365 * 100}}, "time_hour")
    schema = check({"schema": {"allow_added": False}})
    missing = check("not_null", "nope")
    target = Target(**{**flights.__dict__, "previous_schema": [{"name": "id", "type": "VARCHAR"},
                                                               {"name": "gone", "type": "INTEGER"}]})
    fresh, changed, absent = run_checks([stale, schema, missing], target)
    assert fresh.status == "warn" and "2013-01-09" in fresh.message
    assert changed.status == "error" and "removed gone" in changed.message and "id VARCHAR -> BIGINT" in changed.message
    assert absent.status == "error" and "column 'nope' is missing" in absent.message


def test_anomalies_wait_for_history_then_alarm(flights):
    volume = check({"volume_anomaly": {"min_history": 3}})
    nulls = check({"null_rate_anomaly": {"min_history": 3, "severity": "warn"}}, "dep_time")
    young = Target(**{**flights.__dict__, "history": {("spec", "volume_anomaly"): [200, 201]}})
    assert [r.status for r in run_checks([volume], young)] == ["pass"]
    steady = Target(**{**flights.__dict__, "history": {("spec", "volume_anomaly"): [199, 201, 200, 202],
                                                         ("spec", "null_rate_anomaly(dep_time)"): [0.05, 0.049, 0.051]}})
    assert [r.status for r in run_checks([volume, nulls], steady)] == ["pass", "pass"]
    jump = Target(**{**flights.__dict__, "history": {("spec", "volume_anomaly"): [10000, 10100, 9900, 10050],
                                                       ("spec", "null_rate_anomaly(dep_time)"): [0.0, 0.001, 0.0]}})
    volume_result, null_result = run_checks([volume, nulls], jump)
    assert volume_result.status == "error" and "robust z" in volume_result.message
    assert null_result.status == "warn"


def test_one_fused_statement(flights):
    checks = [check("not_null", "dep_time"), check("unique", "id"), check({"row_count": {"min": 1}}),
              check({"accepted_values": {"values": ["AA"]}}, "carrier")]
    [sql] = explain(checks, flights)
    # the streaming scan reads the file once; unique(id) reads only its key, in the same statement
    assert sql.count("read_parquet") == 2 and sql.count("SELECT") == 2
    assert '(SELECT count("id") - count(DISTINCT "id") FROM read_parquet' in sql
    assert '"c0"' in sql and '"c3"' in sql


def test_unique_on_a_large_file_counts_exactly_through_key_hashes(tmp_path):
    """From a million rows on, a file with unique checks is checked in one pass: key hashes and
    failing-row bits streamed once; a repeated hash (a real duplicate, or a collision) falls back
    to DuckDB's exact count."""
    path, clean = tmp_path / "big.parquet", tmp_path / "clean.parquet"
    rows = 1_200_000
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT range AS id, CASE WHEN range % 3 = 0 THEN NULL ELSE range END AS maybe,
                             range % 2 AS half, 'x' || range AS name FROM range({rows})
                      UNION ALL SELECT 7, NULL, 1, 'x7' UNION ALL SELECT 8, 8, 0, 'x8-again')
                   TO '{path}' (FORMAT parquet)""")
    con.execute(f"COPY (SELECT range AS id, 'x' || range AS name FROM range({rows})) TO '{clean}' (FORMAT parquet)")
    schema = [{"name": n, "type": t} for n, t, *_ in con.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
    big = Target("raw.big", str(path), schema, {})
    checks = [check("unique", "id"), check("unique", "maybe"), check({"unique": {"columns": ["id", "half"]}}),
              check("unique", "name"), check({"unique": {"columns": ["half"], "severity": "warn"}}),
              check("not_null", "maybe"), check({"range": {"max": 5}}, "id"), check({"row_count": {"max": 10}})]
    results = {r.check.name: r for r in run_checks(checks, big)}
    assert results["not_null(maybe)"].failing == rows // 3 + 1 and len(results["not_null(maybe)"].sample) == 10
    assert results["range(id)"].failing == rows - 6 + 2  # 6..rows-1, and the extra 7 and 8
    assert results["row_count"].status == "error" and f"{rows + 2} rows" in results["row_count"].message
    assert results["unique(id)"].failing == 2 and results["unique(id)"].status == "error"
    assert results["unique(maybe)"].failing == 1  # the NULLs repeat but are not keys
    assert results["unique(id,half)"].failing == 2  # (7, 1) and (8, 0) each twice
    assert results["unique(name)"].failing == 1
    assert results["unique(half)"].failing == rows + 2 - 2 and results["unique(half)"].status == "warn"
    assert {row["id"] for row in results["unique(id)"].sample} == {7, 8}
    assert 'CASE WHEN "id" IS NOT NULL THEN hash("id") END AS "h0"' in results["unique(id)"].sql
    assert "count(DISTINCT" in results["unique(id)"].sql
    assert all(r.rows == rows + 2 for r in results.values())

    target = Target("raw.clean", str(clean), schema[:1] + schema[3:], {})
    passed = run_checks([check("unique", "id"), check({"unique": {"columns": ["id", "name"]}}), check("not_null", "id")], target)
    assert [r.status for r in passed] == ["pass"] * 3 and [r.failing for r in passed] == [0, 0, 0]
    assert "count(DISTINCT" not in passed[0].sql  # distinct hashes alone proved it
    [one_pass] = explain([check("unique", "id"), check({"unique": {"columns": ["id", "name"]}}),
                          check("not_null", "id")], target)
    assert one_pass.startswith("-- one pass:") and "DISTINCT" not in one_pass
    assert 'hash("id", "name") AS "h1"' in one_pass and '(CASE WHEN "id" IS NULL THEN 1::USMALLINT' in one_pass
    # checks that are not a predicate of the row stay in a fused statement beside the one pass
    one_pass, fused = explain([check("unique", "id"), check({"freshness": {"warn_after": "1d"}}, "id")], target)
    assert '"m"' not in one_pass and 'max("id")' in fused


def test_row_checks_on_a_large_file_without_a_unique_check_run_in_one_pass(tmp_path):
    """A large file is checked in one pass even with no unique check: each row predicate is
    evaluated once, the failing counts are those of the fused statement."""
    path, rows = tmp_path / "big.parquet", 1_100_000
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT range AS id, CASE WHEN range % 4 = 0 THEN NULL ELSE 'AA' END AS carrier
                      FROM range({rows})) TO '{path}' (FORMAT parquet)""")
    schema = [{"name": n, "type": t} for n, t, *_ in con.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
    checks = [check("not_null", "carrier"), check({"range": {"max": 999}}, "id"),
              check({"accepted_values": {"values": ["AA"]}}, "carrier"), check({"row_count": {"min": 10}})]
    target = Target("raw.big", str(path), schema, {})
    statements = explain(checks, target)
    assert statements[0].startswith("-- one pass:") and "hash(" not in statements[0]
    results = {r.check.name: r for r in run_checks(checks, target)}
    assert results["not_null(carrier)"].failing == rows // 4 and results["not_null(carrier)"].status == "error"
    assert results["range(id)"].failing == rows - 1000
    assert results["accepted_values(carrier)"].status == "pass" and results["row_count"].status == "pass"
    small = tmp_path / "small.parquet"
    con.execute(f"COPY (SELECT range AS id FROM range(1000)) TO '{small}' (FORMAT parquet)")
    [fused] = explain([check("not_null", "id")], Target("raw.small", str(small), schema[:1], {}))
    assert not fused.startswith("-- one pass") and 'FILTER (WHERE "id" IS NULL)' in fused


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("not_nul", "did you mean 'not_null'"),
        ({"accepted_values": {}}, "needs 'values'"),
        ({"range": {"minimum": 3}}, "has no argument 'minimum'"),
        ({"not_null": {"severity": "fatal"}}, "must be warn or error"),
        ({"regex": {"pattern": "("}}, "is invalid"),
    ],
)
def test_malformed_checks(entry, message):
    with pytest.raises(CheckDefinitionError, match=message):
        check(entry, "dep_time")


def test_durations_and_iso_bounds_are_parsed_with_the_check(flights):
    stale = check({"freshness": {"warn_after": "1d", "error_after": "36500d"}}, "time_hour")
    assert stale.args == {"warn_after": 86400.0, "error_after": 36500 * 86400.0}
    early = check({"range": {"min": "2013-01-02", "max": "2013-01-09T00:00:00"}}, "time_hour")
    fresh, bounded = run_checks([stale, early], flights)
    assert fresh.status == "warn" and "days old" in fresh.message
    assert bounded.failing == 24 + 1 + 200 - 193  # the first day (and the duplicate), the last 7 hours


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"freshness": {"warn_after": "2 days"}}, "'warn_after' must be a duration"),
        ({"row_count": {"min": "lots"}}, "'min' must be a whole number"),
        ({"row_count": {"max": 2.5}}, "'max' must be a whole number"),
        ({"range": {"min": "one"}}, "'min' must be a number or an ISO date"),
        ({"range": {"max_inclusive": "no"}}, "'max_inclusive' must be true or false"),
        ({"volume_anomaly": {"sensitivity": "high"}}, "'sensitivity' must be a positive number"),
        ({"null_rate_anomaly": {"min_history": "few"}}, "'min_history' must be a whole number"),
        ({"schema": {"allow_added": "maybe"}}, "'allow_added' must be true or false"),
        ({"unique": {"columns": "origin"}}, "'columns' must be a list of column names"),
        ({"accepted_values": {"values": 5}}, "'values' must be a list"),
        ({"sql": {"query": ["select 1"]}}, "'query' must be a string"),
    ],
)
def test_check_arguments_of_the_wrong_type(entry, message):
    with pytest.raises(CheckDefinitionError, match=message) as raised:
        check(entry, "dep_time")
    kind, args = next(iter(entry.items()))
    assert raised.value.field == f"{kind}.{next(iter(args))}"
