"""Reading result pickles (``tools/test.py --out r.pkl``) without running
code from them.

Results are containers of numpy arrays, numbers, strings and bytes (RLE
masks). ``safe_load`` unpickles with an allow-list of the few globals those
need (numpy's array, scalar and dtype rebuilders, ``OrderedDict``, the
bytes rebuilder of pickle protocol 2); any other
global, i.e. anything that could import or call code, is refused.
"""
import codecs
import collections
import importlib
import pickle

# (module, name) pairs a results file may reference; numpy 1.x pickles say
# numpy.core, numpy 2 numpy._core; protocol 2 (mmcv's) writes bytes as
# _codecs.encode(text, 'latin1')
_ALLOWED = {('collections', 'OrderedDict'), ('numpy', 'ndarray'),
            ('numpy', 'dtype'), ('_codecs', 'encode')}
for _module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
    _ALLOWED |= {(_module, '_reconstruct'), (_module, 'scalar')}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):

    def __init__(self, file, name):
        super().__init__(file)
        self.name = name

    def find_class(self, module, name):
        allowed = (module, name) in _ALLOWED or (
            module == 'numpy.dtypes' and name.endswith('DType'))
        if not allowed:
            raise UnsafePickleError(
                f'refused to load {self.name!r}: it references {module}.'
                f'{name}, which results files never hold (it could run '
                'code). Re-create the file with tools/test.py --out.')
        if module == 'collections':
            return collections.OrderedDict
        if module == '_codecs':
            return codecs.encode
        if module.startswith('numpy.core.'):  # renamed in numpy 2
            try:
                renamed = 'numpy._core.' + module[len('numpy.core.'):]
                return getattr(importlib.import_module(renamed), name)
            except ImportError:
                pass
        return getattr(importlib.import_module(module), name)


def safe_load(path):
    """Unpickle ``path`` allowing only data (numpy arrays and scalars,
    containers, strings, bytes)."""
    with open(path, 'rb') as f:
        return _RestrictedUnpickler(f, path).load()
