"""ResNet of DetectoRS (Qiao et al., 2021): Switchable Atrous Convolution
in the 3x3 convs of chosen stages and the extra inputs of the Recursive
Feature Pyramid (MMDetection 2.x names and layout).

With ``sac=dict(type='SAC', use_deform=True)`` the ``conv2`` of every block
of the stages flagged in ``stage_with_sac`` is an ``SAConv2d``. With
``rfp_inplanes`` the first block of stages 2..4 gets ``rfp_conv`` (1x1,
zero-initialised, with bias), which adds the RFP feedback to the block's
output before its ReLU (``rfp_forward``). ``output_img`` puts the input
image first in the outputs, as the ``RFP`` neck needs it.
"""

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import CONV_LAYERS, build_conv_layer

from mmdet.utils.arg_errors import InvalidArgumentTypeError, check_arg
from ..builder import BACKBONES
from ..utils import saconv  # noqa: F401 (registers 'SAC')
from ..utils.res_layer import ResLayer as _ResLayer
from .resnet import Bottleneck as _Bottleneck
from .resnet import ResNet

# Parameters DetectoRS adds to a ResNet (absent from ImageNet checkpoints).
_DETECTORS_ONLY = (
    '.weight_diff',
    '.switch.',
    '.pre_context.',
    '.post_context.',
    '.offset_s.',
    '.offset_l.',
    '.rfp_conv.',
)


def _aws_stats(weight):
    """Per-output-channel (mean, std) of a conv weight (std with 1e-5 added
    to the variance), shaped (C, 1, 1, 1) as ConvAWS2d's buffers."""
    flat = weight.flatten(1)
    shape = (-1, 1, 1, 1)
    std = torch.sqrt(flat.var(dim=1) + 1e-5)
    return flat.mean(dim=1).view(shape), std.view(shape)


class Bottleneck(_Bottleneck):
    """ResNet's Bottleneck with an optional SAC ``conv2`` (``sac``, an mmcv
    conv config, in place of ``dcn``) and an optional ``rfp_conv``
    (``rfp_inplanes``)."""

    expansion = 4

    def __init__(self, inplanes, planes, rfp_inplanes=None, sac=None, **kw):
        if sac is not None and not isinstance(sac, dict):
            raise InvalidArgumentTypeError(
                f'Bottleneck: sac must be a dict or None, got {sac!r}'
            )
        # read by _make_conv2() while the parent builds
        self.sac = sac
        self.with_sac = sac is not None
        super().__init__(inplanes, planes, **kw)
        self.rfp_inplanes = None
        if rfp_inplanes:
            self.add_rfp_conv(rfp_inplanes)

    def _make_conv2(self, conv, width):
        if not self.with_sac:
            return super()._make_conv2(conv, width)
        return build_conv_layer(
            self.sac,
            width,
            width,
            kernel_size=3,
            stride=self.conv2_stride,
            padding=self.dilation,
            dilation=self.dilation,
            groups=self.groups,
            bias=False,
        )

    def add_rfp_conv(self, rfp_inplanes):
        """Add the zero-initialised 1x1 ``rfp_conv`` (rfp_inplanes ->
        planes * 4 channels)."""
        self.rfp_inplanes = rfp_inplanes
        self.rfp_conv = nn.Conv2d(
            rfp_inplanes, self.planes * self.expansion, 1, bias=True
        )
        self.init_rfp_conv()

    def init_rfp_conv(self):
        nn.init.zeros_(self.rfp_conv.weight)
        nn.init.zeros_(self.rfp_conv.bias)

    def rfp_forward(self, x, rfp_feat):
        """``forward`` plus ``rfp_conv(rfp_feat)`` (same shape as the
        output) before the final ReLU; ``rfp_feat`` is ignored without
        ``rfp_conv``."""
        if not self.rfp_inplanes:
            return self(x)

        def inner(x):
            identity = x if self.downsample is None else self.downsample(x)
            return self._residual(x) + identity

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(inner, x, use_reentrant=False)
        else:
            out = inner(x)
        return self.relu(out + self.rfp_conv(rfp_feat))


