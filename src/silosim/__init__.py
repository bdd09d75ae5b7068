"""silosim: do an organisation's communities merge, or harden into "silos 2.0"?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("silosim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
