"""The Voila server ``nbprod dashboard`` runs: Voila with a ``Host`` check, a token and a cap on kernels.

Voila's own app turns Jupyter's ``Host`` check off (``allow_remote_access=True``): a web page
could reach a dashboard on 127.0.0.1 through DNS rebinding and start kernels. This app
(``python -m nbprod.dashboards.voila_server``, same options as ``voila``) adds:

- ``GuardedVoila.allowed_hosts``: the ``Host`` values served besides ``localhost`` and loopback
  addresses (others get 403; ``*``: any);
- ``GuardedVoila.token_env``: the environment variable holding the access token (read once,
  then removed from the environment the kernels inherit); pages then need ``?token=...`` once
  (a cookie follows) or ``Authorization: token ...``;
- ``CappedKernelManager.max_kernels``: kernels running at once; a page beyond them gets 503.
"""

from __future__ import annotations

import os
import re
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer, List, Unicode
from voila.app import Voila


class CappedKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager, refusing to start more than ``max_kernels`` kernels at once."""

    max_kernels = Integer(8, config=True, help="kernels running at once; a page beyond them gets 503")

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        """Start a kernel, unless ``max_kernels`` are running (then HTTP 503)."""
        if len(self.list_kernel_ids()) >= self.max_kernels:
            self.log.warning("refused a kernel: %d of %d running", len(self.list_kernel_ids()), self.max_kernels)
            raise web.HTTPError(503, "too many dashboard kernels running; try again in a minute")
        return await super().start_kernel(*args, **kwargs)


class GuardedVoila(Voila):
    """Voila with Jupyter's ``Host`` check on and its token read from an environment variable."""

    allowed_hosts = List(Unicode(), config=True, help="Host values served besides localhost and loopback")
    token_env = Unicode("", config=True, help="environment variable holding the access token ('' : none)")

    def init_settings(self) -> dict:
        """Voila's settings with the ``Host`` check on and the token taken from ``token_env``."""
        if self.token_env and self.token is None:
            self.token = os.environ.pop(self.token_env, "") or None
        settings = super().init_settings()
        settings["allow_remote_access"] = "*" in self.allowed_hosts
        settings["local_hostnames"] = ["localhost", *self.allowed_hosts]
        return settings


def host_of(header: str) -> str:
    """The name or address of a ``Host`` header value, without port or IPv6 brackets."""
    match = re.match(r"^(.*?)(:\d+)?$", header)
    host = match.group(1) if match else header
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _check_host(handler: JupyterHandler, _original: Any = JupyterHandler.check_host) -> bool:
    """Jupyter's check, also accepting an address listed in ``local_hostnames`` (Jupyter lists names only)."""
    if host_of(handler.request.host).lower() in [name.lower() for name in handler.settings.get("local_hostnames", [])]:
        return True
    return _original(handler)


def main() -> None:
    """Run :class:`GuardedVoila` with its kernels capped (``python -m nbprod.dashboards.voila_server``)."""
    JupyterHandler.check_host = _check_host
    GuardedVoila.launch_instance()


if __name__ == "__main__":
    main()
