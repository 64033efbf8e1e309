"""routerlab's command line and entry points: the layer on top of every other package.

The library is :mod:`harness`; ``routerlab`` (this package) only wires the command line
(:mod:`routerlab.cli`) onto it and onto ``routers``, ``baselines``, ``studies`` and ``reports``.
"""
