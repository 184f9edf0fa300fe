"""Binding a server beyond this machine: refused without a token, unless the operator says ``--insecure``.

Shared by ``nbprod serve`` and ``nbprod dashboard``::

    refusal = exposure_refusal(host, token_set=bool(token), insecure=args.insecure,
                               server="nbprod serve", token_env="NBPROD_TOKEN")
    if refusal:
        print(f"nbprod: {refusal}", file=sys.stderr)
        return 2
    warning = exposure_warning(host, token_set=bool(token), insecure=args.insecure, server="nbprod serve")

A loopback address (``127.0.0.0/8``, ``::1``, ``localhost``) is reachable from this machine only;
anything else (``0.0.0.0``, ``::``, an interface address, a host name) is taken to be reachable from
the network.
"""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` (an address or a name) serves this machine only.

    Parameters
    ----------
    host : str
        The interface to bind, as given to ``--host`` (``[::1]`` and ``::1`` alike).

    Returns
    -------
    bool
        True for loopback addresses and ``localhost``; False for everything else, names included
        (a name may resolve to any interface).
    """
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def exposure_refusal(host: str, token_set: bool, insecure: bool, server: str, token_env: str) -> str | None:
    """The one-line reason to refuse binding ``host``, or None when it may be bound.

    Parameters
    ----------
    host : str
        The interface to bind.
    token_set : bool
        Whether the access token (the environment variable ``token_env``) is set.
    insecure : bool
        Whether the operator passed ``--insecure`` (binds anyway, with a warning).
    server, token_env : str
        The command and the token's environment variable, named in the message.
    """
    if token_set or insecure or is_loopback(host):
        return None
    return (f"{server} --host {host} would accept requests from the network without a token: set the "
            f"environment variable {token_env}, bind 127.0.0.1, or pass --insecure to do it anyway")


def exposure_warning(host: str, token_set: bool, insecure: bool, server: str) -> str | None:
    """The warning to print when ``host`` is bound beyond loopback without a token (``--insecure``); else None."""
    if token_set or not insecure or is_loopback(host):
        return None
    return (f"WARNING: {server} is bound to {host} WITHOUT A TOKEN (--insecure): anyone who can reach this "
            "machine can use it")
