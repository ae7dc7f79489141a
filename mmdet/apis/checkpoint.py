"""Loading detector checkpoints for testing and inference.

``load_detector_checkpoint`` reads any form ``mmdet.utils.checkpoint_reader``
accepts (mmcv ``.pth``, bare state dict, unpacked ``archive/`` folder),
without running code from the file, and loads the weights into a model,
naming every key that does not fit.
"""

import os

from mmcv.parallel import is_module_wrapper

from mmdet.utils.checkpoint_reader import read_checkpoint
from mmdet.utils.state_dict import (
    CheckpointMismatchError,
    checkpoint_state_dict,
    load_state_dict_checked,
)

__all__ = ['CheckpointMismatchError', 'load_detector_checkpoint']

CONFIG_HINT = (
    'Check that the config is the one the checkpoint was trained '
    'with (docs/model_zoo.md pairs each released checkpoint with '
    'its config).'
)


def load_detector_checkpoint(
    model, filename, map_location='cpu', strict=True, logger=None
):
    """Load ``filename`` into ``model``; return the checkpoint dict.

    Args:
        model (nn.Module): the detector (a DataParallel wrapper is
            unwrapped).
        filename (str): an mmcv ``.pth``, a bare state dict, an unpacked
            checkpoint folder (``archive/`` or its parent) or an http(s)
            URL; read without running code from it.
        map_location: where tensors go, as ``torch.load``'s.
        strict (bool): raise ``CheckpointMismatchError`` on any missing or
            unexpected key or shape difference; otherwise load what fits and
            log the rest as a warning.
        logger (logging.Logger, optional): where warnings go.

    Returns:
        dict: the checkpoint as saved (``meta`` included when present).
    """
    filename = os.fspath(filename)
    checkpoint = read_checkpoint(filename, map_location=map_location)
    if is_module_wrapper(model):
        model = model.module
    load_state_dict_checked(
        model,
        checkpoint_state_dict(checkpoint),
        repr(filename),
        strict=strict,
        logger=logger,
        hint=CONFIG_HINT,
    )
    return checkpoint
