"""ODConv layers in ONNX Runtime are as exact as in PyTorch.

Both runtimes compute in float32; measured against a float64 PyTorch run,
ONNX Runtime's error must stay within a small multiple of PyTorch's own.
The attentions are the sensitive part: they scale every output of the
layer, and a deep ODConv backbone multiplies their errors block by block.
"""

import copy
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from mmdet.core.export.runtime import ORTSession
from mmdet.models.backbones.odconv import ODConv2d

pytest.importorskip(
    'onnxruntime', reason='the deploy extra: pip install -e ".[deploy]"'
)


class _Attentions(nn.Module):
    """An ODConv2d's attentions, concatenated: (B, C_in + C_out + k*k +
    kernel_num)."""

    def __init__(self, conv):
        super().__init__()
        self.attention = conv.attention

    def forward(self, x):
        parts = [a.flatten(1) for a in self.attention(x) if a is not None]
        return torch.cat(parts, dim=1)


def _errors(module, x, onnx_file):
    """(PyTorch float32, ONNX Runtime) largest errors relative to the
    largest output, both against PyTorch in float64."""
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(
            module,
            (x,),
            onnx_file,
            input_names=['x'],
            opset_version=17,
            dynamo=False,
        )
        out32 = module(x).numpy()
        ref = copy.deepcopy(module).double()(x.double()).numpy()
    out_ort = next(iter(ORTSession(onnx_file, num_threads=1)(x).values()))
    scale = np.abs(ref).max()
    return (
        float(np.abs(out32 - ref).max() / scale),
        float(np.abs(out_ort - ref).max() / scale),
    )


@pytest.mark.parametrize(
    'kernel_size, groups', [(1, 1), (3, 1), (3, 32)], ids=str
)
def test_odconv_in_onnxruntime_as_exact_as_pytorch(
    kernel_size, groups, tmp_path
):
    torch.manual_seed(0)
    conv = ODConv2d(
        32, 32, kernel_size, padding=kernel_size // 2, groups=groups
    )
    # a large positive map: the attentions average 240 x 400 positions,
    # which one running float32 sum (ONNX Runtime's ReduceMean over both
    # axes) gets ~1e-5 wrong
    x = torch.rand(1, 32, 240, 400) * 4 + 1
    onnx_file = str(tmp_path / 'odconv.onnx')
    pt_error, ort_error = _errors(_Attentions(conv), x, onnx_file)
    assert pt_error < 1e-6
    # (PyTorch ~1e-7; ONNX Runtime ~3e-7, 1e-6 and more with one sum)
    assert ort_error < max(4 * pt_error, 6e-7), (pt_error, ort_error)
    pt_error, ort_error = _errors(conv, x, onnx_file)
    assert pt_error < 2e-6
    assert ort_error < max(4 * pt_error, 1e-6), (pt_error, ort_error)
