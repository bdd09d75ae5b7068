"""The browser view: the page's figures and texts, its model and controls, and its server.

:mod:`silosim.viz.figures` draws what the page shows of a model (plain
Python returning matplotlib figures and strings, tested without a browser);
:mod:`silosim.viz.page` holds the controls and the model they build;
:mod:`silosim.viz.server` serves the page (:mod:`silosim.app`, a Solara
page) offline, to its own addresses only. ``serve`` and
``AddressError`` are the names ``silosim viz`` uses.
"""

from silosim.viz.server import AddressError, serve

__all__ = ["AddressError", "serve"]
