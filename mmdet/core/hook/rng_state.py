"""Random number generator states in checkpoints, so that a resumed run
draws the same random numbers (flips, shuffles, RoI samples) as the run it
continues, and evaluation that draws none from the training's stream.

``RNGStateHook`` puts the states of Python's ``random``, numpy and torch
(CPU and CUDA) into ``runner.meta['rng_state']`` after every training
iteration and epoch, so every checkpoint carries the state at the moment it
was saved; ``set_rng_state`` restores it on resume. The states are stored
as tensors, ints and lists, which ``torch.load(weights_only=True)`` reads.
"""

import contextlib
import random

import numpy as np
import torch
from mmcv.runner import HOOKS, Hook

RNG_META_KEY = 'rng_state'


def get_rng_state():
    """The generators' states as weights-only-loadable values."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=(
            name,
            [int(k) for k in keys],
            int(pos),
            int(has_gauss),
            float(cached),
        ),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _as_tuple(value):
    """Nested lists (as some serializers give back) to tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuple(v) for v in value)
    return value


def set_rng_state(state):
    """Restore what ``get_rng_state`` returned."""
    random.setstate(_as_tuple(state['python']))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state(
        (name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached)
    )
    torch.set_rng_state(state['torch'])
    if state.get('cuda') and torch.cuda.is_available():
        cuda_states = state['cuda']
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


@contextlib.contextmanager
def preserved_rng_state():
    """Run a block (e.g. an evaluation) without moving the generators of
    the code around it."""
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Keep the generators' states in ``runner.meta`` for the checkpoints
    (register it above the checkpoint hook's NORMAL priority)."""

    def _record(self, runner):
        if runner.meta is not None:
            runner.meta[RNG_META_KEY] = get_rng_state()

    def after_train_iter(self, runner):
        self._record(runner)

    def after_train_epoch(self, runner):
        self._record(runner)
