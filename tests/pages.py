"""What an HTML page would fetch from outside this machine before it can show."""

from __future__ import annotations

import re

#: Stylesheets, scripts and images a browser fetches while loading the page.
_LOADED = re.compile(r"<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_LOCAL = re.compile(r"^(?:https?:)?//(?:127\.0\.0\.1|localhost)(?:[:/]|$)", re.IGNORECASE)


def external_loads(html: str) -> list[str]:
    """The absolute (http, https or protocol-relative) URLs of resources the page loads off this machine."""
    urls = _LOADED.findall(html)
    return [url for url in urls if re.match(r"^(?:https?:)?//", url, re.IGNORECASE) and not _LOCAL.match(url)]
