"""Full-text search over every message, behind one small facade.

    from onfile.search import SearchError, SearchFilters, search

    page = search(request.user, "lease clause*", SearchFilters(matter=12), page=2)
    for hit in page.hits: hit.message_id, hit.conversation_id, hit.sent_at, hit.snippet_html …

SQLite uses FTS5 and PostgreSQL its own full-text search (schema.py says how each index is
kept); the engine is chosen by the database in use, and the facade (facade.py) is the same.
Results respect roles and ethical walls (``onfile.access``); every search is ledgered.
"""

from typing import Any

from onfile.search.query import SearchError
from onfile.search.types import ORDERS, SearchFilters, SearchHit, SearchPage


def search(user: Any, query: str, filters: SearchFilters | None = None, *, page: int = 1, per_page: int = 25,
           order: str = "newest", count: bool = True) -> SearchPage:
    """One page of the messages ``user`` may see that match ``query`` (see facade.search)."""
    # Imported here: this package is imported while Django loads its apps, before models can be.
    from onfile.search.facade import search as run

    return run(user, query, filters, page=page, per_page=per_page, order=order, count=count)


__all__ = ["ORDERS", "SearchError", "SearchFilters", "SearchHit", "SearchPage", "search"]
