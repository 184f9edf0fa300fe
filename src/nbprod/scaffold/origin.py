"""Where the running nbprod was installed from, so that a new project installs the same one.

Until nbprod is published, a project ``nbprod new`` writes installs nbprod from the wheel or
source folder this installation came from, as recorded by pip (PEP 610, ``direct_url.json``
in the distribution's metadata); an installation from an index is pinned by version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata

DISTRIBUTION = "nbprod"


@dataclass(frozen=True)
class Origin:
    """How to install this nbprod again: ``url`` (a ``file://`` wheel or folder, or any PEP 610
    URL) or, when None, the index at ``version``."""

    version: str
    url: str | None = None

    def requirement(self, extras: str = "") -> str:
        """A pip requirement for this nbprod, e.g. ``nbprod[test] @ file:///wheels/nbprod-0.1.0-py3-none-any.whl``."""
        name = f"{DISTRIBUTION}[{extras}]" if extras else DISTRIBUTION
        return f"{name} @ {self.url}" if self.url else f"{name}=={self.version}"


def origin_from(version: str, direct_url: str | None) -> Origin:
    """The origin recorded in a ``direct_url.json`` text (None: installed from an index)."""
    if not direct_url:
        return Origin(version)
    url = json.loads(direct_url).get("url")
    return Origin(version, url or None)


def installed_origin() -> Origin:
    """The origin of the installed ``nbprod`` distribution."""
    distribution = metadata.distribution(DISTRIBUTION)
    return origin_from(distribution.version, distribution.read_text("direct_url.json"))
