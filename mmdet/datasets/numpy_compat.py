"""numpy names that the optional evaluation packages still use and numpy
removed: lvis 0.5.3 (PyPI's latest) writes ``np.float`` (gone in numpy
1.24), cityscapesscripts 2.3.0 ``np.in1d`` (gone in numpy 2.4)."""

import contextlib

import numpy as np

_LEGACY = {'float': float, 'in1d': np.isin}


@contextlib.contextmanager
def legacy_numpy_aliases():
    """Provide the removed names while the block runs, then remove the ones
    added."""
    added = [name for name in _LEGACY if name not in np.__dict__]
    for name in added:
        setattr(np, name, _LEGACY[name])
    try:
        yield
    finally:
        for name in added:
            delattr(np, name)
