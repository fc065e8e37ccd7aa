"""Catalog search at scale: 10,000 datasets in a ledger, ~200 varied queries.

Standalone (imports nothing from the other bench modules): builds a real ledger with
the kit's own writers (`write_dataset_meta`, `reindex_dataset`), then times
`dataops_nb.metadata.search.search` per query (parse, FTS5 + bm25 + name tiers + filters,
result rows) and reports p50 / p95 / max. Target: p95 under 20 ms.

    python bench/catalog.py [--datasets 10000] [--queries 200] [--no-write]

Writes its section of bench/RESULTS.md, between `<!-- catalog -->` and `<!-- /catalog -->`,
leaving the rest of the file alone (and creating it when missing).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from dataops_nb.metadata.search import search  # noqa: E402
from dataops_nb.ledger import Ledger, reindex_dataset, write_dataset_meta  # noqa: E402

TARGET_P95_MS = 20.0
START, END = "<!-- catalog -->", "<!-- /catalog -->"

SCHEMAS = ["raw", "staging", "marts", "ref", "ops", "finance", "sales", "hr", "web", "ml", "events", "crm"]
WORDS = (
    "flight flights carrier airport weather plane route delay booking passenger customer order orders "
    "invoice payment refund product price stock warehouse shipment supplier employee salary payroll "
    "campaign click session visit page device user account subscription churn revenue cost budget "
    "forecast ledger journal balance transaction fraud risk score model feature label training "
    "prediction experiment cohort retention funnel signup login event log metric daily weekly monthly "
    "hourly snapshot history dim fact agg summary region country city store channel partner vendor "
    "contract ticket support survey rating review inventory catalog category brand promo coupon "
    "loyalty address contact lead opportunity pipeline quota territory"
).split()
# A catalog's vocabulary is long-tailed: a few domain words everywhere, many rare ones.
# Words are drawn Zipf-like (weight 1/(rank + 10)) from the domain words followed by 3,000
# pronounceable rare words, so common-word queries still hit thousands of datasets.
_SYLLABLES = "ka lo mi ne ru ta vo si pe du ba gor lin mar tes vek zan qui hol fen".split()
RARE = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES})[:3000]
VOCAB = WORDS + [w for w in RARE if w not in WORDS]
_CUMULATIVE = list(__import__("itertools").accumulate(1.0 / (rank + 10) for rank in range(len(VOCAB))))
OWNERS = [f"team-{name}" for name in "data-eng analytics finance growth ml platform sales hr web ops risk crm".split()]
TAGS = "core gold silver bronze pii finance marketing daily hourly deprecated experimental certified gdpr".split()


def words(rng: random.Random, count: int) -> list[str]:
    return rng.choices(VOCAB, cum_weights=_CUMULATIVE, k=count)


def build(path: Path | str, count: int, seed: int = 13, *, store_root: Path | None = None) -> tuple[Ledger, list[str], float]:
    """A ledger at `path` (a SQLite file, or a PostgreSQL URL with `store_root`) holding `count` datasets."""
    rng = random.Random(seed)
    ledger = Ledger.open(path, store_root=store_root)
    ledger.migrate()
    names: set[str] = set()
    started = time.perf_counter()
    with ledger.transaction() as con:
        while len(names) < count:
            schema = rng.choice(SCHEMAS)
            table = "_".join(words(rng, rng.choice((1, 2, 2, 3))))
            name = f"{schema}.{table}"
            if name in names:
                continue
            names.add(name)
            columns = {}
            for _ in range(rng.randint(4, 16)):
                column = "_".join(words(rng, rng.choice((1, 2))))
                columns[column] = {
                    "description": " ".join(words(rng, rng.randint(0, 6))),
                    "tags": ["pii"] if rng.random() < 0.03 else [],
                }
            write_dataset_meta(
                con, name,
                description=" ".join(words(rng, rng.randint(5, 18))).capitalize() + ".",
                owner=rng.choice(OWNERS),
                tags=rng.sample(TAGS, rng.randint(0, 3)),
                freshness=None,
                columns=columns,
                in_spec=True,
            )
            reindex_dataset(con, name)
    return ledger, sorted(names), time.perf_counter() - started


def queries(names: list[str], count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    makers = [
        lambda: rng.choice(names),                                   # exact full name
        lambda: rng.choice(names).split(".")[1],                     # exact table name
        lambda: rng.choice(names)[: rng.randint(3, 9)],              # name prefix
        lambda: rng.choice(WORDS),                                   # one common word (thousands of hits)
        lambda: rng.choice(WORDS)[:3],                               # short prefix (many hits)
        lambda: " ".join(words(rng, 2)),                             # two words
        lambda: " ".join(words(rng, 3)),                             # three words
        lambda: f"{rng.choice(WORDS)} tag:{rng.choice(TAGS)}",       # text + tag
        lambda: f"owner:{rng.choice(OWNERS)}",                       # filter only
        lambda: f"{rng.choice(WORDS)} pii:yes",                      # text + pii
        lambda: f"tag:{rng.choice(TAGS)} owner:{rng.choice(OWNERS)} {rng.choice(VOCAB)}",
        lambda: "pii:yes",
        lambda: f"tag:{rng.choice(TAGS)}",                           # tag only
    ]
    return [makers[i % len(makers)]() for i in range(count)]


def measure(ledger: Ledger, batch: list[str]) -> tuple[list[float], int]:
    for query in batch[:20]:  # warm the page cache and the statement cache
        search(ledger, query)
    times, hits = [], 0
    for query in batch:
        started = time.perf_counter()
        found = search(ledger, query)
        times.append((time.perf_counter() - started) * 1000)
        hits += bool(found)
    return times, hits


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def section(datasets: int, build_s: float, size: int, times: list[float], hits: int, kinds: dict[str, list[float]]) -> str:
    p50, p95 = statistics.median(times), percentile(times, 0.95)
    verdict = "meets" if p95 < TARGET_P95_MS else "MISSES"
    lines = [
        START,
        "## Catalog search (`bench/catalog.py`)",
        "",
        f"{datasets:,} synthetic datasets (4-16 columns each, descriptions, owners, tags, ~3% PII columns; "
        f"words drawn Zipf-like from {len(VOCAB):,}, so a common word is in thousands of datasets) "
        f"in a real ledger ({size / 1e6:.1f} MB, built in {build_s:.1f} s with the kit's own writers); "
        f"{len(times)} varied queries through `catalog.search.search` (parse, FTS5 + bm25, exact/prefix "
        "name tiers, tag/owner/pii filters), timed one by one after a warm-up. "
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"SQLite {__import__('sqlite3').sqlite_version}.",
        "",
        "| queries | with hits | p50 ms | p95 ms | max ms | target p95 |",
        "|---:|---:|---:|---:|---:|---|",
        f"| {len(times)} | {hits} | {p50:.2f} | {p95:.2f} | {max(times):.2f} | < {TARGET_P95_MS:.0f} ms: {verdict} |",
        "",
        "| query kind | n | p50 ms | p95 ms |",
        "|---|---:|---:|---:|",
    ]
    for kind, values in kinds.items():
        lines.append(f"| {kind} | {len(values)} | {statistics.median(values):.2f} | {percentile(values, 0.95):.2f} |")
    lines.append(END)
    return "\n".join(lines)


KINDS = ["exact name", "exact table", "name prefix", "one word", "3-letter prefix", "two words",
         "three words", "text + tag:", "owner: only", "text + pii:yes", "tag: owner: text", "pii:yes only", "tag: only"]


def write_section(text: str, path: Path = BENCH / "RESULTS.md") -> None:
    """Replace only the catalog section (between its markers); create the file if missing."""
    current = path.read_text(encoding="utf-8") if path.is_file() else "# dataops-nb benchmarks\n"
    if START in current and END in current:
        head, rest = current.split(START, 1)
        _, tail = rest.split(END, 1)
        updated = head + text + tail
    else:
        updated = current.rstrip("\n") + "\n\n" + text + "\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(updated, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="Print only; leave RESULTS.md alone.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dataops-catalog-bench-") as tmp:
        path = Path(tmp) / "ledger.db"
        ledger, names, build_s = build(path, args.datasets)
        batch = queries(names, args.queries)
        times, hits = measure(ledger, batch)
        size = path.stat().st_size + sum(p.stat().st_size for p in Path(tmp).glob("ledger.db-*"))
        ledger.close()
    kinds: dict[str, list[float]] = {}
    for index, value in enumerate(times):
        kinds.setdefault(KINDS[index % len(KINDS)], []).append(value)
    text = section(args.datasets, build_s, size, times, hits, kinds)
    print(text)
    if not args.no_write:
        write_section(text)
    return 0 if percentile(times, 0.95) < TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
