"""Test helpers that ship with routerlab, for plugin authors.

``RouterConformanceTests``: subclass it in your test suite with ``router_class = MyRouter``
and pytest runs the checks every router must pass (see :mod:`harness.testing.routers`).
"""

from harness.testing.routers import RouterConformanceTests

__all__ = ["RouterConformanceTests"]
