"""The C4 shared RoI head: ResNet's last stage run on pooled RoIs."""

import warnings

from mmcv.runner import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.utils.arg_errors import check_arg
from ...backbones.resnet import ResNet
from ...builder import SHARED_HEADS
from ...utils.res_layer import ResLayer as _ResLayer


@SHARED_HEADS.register_module()
class ResLayer(BaseModule):
    """Stage ``stage`` (0-based; 3 is ResNet's ``layer4``) of a ResNet of
    ``depth``, as module ``layer{stage + 1}`` so a ResNet checkpoint's
    ``layer4.*`` keys load into it. (K, 64 * 2**(stage-1) * expansion, S, S)
    RoI features -> (K, 64 * 2**stage * expansion, S / stride, S / stride).

    Args:
        depth (int): ResNet depth (block type and block count).
        stage (int): which stage.
        stride, dilation (int): of the stage's first block.
        style (str): 'pytorch' or 'caffe'.
        norm_cfg (dict): norm layer config.
        norm_eval (bool): keep BatchNorms in eval mode while training.
        with_cp (bool): activation checkpointing in each block.
        dcn (dict, optional): deformable 3x3 convs (Bottlenecks only).
        pretrained (str, optional): deprecated, as ``init_cfg=dict(
            type='Pretrained', checkpoint=pretrained)``.
        init_cfg (dict | list, optional): initialization config.
    """

    def __init__(
        self,
        depth,
        stage=3,
        stride=2,
        dilation=1,
        style='pytorch',
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        with_cp=False,
        dcn=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.norm_eval = norm_eval
        self.norm_cfg = norm_cfg
        self.stage = stage
        self.fp16_enabled = False
        block, stage_blocks = ResNet.arch_settings[depth]
        planes = 64 * 2**stage
        inplanes = 64 * 2 ** (stage - 1) * block.expansion
        layer = _ResLayer(
            block,
            inplanes,
            planes,
            stage_blocks[stage],
            stride=stride,
            dilation=dilation,
            style=style,
            with_cp=with_cp,
            norm_cfg=norm_cfg,
            dcn=dcn,
        )
        self.add_module(f'layer{stage + 1}', layer)
        self._set_init_cfg(pretrained, init_cfg)

    def _set_init_cfg(self, pretrained, init_cfg):
        check_arg(
            not (init_cfg and pretrained),
            'ResLayer',
            'init_cfg and pretrained cannot be specified at the same time',
        )
        if pretrained is not None and not isinstance(pretrained, str):
            raise TypeError('ResLayer: pretrained must be a str or None')
        if pretrained is not None:
            warnings.warn(
                'ResLayer: pretrained is deprecated, use init_cfg=dict('
                "type='Pretrained', checkpoint=...)",
                DeprecationWarning,
            )
            self.init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        elif init_cfg is None:
            self.init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(
                    type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']
                ),
            ]

    def forward(self, x):
        return getattr(self, f'layer{self.stage + 1}')(x)

    def train(self, mode=True):
        super().train(mode)
        if self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
