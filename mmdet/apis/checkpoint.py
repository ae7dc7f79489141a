"""Loading detector checkpoints for testing and inference."""
import os.path as osp

from mmcv.runner import load_checkpoint


def load_detector_checkpoint(model, filename, map_location='cpu',
                             strict=True, logger=None):
    """Load ``filename`` into ``model`` strictly; return the checkpoint dict.

    A missing file is reported with its path; with ``strict`` a key or shape
    mismatch raises an error listing the missing keys, the unexpected keys
    and the shape differences.
    """
    if '://' not in filename and not osp.exists(filename):
        raise FileNotFoundError(
            f'checkpoint {filename!r} does not exist. Download the released '
            'checkpoint (docs/model_zoo.md) or give the path of one you '
            'trained (work_dirs/<config>/latest.pth).')
    return load_checkpoint(model, filename, map_location=map_location,
                           strict=strict, logger=logger)
