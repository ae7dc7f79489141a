"""Reading pickles (results of ``tools/test.py --out``, middle-format
annotations, proposals, distributed test parts) without running code from
them.

These files are containers of numpy arrays, numbers, strings and bytes (RLE
masks). ``safe_load`` unpickles with an allow-list of the few globals those
need (numpy's array, scalar and dtype rebuilders, ``OrderedDict``, the
bytes rebuilder of pickle protocol 2); any other global, i.e. anything that
could import or call code, is refused with an error naming the file.
"""

import codecs
import collections
import importlib
import pickle

# (module, name) pairs a data pickle may reference; numpy 1.x pickles say
# numpy.core, numpy 2 numpy._core; protocol 2 (mmcv's) writes bytes as
# _codecs.encode(text, 'latin1') and empty bytes (an empty array's data) as
# __builtin__.bytes()
_ALLOWED = {
    ('collections', 'OrderedDict'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('_codecs', 'encode'),
    ('__builtin__', 'bytes'),
    ('builtins', 'bytes'),
}
for _module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
    _ALLOWED |= {(_module, '_reconstruct'), (_module, 'scalar')}

RESULTS_REMEDY = 'Re-create the file with tools/test.py --out.'


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, name, kind, remedy):
        super().__init__(file)
        self.name = name
        self.kind = kind
        self.remedy = remedy

    def find_class(self, module, name):
        allowed = (module, name) in _ALLOWED or (
            module == 'numpy.dtypes' and name.endswith('DType')
        )
        if not allowed:
            raise UnsafePickleError(
                f'refused to load {self.kind} {self.name!r}: it references '
                f'{module}.{name}, which such files never hold (loading it '
                'could run code; only numpy arrays, numbers, strings, lists '
                f'and dicts are read). {self.remedy}'
            )
        if module == 'collections':
            return collections.OrderedDict
        if module == '_codecs':
            return codecs.encode
        if name == 'bytes':
            return bytes
        if module.startswith('numpy.core.'):  # renamed in numpy 2
            try:
                renamed = 'numpy._core.' + module[len('numpy.core.') :]
                return getattr(importlib.import_module(renamed), name)
            except ImportError:
                pass
        return getattr(importlib.import_module(module), name)


def safe_load(path, kind='results file', remedy=RESULTS_REMEDY):
    """Unpickle ``path`` allowing only data (numpy arrays and scalars,
    containers, strings, bytes).

    Args:
        path (str): the pickle file.
        kind (str): what the file is, for the error messages.
        remedy (str): what to do when the file is refused.

    Raises:
        UnsafePickleError: the pickle would import or call code.
        pickle.UnpicklingError: the file is empty, truncated or no pickle.
    """
    with open(path, 'rb') as f:
        try:
            return _RestrictedUnpickler(f, path, kind, remedy).load()
        except UnsafePickleError:
            raise
        except (
            pickle.UnpicklingError,
            EOFError,
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            AttributeError,
        ) as err:
            raise pickle.UnpicklingError(
                f'cannot read {kind} {path!r}: it is empty, truncated or '
                f'not a pickle ({type(err).__name__}: {err}). '
                f'{remedy}'
            ) from None
