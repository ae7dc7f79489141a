"""Comparing a checkpoint's weights with a model's, and loading them with
every mismatch named."""

from .logger import get_root_logger

# entries listed per kind of state-dict mismatch before "... and N more"
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
        state_dict = {k[len(prefix) :]: v for k, v in state_dict.items()}
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
    missing = [
        k
        for k in model_state
        if k not in checkpoint_state and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in checkpoint_state if k not in model_state]
    shape_diffs = [
        (k, tuple(v.shape), tuple(model_state[k].shape))
        for k, v in checkpoint_state.items()
        if k in model_state
        and hasattr(v, 'shape')
        and tuple(v.shape) != tuple(model_state[k].shape)
    ]
    return missing, unexpected, shape_diffs


def _listing(title, entries):
    lines = [f'  {title}: {len(entries)}']
    lines += [f'    {entry}' for entry in entries[:MAX_LISTED]]
    if len(entries) > MAX_LISTED:
        lines.append(f'    ... and {len(entries) - MAX_LISTED} more')
    return lines


def mismatch_report(source, missing, unexpected, shape_diffs, hint=''):
    """A readable report of ``compare_state_dicts``' result ('' if none);
    ``source`` names the weights, ``hint`` ends the report."""
    if not (missing or unexpected or shape_diffs):
        return ''
    lines = [f'the weights in {source} do not fit the model:']
    if missing:
        lines += _listing(
            'missing keys (in the model, not in the checkpoint)', missing
        )
    if unexpected:
        lines += _listing(
            'unexpected keys (in the checkpoint, not in the model)', unexpected
        )
    if shape_diffs:
        lines += _listing(
            'shape differences (checkpoint vs model)',
            [f'{k}: {tuple(c)} vs {tuple(m)}' for k, c, m in shape_diffs],
        )
    if hint:
        lines.append(hint)
    return '\n'.join(lines)


def load_state_dict_checked(
    module, state_dict, source, strict=True, logger=None, hint=''
):
    """``module.load_state_dict(state_dict)`` that names every mismatch.

    Args:
        module (nn.Module): what to load into.
        state_dict (dict): the weights (see ``checkpoint_state_dict``).
        source (str): names the weights in messages (e.g. the file).
        strict (bool): raise ``CheckpointMismatchError`` on any missing or
            unexpected key or shape difference; otherwise load what fits
            and log the rest as a warning.
        logger (logging.Logger, optional): where that warning goes.
        hint (str): last line of the report: what to check.
    """
    missing, unexpected, shape_diffs = compare_state_dicts(
        module.state_dict(), state_dict
    )
    report = mismatch_report(source, missing, unexpected, shape_diffs, hint)
    if report and strict:
        raise CheckpointMismatchError(report)
    if report:
        (logger or get_root_logger()).warning(report)
    skip = {k for k, _, _ in shape_diffs}
    module.load_state_dict(
        {k: v for k, v in state_dict.items() if k not in skip}, strict=False
    )
