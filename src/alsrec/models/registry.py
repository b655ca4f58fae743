"""Models by short name: kept for existing imports; the catalog is :mod:`alsrec.models.catalog`."""

from alsrec.models.catalog import make_model, spec_names

__all__ = ["make_model", "spec_names"]
