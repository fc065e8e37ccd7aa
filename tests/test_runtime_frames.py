"""What a published dataframe keeps: its index as columns, its time zones, its categoricals;
and the frames the kit cannot store fail with a sentence naming the column."""

from __future__ import annotations

import json

from tests.test_runtime import run_by_hand

FRAMES = """
import pandas as pd
import polars as pl
import dataops_nb as dn

step = dn.step()
prices = pd.DataFrame({"symbol": ["a", "a", "b"], "day": [1, 2, 1], "price": [1.0, 3.0, 5.0]})
step.publish("marts.by_symbol", prices.groupby("symbol")[["price"]].mean())
step.publish("marts.by_symbol_day", prices.set_index(["symbol", "day"]))
step.publish("marts.plain", prices)
step.publish("marts.series", prices.groupby("symbol")["price"].sum())
step.publish("marts.polars_series", pl.Series("n", [1, 2, 3]))
zoned = pd.DataFrame({
    "at": pd.date_range("2024-03-01 09:00", periods=2, freq="h", tz="Europe/Paris"),
    "kind": pd.Categorical(["open", "close"]),
})
step.publish("marts.zoned", zoned)
step.publish("marts.zoned_polars", pl.from_pandas(zoned))
"""


def test_a_run_keeps_index_zone_and_categories(project):
    project.spec(
        """
        name: frames
        steps:
          - name: frames
            notebook: notebooks/frames.ipynb
        """
    )
    project.notebook("frames", "", FRAMES)
    project.cli("run", check=0)
    result = run_by_hand(
        project,
        """
        import json
        import dataops_nb as dn
        out = {}
        for name in ["marts.by_symbol", "marts.by_symbol_day", "marts.plain", "marts.series",
                     "marts.polars_series", "marts.zoned", "marts.zoned_polars"]:
            df = dn.read(name)
            out[name] = {"columns": df.columns, "types": [str(t) for t in df.dtypes], "rows": df.rows()}
        print(json.dumps(out, default=str))
        """,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    # a named index becomes a column, as reset_index() makes it
    assert out["marts.by_symbol"]["columns"] == ["symbol", "price"]
    assert out["marts.by_symbol"]["rows"] == [["a", 2.0], ["b", 5.0]]
    assert out["marts.by_symbol_day"]["columns"] == ["symbol", "day", "price"]
    # a default RangeIndex is dropped
    assert out["marts.plain"]["columns"] == ["symbol", "day", "price"]
    # a Series is a column named after it, its index another
    assert out["marts.series"]["columns"] == ["symbol", "price"]
    assert out["marts.polars_series"] == {"columns": ["n"], "types": ["Int64"], "rows": [[1], [2], [3]]}
    for name in ("marts.zoned", "marts.zoned_polars"):
        assert out[name]["columns"] == ["at", "kind"]
        at, kind = out[name]["types"]
        assert "Europe/Paris" in at, at  # the zone is kept, as Arrow keeps it
        assert kind.startswith("Categorical"), kind
        assert out[name]["rows"][0][0].startswith("2024-03-01 09:00:00+01:00")


def test_frames_the_store_cannot_hold_are_named(project):
    project.spec("name: bad\n")
    result = run_by_hand(
        project,
        """
        import pandas as pd
        import dataops_nb as dn
        from dataops_nb.errors import PublishError
        step = dn.step()
        for data in [pd.DataFrame({"ok": [1, 2], "big": [1, 2**70]}), pd.Series([1, 2])]:
            try:
                step.publish("raw.bad", data)
            except PublishError as exc:
                print(exc)
        """,
    )
    assert result.returncode == 0, result.stderr
    big, series = result.stdout.splitlines()
    assert big.startswith("Cannot publish raw.bad: column 'big' cannot be stored") and "64 bits" in big
    assert series.startswith("Cannot publish an unnamed pandas Series as raw.bad")
    assert not list((project.root / ".dataops").rglob("*.parquet"))
