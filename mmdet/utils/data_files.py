"""Reading data files (annotations, proposals) by their suffix, without
running code from them, and with errors that name the file and the place.

``.json`` is parsed by ``json``: a syntax error names the line and column,
an empty file says so. ``.pkl`` / ``.pickle`` go through the data-only
unpickler of ``safe_pickle``. ``.yaml`` / ``.yml`` are read with YAML's safe
loader (plain data only: no ``!!python/...`` tags).
"""

import json
import os.path as osp

from .safe_pickle import safe_load


class DataFileError(ValueError):
    """A data file that cannot be read (bad syntax, empty, wrong type)."""


def load_json(path, kind='annotation file'):
    """Parse the JSON file ``path``.

    Raises:
        DataFileError: the file is empty, not UTF-8 text or not valid JSON
            (the message names the file, the line and the column).
    """
    with open(path, 'rb') as f:
        raw = f.read()
    if not raw.strip():
        raise DataFileError(
            f'{kind} {path!r} is empty ({len(raw)} bytes): was it written '
            'completely (copy or download interrupted)?'
        )
    try:
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        raise DataFileError(
            f'{kind} {path!r} is not JSON text: byte {err.start} is not '
            'UTF-8 (a binary or compressed file?)'
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        end = (
            ' (the file ends there: truncated?)'
            if err.pos >= len(text.rstrip())
            else ''
        )
        raise DataFileError(
            f'{kind} {path!r} is not valid JSON: {err.msg} at line '
            f'{err.lineno}, column {err.colno}{end}'
        ) from None


def _load_yaml(path, kind):
    import yaml

    with open(path) as f:
        try:
            return yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise DataFileError(
                f'{kind} {path!r} is not plain-data YAML (python tags are '
                f'not read): {err}'
            ) from None


def load_data_file(path, kind='annotation file', remedy=''):
    """The content of a data file, read by its suffix (``.json``,
    ``.pkl``/``.pickle``, ``.yaml``/``.yml``) without running code.

    Args:
        path (str): the file.
        kind (str): what it is, for the error messages.
        remedy (str): what to do when a pickle is refused.
    """
    suffix = osp.splitext(path)[1].lower()
    if suffix == '.json':
        return load_json(path, kind)
    if suffix in ('.pkl', '.pickle'):
        return safe_load(path, kind, remedy)
    if suffix in ('.yaml', '.yml'):
        return _load_yaml(path, kind)
    raise DataFileError(
        f'{kind} {path!r}: unknown file type {suffix!r}; '
        'use .json, .pkl/.pickle or .yaml'
    )
