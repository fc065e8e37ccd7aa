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
        (["diff", "raw.numbers@20260101-000000-0000abc", "prod"], ["Unknown version 'raw.numbers@20260101-000000-0000abc'"]),
    ],
)
def test_bad_diff_input_is_refused(dev, args, fragments):  # noqa: F811
    before = dev.snapshot()
    assert_clean_refusal(dev.cli(*args), *fragments)
    assert dev.snapshot() == before


def version(tmp_path, name, sql):
    path = tmp_path / f"{name}.parquet"
    con = duckdb.connect()
    con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
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
