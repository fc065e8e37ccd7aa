"""The catalog: datasets' spec metadata, columns, column tags and profiles, and the full-text index.

The index is SQLite FTS5 (`catalog_fts`); a dataset's row there is rewritten whenever
what it indexes changes. Every write that can change a search's answer also counts up
`catalog_meta.changes` in its transaction, so a handle keeps the answers it gave until
the count moves (one indexed read instead of the search, on any machine of the ledger).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .db import Database, Row

CHANGES_KEY = "changes"
CHANNEL = "dataops_catalog"
_CACHED_ANSWERS = 512


# The dataset's full-text row as `reindex` writes it on SQLite, built by PostgreSQL in one
# statement: the old row out, the new one in, the dataset pointing at it.
_PG_REINDEX = """
WITH d AS (SELECT name, description, tags, owner, fts_id FROM datasets WHERE name = ?1),
gone AS (DELETE FROM catalog_fts WHERE rowid = (SELECT fts_id FROM d)),
made AS (
    INSERT INTO catalog_fts (name, description, tags, owner, columns, column_descriptions)
    SELECT d.name, coalesce(d.description, ''),
        concat_ws(' ',
            (SELECT string_agg(t.tag, ' ' ORDER BY t.n)
             FROM json_array_elements_text(coalesce(nullif(d.tags, ''), '[]')::json) WITH ORDINALITY AS t(tag, n)),
            (SELECT string_agg(c.tag, ' ' ORDER BY c.tag) FROM (SELECT DISTINCT tag FROM column_tags WHERE dataset = d.name) c)),
        coalesce(d.owner, ''),
        coalesce((SELECT string_agg(c.name, ' ' ORDER BY c.position IS NULL, c.position, c.name)
                  FROM dataset_columns c WHERE c.dataset = d.name), ''),
        coalesce((SELECT string_agg(c.description, ' ' ORDER BY c.position IS NULL, c.position, c.name)
                  FROM dataset_columns c WHERE c.dataset = d.name AND c.description <> ''), '')
    FROM d
    RETURNING rowid
)
UPDATE datasets SET fts_id = (SELECT rowid FROM made) WHERE name = ?1 AND EXISTS (SELECT 1 FROM made)
"""


class CatalogRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._answers_at: int | None = None  # the change count the kept answers were read at
        self._meta: dict[str, Any] = {}  # catalog_meta values and other answers read at that count
        self._searches = 0
        self._watch: Any = None  # on PostgreSQL, a LISTEN for changes: an unchanged catalog costs no query

    # --- writes -----------------------------------------------------------------

    def write_dataset_meta(
        self,
        name: str,
        *,
        description: str = "",
        owner: str | None = None,
        tags: Iterable[str] = (),
        freshness: dict[str, Any] | None = None,
        columns: dict[str, dict[str, Any]] | None = None,
        in_spec: bool = False,
    ) -> None:
        """A dataset's spec metadata and its spec columns and column tags."""
        from .records import now

        stamp = now()
        db = self.db
        with db.transaction():
            self.touch()
            db.execute(
                "INSERT INTO datasets (name, description, owner, tags, freshness, in_spec, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "description = excluded.description, owner = excluded.owner, tags = excluded.tags, "
                "freshness = excluded.freshness, in_spec = excluded.in_spec, updated_at = excluded.updated_at",
                (name, description, owner, json.dumps(list(tags)), json.dumps(freshness) if freshness else None,
                 int(in_spec), stamp, stamp),
            )
            self._remember(name)  # declared again
            columns = columns or {}
            db.execute(
                "UPDATE dataset_columns SET in_spec = 0, description = '', spec_type = NULL WHERE dataset = ?", (name,)
            )
            db.executemany(
                "INSERT INTO dataset_columns (dataset, name, spec_type, description, in_spec) VALUES (?, ?, ?, ?, 1) "
                "ON CONFLICT (dataset, name) DO UPDATE SET spec_type = excluded.spec_type, "
                "description = excluded.description, in_spec = 1",
                [(name, column, info.get("type"), info.get("description") or "") for column, info in columns.items()],
            )
            db.execute("DELETE FROM dataset_columns WHERE dataset = ? AND in_spec = 0 AND position IS NULL", (name,))
            db.execute("DELETE FROM column_tags WHERE dataset = ? AND source = 'spec'", (name,))
            db.executemany(
                "INSERT INTO column_tags (dataset, column_name, tag, source) VALUES (?, ?, ?, 'spec') "
                "ON CONFLICT DO NOTHING",
                [(name, column, tag) for column, info in columns.items() for tag in info.get("tags") or ()],
            )

    def write_profile(self, version_id: str, profile: list[dict[str, Any]], pii: dict[str, dict[str, Any]]) -> None:
        """A version's column profile and the PII found in it on publish."""
        with self.db.transaction():
            self.touch()  # its PII flags are part of what reads of the catalog see
            self.db.execute("DELETE FROM column_profiles WHERE version_id = ?", (version_id,))
            self.db.executemany(
                "INSERT INTO column_profiles (version_id, column_name, position, type, null_count, "
                "approx_distinct, min_value, max_value, mean_value, pii_kind, pii_confidence) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        version_id, col["name"], position, col.get("type"), col.get("null_count"),
                        col.get("approx_distinct"), json.dumps(col.get("min")), json.dumps(col.get("max")), col.get("mean"),
                        pii.get(col["name"], {}).get("kind"), pii.get(col["name"], {}).get("confidence"),
                    )
                    for position, col in enumerate(profile)
                ],
            )

    def follow_current(self, dataset: str, version_id: str) -> None:
        """Columns (order, type) and auto PII tags of the dataset follow its current version."""
        db = self.db
        with db.transaction():
            self.touch()
            self._remember(dataset)  # published again
            rows = db.query("SELECT schema FROM dataset_versions WHERE version_id = ?", (version_id,))
            schema = json.loads(rows[0]["schema"] or "[]") if rows else []
            db.execute("UPDATE dataset_columns SET position = NULL WHERE dataset = ?", (dataset,))
            db.executemany(
                "INSERT INTO dataset_columns (dataset, name, position, type) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (dataset, name) DO UPDATE SET position = excluded.position, type = excluded.type",
                [(dataset, col["name"], position, col["type"]) for position, col in enumerate(schema)],
            )
            db.execute("DELETE FROM dataset_columns WHERE dataset = ? AND in_spec = 0 AND position IS NULL",
                       (dataset,))
            # the auto PII tags follow the version's profile (a version without one, made by an
            # older kit, keeps the earlier tags); written by the database, so nothing waits for a read
            db.execute("DELETE FROM column_tags WHERE dataset = ? AND source = 'auto' "
                       "AND EXISTS (SELECT 1 FROM column_profiles WHERE version_id = ?)", (dataset, version_id))
            db.execute(
                "INSERT INTO column_tags (dataset, column_name, tag, source, kind, confidence, version_id) "
                "SELECT ?, column_name, 'pii', 'auto', pii_kind, pii_confidence, version_id FROM column_profiles "
                "WHERE version_id = ? AND pii_kind IS NOT NULL ORDER BY position",
                (dataset, version_id),
            )
            self.reindex(dataset)

    def reindex(self, dataset: str) -> None:
        """Rewrite the dataset's full-text row: tags holds the dataset's and its columns' tags."""
        db = self.db
        with db.transaction():
            self.touch()
            if db.dialect == "postgresql":  # one statement the server runs whole: nothing waits for a read
                db.execute(_PG_REINDEX, (dataset,))
                return
            rows = db.query("SELECT fts_id, name, description, tags, owner FROM datasets WHERE name = ?", (dataset,))
            if not rows:
                return
            row = rows[0]
            columns = db.query(
                "SELECT name, description FROM dataset_columns WHERE dataset = ? "
                "ORDER BY position IS NULL, position, name",
                (dataset,),
            )
            column_tags = [r["tag"] for r in db.query(
                "SELECT DISTINCT tag FROM column_tags WHERE dataset = ? ORDER BY tag", (dataset,)
            )]
            if row["fts_id"] is not None:
                db.execute("DELETE FROM catalog_fts WHERE rowid = ?", (row["fts_id"],))
            returning = " RETURNING rowid" if db.dialect == "postgresql" else ""  # FTS5 has no RETURNING
            cursor = db.execute(
                "INSERT INTO catalog_fts (name, description, tags, owner, columns, column_descriptions) "
                f"VALUES (?, ?, ?, ?, ?, ?){returning}",
                (
                    row["name"], row["description"] or "", " ".join([*json.loads(row["tags"] or "[]"), *column_tags]),
                    row["owner"] or "", " ".join(c["name"] for c in columns),
                    " ".join(c["description"] for c in columns if c["description"]),
                ),
            )
            fts_id = cursor.fetchone()[0] if returning else cursor.lastrowid  # type: ignore[attr-defined]
            db.execute("UPDATE datasets SET fts_id = ? WHERE name = ?", (fts_id, dataset))

    def _remember(self, dataset: str) -> None:
        """A forgotten dataset declared or published again is back in the catalog."""
        if self.db.dialect == "postgresql":  # migrated before any write: a write that waits for no read
            self.db.execute("UPDATE datasets SET forgotten_at = NULL WHERE name = ? AND forgotten_at IS NOT NULL",
                            (dataset,))
            return
        entry = self.db.query("SELECT * FROM datasets WHERE name = ?", (dataset,))
        if entry and "forgotten_at" in entry[0].keys() and entry[0]["forgotten_at"]:  # noqa: SIM118 - a Row holds values; an older schema has no such column
            self.db.execute("UPDATE datasets SET forgotten_at = NULL WHERE name = ?", (dataset,))

    def forget(self, dataset: str, at: str) -> None:
        """Out of the catalog and its search: the entry, its columns and tags. The row itself and
        its versions' rows stay (marked `forgotten_at`), so lineage and check history hold."""
        db = self.db
        with db.transaction():
            self.touch()
            rows = db.query("SELECT fts_id FROM datasets WHERE name = ?", (dataset,))
            if rows and rows[0]["fts_id"] is not None:
                db.execute("DELETE FROM catalog_fts WHERE rowid = ?", (rows[0]["fts_id"],))
            db.execute("DELETE FROM column_tags WHERE dataset = ?", (dataset,))
            db.execute("DELETE FROM dataset_columns WHERE dataset = ?", (dataset,))
            db.execute("UPDATE datasets SET forgotten_at = ?, fts_id = NULL WHERE name = ?", (at, dataset))

    def drop_dataset(self, dataset: str) -> None:
        """Forget a dataset that has no versions (it left the spec before it was ever published)."""
        db = self.db
        with db.transaction():
            self.touch()
            rows = db.query("SELECT fts_id FROM datasets WHERE name = ?", (dataset,))
            if not rows or db.query("SELECT 1 FROM dataset_versions WHERE dataset = ? LIMIT 1", (dataset,)):
                return
            if rows[0]["fts_id"] is not None:
                db.execute("DELETE FROM catalog_fts WHERE rowid = ?", (rows[0]["fts_id"],))
            db.execute("DELETE FROM column_tags WHERE dataset = ?", (dataset,))
            db.execute("DELETE FROM dataset_columns WHERE dataset = ?", (dataset,))
            db.execute("DELETE FROM datasets WHERE name = ?", (dataset,))

    def sync_declared(self, declared: dict[str, dict[str, Any]], *, key: str, digest: str) -> None:
        """Bring the spec's datasets (name -> `write_dataset_meta` arguments) into the catalog.

        A dataset that left the spec stays when it has versions (its data exists) and goes
        otherwise; `digest` of what was synced is kept under `key`."""
        with self.db.transaction():
            self.touch()
            for name, meta in declared.items():
                self.write_dataset_meta(name, **meta)
                self.reindex(name)
            gone = [row["name"] for row in self.db.query("SELECT name FROM datasets WHERE in_spec = 1")
                    if row["name"] not in declared]
            for name in gone:
                self.db.execute("UPDATE datasets SET in_spec = 0 WHERE name = ?", (name,))
                self.drop_dataset(name)
            self.set_meta(key, digest)

    def touch(self) -> None:
        """Count one change of what a search can see (inside the caller's transaction, once
        however many catalog writes it groups; on PostgreSQL, watching handles hear of it when
        the transaction commits)."""
        once = getattr(self.db, "first_in_transaction", None)
        if once is not None and not once("catalog changes"):
            return
        self.db.execute(
            "INSERT INTO catalog_meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE "
            "SET value = CAST(CAST(catalog_meta.value AS BIGINT) + 1 AS TEXT)",
            (CHANGES_KEY,),
        )
        if self.db.dialect == "postgresql":
            self.db.execute(f"NOTIFY {CHANNEL}")

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO catalog_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- reads ------------------------------------------------------------------

    def changes(self) -> int:
        """How many times the searchable catalog has changed (0 for a ledger that never counted)."""
        value = self.meta_value(CHANGES_KEY)
        return int(value) if value else 0

    def _seen(self) -> int:
        """The change count, asked of the database only when a watch cannot vouch for it."""
        if self._watch is not None and self._answers_at is not None and not self._watch.changed():
            return self._answers_at
        seen = self.changes()
        with self._lock:
            if self._answers_at != seen:
                self._answers, self._meta, self._answers_at = {}, {}, seen
        return seen

    def changes_seen(self) -> int:
        """`changes()`, asked of the database only when this handle's watch cannot vouch for it
        (for callers that keep answers of their own until the catalog changes)."""
        return self._seen()

    def kept_meta(self, key: str) -> str | None:
        """`meta_value(key)` for a key that changes only with the catalog (the synced spec's digest)."""
        return self.kept(f"meta:{key}", lambda: self.meta_value(key))  # type: ignore[no-any-return]

    def kept(self, key: str, read: Callable[[], Any]) -> Any:
        """`read()`, kept while the catalog is unchanged: for an answer that changes only with it."""
        seen = self._seen()
        with self._lock:
            if key in self._meta and self._answers_at == seen:
                return self._meta[key]
        value = read()
        with self._lock:
            if self._answers_at == seen:
                self._meta[key] = value
        return value

    def search(self, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """`ledger.search.search`, answered from this handle's kept answers while the catalog is unchanged.

        A handle that searches more than once (a server's) watches a PostgreSQL ledger for changes."""
        from .search import search

        self._searches += 1
        if self._searches == 2 and hasattr(self.db, "watch"):
            self._watch = self.db.watch(CHANNEL)
        seen = self._seen()
        key = (query, limit)
        with self._lock:
            kept = self._answers.get(key) if self._answers_at == seen else None
        if kept is None:
            kept = search(self.db, query, limit=limit)
            with self._lock:
                if self._answers_at == seen:
                    if len(self._answers) >= _CACHED_ANSWERS:
                        self._answers.pop(next(iter(self._answers)))
                    self._answers[key] = kept
        return [{**hit, "tags": list(hit["tags"])} for hit in kept]  # the caller's own copy

    def dataset(self, name: str) -> Row | None:
        rows = self.db.query("SELECT * FROM datasets WHERE name = ?", (name,))
        return rows[0] if rows else None

    def dataset_names(self) -> list[str]:
        return [row["name"] for row in self.db.query("SELECT name FROM datasets ORDER BY name")]

    def columns(self, dataset: str) -> list[Row]:
        return self.db.query(
            "SELECT * FROM dataset_columns WHERE dataset = ? ORDER BY position IS NULL, position, name", (dataset,)
        )

    def column_tags(self, dataset: str) -> list[Row]:
        return self.db.query(
            "SELECT * FROM column_tags WHERE dataset = ? ORDER BY column_name, source, tag", (dataset,)
        )

    def column_profiles(self, version_id: str) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM column_profiles WHERE version_id = ? ORDER BY position", (version_id,))
        return [
            {
                "name": r["column_name"], "type": r["type"], "null_count": r["null_count"],
                "approx_distinct": r["approx_distinct"], "min": json.loads(r["min_value"] or "null"),
                "max": json.loads(r["max_value"] or "null"), "mean": r["mean_value"], "pii_kind": r["pii_kind"],
                "pii_confidence": r["pii_confidence"],
            }
            for r in rows
        ]

    def auto_pii(self, dataset: str, version_id: str | None = None) -> set[str]:
        """Columns flagged as PII on publish: on the current version, and on `version_id`."""
        rows = self.db.query(
            "SELECT column_name FROM column_tags WHERE dataset = ? AND tag = 'pii' AND source = 'auto' "
            "UNION SELECT column_name FROM column_profiles WHERE version_id = ? AND pii_kind IS NOT NULL",
            (dataset, version_id or ""),
        )
        return {row["column_name"] for row in rows}

    def meta_value(self, key: str) -> str | None:
        rows = self.db.query("SELECT value FROM catalog_meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None
