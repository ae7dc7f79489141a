"""NAS-FCOS's head (Wang et al., "NAS-FCOS: Fast Neural Architecture Search
for Object Detection"): FCOS with the searched tower."""

import torch.nn as nn
from mmcv.cnn import ConvModule, Scale

from ..builder import HEADS
from .fcos_head import FCOSHead

# the searched tower: (conv_cfg, kernel size, bias) of each layer
_ARCH = (
    (dict(type='DCNv2', deform_groups=2), 3, True),
    (dict(type='Conv'), 3, False),
    (dict(type='DCNv2', deform_groups=2), 3, True),
    (dict(type='Conv'), 1, False),
)


@HEADS.register_module()
class NASFCOSHead(FCOSHead):
    """:class:`FCOSHead` whose two towers are DCNv2 3x3, conv 3x3, DCNv2
    3x3, conv 1x1 (each with the head's norm).

    Args:
        init_cfg (dict | list[dict], optional): None: Caffe2Xavier convs,
            normal(0, 0.01) predictors, ``conv_cls``'s bias for a prior of
            0.01.
        *args, **kwargs: :class:`FCOSHead`'s arguments.
    """

    def __init__(self, *args, init_cfg=None, **kwargs):
        if init_cfg is None:
            init_cfg = [
                dict(type='Caffe2Xavier', layer=['ConvModule', 'Conv2d']),
                dict(
                    type='Normal',
                    std=0.01,
                    override=[
                        dict(name='conv_reg'),
                        dict(name='conv_centerness'),
                        dict(
                            name='conv_cls',
                            type='Normal',
                            std=0.01,
                            bias_prob=0.01,
                        ),
                    ],
                ),
            ]
        super().__init__(*args, init_cfg=init_cfg, **kwargs)

    def _init_layers(self):
        self.cls_convs = self._nas_tower()
        self.reg_convs = self._nas_tower()
        self.conv_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1
        )
        self.conv_reg = nn.Conv2d(self.feat_channels, 4, 3, padding=1)
        self.conv_centerness = nn.Conv2d(self.feat_channels, 1, 3, padding=1)
        self.scales = nn.ModuleList([Scale(1.0) for _ in self.strides])

    def _nas_tower(self):
        return nn.ModuleList(
            [
                ConvModule(
                    self.in_channels if i == 0 else self.feat_channels,
                    self.feat_channels,
                    kernel,
                    padding=kernel // 2,
                    norm_cfg=self.norm_cfg,
                    bias=bias,
                    conv_cfg=dict(conv_cfg),
                )
                for i, (conv_cfg, kernel, bias) in enumerate(_ARCH)
            ]
        )
