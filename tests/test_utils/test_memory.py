"""AvoidOOM: the retries of a function that runs out of CUDA memory
(simulated here by raising torch.cuda.OutOfMemoryError), and
cast_tensor_type."""

import pytest
import torch

from mmdet.utils import AvoidCUDAOOM, AvoidOOM
from mmdet.utils.memory import cast_tensor_type


def oom():
    return torch.cuda.OutOfMemoryError('CUDA out of memory (simulated)')


def test_cast_tensor_type():
    x = torch.rand(3)
    nested = {'a': [x, (x.double(), 'keep')], 'b': 1.5}
    out = cast_tensor_type(nested, dst_type=torch.half)
    assert out['a'][0].dtype == torch.half
    assert out['a'][1][0].dtype == torch.half and out['a'][1][1] == 'keep'
    assert out['b'] == 1.5 and isinstance(out['a'][1], tuple)
    only_double = cast_tensor_type(
        [x, x.double()], src_type=torch.float64, dst_type=torch.half
    )
    assert [t.dtype for t in only_double] == [torch.float32, torch.half]
    assert cast_tensor_type(x, dst_type=torch.device('cpu')) is not None
    with pytest.raises(AssertionError):
        cast_tensor_type(x)


def test_retry_after_emptying_the_cache():
    calls = []

    def func(a):
        calls.append(a.dtype)
        if len(calls) == 1:
            raise oom()
        return a * 2

    out = AvoidOOM().retry_if_cuda_oom(func)(torch.ones(2))
    assert torch.equal(out, torch.full((2,), 2.0)) and len(calls) == 2


def test_fp16_then_cpu():
    a = torch.rand(4, 4)
    calls = []

    def needs_half(x, y=None):
        calls.append(x.dtype)
        if x.dtype != torch.half:
            raise oom()
        return x @ y

    out = AvoidOOM().retry_if_cuda_oom(needs_half)(a, y=a.t())
    assert calls == [torch.float32, torch.float32, torch.half]
    assert out.dtype == torch.float32  # cast back to the inputs' dtype
    torch.testing.assert_close(out, a @ a.t(), rtol=1e-2, atol=1e-2)

    attempts = []

    def fails_twice_then_fp16_too(x):
        attempts.append(x.dtype)
        if len(attempts) <= 3:
            raise oom()
        return x + 1

    out = AvoidOOM().retry_if_cuda_oom(fails_twice_then_fp16_too)(a)
    # plain, after empty_cache, fp16, then the CPU attempt
    assert attempts[2] == torch.half and len(attempts) == 4
    assert torch.equal(out, a + 1)
    # without to_cpu the last attempt is a plain call again
    attempts.clear()
    out = AvoidOOM(to_cpu=False).retry_if_cuda_oom(fails_twice_then_fp16_too)(
        a
    )
    assert attempts == [torch.float32, torch.float32, torch.half] + [
        torch.float32
    ]
    assert torch.equal(out, a + 1)


def test_other_errors_and_no_tensors():
    def broken(x):
        raise KeyError('not memory')

    calls = []

    def counted(x):
        calls.append(1)
        return broken(x)

    with pytest.raises(KeyError):
        AvoidCUDAOOM.retry_if_cuda_oom(counted)(torch.ones(1))
    assert len(calls) == 1  # no retry for other errors

    def always_oom(x):
        raise oom()

    with pytest.raises(ValueError, match='no tensor'):
        AvoidOOM().retry_if_cuda_oom(always_oom)(3)
