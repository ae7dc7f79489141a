"""Reading checkpoint files without running code from them.

A released checkpoint reaches users in several shapes, all read here by
``read_checkpoint``:

* an mmcv checkpoint ``.pth``: ``dict(meta=..., state_dict=...,
  optimizer=...)``, or a bare state dict, in PyTorch's zip format (or the
  legacy pre-1.6 format);
* the folder a browser or unzip tool leaves when it unpacks such a zip:
  ``<name>/data.pkl`` + ``<name>/data/*`` (``<name>`` is ``archive`` or the
  file's stem), given as that folder or as the folder that contains it;
* a zip someone re-packed from that folder (compressed, or with an extra
  folder level), under any file name.

Every form is read by ``torch.load(weights_only=True)``: its unpickler only
rebuilds tensors, containers and plain Python values (plus numpy scalars and
arrays, which old checkpoints' meta may hold), so a pickle that would import
and call anything else is refused with ``UnsafeCheckpointError`` before any
of its code runs. An unpacked folder is re-zipped (uncompressed, into a
temporary file) in the layout ``torch.load`` reads, never unpickled by hand.

The reader is registered with mmcv's ``CheckpointLoader`` for local paths and
http(s) URLs when this module is imported (``import mmdet.utils`` does), so
mmcv's ``load_checkpoint`` and with it the runner's ``resume`` /
``load_from`` read checkpoints this way too.
"""

import os
import os.path as osp
import pickle
import shutil
import tempfile
import zipfile

import numpy as np
import torch
from mmcv.runner import CheckpointLoader, get_dist_info

PICKLE_NAME = 'data.pkl'
# pickle protocol 2, LONG1 of 10 bytes: torch's legacy magic number
LEGACY_MAGIC = b'\x80\x02\x8a\x0a' + (0x1950A86A20F9469CFC6C).to_bytes(
    10, 'little'
)


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint whose pickle asks for more than weights and plain data
    (it would import or call something): refused, nothing of it was run."""


class CheckpointFormatError(RuntimeError):
    """A file or folder that is not a readable PyTorch checkpoint."""


def _numpy_safe_globals():
    """numpy names that rebuild scalars, arrays and dtypes from bytes.

    Allowed in addition to torch's own weights-only set; numpy 1.x pickles
    name the module ``numpy.core``, numpy 2 ``numpy._core``.
    """
    from numpy._core import multiarray

    names = []
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        names += [
            (multiarray.scalar, f'{module}.scalar'),
            (multiarray._reconstruct, f'{module}._reconstruct'),
        ]
    names += [np.ndarray, np.dtype]
    names += [
        getattr(np.dtypes, name)
        for name in dir(np.dtypes)
        if name.endswith('DType')
    ]
    return names


def _refusal_reason(err):
    """The line of torch's weights-only error that names what was asked."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for line in lines:
        if 'GLOBAL' in line or 'Unsupported' in line:
            return line.split('WeightsUnpickler error:')[-1].strip()
    return lines[-1] if lines else type(err).__name__


def _weights_only_load(source, name, map_location):
    """``torch.load(source, weights_only=True)``, refusals made explicit.

    Args:
        source (str | file object): a checkpoint file or an open zip.
        name (str): the path to name in errors.
    """
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(
                source, map_location=map_location, weights_only=True
            )
    except pickle.UnpicklingError as err:
        reason = _refusal_reason(err).split('. Please use')[0]
        raise UnsafeCheckpointError(
            f'refused to load checkpoint {name!r}: its pickle would import '
            f'or call code, not only rebuild weights ({reason}). Nothing of '
            'it was run. Released checkpoints hold only tensors and plain '
            'data. Only if you trust the file\'s source: load it once with '
            'torch.load(path, weights_only=False) and save its weights '
            'alone, torch.save(dict(state_dict=ckpt[\'state_dict\']), '
            'new_path).'
        ) from None
    except RuntimeError as err:
        raise CheckpointFormatError(
            f'{name!r} is not a readable PyTorch checkpoint ({err}). Give an '
            'mmcv .pth file, a saved state dict, or the folder holding '
            'data.pkl and data/ of an unpacked one.'
        ) from None


