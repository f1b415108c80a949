"""Tracker families; each subpackage registers its methods on import."""
