"""TridentNet's ResNet (Li et al., 2019; MMDetection 2.x names).

Stages 1-2 are ResNet's; in the last stage (``num_stages=3``) every 3x3
conv is a ``TridentConv``: one weight applied with ``num_branch``
dilations, giving ``num_branch`` branches that share all parameters. The
state dict is therefore exactly the plain ResNet's. The branches are
concatenated along the batch axis at the stage's end (branch-major:
(num_branch * B, C, H, W)); at test time only branch ``test_branch_idx``
runs unless it is -1.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from torch.nn.modules.utils import _pair

from mmdet.utils.arg_errors import check_arg
from ..builder import BACKBONES
from ..utils.res_layer import conv_builder
from .resnet import Bottleneck, ResNet, _resnet_defaults


class TridentConv(nn.Module):
    """Shared-weight conv applied with each of ``trident_dilations``
    (padding = dilation, so a 3x3 kernel keeps the size).

    Input and output: lists of (B, C, H, W), one per branch (training or
    ``test_branch_idx == -1``), else a one-element list run with branch
    ``test_branch_idx``'s dilation. Parameters: ``weight`` (and ``bias``).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        trident_dilations=(1, 2, 3),
        test_branch_idx=1,
        bias=False,
    ):
        super().__init__()
        self.num_branch = len(trident_dilations)
        self.with_bias = bias
        self.test_branch_idx = test_branch_idx
        self.stride = _pair(stride)
        self.kernel_size = _pair(kernel_size)
        self.paddings = tuple(trident_dilations)
        self.dilations = tuple(trident_dilations)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, *self.kernel_size)
        )
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.init_weights()

    def init_weights(self):
        """Kaiming-uniform (fan_in, ReLU gain), zero bias."""
        nn.init.kaiming_uniform_(
            self.weight, mode='fan_in', nonlinearity='relu'
        )
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def extra_repr(self):
        return (
            f'in_channels={self.in_channels}, '
            f'out_channels={self.out_channels}, '
            f'kernel_size={self.kernel_size}, '
            f'num_branch={self.num_branch}, '
            f'test_branch_idx={self.test_branch_idx}, '
            f'stride={self.stride}, dilations={self.dilations}, '
            f'bias={self.with_bias}'
        )

    def _conv(self, x, branch):
        return F.conv2d(
            x,
            self.weight,
            self.bias,
            self.stride,
            self.paddings[branch],
            self.dilations[branch],
        )

    def forward(self, inputs):
        if self.training or self.test_branch_idx == -1:
            return [self._conv(x, b) for b, x in enumerate(inputs)]
        check_arg(
            len(inputs) == 1,
            'TridentConv',
            f'a single-branch test takes one input, got {len(inputs)}',
        )
        return [self._conv(inputs[0], self.test_branch_idx)]


class TridentBottleneck(Bottleneck):
    """Bottleneck whose ``conv2`` is a TridentConv; takes a tensor (copied
    to every branch) or a list of branch tensors and returns a list, or
    the batch-axis concatenation when ``concat_output``."""

    def __init__(
        self, trident_dilations, test_branch_idx, concat_output, **kwargs
    ):
        super().__init__(**kwargs)
        self.trident_dilations = tuple(trident_dilations)
        self.num_branch = len(trident_dilations)
        self.concat_output = concat_output
        self.test_branch_idx = test_branch_idx
        self.conv2 = TridentConv(
            self.planes,
            self.planes,
            kernel_size=3,
            stride=self.conv2_stride,
            bias=False,
            trident_dilations=self.trident_dilations,
            test_branch_idx=test_branch_idx,
        )

    def _branches(self, x):
        if isinstance(x, (list, tuple)):
            return list(x), list(x)
        all_branches = self.training or self.test_branch_idx == -1
        xs = [x] * (self.num_branch if all_branches else 1)
        if self.downsample is None:
            return xs, xs
        return xs, [self.downsample(b) for b in xs]

    def _trident_residual(self, xs):
        out = [self.relu(self.norm1(self.conv1(b))) for b in xs]
        out = [self.relu(self.norm2(b)) for b in self.conv2(out)]
        return [self.norm3(self.conv3(b)) for b in out]

    def forward(self, x):
        """(B, C, H, W) or list of them -> list (or concatenation)."""

        def inner(x):
            xs, identity = self._branches(x)
            out = self._trident_residual(xs)
            return [o + i for o, i in zip(out, identity)]

        if self.with_cp and _requires_grad(x):
            out = cp.checkpoint(inner, x, use_reentrant=False)
        else:
            out = inner(x)
        out = [self.relu(b) for b in out]
        return torch.cat(out, dim=0) if self.concat_output else out


