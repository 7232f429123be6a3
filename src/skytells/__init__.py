"""Skytells Python SDK: run Skytells AI models (predictions and models) from Python."""

from ._version import __version__

__all__ = ["__version__"]
