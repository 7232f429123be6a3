"""What a resource is built with: the client's `ClientCore` and its driver."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from .._clients.core import ClientCore

DriverT = TypeVar("DriverT")


class Resource(Generic[DriverT]):
    """A group of the API's endpoints on a client (``client.predictions``, ``client.models``).

    It gets from its client the two things a call needs, and nothing else: the `ClientCore`,
    which builds each method's operation, and the driver, which runs it (``driver.run(op)``,
    awaited in the async resources). A client made by `with_options()` gets resources of its
    own."""

    def __init__(self, core: ClientCore, driver: DriverT) -> None:
        self._core = core
        self._driver = driver
