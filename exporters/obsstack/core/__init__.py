"""The core every obsstack room stands on: naming, strict reading, secrets, logging, serving."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("obsstack")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
