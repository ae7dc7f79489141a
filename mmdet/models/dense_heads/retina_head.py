"""RetinaNet's head (Lin et al., "Focal Loss for Dense Object Detection")."""

import torch.nn as nn
from mmcv.cnn import ConvModule

from ..builder import HEADS
from .anchor_head import AnchorHead


@HEADS.register_module()
class RetinaHead(AnchorHead):
    """Two towers of ``stacked_convs`` 3x3 convs (classification and box),
    each ending in a 3x3 conv that predicts every anchor of a position.

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        stacked_convs (int): convs per tower.
        conv_cfg (dict, optional): config of the tower convs.
        norm_cfg (dict, optional): normalization of the tower convs.
        anchor_generator (dict): 9 anchors per position by default
            (3 octave scales x 3 ratios, ``octave_base_scale=4``).
        init_cfg (dict): normal(0, 0.01) convs; the classifier's bias is
            set for a prior foreground probability of 0.01.
        **kwargs: :class:`AnchorHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        stacked_convs=4,
        conv_cfg=None,
        norm_cfg=None,
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=4,
            scales_per_octave=3,
            ratios=[0.5, 1.0, 2.0],
            strides=[8, 16, 32, 64, 128],
        ),
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='retina_cls', std=0.01, bias_prob=0.01
            ),
        ),
        **kwargs,
    ):
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        super().__init__(
            num_classes,
            in_channels,
            anchor_generator=anchor_generator,
            init_cfg=init_cfg,
            **kwargs,
        )

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        self.retina_cls = nn.Conv2d(
            self.feat_channels,
            self.num_base_priors * self.cls_out_channels,
            3,
            padding=1,
        )
        self.retina_reg = nn.Conv2d(
            self.feat_channels, self.num_base_priors * 4, 3, padding=1
        )

    def _tower(self):
        return nn.ModuleList(
            [
                ConvModule(
                    self.in_channels if i == 0 else self.feat_channels,
                    self.feat_channels,
                    3,
                    stride=1,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                )
                for i in range(self.stacked_convs)
            ]
        )

    def forward_single(self, x):
        """One level (B, C, H, W) -> class scores (B, A*cls_out, H, W) and
        box deltas (B, A*4, H, W)."""
        cls_feat, reg_feat = x, x
        for cls_conv in self.cls_convs:
            cls_feat = cls_conv(cls_feat)
        for reg_conv in self.reg_convs:
            reg_feat = reg_conv(reg_feat)
        return self.retina_cls(cls_feat), self.retina_reg(reg_feat)


@HEADS.register_module()
class AscendRetinaHead(RetinaHead):
    """MMDetection's name for :class:`RetinaHead` on Ascend NPUs (there a
    batched target computation; the same layers, losses and outputs)."""
