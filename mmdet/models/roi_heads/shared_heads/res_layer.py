"""A ResNet stage run on RoI features (the C4 detectors' shared head)."""

import warnings

import torch.nn as nn
from mmcv.runner import BaseModule, auto_fp16

from mmdet.models.backbones.resnet import ResLayer as _ResLayer
from mmdet.models.backbones.resnet import ResNet
from mmdet.models.builder import SHARED_HEADS


@SHARED_HEADS.register_module()
class ResLayer(BaseModule):
    """Stage ``stage`` (0-based; 3 is the last) of a ResNet of ``depth``,
    as the module ``layer{stage + 1}`` (so a backbone checkpoint's keys
    fit): (K, 64 * 2**(stage-1) * 4, S, S) -> (K, 64 * 2**stage * 4,
    S / stride, S / stride).

    Args:
        depth (int): ResNet depth (block type and block count).
        stage (int): which stage.
        stride (int), dilation (int): of the stage's first block.
        style (str): 'pytorch' or 'caffe'.
        norm_cfg (dict): norm layers.
        norm_eval (bool): keep BatchNorm in eval mode while training.
        with_cp (bool): gradient checkpointing.
        dcn (dict, optional): deformable conv config.
        pretrained (str, optional): deprecated checkpoint path.
        init_cfg (dict, optional): initialization.
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
        layer = _ResLayer(
            block,
            64 * 2 ** (stage - 1) * block.expansion,
            64 * 2**stage,
            stage_blocks[stage],
            stride=stride,
            dilation=dilation,
            style=style,
            with_cp=with_cp,
            norm_cfg=norm_cfg,
            dcn=dcn,
        )
        self.add_module(f'layer{stage + 1}', layer)
        if init_cfg and pretrained:
            raise ValueError(
                'init_cfg and pretrained cannot be specified at the same time'
            )
        if isinstance(pretrained, str):
            warnings.warn(
                'DeprecationWarning: pretrained is deprecated, '
                'please use "init_cfg" instead'
            )
            self.init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        elif pretrained is None:
            if init_cfg is None:
                self.init_cfg = [
                    dict(type='Kaiming', layer='Conv2d'),
                    dict(
                        type='Constant',
                        val=1,
                        layer=['_BatchNorm', 'GroupNorm'],
                    ),
                ]
        else:
            raise TypeError('pretrained must be a str or None')

    @auto_fp16()
    def forward(self, x):
        return getattr(self, f'layer{self.stage + 1}')(x)

    def train(self, mode=True):
        super().train(mode)
        if self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self
