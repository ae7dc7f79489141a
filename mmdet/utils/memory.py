"""Run a function again in less memory when CUDA runs out of it
(MMDetection 2.x's ``AvoidOOM``): after emptying the cache, then with fp16
inputs, then on the CPU."""

import warnings
from collections import abc
from functools import wraps

import torch

from .arg_errors import InvalidArgumentError
from .logger import get_root_logger


def cast_tensor_type(inputs, src_type=None, dst_type=None):
    """``inputs`` with every tensor (inside lists, tuples and dicts too)
    moved to ``dst_type``, a dtype or a device; with ``src_type`` only the
    tensors of that dtype / on that device. Other values are kept."""
    if dst_type is None:
        raise InvalidArgumentError('cast_tensor_type needs a dst_type')
    if isinstance(inputs, torch.Tensor):
        current = (
            inputs.device
            if isinstance(dst_type, torch.device)
            else inputs.dtype
        )
        if src_type is None or current == src_type:
            return inputs.to(dst_type)
        return inputs
    if isinstance(inputs, abc.Mapping):
        return type(inputs)(
            {k: _cast(v, src_type, dst_type) for k, v in inputs.items()}
        )
    if isinstance(inputs, (str, bytes)):
        return inputs
    if isinstance(inputs, abc.Iterable):
        return type(inputs)(_cast(v, src_type, dst_type) for v in inputs)
    return inputs


_cast = cast_tensor_type


def _is_cuda_oom(error):
    return isinstance(error, torch.cuda.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and 'CUDA out of memory' in str(error)
    )


def _first_tensor(args, kwargs):
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, torch.Tensor):
            return value
    raise ValueError(
        'the inputs hold no tensor: their dtype and device are unknown'
    )


class AvoidOOM:
    """Make functions retry on CUDA out-of-memory errors.

    A wrapped call is tried as is, then again after
    ``torch.cuda.empty_cache()``, then with its tensors in fp16 (outputs
    cast back to the inputs' dtype), then, with ``to_cpu``, on the CPU
    (outputs moved back to the inputs' device when that fits, else left on
    the CPU with a warning).

    Args:
        to_cpu (bool): allow the last, CPU attempt.
        test (bool): for tests: skip the plain attempts and run the fp16
            one and then the CPU one (or a plain call without ``to_cpu``).
    """

    def __init__(self, to_cpu=True, test=False):
        self.to_cpu = to_cpu
        self.test = test

    def retry_if_cuda_oom(self, func):
        """``func`` wrapped with the retries (``func`` must be stateless:
        a failed attempt must leave nothing changed)."""

        def attempt(*args, **kwargs):
            try:
                return True, func(*args, **kwargs)
            except Exception as error:
                if not _is_cuda_oom(error):
                    raise
                return False, None

        @wraps(func)
        def wrapped(*args, **kwargs):
            logger = get_root_logger()
            if not self.test:
                done, output = attempt(*args, **kwargs)
                if done:
                    return output
                torch.cuda.empty_cache()
                done, output = attempt(*args, **kwargs)
                if done:
                    return output
            like = _first_tensor(args, kwargs)
            logger.warning(f'CUDA OOM: trying {func} with fp16 inputs')
            done, output = attempt(
                *cast_tensor_type(args, dst_type=torch.half),
                **cast_tensor_type(kwargs, dst_type=torch.half),
            )
            if done and not self.test:
                return cast_tensor_type(output, torch.half, like.dtype)
            if not self.to_cpu:
                return func(*args, **kwargs)
            logger.warning(f'CUDA OOM: trying {func} on the CPU')
            cpu = torch.device('cpu')
            output = func(
                *cast_tensor_type(args, dst_type=cpu),
                **cast_tensor_type(kwargs, dst_type=cpu),
            )
            try:
                return cast_tensor_type(output, cpu, like.device)
            except Exception as error:
                if not _is_cuda_oom(error):
                    raise
                warnings.warn(
                    'CUDA OOM: the output stays on the CPU, which later GPU '
                    'operations on it may not expect'
                )
                return output

        return wrapped


AvoidCUDAOOM = AvoidOOM()
