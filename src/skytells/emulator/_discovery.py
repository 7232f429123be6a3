"""How ``skytells --emulator`` finds a running ``skytells emulator``: a small state file.

While it serves, ``skytells emulator`` (and ``python -m skytells.emulator``) keeps
``emulator-<pid>.json`` (its base URL and API key) in a private folder: ``$XDG_RUNTIME_DIR/skytells``
or else the user's cache folder (``~/.cache/skytells``). The folder is made ``0700`` and must be
the user's own (a folder another user could write, or a link, is not used); the file is ``0600``,
written whole under a temporary name then renamed, and removed when the emulator stops.

A file left by an emulator that was killed (``kill -9``) is recognised by its process being gone
or its port refusing connections, and removed; a file whose emulator does not answer
``GET /_emulator/config`` (its control API: never faulted nor rate-limited) with its key within
a second is skipped, and said so. The probe connects directly (never through a proxy of the
environment) and the key goes only to the loopback address written in the file; an emulator
bound to every address (``0.0.0.0``, ``::``) is written as its loopback address. This module
needs none of the emulator's server dependencies.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

MAX_STATE_BYTES = 4096
CHECK_TIMEOUT_MS = 1000.0
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
_PREFIX = "emulator-"


@dataclass(frozen=True)
class RunningEmulator:
    """A running emulator's address and key (`repr` hides the key)."""

    base_url: str
    api_key: str
    pid: int

    def __repr__(self) -> str:
        return f"RunningEmulator(base_url={self.base_url!r}, pid={self.pid})"


def state_dir() -> Path:
    """The folder of the state files (not created here)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        return Path(runtime) / "skytells"
    cache = os.environ.get("XDG_CACHE_HOME")
    if cache and os.path.isabs(cache):
        return Path(cache) / "skytells"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "skytells"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "skytells"
    return Path.home() / ".cache" / "skytells"


def _private_dir(create: bool) -> Path | None:
    """The state folder if it is a real folder of this user that no one else can open."""
    folder = state_dir()
    if create:
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            return None
    try:
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    if hasattr(os, "getuid"):
        if info.st_uid != os.getuid():
            return None
        if info.st_mode & 0o077:
            if not create:
                return None
            try:
                os.chmod(folder, 0o700)
            except OSError:
                return None
    return folder


def _is_loopback_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        return parts.scheme == "http" and (
            host == "localhost" or ipaddress.ip_address(host).is_loopback
        )
    except ValueError:
        return False


def reachable_url(base_url: str) -> str:
    """``base_url`` as a client on this machine reaches it: a wildcard address (``0.0.0.0``,
    ``::``) is not one to connect to, its loopback address is (``127.0.0.1``, ``[::1]``)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return base_url
    if not address.is_unspecified:
        return base_url
    loopback = "127.0.0.1" if address.version == 4 else "[::1]"
    netloc = f"{loopback}:{parts.port}" if parts.port is not None else loopback
    return urlunsplit(parts._replace(netloc=netloc))


def publish(base_url: str, api_key: str) -> Path | None:
    """Write this process's state file; its path, or None if no private folder could be had or
    the emulator cannot be reached on a loopback address (bound to another one)."""
    base_url = reachable_url(base_url)
    if not _is_loopback_url(base_url):
        return None
    folder = _private_dir(create=True)
    if folder is None:
        return None
    path = folder / f"{_PREFIX}{os.getpid()}.json"
    temporary = folder / f".{path.name}.tmp"
    data = json.dumps({"base_url": base_url, "api_key": api_key, "pid": os.getpid()})
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        descriptor = os.open(temporary, flags | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return None
    return path


def withdraw(path: Path | None) -> None:
    """Remove the state file written by `publish` (when the emulator stops)."""
    if path is not None:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _read(path: Path) -> RunningEmulator | None:
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(descriptor, "rb") as file:
            data = json.loads(file.read(MAX_STATE_BYTES + 1)[:MAX_STATE_BYTES])
        base_url, api_key, pid = data["base_url"], data["api_key"], data["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(base_url, str) and isinstance(api_key, str) and isinstance(pid, int)):
        return None
    if not _is_loopback_url(base_url) or not api_key.isprintable():
        return None
    return RunningEmulator(base_url, api_key, pid)


def _process_gone(pid: int) -> bool:
    if sys.platform == "win32" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _answers(emulator: RunningEmulator) -> bool | str | None:
    """True if its control API answers with its key; None if nothing listens there (refused);
    else why not, in a few words. A direct connection: never through a proxy."""
    parts = urlsplit(emulator.base_url)
    host, port = parts.hostname or "", parts.port or 80
    connection = http.client.HTTPConnection(host, port, timeout=CHECK_TIMEOUT_MS / 1000)
    try:
        connection.request(
            "GET",
            "/_emulator/config",
            headers={"x-api-key": emulator.api_key, "Accept": "application/json"},
        )
        response = connection.getresponse()
        body = response.read(MAX_STATE_BYTES + 1)
    except ConnectionRefusedError:
        return None
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_MS / 1000:g} s"
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__
    finally:
        connection.close()
    if response.status != 200:
        return f"HTTP {response.status}"
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    return True if isinstance(answer, dict) else "not the emulator's answer"


def _modified(path: Path) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:  # removed meanwhile
        return 0.0


def find_running(unanswered: list[str] | None = None) -> RunningEmulator | None:
    """The most recently started emulator that is alive, or None; stale files are removed.

    An emulator whose process lives but that did not answer is skipped: ``unanswered`` (if
    given) gets a line for each, ``http://127.0.0.1:8787/v1 (no answer within 1 s)``."""
    folder = _private_dir(create=False)
    if folder is None:
        return None
    try:
        paths = [p for p in folder.iterdir() if p.name.startswith(_PREFIX) and p.suffix == ".json"]
    except OSError:
        return None
    paths.sort(key=_modified, reverse=True)  # the most recently started first
    for path in paths[:20]:
        emulator = _read(path)
        if emulator is None:
            continue
        if _process_gone(emulator.pid):
            withdraw(path)
            continue
        answer = _answers(emulator)
        if answer is True:
            return emulator
        if answer is None:  # nothing listens on its port: it was killed
            withdraw(path)
        elif unanswered is not None:
            unanswered.append(f"{emulator.base_url} ({answer})")
    return None


def without_proxy(base_url: str, current: str | None) -> str:
    """A ``NO_PROXY`` value: ``current`` with the host of ``base_url`` added, so that a client
    reaches a local emulator directly even when ``HTTP_PROXY`` or ``ALL_PROXY`` is set (a
    proxy would get its traffic and its key, and ``localhost`` in ``NO_PROXY`` does not cover
    ``127.0.0.1``)."""
    host = urlsplit(base_url).hostname or ""
    entries = [entry.strip() for entry in (current or "").split(",") if entry.strip()]
    if host and host.lower() not in (entry.lower().strip("[]") for entry in entries):
        entries.append(host)
    return ",".join(entries)
