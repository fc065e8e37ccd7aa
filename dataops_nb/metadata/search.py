"""Catalog search: free text plus `tag:`, `owner:` and `pii:` filters, exact and prefix name
matches first, then ranked text. The query language and both backends' SQL live in the ledger
(`dataops_nb.ledger.search`); these are the names the rest of the kit uses.
"""

from __future__ import annotations

from typing import Any

from ..ledger import Ledger
from ..ledger.search import FILTERS, Query, SearchQueryError, parse
from ..ledger.search import search as _search

__all__ = ["FILTERS", "Query", "SearchQueryError", "parse", "search"]


def search(ledger: Ledger, query: str | Query, *, limit: int = 20) -> list[dict[str, Any]]:
    """Datasets matching `query`, best first: {name, description, owner, tags, score}."""
    if isinstance(query, str) and hasattr(ledger, "catalog"):
        return ledger.catalog.search(query, limit=limit)
    return _search(ledger.db if hasattr(ledger, "db") else ledger, query, limit=limit)
