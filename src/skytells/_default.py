"""The module-level default client: ``skytells.run(...)``, ``skytells.predictions``, ...

For scripts and notebooks. It is a `SkytellsClient` built from the environment
(``SKYTELLS_API_KEY``, ``SKYTELLS_BASE_URL``) on first use, never at ``import skytells``, which
reaches this module only through the package's ``__getattr__``. One client per process: made once
under a lock (threads racing to the first use share one); a forked child uses it too, over
connections of its own (the client's `HttpPool` remakes them), with the lock made anew.
`set_default_client` replaces it, or with None forgets it so the next use reads the environment
again. ``skytells.predictions`` and ``skytells.models`` are stand-ins (`DefaultPredictions`,
`DefaultModels`): introspecting them builds nothing, and each call uses the default client of
that moment.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from ._clients.base import ClientBase
from ._clients.sync import SkytellsClient
from ._core.calls import missing_key_error
from ._exceptions import SkytellsError
from ._io.fork import track
from .resources import Models, Predictions

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "DefaultModels",
    "DefaultPredictions",
    "default_client",
    "models",
    "predict",
    "predictions",
    "run",
    "set_default_client",
    "wait",
]


class _Holder:
    """The default client of this process, and the lock its first construction takes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.client: SkytellsClient | None = None
        self.owned = False  # built here (closed on replacement), not given by the user
        track(self)

    def _after_fork_in_child(self) -> None:
        # Another thread of the parent may have held the lock at the fork. The client stays:
        # its pool makes this process's own connections on the first request.
        self.lock = threading.Lock()


_holder = _Holder()


def default_client() -> SkytellsClient:
    """The default client: built on first use from the environment as ``SkytellsClient()``
    builds one, then the same for the whole process (threads, and forked children over
    connections of their own).

    Without ``SKYTELLS_API_KEY`` it raises the `AuthenticationError` a keyless client's
    request would (``UNAUTHORIZED``, nothing sent) and keeps nothing, so setting the key later
    works; a malformed key raises the client's own error. Once built, later changes of the
    environment are not seen: call ``set_default_client(None)`` to build it anew."""
    client = _holder.client
    if client is not None:
        return client
    with _holder.lock:
        if _holder.client is None:
            client = SkytellsClient()
            if not client._config.api_key:
                client.close()
                raise missing_key_error()
            _holder.client, _holder.owned = client, True
        return _holder.client


def set_default_client(client: SkytellsClient | None) -> None:
    """Make ``client`` the default (it stays yours: closing it is up to you), or with None forget
    the current one so that the next use builds a new one from the environment. A default client
    built from the environment is closed when replaced."""
    if client is not None and not isinstance(client, SkytellsClient):
        raise SkytellsError(
            "set_default_client() takes a SkytellsClient or None, got "
            f"{type(client).__name__}"
            + (
                " (an async client cannot be the default: the module's functions are synchronous)"
                if isinstance(client, ClientBase)
                else ""
            ),
            "INVALID_PARAMETER",
        )
    with _holder.lock:
        old, owned = _holder.client, _holder.owned
        _holder.client, _holder.owned = client, False
    if old is not None and owned and old is not client:
        old._pool.close(_REPLACED)  # what its held predictions and files will be told
        old.close()


_REPLACED = (
    "it was the default client (skytells.run, skytells.predictions...), closed when "
    "set_default_client() replaced it. skytells.run() and skytells.predictions use the current "
    "default client; move a prediction to it with prediction.bind(skytells.default_client()) "
    "(its files are then prediction.files())."
)


def _on_default(method: Callable[Concatenate[SkytellsClient, P], R]) -> Callable[P, R]:
    """``method`` of `SkytellsClient`, called on the default client: same parameters, same
    result, same docstring (type checkers see the signature through the `ParamSpec`)."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return method(default_client(), *args, **kwargs)

    del call.__wrapped__  # help() shows the parameters without ``self``:
    signature = inspect.signature(method)
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return call


run = _on_default(SkytellsClient.run)
predict = _on_default(SkytellsClient.predict)
wait = _on_default(SkytellsClient.wait)


class _OnDefault:
    """A stand-in for a resource of the default client: ``skytells.predictions``,
    ``skytells.models``. Holding it, reading its attributes, ``hasattr``, ``help()``,
    ``inspect.getmembers`` or ``mock.patch`` build no client and never raise; each method call
    runs on the default client of that moment (so after `set_default_client` it talks to the
    new one), and raises what `default_client` raises (no key: `AuthenticationError`)."""

    _resource: str  # the client's attribute: "predictions" or "models"

    def __init__(self) -> None:  # nothing to hold: the client is looked up at each call
        pass

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            return object.__getattribute__(self, name)
        member = inspect.getattr_static(type(self), name, None)
        if not inspect.isfunction(member):  # not a method of the resource: as it has it
            return getattr(getattr(default_client(), type(self)._resource), name)
        return _late_method(type(self)._resource, member)

    def __repr__(self) -> str:
        kind = "Predictions" if self._resource == "predictions" else "Models"
        return f"<skytells.{self._resource}: the default client's {kind}>"


def _late_method(resource: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` of a resource, called on the default client's resource when it is called."""
    name = method.__name__

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(default_client(), resource), name)(*args, **kwargs)

    del call.__wrapped__  # help() shows the parameters without ``self``:
    signature = inspect.signature(method)
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return call


class DefaultPredictions(_OnDefault, Predictions):
    """``skytells.predictions``: the `Predictions` of the default client at each call."""

    _resource = "predictions"


class DefaultModels(_OnDefault, Models):
    """``skytells.models``: the `Models` of the default client at each call."""

    _resource = "models"


predictions = DefaultPredictions()
models = DefaultModels()
