"""Publishing a 10,000,000-row polars frame: the kit's store vs a bare DuckDB COPY.

    python bench/store_bench.py [--quick] [--repeats N]

Each measurement runs in a fresh interpreter: the frame is built, memory settles, then
the write is timed and the process's peak RSS increase over the write is sampled.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MEMORY_PROBE, Result, Row, judge, log, main, python_json, ratio, workdir  # noqa: E402

SECTION = "store"
ROWS = 10_000_000

WRITE = MEMORY_PROBE + """
import gc, ctypes, json, time
from pathlib import Path
import duckdb, polars as pl
from dataops_nb.store import write_parquet

N, MODE, TARGET = {rows}, {mode!r}, Path({target!r})
i = pl.int_range(0, N, eager=True, dtype=pl.Int64)
df = pl.DataFrame({{"id": i}}).with_columns(
    x=pl.col("id") * 0.5,
    k=(pl.col("id") % 1000).cast(pl.Int32),
    s=pl.format("cat_{{}}", pl.col("id") % 1000),
    ts=pl.datetime(2024, 1, 1) + pl.duration(seconds=pl.col("id")),
)
del i
size = df.estimated_size()
gc.collect()
try:
    ctypes.CDLL("libc.so.6").malloc_trim(0)
except OSError:
    pass
time.sleep(0.2)
PROBE.mark()
started = time.perf_counter()
con = duckdb.connect()
if MODE == "kit":
    write_parquet(con, df, TARGET)
elif MODE == "duckdb-zstd":
    con.execute(f"COPY (SELECT * FROM df) TO '{{TARGET}}' (FORMAT parquet, COMPRESSION zstd)")
else:
    con.execute(f"COPY (SELECT * FROM df) TO '{{TARGET}}' (FORMAT parquet)")
elapsed = time.perf_counter() - started
peak = PROBE.peak()
print(json.dumps({{"seconds": elapsed, "peak": peak, "size": size, "bytes": TARGET.stat().st_size}}))
"""

MODES = {
    "kit": "kit: dataops_nb.store.write_parquet(con, df, path) (zstd, atomic rename, describe)",
    "duckdb-zstd": "bare DuckDB: COPY (SELECT * FROM df) TO 'x.parquet' (COMPRESSION zstd)",
    "duckdb": "bare DuckDB: COPY (SELECT * FROM df) TO 'x.parquet' (defaults: snappy)",
}


def measure(mode: str, rows: int) -> dict[str, float]:
    target = workdir(SECTION) / f"{mode}.parquet"
    target.unlink(missing_ok=True)
    data = python_json(WRITE.format(rows=rows, mode=mode, target=str(target)))
    target.unlink(missing_ok=True)
    return data


def run(args: argparse.Namespace) -> list[Result]:
    rows = ROWS
    samples: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for i in range(args.repeats):  # interleaved
        log(f"publish: repeat {i + 1}")
        for mode in MODES:
            samples[mode].append(measure(mode, rows))
    mb = 1024 * 1024
    size = samples["kit"][0]["size"]
    time_rows = [Row.of(MODES[m], [s["seconds"] for s in samples[m]]) for m in MODES]
    mem_rows = [Row.of(f"peak RSS increase: {m}", [s["peak"] / mb for s in samples[m]], "MB") for m in MODES]
    frame = Row.of("the frame: df.estimated_size()", [size / mb], "MB")
    files = Row.of("parquet file (kit)", [samples["kit"][0]["bytes"] / mb], "MB")
    compared = (f"publishing a {rows:,}-row polars frame (id int64, x float64, k int32, s string, ts datetime) "
                "through the kit's store vs a bare DuckDB COPY of the same frame; a fresh process per measurement")
    speed = ratio(time_rows[0], time_rows[1])
    memory = ratio(mem_rows[0].median * mb if mem_rows[0].median is not None else None, size)
    return [
        Result("publish 10M rows: time", compared, time_rows + [files],
               speed, "ratio kit / bare COPY (same codec)", "<= 1.2", judge(speed, 1.2),
               notes=[f"kit / bare COPY with DuckDB's default codec: {ratio(time_rows[0], time_rows[2]):.3g}"]),
        Result("publish 10M rows: peak memory", compared, [frame] + mem_rows,
               memory, "kit's peak RSS increase / frame size", "<= 1.5", judge(memory, 1.5),
               notes=[f"bare COPY (zstd) peak / frame size: {ratio(mem_rows[1].median * mb, size):.3g}"]),
    ]


if __name__ == "__main__":
    main(SECTION, __doc__ or "", run)
