"""`dataops-nb diff A B`: schema, rows and keyed changes of two sides, computed in DuckDB over their files."""

from __future__ import annotations

import json

import duckdb
import pytest

from dataops_nb.errors import DataOpsError
from dataops_nb.ledger import VersionRecord, now
from dataops_nb.metadata.diff import dataset_diff

from .test_cli import assert_clean_refusal
from .test_environments import dev, pointers  # noqa: F401 (the fixture: prod, and dev-alice's double with factor 3)


def test_a_keyed_diff_counts_changed_rows_and_columns_and_samples_them(dev):  # noqa: F811
    out = json.loads(dev.cli("diff", "prod", "dev-alice", "staging.doubled", "--key", "i", "--json", check=0).stdout)
    (doubled,) = out["datasets"]
    assert (out["a"], out["b"], out["differs"]) == ("prod", "dev-alice", True)
    assert (doubled["only_in_a"], doubled["only_in_b"], doubled["changed"]) == (0, 0, 9)  # i = 0 doubles to 0 both ways
    assert doubled["changed_columns"] == {"j": 9} and doubled["rows"] == {"a": 10, "b": 10}
    assert doubled["sample"][0] == {"i": 1, "j (a)": 2, "j (b)": 3} and len(doubled["sample"]) == 5
    assert doubled["stats"]["j"]["a"]["max"] == "18" and doubled["stats"]["j"]["b"]["max"] == "27"
    assert not any(doubled["schema"].values())

    unkeyed = json.loads(dev.cli("diff", "prod", "dev-alice", "staging.doubled", "--json", check=0).stdout)
    assert (unkeyed["datasets"][0]["only_in_a"], unkeyed["datasets"][0]["only_in_b"]) == (9, 9)

    # every dataset of both sides; dev-alice reads prod's raw.numbers: the same version, no difference
    markdown = dev.cli("diff", "prod", "dev-alice", "--key", "i", "--format", "markdown", check=0).stdout
    assert "| staging.doubled | 10 | 10 | 0 | 0 | 9 |" in markdown and "| raw.numbers | 10 | 10 |" in markdown
    assert "**staging.doubled** changed columns: j (9)" in markdown
    assert dev.cli("diff", "prod", "dev-alice", "--key", "i", "--fail-on-diff").returncode == 1
    assert dev.cli("diff", "prod", "dev-alice", "raw.numbers", "--fail-on-diff").returncode == 0
    version = pointers(dev, "prod")["staging.doubled"]
    same = json.loads(dev.cli("diff", version, "prod", "staging.doubled", "--json", check=0).stdout)
    assert same["differs"] is False and same["datasets"][0]["same_version"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["diff", "prod", "nope"], ["Unknown environment 'nope'"]),
        (["diff", "prod", "dev-alice", "staging.doubled", "--key", "k"], ["Key column k does not exist in side A of staging.doubled"]),
        (["diff", "prod", "dev-alice", "raw.nothing"], ["Unknown dataset in prod or dev-alice 'raw.nothing'"]),
        # raw.numbers is the same version on both sides: the key is still checked
        (["diff", "prod", "dev-alice", "raw.numbers", "--key", "k"], ["Key column k does not exist in side A of raw.numbers"]),
        (["diff", "raw.numbers@20260101-000000-0000abc", "prod"], ["Unknown version 'raw.numbers@20260101-000000-0000abc'"]),
    ],
)
def test_bad_diff_input_is_refused(dev, args, fragments):  # noqa: F811
    before = dev.snapshot()
    assert_clean_refusal(dev.cli(*args), *fragments)
    assert dev.snapshot() == before


