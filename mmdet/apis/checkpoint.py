"""Loading detector checkpoints for testing and inference.

``load_detector_checkpoint`` reads any form ``mmdet.utils.checkpoint_io``
accepts (mmcv ``.pth``, bare state dict, unpacked ``archive/`` folder),
without running code from the file, and loads the weights into a model,
naming every key that does not fit.
"""
import os

from mmcv.parallel import is_module_wrapper

from mmdet.utils import get_root_logger
from mmdet.utils.checkpoint_io import read_checkpoint

# entries listed per kind of mismatch before "... and N more"
MAX_LISTED = 30


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's weights do not fit the model built from the
    config (missing or unexpected keys, or different shapes)."""


def checkpoint_state_dict(checkpoint):
    """The weights of a checkpoint dict, with a DDP ``module.`` prefix
    removed.

    Args:
        checkpoint (dict): ``dict(state_dict=...)`` (mmcv), ``dict(model=
            ...)`` or a bare state dict.

    Returns:
        dict[str, Tensor]: parameter and buffer names to tensors.
    """
    state_dict = checkpoint
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            state_dict = checkpoint[key]
            break
    prefix = 'module.'
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        state_dict = {k[len(prefix):]: v for k, v in state_dict.items()}
    return state_dict


def compare_state_dicts(model_state, checkpoint_state):
    """How a checkpoint's weights differ from a model's.

    Returns:
        tuple: ``(missing, unexpected, shape_diffs)``: keys of the model
        absent from the checkpoint, keys of the checkpoint the model lacks,
        and ``(key, checkpoint shape, model shape)`` for keys in both whose
        shapes differ. BatchNorm's ``num_batches_tracked`` counters, which
        checkpoints of old PyTorch versions lack and inference never uses,
        are not counted as missing (as mmcv does).
    """
    missing = [k for k in model_state if k not in checkpoint_state
               and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in checkpoint_state if k not in model_state]
    shape_diffs = [
        (k, tuple(v.shape), tuple(model_state[k].shape))
        for k, v in checkpoint_state.items()
        if k in model_state and hasattr(v, 'shape')
        and tuple(v.shape) != tuple(model_state[k].shape)
    ]
    return missing, unexpected, shape_diffs


def _listing(title, entries):
    lines = [f'  {title}: {len(entries)}']
    lines += [f'    {entry}' for entry in entries[:MAX_LISTED]]
    if len(entries) > MAX_LISTED:
        lines.append(f'    ... and {len(entries) - MAX_LISTED} more')
    return lines


def mismatch_report(filename, missing, unexpected, shape_diffs):
    """A readable report of ``compare_state_dicts``' result ('' if none)."""
    if not (missing or unexpected or shape_diffs):
        return ''
    lines = [f'the weights in {filename!r} do not fit the model:']
    if missing:
        lines += _listing('missing keys (in the model, not in the '
                          'checkpoint)', missing)
    if unexpected:
        lines += _listing('unexpected keys (in the checkpoint, not in the '
                          'model)', unexpected)
    if shape_diffs:
        lines += _listing('shape differences (checkpoint vs model)', [
            f'{k}: {tuple(c)} vs {tuple(m)}' for k, c, m in shape_diffs
        ])
    lines.append('Check that the config is the one the checkpoint was '
                 'trained with (docs/model_zoo.md pairs each released '
                 'checkpoint with its config).')
    return '\n'.join(lines)


def load_detector_checkpoint(model, filename, map_location='cpu',
                             strict=True, logger=None):
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
    state_dict = checkpoint_state_dict(checkpoint)
    missing, unexpected, shape_diffs = compare_state_dicts(
        model.state_dict(), state_dict)
    report = mismatch_report(filename, missing, unexpected, shape_diffs)
    if report and strict:
        raise CheckpointMismatchError(report)
    if report:
        (logger or get_root_logger()).warning(report)
    skip = {k for k, _, _ in shape_diffs}
    model.load_state_dict(
        {k: v for k, v in state_dict.items() if k not in skip}, strict=False)
    return checkpoint
