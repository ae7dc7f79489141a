"""Guided-anchor RetinaNet head."""

import torch.nn as nn
from mmcv.cnn import ConvModule

from ..builder import HEADS
from ..utils.masked_conv import MaskedConv2d
from .guided_anchor_head import FeatureAdaption, GuidedAnchorHead


@HEADS.register_module()
class GARetinaHead(GuidedAnchorHead):
    """RetinaNet's two towers of ``stacked_convs`` 3x3 convs, the location
    branch on the class tower, the shape branch on the box tower, a
    ``FeatureAdaption`` per tower and masked 3x3 predictors
    (``retina_cls``, ``retina_reg``).

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): input channels.
        stacked_convs (int): convs per tower.
        conv_cfg, norm_cfg (dict, optional): of the tower convs.
        init_cfg (dict, optional): normal(0, 0.01) convs with prior-0.01
            biases on ``conv_loc`` and ``retina_cls`` by default.
        **kwargs: :class:`GuidedAnchorHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        stacked_convs=4,
        conv_cfg=None,
        norm_cfg=None,
        init_cfg=None,
        **kwargs,
    ):
        if init_cfg is None:
            init_cfg = dict(
                type='Normal',
                layer='Conv2d',
                std=0.01,
                override=[
                    dict(type='Normal', name=name, std=0.01, bias_prob=0.01)
                    for name in ('conv_loc', 'retina_cls')
                ],
            )
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        super().__init__(num_classes, in_channels, init_cfg=init_cfg, **kwargs)

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

    def _adaption(self):
        return FeatureAdaption(
            self.feat_channels,
            self.feat_channels,
            kernel_size=3,
            deform_groups=self.deform_groups,
        )

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        self.conv_loc = nn.Conv2d(self.feat_channels, 1, 1)
        self.conv_shape = nn.Conv2d(
            self.feat_channels, self.num_base_priors * 2, 1
        )
        self.feature_adaption_cls = self._adaption()
        self.feature_adaption_reg = self._adaption()
        self.retina_cls = MaskedConv2d(
            self.feat_channels,
            self.num_base_priors * self.cls_out_channels,
            3,
            padding=1,
        )
        self.retina_reg = MaskedConv2d(
            self.feat_channels, self.num_base_priors * 4, 3, padding=1
        )

    def forward_single(self, x):
        """One level (B, C, H, W) -> cls_score, bbox_pred, shape_pred,
        loc_pred (as :meth:`GuidedAnchorHead.forward_single`)."""
        cls_feat, reg_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        loc_pred = self.conv_loc(cls_feat)
        shape_pred = self.conv_shape(reg_feat)
        cls_feat = self.feature_adaption_cls(cls_feat, shape_pred)
        reg_feat = self.feature_adaption_reg(reg_feat, shape_pred)
        mask = self._loc_mask(loc_pred)
        return (
            self.retina_cls(cls_feat, mask),
            self.retina_reg(reg_feat, mask),
            shape_pred,
            loc_pred,
        )
