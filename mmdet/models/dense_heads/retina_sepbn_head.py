"""RetinaNet head whose tower convs are shared across levels while each
level keeps its own normalization (NAS-FPN, EfficientDet-style heads)."""

import torch.nn as nn
from mmcv.cnn import ConvModule, bias_init_with_prob, normal_init

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS
from .anchor_head import AnchorHead


@HEADS.register_module()
class RetinaSepBNHead(AnchorHead):
    """``num_ins`` copies of RetinaNet's two towers; copy ``j`` reuses the
    conv of copy 0 and owns only its norm layers.

    Args:
        num_classes (int): object classes, background excluded.
        num_ins (int): number of input feature levels.
        in_channels (int): channels of the input feature maps.
        stacked_convs (int): convs per tower.
        conv_cfg (dict, optional): config of the tower convs.
        norm_cfg (dict, optional): normalization of the tower convs.
        init_cfg (None): must stay None; :meth:`init_weights` sets the
            shared convs to normal(0, 0.01) itself.
        **kwargs: :class:`AnchorHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        num_ins,
        in_channels,
        stacked_convs=4,
        conv_cfg=None,
        norm_cfg=None,
        init_cfg=None,
        **kwargs,
    ):
        if init_cfg is not None:
            raise InvalidArgumentError(
                'RetinaSepBNHead initializes its shared convs itself; '
                f'init_cfg must be None, got {init_cfg}'
            )
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.num_ins = num_ins
        super().__init__(num_classes, in_channels, init_cfg=init_cfg, **kwargs)

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = nn.ModuleList(
            [self._tower() for _ in range(self.num_ins)]
        )
        self.reg_convs = nn.ModuleList(
            [self._tower() for _ in range(self.num_ins)]
        )
        for towers in (self.cls_convs, self.reg_convs):
            for tower in towers[1:]:
                for layer, first in zip(tower, towers[0]):
                    layer.conv = first.conv
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

    def init_weights(self):
        """normal(0, 0.01) for the shared convs and both predictors; the
        classifier's bias gives a prior foreground probability of 0.01."""
        super().init_weights()
        for layer in list(self.cls_convs[0]) + list(self.reg_convs[0]):
            normal_init(layer.conv, std=0.01)
        normal_init(self.retina_cls, std=0.01, bias=bias_init_with_prob(0.01))
        normal_init(self.retina_reg, std=0.01)

    def forward(self, feats):
        """Level ``i`` (B, C, H, W) goes through tower copy ``i``; returns
        per-level class scores (B, A*cls_out, H, W) and box deltas
        (B, A*4, H, W)."""
        cls_scores, bbox_preds = [], []
        for x, cls_tower, reg_tower in zip(
            feats, self.cls_convs, self.reg_convs
        ):
            cls_feat, reg_feat = x, x
            for layer in cls_tower:
                cls_feat = layer(cls_feat)
            for layer in reg_tower:
                reg_feat = layer(reg_feat)
            cls_scores.append(self.retina_cls(cls_feat))
            bbox_preds.append(self.retina_reg(reg_feat))
        return cls_scores, bbox_preds
