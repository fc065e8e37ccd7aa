"""Catalog search: exact and prefix name matches first, then ranked full text.

On SQLite the text index is FTS5 with bm25; on PostgreSQL a weighted tsvector (GIN) ranked by
ts_rank. Both take the same queries and honour the same contract.

A query is free text plus filters: `tag:NAME` (a dataset or column tag), `owner:NAME`
and `pii:yes|no`. Free-text terms all have to match (each as a prefix) somewhere in
the name, description, tags, owner, column names or column descriptions; bm25 weighs
a hit in the name most. A dataset whose full name or table name equals the query ranks
first, one that starts with it next, then the rest by bm25.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import DataOpsError
from .db import Database

FILTERS = ("tag", "owner", "pii")
# bm25 weights, in the column order of catalog_fts
WEIGHTS = {"name": 10.0, "description": 4.0, "tags": 5.0, "owner": 3.0, "columns": 2.0, "column_descriptions": 1.0}
EXACT_BONUS, PREFIX_BONUS = 2000.0, 1000.0
_TOKEN = re.compile(r'([A-Za-z_][\w-]*):("[^"]*"|\S*)|"([^"]*)"|(\S+)')
_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # what unicode61 keeps: letters and digits
_YES, _NO = ("yes", "true", "1", "y"), ("no", "false", "0", "n")


class SearchQueryError(DataOpsError):
    """A catalog search query with a filter it cannot use."""


@dataclass(frozen=True)
class Query:
    text: str = ""
    terms: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    pii: bool | None = None

    @property
    def fts(self) -> str:
        """The free text as FTS5: every term a quoted prefix phrase (no FTS syntax leaks in)."""
        return " AND ".join(p for p in (_phrase(term, prefix=True) for term in self.terms) if p)

    @property
    def match(self) -> str:
        """The free text plus the filters that the index can narrow by (checked exactly later)."""
        parts = [self.fts] if self.fts else []
        parts += [f"tags : {p}" for p in (_phrase(tag) for tag in self.tags) if p]
        if len(self.owners) == 1:
            parts += [f"owner : {p}" for p in (_phrase(self.owners[0]),) if p]
        if self.pii:
            parts.append('tags : "pii"')
        return " AND ".join(parts)


def _phrase(text: str, *, prefix: bool = False) -> str:
    words = _WORD.findall(text.lower())
    return ('"' + " ".join(words) + '"' + ("*" if prefix else "")) if words else ""


def parse(query: str) -> Query:
    """Split a search query into free text and filters; a malformed filter is an error."""
    terms: list[str] = []
    tags: list[str] = []
    owners: list[str] = []
    pii: bool | None = None
    for match in _TOKEN.finditer(query or ""):
        key, value, quoted, word = match.groups()
        if key is not None:
            name = key.lower()
            value = value.strip('"').strip()
            if name not in FILTERS:
                raise SearchQueryError(
                    f"Unknown search filter '{key}:' (use tag:NAME, owner:NAME or pii:yes|no)."
                )
            if not value:
                raise SearchQueryError(f"The search filter '{key}:' needs a value, as in {name}:{_EXAMPLE[name]}.")
            if name == "tag":
                tags.append(value.lower())
            elif name == "owner":
                owners.append(value.lower())
            elif value.lower() in _YES:
                pii = True
            elif value.lower() in _NO:
                pii = False
            else:
                raise SearchQueryError(f"The search filter 'pii:{value}' takes yes or no.")
        else:
            terms.append(quoted if quoted is not None else word)
    terms = [t for t in (t.strip() for t in terms) if t]
    return Query(" ".join(terms).lower(), tuple(terms), tuple(tags), tuple(owners), pii)


_EXAMPLE = {"tag": "core", "owner": "data-eng", "pii": "yes"}


def search(ledger: Database, query: str | Query, *, limit: int = 20) -> list[dict[str, Any]]:
    """Datasets matching `query`, best first: {name, description, owner, tags, score}.

    Tag, owner and pii filters narrow through the index (their tokens) and are then
    checked exactly against the ledger's rows.
    """
    parsed = parse(query) if isinstance(query, str) else query
    if ledger.dialect == "postgresql":
        return _pg_search(ledger, parsed, limit)
    where, args = _filters(parsed)
    if parsed.fts:
        ranked = _ranked(ledger, parsed, where, args, limit)
    elif parsed.terms:  # only punctuation: nothing can match
        ranked = []
    elif parsed.match and _sparse(ledger, parsed.match):  # few candidates: narrow by the index
        ids = ledger.query(
            "SELECT d.fts_id FROM catalog_fts f JOIN datasets d ON d.fts_id = f.rowid "
            f"WHERE catalog_fts MATCH ?{_and(where)} ORDER BY d.name LIMIT ?",
            (parsed.match, *args, limit),
        )
        ranked = [(row[0], 0.0, 0) for row in ids]
    else:  # no filter, or a common one: walk the names in order until `limit` rows pass
        ids = ledger.query(f"SELECT d.fts_id FROM datasets d {_where(where)} ORDER BY d.name LIMIT ?", (*args, limit))
        ranked = [(row[0], 0.0, 0) for row in ids]
    return _results(ledger, ranked)


def _results(ledger: Database, ranked: list[tuple[int, float, int]]) -> list[dict[str, Any]]:
    found = {}
    if ranked:
        ids = [item[0] for item in ranked]
        found = {
            row["fts_id"]: row
            for row in ledger.query(
                f"SELECT fts_id, name, description, owner, tags FROM datasets WHERE fts_id IN ({', '.join('?' * len(ids))})",
                ids,
            )
        }
    return [
        {
            "name": found[fts_id]["name"],
            "description": found[fts_id]["description"],
            "owner": found[fts_id]["owner"],
            "tags": json.loads(found[fts_id]["tags"] or "[]"),
            "score": float(f"{-rank:.6g}") + 0.0,
        }
        for fts_id, rank, tier in ranked
        if fts_id in found
    ]


def _ranked(ledger: Database, query: Query, where: str, args: list[Any], limit: int) -> list[tuple[int, float, int]]:
    """(fts id, minus score, tier) best first: name matches through the name indexes, then bm25 top-k.

    A name match scores 2000 (exact) or 1000-1999 (prefix: the share of the name typed);
    any other hit scores -bm25 (positive, higher is better, small).
    """
    weights = ", ".join(str(w) for w in WEIGHTS.values())
    text, high = query.text, query.text + "\U0010ffff"
    # name matches first: exact, then prefixes scored by how much of the name was typed
    named = ledger.query(
        "SELECT d.fts_id, CASE WHEN d.name = ?1 OR d.table_name = ?1 THEN ?3 ELSE ?4 + ?5 * length(?1) / "
        "CAST(CASE WHEN substr(d.name, 1, length(?1)) = ?1 THEN length(d.name) ELSE length(d.table_name) END "
        "AS REAL) END AS score FROM datasets d WHERE d.fts_id IN ("
        "SELECT fts_id FROM datasets WHERE name >= ?1 AND name < ?2 "
        "UNION SELECT fts_id FROM datasets WHERE table_name >= ?1 AND table_name < ?2)"
        f"{_and(where)} ORDER BY score DESC, d.name LIMIT ?",
        (text, high, EXACT_BONUS, PREFIX_BONUS, PREFIX_BONUS - 1, *args, limit),
    )
    top = [(row[0], -float(row[1]), -1) for row in named]  # (id, minus score, name tier)
    tiers = {item[0] for item in top}
    if len(top) >= limit:
        return top[:limit]
    wanted = limit + len(top)
    if where:  # filters need the dataset row of every hit
        rows = ledger.query(
            f"WITH h AS (SELECT rowid AS id, bm25(catalog_fts, {weights}) AS rank FROM catalog_fts "
            f"WHERE catalog_fts MATCH ?) SELECT h.id, h.rank FROM h JOIN datasets d ON d.fts_id = h.id {_where(where)} "
            "ORDER BY h.rank LIMIT ?",
            (query.match, *args, wanted),
        )
    else:  # the top k straight from the index; only those rows are looked up
        rows = ledger.query(
            f"SELECT rowid, bm25(catalog_fts, {weights}) AS rank FROM catalog_fts WHERE catalog_fts MATCH ? "
            "ORDER BY rank LIMIT ?",
            (query.fts, wanted),
        )
    top += [(row[0], float(row[1]), 0) for row in rows if row[0] not in tiers]
    return top[:limit]


SPARSE = 500


def _sparse(ledger: Database, match: str) -> bool:
    """Whether the index narrows the filters to few enough datasets to sort them all by name."""
    rows = ledger.query(f"SELECT count(*) FROM (SELECT 1 FROM catalog_fts WHERE catalog_fts MATCH ? LIMIT {SPARSE + 1})",
                        (match,))
    return int(rows[0][0]) <= SPARSE


def _where(where: str) -> str:
    return f"WHERE {where}" if where else ""


def _and(where: str) -> str:
    return f" AND {where}" if where else ""


# Whether a dataset's tags (a JSON list as text) hold the quoted tag, in each dialect.
_TAG_IN_JSON = {
    "sqlite": "instr(lower(d.tags), json_quote(?)) > 0",
    "postgresql": "strpos(lower(d.tags), to_json(?::text)::text) > 0",
}


def _filters(query: Query, dialect: str = "sqlite") -> tuple[str, list[Any]]:
    clauses: list[str] = ["d.forgotten_at IS NULL"]  # `catalog forget` took it out
    args: list[Any] = []
    for tag in query.tags:
        clauses.append(
            f"({_TAG_IN_JSON[dialect]} "
            "OR EXISTS (SELECT 1 FROM column_tags t WHERE t.dataset = d.name AND lower(t.tag) = ?))"
        )
        args += [tag, tag]
    if query.owners:
        clauses.append(f"lower(d.owner) IN ({', '.join('?' * len(query.owners))})")
        args += list(query.owners)
    if query.pii is not None:
        clauses.append(
            ("" if query.pii else "NOT ")
            + "EXISTS (SELECT 1 FROM column_tags t WHERE t.dataset = d.name AND t.tag = 'pii')"
        )
    return " AND ".join(clauses), args


# --- PostgreSQL: a tsvector per dataset (name A; tags, description B; owner, columns C;
# column descriptions D), ranked by ts_rank; names through a text_pattern_ops index. A
# common word is in thousands of documents and ranking one costs a row read, so the text
# tier is searched in two parts: the datasets whose name holds every term (their own small
# GIN index, `name_document`), then, only when those are too few, the other hits. Filters
# narrow the index search by their words (tags and owner are in the document), as FTS5's
# column filters do, and are then checked exactly.

PG_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"  # D, C, B, A
NAME_HIT_BONUS = 100.0  # a text hit in the name ranks above any hit elsewhere (ts_rank stays below it)


def _pg_words(text: str, *, prefix: bool) -> str:
    words = _WORD.findall(text.lower())
    if not words:
        return ""
    return "(" + " <-> ".join([*words[:-1], words[-1] + (":*" if prefix else "")]) + ")"


def tsquery(query: Query) -> str:
    """The free text as a tsquery: every term a phrase whose last word is a prefix; only letters
    and digits reach PostgreSQL's query parser, so no query can be a syntax error there."""
    return " & ".join(p for p in (_pg_words(term, prefix=True) for term in query.terms) if p)


