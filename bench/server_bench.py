"""The server under load on both ledger backends, side by side in one run: the figures of
bench/ledger_bench.py's `load` part alone (50 concurrent catalog searches while a run writes;
/dataops/pipeline when nothing changed, and 8 concurrent calls).

    python bench/server_bench.py [--quick]

Writes the `server` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ledger_bench
from common import Result, main

from tests.pg import PostgresServer


def run(args: argparse.Namespace) -> list[Result]:
    ledger_bench.SERVER = PostgresServer().start()
    try:
        return ledger_bench.load(args)
    finally:
        ledger_bench.SERVER.stop()


if __name__ == "__main__":
    main("server", __doc__ or "", run)