class ResLayer(_ResLayer):
    """ResNet's ResLayer whose first block also gets ``rfp_conv`` when
    ``rfp_inplanes`` is given (DetectoRS downsamples first only)."""

    def __init__(
        self,
        block,
        inplanes,
        planes,
        num_blocks,
        downsample_first=True,
        rfp_inplanes=None,
        **kwargs,
    ):
        check_arg(
            downsample_first,
            'DetectoRS ResLayer',
            'downsample_first=False is not supported',
        )
        super().__init__(block, inplanes, planes, num_blocks, **kwargs)
        if rfp_inplanes:
            self[0].add_rfp_conv(rfp_inplanes)


@BACKBONES.register_module()
class DetectoRS_ResNet(ResNet):
    """ResNet backbone of DetectoRS.

    Args (MMDetection 2.28's, same defaults; the rest are ``ResNet``'s):
        sac (dict, optional): conv config of the SAC layers
            (``dict(type='SAC', use_deform=True)``).
        stage_with_sac (Sequence[bool]): stages whose blocks use ``sac``.
        rfp_inplanes (int, optional): channels of the RFP feedback; adds
            ``rfp_conv`` to the first block of stages 2..4.
        output_img (bool): return the input image before the stage outputs.
        pretrained (str, optional): as ``ResNet``'s; an ImageNet ResNet
            checkpoint loads (see ``_complete_pretrained``), every other
            mismatch is an error.

    Output: tuple of ``out_indices`` stage outputs (strides 4..32), with
    the (B, 3, H, W) input first when ``output_img``.
    """

    arch_settings = {
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        sac=None,
        stage_with_sac=(False, False, False, False),
        rfp_inplanes=None,
        output_img=False,
        pretrained=None,
        **kwargs,
    ):
        num_stages = kwargs.get('num_stages', 4)
        check_arg(
            len(stage_with_sac) >= num_stages,
            'DetectoRS_ResNet',
            f'stage_with_sac {tuple(stage_with_sac)} needs one entry per '
            f'stage (num_stages={num_stages})',
        )
        # read by make_res_layer() while ResNet.__init__ builds the stages
        self.sac = sac
        self.stage_with_sac = tuple(stage_with_sac)
        self.rfp_inplanes = rfp_inplanes
        self.output_img = output_img
        super().__init__(pretrained=pretrained, **kwargs)

    def make_res_layer(self, **kwargs):
        """Stage ``i`` (ResNet's ``_make_stages`` appends each stage to
        ``res_layers`` after building it, so ``i = len(res_layers)``) with
        SAC where ``stage_with_sac[i]`` and RFP inputs from stage 2 on."""
        i = len(self.res_layers)
        return ResLayer(
            sac=self.sac if self.stage_with_sac[i] else None,
            rfp_inplanes=self.rfp_inplanes if i > 0 else None,
            **kwargs,
        )

    def _random_init(self):
        super()._random_init()
        for m in self.modules():
            # mmcv-full's SAC, when installed, is the registered one
            if isinstance(m, CONV_LAYERS.get('SAC')):
                m.init_weights()
            elif isinstance(m, Bottleneck) and m.rfp_inplanes:
                m.init_rfp_conv()

    def _complete_pretrained(self, state_dict):
        """Load an ImageNet ResNet into this layout: the SAC and RFP
        parameters keep their initialisation, and the ConvAWS
        ``weight_gamma`` / ``weight_beta`` are the std / mean of the loaded
        weight (what mmcv's ConvAWS2d derives), so every conv starts equal
        to the pretrained one."""
        out = dict(state_dict)
        for key, value in self.state_dict().items():
            if key in out:
                continue
            weight = out.get(key.rsplit('.', 1)[0] + '.weight')
            if key.endswith('.weight_gamma') and weight is not None:
                out[key] = _aws_stats(weight)[1]
            elif key.endswith('.weight_beta') and weight is not None:
                out[key] = _aws_stats(weight)[0]
            elif any(tag in '.' + key for tag in _DETECTORS_ONLY):
                out[key] = value
        return out

    def forward(self, x):
        """(B, 3, H, W) -> tuple of outputs (the image first with
        ``output_img``)."""
        outs = super().forward(x)
        return (x,) + outs if self.output_img else outs

    def rfp_forward(self, x, rfp_feats):
        """Forward with RFP feedback: ``rfp_feats[i]`` (B, rfp_inplanes,
        H_i, W_i at stage i's output size) goes to stage i's blocks, i >= 1.
        Returns the ``out_indices`` stage outputs (never the image)."""
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            rfp_feat = rfp_feats[i] if i > 0 else None
            for block in getattr(self, name):
                x = block.rfp_forward(x, rfp_feat)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