def narrowing(query: Query) -> str:
    """The free text plus the filters' words (a superset of what the filters keep: tags and
    owner are words of the document; the filters are checked exactly afterwards)."""
    parts = [tsquery(query)] if query.terms else []
    parts += [p for p in (_pg_words(tag, prefix=False) for tag in query.tags) if p]
    owners = [p for p in (_pg_words(owner, prefix=False) for owner in query.owners) if p]
    if owners and len(owners) == len(query.owners):  # an owner of no words narrows nothing
        parts.append("(" + " | ".join(owners) + ")")
    if query.pii:
        parts.append("pii")
    return " & ".join(p for p in parts if p)


def _pg_search(db: Database, query: Query, limit: int) -> list[dict[str, Any]]:
    """The PostgreSQL search in one statement (one round trip): name matches, then text hits
    in the name, then (only when those are too few) text hits elsewhere, with their rows.

    Every value of the query reaches the plan through the one-row `q` (and the filters), never
    as a constant the planner could fold: a plan is the same whatever was typed, so the server
    keeps one per statement (psycopg prepares a statement asked for often) and does not plan
    each search again, which cost more than running most of them. The limit and the scores'
    bonuses are written into the statement as numbers. A text tier ranks its index hits from
    the index's table alone and joins the dataset rows (and checks the filters) in rank order,
    stopping at the limit."""
    where, args = _filters(query, "postgresql")
    limit = int(limit)
    text = tsquery(query)
    if not text:
        if query.terms:  # only punctuation: nothing can match
            return []
        rows = db.query(
            f"SELECT d.fts_id, 0.0 AS score, d.name, d.description, d.owner, d.tags FROM datasets d {_where(where)} "
            f"ORDER BY d.name LIMIT {limit}",
            args,
        )
        return [_hit(row) for row in rows]
    narrow = narrowing(query)
    # without filters the narrowing is the text, which a hit in the name already matches
    in_name_part = "f.name_document @@ q.text" + (" AND f.document @@ q.narrow" if narrow != text else "")
    rows = db.query(
        "WITH q AS MATERIALIZED (SELECT to_tsquery('simple', ?) AS text, to_tsquery('simple', ?) AS narrow, "
        "?::text AS typed, ?::text AS high), "
        f"named AS (SELECT d.fts_id, 0 AS tier, CASE WHEN d.name = q.typed OR d.table_name = q.typed THEN "
        f"{EXACT_BONUS}::float8 ELSE {PREFIX_BONUS}::float8 + {PREFIX_BONUS - 1}::float8 * length(q.typed) / "
        "CAST(CASE WHEN starts_with(d.name, q.typed) THEN length(d.name) ELSE length(d.table_name) END "
        "AS DOUBLE PRECISION) END AS score, d.name FROM q, datasets d "
        # the prefix as a range of the text_pattern_ops indexes (a LIKE pattern that is a parameter uses none)
        "WHERE ((d.name ~>=~ q.typed AND d.name ~<~ q.high AND starts_with(d.name, q.typed)) "
        "OR (d.table_name ~>=~ q.typed AND d.table_name ~<~ q.high AND starts_with(d.table_name, q.typed)))"
        f"{_and(where)} ORDER BY score DESC, d.name LIMIT {limit}), "
        + _pg_text_tier("in_name", 1, NAME_HIT_BONUS, in_name_part, "(SELECT count(*) FROM named)", where, limit)
        + ", "
        + _pg_text_tier("elsewhere", 2, 0.0, "f.document @@ q.narrow AND NOT f.name_document @@ q.text",
                        "(SELECT count(*) FROM named) + (SELECT count(*) FROM in_name)", where, limit)
        + ", hits AS (SELECT * FROM named UNION ALL SELECT * FROM in_name UNION ALL SELECT * FROM elsewhere) "
        "SELECT h.fts_id, h.score, d.name, d.description, d.owner, d.tags FROM hits h "
        f"JOIN datasets d ON d.fts_id = h.fts_id ORDER BY h.tier, h.score DESC, h.name LIMIT {limit}",
        # the prefix range's end: a dataset name is lower-case letters, digits, '_' and '.', all below
        # DEL, so the ASCII bound is exact (starts_with checks it) in a database of any encoding
        (text, narrow, query.text, query.text + "\x7f", *args, *args, *args),
    )
    return [_hit(row) for row in rows]


