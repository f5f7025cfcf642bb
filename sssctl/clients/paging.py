"""Following ``@odata.nextLink`` safely: same origin only, no loops, a ceiling on pages.

A link comes from the server, so it is untrusted input: followed blindly it could send the
run's token to another host, or keep a run paging forever. Every client that pages asks a
:class:`PageGuard` for the next address instead of reading the link itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from sssctl.clients.errors import MalformedReply, PagingRunaway
from sssctl.clients.http import check_same_origin

MAX_PAGES = 10_000  # 50 million rows at Dataverse's 5,000 a page; no real collection is larger
# Services may send an empty page that still links onward (a filter evaluated page by page);
# a few in a row are allowed, more means the server keeps the run paging for nothing.
MAX_EMPTY_PAGES = 3


class PageGuard:
    """Checks one paged read; call :meth:`next_url` with each page in turn.

    When a page carries ``@odata.count``, at most ``count + 1`` pages may follow from it
    (every page but an empty last one holds at least a row); more means the server is
    looping, whatever the links look like.
    """

    def __init__(self, service: str, target: str, first_url: str, *, max_pages: int = MAX_PAGES) -> None:
        self.service = service
        self.target = target
        self.max_pages = max_pages
        self.pages = 0
        self._current = first_url
        self._seen: set[str] = {first_url}
        self._page_limit: int | None = None
        self._empty_in_a_row = 0

    def next_url(self, page: Mapping[str, Any]) -> str | None:
        """The absolute address of the next page, or None when this page was the last."""
        self.pages += 1
        self._note_count(page.get("@odata.count"))
        link = page.get("@odata.nextLink")
        if link is None:
            return None
        rows = page.get("value")
        self._empty_in_a_row = self._empty_in_a_row + 1 if isinstance(rows, list) and not rows else 0
        if not isinstance(link, str) or not link.strip():
            raise MalformedReply(f"{self.service}: {self.target} page {self.pages} has an @odata.nextLink "
                                 f"that is not a URL ({type(link).__name__})", service=self.service)
        absolute = str(httpx.URL(self._current).join(link))
        check_same_origin(absolute, self._current, service=self.service,
                          what=f"the @odata.nextLink of {self.target} page {self.pages}")
        self._check_runaway(absolute)
        self._seen.add(absolute)
        self._current = absolute
        return absolute

    def _note_count(self, count: Any) -> None:
        if count is None or self._page_limit is not None:
            return
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise MalformedReply(f"{self.service}: {self.target} has an @odata.count that is not a "
                                 f"non-negative integer: {str(count)[:40]!r}", service=self.service)
        self._page_limit = count + 1

    def _check_runaway(self, link: str) -> None:
        why = None
        if link in self._seen:
            why = "the server sent a next-page link it had already sent (a loop)"
        elif self._empty_in_a_row > MAX_EMPTY_PAGES:
            why = f"{self._empty_in_a_row} empty pages in a row each linked to another"
        elif self.pages >= self.max_pages:
            why = f"it reached the ceiling of {self.max_pages:,} pages"
        elif self._page_limit is not None and self.pages >= self._page_limit:
            why = (f"{self.pages} pages already arrived for {self._page_limit - 1} rows "
                   "(@odata.count), and the server still offers another")
        if why is not None:
            raise PagingRunaway(f"{self.service}: stopped reading {self.target}: {why}; the result would "
                                "be incomplete or endless, so it is not used", service=self.service)
