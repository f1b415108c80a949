"""Tracker families, one subpackage each, and ``common/``, the building blocks they share.

A family registers its methods when the registry imports it through the ``trackbench.trackers``
entry-point group (pyproject.toml), as a third-party package's family does.
"""