def _pg_text_tier(name: str, tier: int, bonus: float, match: str, found: str, where: str, limit: int) -> str:
    """A CTE of text hits: the index's rows matching `match`, ranked (nothing is asked of the
    datasets' table for that), then joined to their datasets in rank order (a sorted subquery is
    not flattened), where the filters are checked, until `limit` pass. Asked only while the
    tiers before it (`found`) hold fewer than `limit`."""
    return (
        f"{name} AS (SELECT c.fts_id, {tier} AS tier, c.score, c.name FROM ("
        f"SELECT f.rowid AS fts_id, ts_rank('{PG_WEIGHTS}', f.document, q.text) + {bonus}::float8 AS score, f.name "
        f"FROM q, catalog_fts f WHERE {match} AND {found} < {limit} "
        "AND f.rowid NOT IN (SELECT fts_id FROM named) ORDER BY score DESC, f.name) c "
        f"JOIN datasets d ON d.fts_id = c.fts_id {_where(where)} "
        f"ORDER BY c.score DESC, c.name LIMIT {limit})"
    )


def _hit(row: Any) -> dict[str, Any]:
    return {"name": row["name"], "description": row["description"], "owner": row["owner"],
            "tags": json.loads(row["tags"] or "[]"), "score": float(f"{float(row['score']):.6g}") + 0.0}