def find_archive_root(folder):
    """The folder holding ``data.pkl``: ``folder`` itself or one of its
    sub-folders (``archive/`` when a browser unpacked a .pth inside it)."""
    if osp.isfile(osp.join(folder, PICKLE_NAME)):
        return folder
    roots = sorted(
        osp.join(folder, sub)
        for sub in os.listdir(folder)
        if osp.isfile(osp.join(folder, sub, PICKLE_NAME))
    )
    if len(roots) == 1:
        return roots[0]
    if not roots:
        raise CheckpointFormatError(
            f'{folder!r} is a folder but not an unpacked PyTorch checkpoint: '
            f'no {PICKLE_NAME} in it or in a sub-folder. Give the .pth file, '
            f'or the folder with {PICKLE_NAME} and data/ (usually archive/).'
        )
    raise CheckpointFormatError(
        f'{folder!r} holds several unpacked checkpoints ({roots}); give one '
        'of these folders.'
    )


def _add_record(archive, rel, size, stream):
    """Copy ``stream`` into ``archive`` as ``archive/<rel>``, uncompressed
    (torch's own zips use a fixed 1980 date: unpacked files may carry
    earlier ones, which zip cannot store)."""
    info = zipfile.ZipInfo(f'archive/{rel}', date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = size
    with archive.open(info, 'w') as out:
        shutil.copyfileobj(stream, out, 1 << 20)


def _zip_tree(root, fileobj):
    """Write the files under ``root`` into ``fileobj`` as a PyTorch zip:
    every record under one top folder, stored uncompressed."""
    with zipfile.ZipFile(fileobj, 'w', zipfile.ZIP_STORED) as archive:
        for dirpath, _, filenames in os.walk(root):
            for filename in sorted(filenames):
                path = osp.join(dirpath, filename)
                rel = osp.relpath(path, root).replace(os.sep, '/')
                with open(path, 'rb') as stream:
                    _add_record(archive, rel, osp.getsize(path), stream)


def _rezip_members(src, prefix, fileobj):
    """Copy the members of zip ``src`` under ``prefix`` into ``fileobj``,
    re-rooted under one top folder and stored uncompressed."""
    with zipfile.ZipFile(fileobj, 'w', zipfile.ZIP_STORED) as archive:
        for info in src.infolist():
            if info.is_dir() or not info.filename.startswith(prefix):
                continue
            with src.open(info) as stream:
                _add_record(
                    archive,
                    info.filename[len(prefix) :],
                    info.file_size,
                    stream,
                )


def _pickle_prefix(zip_file, name):
    """The folder prefix of the single ``data.pkl`` in an open zip."""
    prefixes = [
        n[: -len(PICKLE_NAME)]
        for n in zip_file.namelist()
        if n.endswith('/' + PICKLE_NAME) or n == PICKLE_NAME
    ]
    if len(prefixes) != 1:
        raise CheckpointFormatError(
            f'{name!r} is a zip file but not one PyTorch checkpoint: found '
            f'{len(prefixes)} {PICKLE_NAME} inside (expected exactly one).'
        )
    return prefixes[0]


def _read_zip(path, map_location):
    with zipfile.ZipFile(path) as zip_file:
        prefix = _pickle_prefix(zip_file, path)
        if prefix.count('/') == 1:  # the layout torch.save writes
            return _weights_only_load(path, path, map_location)
        with tempfile.TemporaryFile() as tmp:
            _rezip_members(zip_file, prefix, tmp)
            tmp.seek(0)
            return _weights_only_load(tmp, path, map_location)


def _read_folder(path, map_location):
    root = find_archive_root(path)
    with tempfile.TemporaryFile() as tmp:
        _zip_tree(root, tmp)
        tmp.seek(0)
        return _weights_only_load(tmp, path, map_location)


def _is_legacy_torch_file(path):
    """Whether ``path`` starts like torch's pre-1.6 format: a pickled
    (protocol 2) long, torch's magic number."""
    with open(path, 'rb') as f:
        return f.read(len(LEGACY_MAGIC)) == LEGACY_MAGIC


def _download(url):
    """Fetch an http(s) checkpoint into torch's hub cache; its local path."""
    cache = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(cache, exist_ok=True)
    path = osp.join(cache, osp.basename(url.split('?')[0]))
    if not osp.isfile(path):
        try:
            torch.hub.download_url_to_file(url, path)
        except Exception as err:  # offline, proxy, HTTP error, ...
            raise ConnectionError(
                f'could not download {url} ({err}). Download it by other '
                'means and give the local file path instead.'
            ) from err
    return path


def read_checkpoint(filename, map_location='cpu'):
    """Read a checkpoint in any of the module's forms, never running code.

    Args:
        filename (str): a checkpoint file (zip or legacy format), an
            unpacked checkpoint folder (or its parent), or an http(s) URL.
        map_location: as ``torch.load``'s.

    Returns:
        dict: what was saved: ``dict(meta, state_dict, ...)`` or a bare
        state dict.

    Raises:
        FileNotFoundError: nothing at ``filename``.
        UnsafeCheckpointError: the pickle would run code.
        CheckpointFormatError: not a PyTorch checkpoint.
    """
    filename = os.fspath(filename)
    if filename.startswith(('http://', 'https://')):
        filename = _download(filename)
    elif '://' in filename:
        raise CheckpointFormatError(
            f'{filename!r}: only local paths and http(s) URLs are read; '
            'download the checkpoint and give its path.'
        )
    if osp.isdir(filename):
        checkpoint = _read_folder(filename, map_location)
    elif osp.isfile(filename):
        if zipfile.is_zipfile(filename):
            checkpoint = _read_zip(filename, map_location)
        elif _is_legacy_torch_file(filename):
            checkpoint = _weights_only_load(filename, filename, map_location)
        else:
            raise CheckpointFormatError(
                f'{filename!r} is not a PyTorch checkpoint (neither a zip '
                'nor torch\'s legacy format). Give an mmcv .pth file, a '
                'state dict saved by torch.save, or an unpacked checkpoint '
                'folder.'
            )
    else:
        raise FileNotFoundError(
            f'checkpoint {filename!r} does not exist. Download the released '
            'checkpoint (docs/model_zoo.md) or give the path of one you '
            'trained (work_dirs/<config>/latest.pth).'
        )
    if not isinstance(checkpoint, dict):
        raise CheckpointFormatError(
            f'{filename!r} holds a {type(checkpoint).__name__}, not a '
            'checkpoint dict or a state dict.'
        )
    return checkpoint


def load_from_local(filename, map_location=None):
    """mmcv's loader for local paths (prefix ''): ``read_checkpoint``.

    The name is mmcv's: its log line reads ``load checkpoint from local
    path: ...``.
    """
    return read_checkpoint(osp.expanduser(filename), map_location)


def load_from_http(filename, map_location=None):
    """mmcv's loader for http(s) URLs: rank 0 downloads first, the other
    ranks then read the cached file."""
    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = read_checkpoint(filename, map_location)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = read_checkpoint(filename, map_location)
    return checkpoint


def register_checkpoint_loaders():
    """Make mmcv's ``CheckpointLoader`` read local files and http(s) URLs
    with ``read_checkpoint`` (idempotent)."""
    CheckpointLoader.register_scheme('', load_from_local, force=True)
    CheckpointLoader.register_scheme(
        ('http://', 'https://'), load_from_http, force=True
    )


register_checkpoint_loaders()
