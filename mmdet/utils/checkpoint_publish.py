"""Publishing a training checkpoint: optimizer state dropped, file named
after its SHA-256 (MMDetection's model-zoo convention)."""

import hashlib
import os
import os.path as osp

import torch

from .checkpoint_reader import read_checkpoint


def sha256sum(path, chunk_size=1 << 20):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def publish_checkpoint(in_file, out_file):
    """Write a release copy of a training checkpoint.

    Drops the optimizer state (keeps ``meta`` and ``state_dict``), saves
    to ``out_file`` and renames it ``<out_file stem>-<first 8 hex digits of
    its sha256>.pth``, as MMDetection's model zoo names files.

    Returns:
        str: the path of the published file.
    """
    checkpoint = read_checkpoint(in_file)
    checkpoint.pop('optimizer', None)
    stem = out_file[: -len('.pth')] if out_file.endswith('.pth') else out_file
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    tmp_path = f'{stem}.tmp.pth'
    torch.save(checkpoint, tmp_path)
    final_path = f'{stem}-{sha256sum(tmp_path)[:8]}.pth'
    os.replace(tmp_path, final_path)
    return final_path
