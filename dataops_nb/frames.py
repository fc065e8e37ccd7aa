"""What a published dataframe becomes: an Arrow table that keeps what the frame meant.

- pandas: a named or non-default index (a MultiIndex too) becomes columns, as
  `DataFrame.reset_index()` makes them; an unnamed RangeIndex (row positions) is dropped.
  A Series is a one-column frame named after it (its index handled the same way).
- polars: a LazyFrame is collected; a Series is a one-column frame.
- A value Arrow cannot hold (an integer beyond 64 bits in an object column) is an error
  naming the column, not a bare `OverflowError`.

`keeps_arrow_types` says whether the table has types that only an Arrow-aware parquet
writer keeps: a time zone on a timestamp column, a categorical (dictionary) column.
"""

from __future__ import annotations

from typing import Any

from .errors import PublishError


def to_arrow(data: Any, *, dataset: str = "the dataset") -> Any:
    """A pyarrow Table from a polars, pandas or Arrow frame (or Series); PublishError otherwise."""
    module = type(data).__module__.split(".")[0]
    if module == "polars":
        import polars as pl

        if isinstance(data, pl.LazyFrame):
            data = data.collect()
        if isinstance(data, pl.Series):
            data = data.to_frame()
        return data.to_arrow()
    if module == "pyarrow":
        import pyarrow as pa

        if isinstance(data, pa.RecordBatch):
            return pa.Table.from_batches([data])
        if isinstance(data, (pa.Array, pa.ChunkedArray)):
            raise PublishError(f"Cannot publish {dataset} from an Arrow array: make it a table (pa.table({{'name': array}})).")
        return data
    if module == "pandas":
        return _from_pandas(data, dataset)
    raise PublishError(
        f"Cannot publish a {type(data).__name__} as {dataset}: pass a polars or pandas DataFrame "
        "(or Series), an Arrow table, a DuckDB relation, or SQL text."
    )


def _from_pandas(data: Any, dataset: str) -> Any:
    import pandas as pd
    import pyarrow as pa

    if isinstance(data, pd.Series):
        if data.name is None:
            raise PublishError(
                f"Cannot publish an unnamed pandas Series as {dataset}: name its column "
                "(series.rename('value')) or pass series.to_frame('value')."
            )
        data = data.to_frame()
    if not isinstance(data, pd.DataFrame):
        raise PublishError(f"Cannot publish a pandas {type(data).__name__} as {dataset}: pass a DataFrame or Series.")
    index = data.index
    if not (isinstance(index, pd.RangeIndex) and index.name is None):
        data = data.reset_index()  # what the index says (a key, a group) is data
    try:
        return pa.Table.from_pandas(data, preserve_index=False)
    except (OverflowError, pa.ArrowException) as exc:
        raise PublishError(_bad_column(data, dataset, exc)) from exc


def _bad_column(frame: Any, dataset: str, exc: Exception) -> str:
    """The sentence for a frame Arrow refused: which column, and what to do."""
    import pyarrow as pa

    for name in frame.columns:
        try:
            pa.array(frame[name], from_pandas=True)
        except (OverflowError, pa.ArrowException) as column_exc:
            reason = str(column_exc).splitlines()[0]
            advice = (
                " (an integer beyond 64 bits: store it as a float, a decimal or a string)"
                if isinstance(column_exc, OverflowError) or "too large" in reason or "overflow" in reason.lower()
                else ""
            )
            return f"Cannot publish {dataset}: column '{name}' cannot be stored: {reason}{advice}."
    return f"Cannot publish {dataset}: {str(exc).splitlines()[0]}."


def keeps_arrow_types(table: Any) -> bool:
    """True when the table has a timestamp with a time zone or a dictionary (categorical) column."""
    import pyarrow as pa

    for field in table.schema:
        kind = field.type
        if pa.types.is_dictionary(kind) or (pa.types.is_timestamp(kind) and kind.tz is not None):
            return True
    return False
