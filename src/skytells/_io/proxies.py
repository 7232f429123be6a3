"""The proxies of the environment, read as httpx reads them, for both of the SDK's own transports.

``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` (a URL without a scheme is ``http://``) and
``NO_PROXY``: ``*`` is every host, ``.x.com`` its subdomains, ``x.com`` itself and its
subdomains, an address itself, ``host:port`` that host on that port only, ``scheme://host``
that host alone for that scheme (``scheme://*.x.com`` its subdomains). No ``~/.netrc`` is read.
"""

from __future__ import annotations

from urllib.request import getproxies

__all__ = ["bypasses", "environment_proxies"]


def environment_proxies() -> tuple[dict[str, str], list[str]]:
    """The proxies for http and https URLs, and the entries of ``NO_PROXY`` (lower case)."""
    found = getproxies()
    proxies: dict[str, str] = {}
    for scheme in ("http", "https"):
        url = found.get(scheme) or found.get("all")
        if url:
            proxies[scheme] = url if "://" in url else f"http://{url}"
    skip = [host.strip().lower() for host in found.get("no", "").split(",") if host.strip()]
    return proxies, skip


def bypasses(host: str, port: int | None, scheme: str, skip: list[str]) -> bool:
    """Whether a ``NO_PROXY`` entry of ``skip`` names ``host`` (on ``port``) for ``scheme``."""
    host = host.lower().strip("[]")
    for entry in skip:
        exact = "://" in entry  # a URL-like entry names its host only, or ``*.`` its subdomains
        if exact:
            entry_scheme, _, entry = entry.partition("://")
            if entry_scheme not in (scheme, "all"):
                continue
        name, wanted = _split_port(entry)
        if wanted is not None and wanted != port:
            continue
        if name == "*":
            return True
        if name.startswith("*."):  # subdomains only
            if host.endswith(name[1:]):
                return True
        elif name.startswith("."):  # subdomains only, as httpx reads ``.x.com``
            if host.endswith(name):
                return True
        elif host == name or (not exact and host.endswith("." + name)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port``, ``host`` or a bare IPv6 address, as (host, port or None)."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        name, _, port = entry.partition(":")
    else:
        return entry, None
    return name, int(port) if port.isascii() and port.isdigit() else None