def _requires_grad(x):
    xs = x if isinstance(x, (list, tuple)) else [x]
    return any(t.requires_grad for t in xs)


def make_trident_res_layer(
    block,
    inplanes,
    planes,
    num_blocks,
    stride=1,
    trident_dilations=(1, 2, 3),
    style='pytorch',
    with_cp=False,
    conv_cfg=None,
    norm_cfg=dict(type='BN'),
    dcn=None,
    plugins=None,
    test_branch_idx=-1,
):
    """The trident stage: ``num_blocks`` TridentBottlenecks, the first
    strided with a projection shortcut, the last concatenating."""
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = nn.Sequential(
            conv_builder(conv_cfg)(
                inplanes, planes * block.expansion, 1, stride
            ),
            build_norm_layer(norm_cfg, planes * block.expansion)[1],
        )
    layers = []
    for i in range(num_blocks):
        layers.append(
            block(
                inplanes=inplanes,
                planes=planes,
                stride=stride if i == 0 else 1,
                trident_dilations=trident_dilations,
                downsample=downsample if i == 0 else None,
                style=style,
                with_cp=with_cp,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                dcn=dcn,
                plugins=plugins,
                test_branch_idx=test_branch_idx,
                concat_output=i == num_blocks - 1,
            )
        )
        inplanes = planes * block.expansion
    return nn.Sequential(*layers)


@BACKBONES.register_module()
class TridentResNet(ResNet):
    """ResNet-50/101/152 with a trident last stage.

    Args (MMDetection 2.28's):
        depth (int): 50, 101 or 152.
        num_branch (int): number of branches (= len(trident_dilations)).
        test_branch_idx (int): the branch run at test time; -1: all.
        trident_dilations (tuple[int]): dilation of each branch.
        **kwargs: ``ResNet``'s; ``num_stages`` must be 3.

    Output: tuple of ``out_indices`` outputs; the last stage's is
    (num_branch * B, 4 * base_channels * 4, H / 16, W / 16) in training
    (B in single-branch testing).
    """

    def __init__(
        self, depth, num_branch, test_branch_idx, trident_dilations, **kwargs
    ):
        check_arg(
            num_branch == len(trident_dilations),
            'TridentResNet',
            f'num_branch={num_branch} must equal '
            f'len(trident_dilations)={len(trident_dilations)}',
        )
        check_arg(
            depth in (50, 101, 152),
            'TridentResNet',
            f'depth must be 50, 101 or 152, got {depth}',
        )
        super().__init__(depth, **kwargs)
        check_arg(
            self.num_stages == 3,
            'TridentResNet',
            f'num_stages must be 3, got {self.num_stages}',
        )
        self.test_branch_idx = test_branch_idx
        self.num_branch = num_branch
        strides = dict(_resnet_defaults(), **kwargs)['strides']
        last = self.num_stages - 1
        planes = self.base_channels * 2**last
        layer = make_trident_res_layer(
            TridentBottleneck,
            inplanes=planes // 2 * self.block.expansion,
            planes=planes,
            num_blocks=self.stage_blocks[last],
            stride=strides[last],
            trident_dilations=trident_dilations,
            style=self.style,
            with_cp=self.with_cp,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            test_branch_idx=test_branch_idx,
        )
        setattr(self, f'layer{last + 1}', layer)
        self._post_init()
