"""Loading detector checkpoints: for testing and inference
(``load_detector_checkpoint``), to start a training run from weights
(``load_initial_weights``, ``load_from``) and to continue one
(``resume_training``, ``resume_from``).

Every checkpoint is read by ``mmdet.utils.checkpoint_reader`` (mmcv
``.pth``, bare state dict, unpacked ``archive/`` folder), without running
code from the file, and every key that does not fit the model is named.
"""

import ast
import os
import re

from mmcv.parallel import is_module_wrapper

from mmdet.core import RNG_META_KEY, set_rng_state
from mmdet.utils.checkpoint_reader import read_checkpoint
from mmdet.utils.state_dict import (
    CheckpointMismatchError,
    checkpoint_state_dict,
    compare_state_dicts,
    load_state_dict_checked,
    mismatch_report,
)

__all__ = [
    'CheckpointMismatchError',
    'ResumeError',
    'load_detector_checkpoint',
    'load_initial_weights',
    'resume_training',
]

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


RESUME_HINT = (
    'Resume with the config the checkpoint was trained with '
    '(the work dir holds a copy).'
)
LOAD_FROM_HINT = (
    'load_from must hold weights of this model (the same '
    'detector, backbone and necks); layers whose shape differs '
    '(e.g. the classifier after changing num_classes) are '
    'left at their initial values.'
)


class ResumeError(RuntimeError):
    """A checkpoint that a run cannot continue from."""


def _training_state_problem(checkpoint):
    """What a checkpoint lacks to be resumed from ('' if nothing)."""
    meta = checkpoint.get('meta')
    lacking = []
    if 'state_dict' not in checkpoint:
        return 'it is a bare state dict: weights only'
    if not isinstance(meta, dict) or not {'epoch', 'iter'} <= set(meta):
        lacking.append('the epoch and iteration (meta)')
    if 'optimizer' not in checkpoint:
        lacking.append('the optimizer state')
    return f'it lacks {" and ".join(lacking)}' if lacking else ''


def _previous_world_size(meta):
    """The number of GPUs of the run that saved ``meta``, read from its
    config text without executing it (None if unknown)."""
    match = re.search(
        r'^gpu_ids = (\[[^\]]*\]|range\(.*\))$', meta.get('config', ''), re.M
    )
    if not match:
        return None
    text = match.group(1)
    if text.startswith('range('):
        return len(range(*ast.literal_eval(text[5:])))
    return len(ast.literal_eval(text)) or None


def resume_training(runner, filename):
    """Continue a run from ``filename``: weights (strictly), epoch,
    iteration, optimizer, hook messages and random generator states.

    mmcv's ``runner.resume`` with the project's checkpoint reader and
    mismatch report, a clear error for a checkpoint without training state,
    and no execution of the config text stored in the checkpoint.

    Raises:
        ResumeError: the checkpoint holds no training state.
        CheckpointMismatchError: its weights do not fit the model.
    """
    checkpoint = read_checkpoint(filename, map_location='cpu')
    problem = _training_state_problem(checkpoint)
    if problem:
        raise ResumeError(
            f'cannot resume from {filename!r}: {problem}, so there is no '
            'training state to continue. To start a new run from its '
            f'weights, use load_from instead: --cfg-options '
            f'load_from={filename} (without --resume-from or --auto-resume).'
        )
    model = (
        runner.model.module
        if is_module_wrapper(runner.model)
        else runner.model
    )
    load_state_dict_checked(
        model,
        checkpoint_state_dict(checkpoint),
        repr(filename),
        strict=True,
        hint=RESUME_HINT,
    )
    meta = dict(checkpoint['meta'])
    runner._epoch = meta['epoch']
    runner._iter = meta['iter']
    previous = _previous_world_size(meta)
    if previous and previous != runner.world_size:
        runner._iter = int(runner._iter * previous / runner.world_size)
        runner.logger.info(
            'the iteration number is changed due to change of GPU number'
        )
    rng_state = meta.pop(RNG_META_KEY, None)
    hook_msgs = dict((runner.meta or {}).get('hook_msgs', {}))
    hook_msgs.update(meta.get('hook_msgs', {}))
    meta['hook_msgs'] = hook_msgs
    runner.meta = meta
    optimizers = (
        runner.optimizer
        if isinstance(runner.optimizer, dict)
        else {None: runner.optimizer}
    )
    for name, optimizer in optimizers.items():
        state = checkpoint['optimizer']
        optimizer.load_state_dict(state if name is None else state[name])
    if rng_state is not None:
        set_rng_state(rng_state)
    else:
        runner.logger.warning(
            f'{filename} holds no random generator state (saved by an older '
            'version): the resumed run draws different random numbers than '
            'the uninterrupted run would have.'
        )
    runner.logger.info('resumed epoch %d, iter %d', runner.epoch, runner.iter)


def load_initial_weights(model, filename, logger):
    """``load_from``: start a new run from the weights of ``filename``.

    Keys missing from the checkpoint or unknown to the model are an error
    (the report of ``tools/test.py``); layers whose shape differs are
    reported as a warning and keep their initial values (fine-tuning with
    another number of classes, as MMDetection allows).
    """
    checkpoint = read_checkpoint(filename, map_location='cpu')
    if is_module_wrapper(model):
        model = model.module
    state_dict = checkpoint_state_dict(checkpoint)
    missing, unexpected, _ = compare_state_dicts(
        model.state_dict(), state_dict
    )
    if missing or unexpected:
        raise CheckpointMismatchError(
            mismatch_report(
                f'load_from = {filename!r}',
                missing,
                unexpected,
                [],
                LOAD_FROM_HINT,
            )
        )
    load_state_dict_checked(
        model,
        state_dict,
        f'load_from = {filename!r}',
        strict=False,
        logger=logger,
        hint=LOAD_FROM_HINT,
    )
    logger.info(f'load_from: weights loaded from {filename}')