def version(tmp_path, name, sql, *, order=None, row_group_size=None):
    """A version of raw.t whose file holds `sql`'s rows (in `order`, in row groups of `row_group_size`)."""
    path = tmp_path / f"{name}.parquet"
    con = duckdb.connect()
    rows = f"SELECT * FROM ({sql}) ORDER BY {order}" if order else sql
    options = f", ROW_GROUP_SIZE {row_group_size}" if row_group_size else ""
    con.execute(f"COPY ({rows}) TO '{path}' (FORMAT parquet{options})")
    schema = [{"name": c[0], "type": c[1]} for c in con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
    con.close()
    return VersionRecord(f"raw.t@{name}", "raw.t", None, None, str(path), None, None, schema, "current", now())


def test_a_key_that_is_not_unique_or_incompatible_is_refused_with_what_is_wrong(tmp_path):
    a = version(tmp_path, "a", "select range % 3 as k, range as v from range(10)")
    b = version(tmp_path, "b", "select range as k, range as v from range(10)")
    with pytest.raises(DataOpsError, match=r"The key \(k\) is not unique in side A of raw.t: 7 duplicate row\(s\)"):
        dataset_diff(None, "raw.t", a, b, key=["k"])
    c = version(tmp_path, "c", "select range::VARCHAR as k, range as v from range(10)")
    with pytest.raises(DataOpsError, match="incompatible between the sides: k is BIGINT in A and VARCHAR in B"):
        dataset_diff(None, "raw.t", b, c, key=["k"])
    d = version(tmp_path, "d", "select range as k, range::DOUBLE as v, 'x' as w from range(12)")
    found = dataset_diff(None, "raw.t", b, d, key=["k"])
    assert found["schema"] == {"added": ["w"], "removed": [], "type_changed": [{"column": "v", "a": "BIGINT", "b": "DOUBLE"}]}
    assert (found["only_in_a"], found["only_in_b"], found["changed"]) == (0, 2, 0) and found["differs"]


def written(tmp_path, name, sql, *, order):
    """A version in small row groups (several per file: their statistics are what is checked first)."""
    return version(tmp_path, name, sql, order=order, row_group_size=16)


# Two files sorted by one integer key are compared by position; the same rows in another order by a
# join. Both must say the same, including where comparing by hash or position could go wrong.
SORTED_CASES = {
    "rows removed, added and changed": (
        "select range as k, range * 2 as v, 'x' || (range % 7) as s from range(200)",
        ("select range as k, case when range % 10 = 0 then range * 2 + 1 else range * 2 end as v, 'x' || (range % 7) as s "
        "from range(200) where range % 37 <> 5 union all select range + 300, 0, 'new' from range(9)"),
        (6, 9, 19), {"v": 19}),
    "NULL is not the empty string, NaN is NaN, -0.0 is 0.0": (
        ("select range as k, case when range % 3 = 0 then NULL else '' end as s, "
        "case when range % 5 = 0 then 'nan'::DOUBLE else 0.0 end as d from range(60)"),
        ("select range as k, case when range % 3 = 0 then '' when range % 4 = 0 then NULL else '' end as s, "
        "case when range % 5 = 0 then 'nan'::DOUBLE else -0.0 end as d from range(60)"),
        (0, 0, 30), {"s": 30}),
    "1 and 1.0 are equal across a type change": (
        "select range as k, range as v from range(40)",
        "select range as k, case when range = 3 then 3.5 else range::DOUBLE end as v from range(40)",
        (0, 0, 1), {"v": 1}),
    "a column on one side only is not compared": (
        "select range as k, range as v, 'a' as w from range(40)",
        "select range as k, range as v, 1 as z from range(40) where range <> 10",
        (1, 0, 0), {}),
    "the same keys in the same order, one value changed": (
        "select (range - 50)::SMALLINT as k, range as v from range(100)",
        "select (range - 50)::SMALLINT as k, case when range = 70 then -1 else range end as v from range(100)",
        (0, 0, 1), {"v": 1}),
    "sparse keys": (
        "select range * 1000003 as k, range as v from range(80)",
        "select range * 1000003 as k, range + (range % 9 = 0)::INT as v from range(80) where range <> 17",
        (1, 0, 9), {"v": 9}),
}


@pytest.mark.parametrize("case", list(SORTED_CASES))
def test_a_diff_of_files_sorted_by_their_key_says_what_a_join_of_the_same_rows_says(tmp_path, caplog, case):
    sql_a, sql_b, (only_a, only_b, changed), columns = SORTED_CASES[case]
    caplog.set_level("DEBUG", logger="dataops_nb.metadata.diff")
    by_key = dataset_diff(None, "raw.t", written(tmp_path, "a", sql_a, order="k"), written(tmp_path, "b", sql_b, order="k"),
                          key=["k"])
    assert "by position" in caplog.text
    caplog.clear()
    shuffled = dataset_diff(None, "raw.t", written(tmp_path, "c", sql_a, order="hash(k)"),
                            written(tmp_path, "d", sql_b, order="hash(k) DESC"), key=["k"])
    assert "by position" not in caplog.text
    assert (by_key["only_in_a"], by_key["only_in_b"], by_key["changed"], by_key["changed_columns"]) == (
        only_a, only_b, changed, columns)
    def same(found):  # as the JSON output reads (NaN is written as NaN there, and equals itself)
        return json.dumps({k: v for k, v in found.items() if k not in ("a", "b")}, sort_keys=True)

    assert same(by_key) == same(shuffled)
    assert len(by_key["sample"]) == min(changed, 5) and by_key["sample"] == sorted(by_key["sample"], key=lambda r: r["k"])


def test_a_sorted_file_with_a_repeated_or_null_key_is_judged_by_the_join(tmp_path):
    repeated = written(tmp_path, "a", "select range // 2 as k, range as v from range(20)", order="k")
    unique = written(tmp_path, "b", "select range as k, range as v from range(20)", order="k")
    with pytest.raises(DataOpsError, match=r"The key \(k\) is not unique in side A of raw.t: 10 duplicate row\(s\)"):
        dataset_diff(None, "raw.t", repeated, unique, key=["k"])
    null = written(tmp_path, "c", "select case when range = 0 then NULL else range end as k, range as v from range(20)",
                   order="k NULLS FIRST")
    found = dataset_diff(None, "raw.t", null, unique, key=["k"])  # a NULL key matches nothing
    assert (found["only_in_a"], found["only_in_b"], found["changed"]) == (1, 1, 0)


def test_a_list_column_is_compared_and_has_no_mean(tmp_path):
    a = written(tmp_path, "a", "select range as k, [range, NULL] as l, []::INT[] as e from range(30)", order="k")
    b = written(tmp_path, "b", "select range as k, case when range = 1 then [1] else [range, NULL] end as l, "
                               "case when range = 2 then NULL else []::INT[] end as e from range(30)", order="k")
    found = dataset_diff(None, "raw.t", a, b, key=["k"])
    assert (found["changed"], found["changed_columns"]) == (2, {"l": 1, "e": 1})
    assert all(side["mean"] is None for stats in found["stats"].values() for side in stats.values())


def test_the_means_come_from_the_versions_profiles_and_a_profile_without_them_is_read_again(dev):  # noqa: F811
    """A version's profile (taken on publish) holds its numeric columns' means, so a diff reads no
    file for them; a version profiled by an older kit (no mean in its profile) gets them computed."""
    import sqlite3

    prod = pointers(dev, "prod")["staging.doubled"]
    assert dict(dev.ledger_rows(f"select column_name, mean_value from column_profiles where version_id = '{prod}'")) == {
        "i": 4.5, "j": 9.0}

    def means() -> tuple[float, float]:
        out = json.loads(dev.cli("diff", "prod", "dev-alice", "staging.doubled", "--key", "i", "--json", check=0).stdout)
        stats = out["datasets"][0]["stats"]["j"]
        return stats["a"]["mean"], stats["b"]["mean"]

    assert means() == (9.0, 13.5)  # j = 2i and 3i over i = 0..9
    ledger = dev.root / ".dataops" / "ledger.db"
    with sqlite3.connect(ledger) as con:  # what the diff reads: the stored mean, not the file
        con.execute("UPDATE column_profiles SET mean_value = 100.0 WHERE version_id = ? AND column_name = 'j'", (prod,))
    assert means() == (100.0, 13.5)
    with sqlite3.connect(ledger) as con:  # a ledger upgraded from before profiles held means
        con.execute("UPDATE column_profiles SET mean_value = NULL")
    assert means() == (9.0, 13.5)


def test_a_profile_holds_the_mean_of_each_number_column_and_of_no_other(tmp_path):
    from dataops_nb.metadata.pii import without_extremes
    from dataops_nb.metadata.profile import profile

    a = version(tmp_path, "a", "select range::INTEGER as i, range / 4 as d, (range * 1.5)::DECIMAL(9, 2) as m, "
                "'x' || range as s, CASE WHEN range = 1 THEN 'nan'::DOUBLE ELSE 1.0 END as n, NULL::BIGINT as e "
                "from range(4)")
    found = {c["name"]: c["mean"] for c in profile(a.path, a.schema)}
    assert found == {"i": 1.5, "d": 0.375, "m": 2.25, "s": None, "n": None, "e": None}  # NaN: not a finite mean
    assert without_extremes(profile(a.path, a.schema), ["i"])[0]["mean"] is None  # a PII column keeps none
