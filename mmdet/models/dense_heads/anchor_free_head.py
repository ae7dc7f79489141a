"""Base of the anchor-free dense heads: one prediction per feature-map
point."""

import torch.nn as nn
from mmcv.cnn import ConvModule

from mmdet.core import MlvlPointGenerator, build_bbox_coder
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_loss
from ..utils import deform_conv  # noqa: F401 (registers 'DCNv2')
from .base_dense_head import BaseDenseHead
from .cfg_check import check_cfg_keys

TRAIN_CFG_KEYS = (
    'assigner',
    'sampler',
    'allowed_border',
    'pos_weight',
    'debug',
)
TEST_CFG_KEYS = ('nms_pre', 'min_bbox_size', 'score_thr', 'nms', 'max_per_img')


@HEADS.register_module()
class AnchorFreeHead(BaseDenseHead):
    """Classification and box towers of ``stacked_convs`` 3x3 convs, each
    followed by a 3x3 prediction conv (``conv_cls``, ``conv_reg``).

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        feat_channels (int): channels of the tower convs.
        stacked_convs (int): convs per tower.
        strides (tuple[int]): stride of every input level.
        dcn_on_last_conv (bool): the last conv of each tower is a DCNv2.
        conv_bias (bool | str): bias of the tower convs; 'auto': only
            without normalization.
        loss_cls (dict): classification loss.
        loss_bbox (dict): box loss.
        bbox_coder (dict): point-to-box coder.
        conv_cfg (dict, optional): config of the tower convs.
        norm_cfg (dict, optional): normalization of the tower convs.
        train_cfg (dict, optional): training settings.
        test_cfg (dict, optional): ``nms_pre``, ``score_thr``, ``nms``,
            ``max_per_img`` (``min_bbox_size`` is accepted, unused).
        init_cfg (dict): normal(0, 0.01) convs; ``conv_cls``'s bias for a
            prior foreground probability of 0.01.
    """

    train_cfg_keys = TRAIN_CFG_KEYS
    test_cfg_keys = TEST_CFG_KEYS

    def __init__(
        self,
        num_classes,
        in_channels,
        feat_channels=256,
        stacked_convs=4,
        strides=(4, 8, 16, 32, 64),
        dcn_on_last_conv=False,
        conv_bias='auto',
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        bbox_coder=dict(type='DistancePointBBoxCoder'),
        conv_cfg=None,
        norm_cfg=None,
        train_cfg=None,
        test_cfg=None,
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='conv_cls', std=0.01, bias_prob=0.01
            ),
        ),
    ):
        super().__init__(init_cfg)
        check_cfg_keys(
            train_cfg, self.train_cfg_keys, f'{type(self).__name__} train_cfg'
        )
        check_cfg_keys(
            test_cfg, self.test_cfg_keys, f'{type(self).__name__} test_cfg'
        )
        if conv_bias != 'auto' and not isinstance(conv_bias, bool):
            raise InvalidArgumentError(
                f"conv_bias must be 'auto' or a bool, got {conv_bias!r}"
            )
        self.num_classes = num_classes
        self.use_sigmoid_cls = loss_cls.get('use_sigmoid', False)
        self.cls_out_channels = (
            num_classes if self.use_sigmoid_cls else num_classes + 1
        )
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.strides = strides
        self.dcn_on_last_conv = dcn_on_last_conv
        self.conv_bias = conv_bias
        self.loss_cls = build_loss(loss_cls)
        self.loss_bbox = build_loss(loss_bbox)
        self.bbox_coder = build_bbox_coder(bbox_coder)
        self.prior_generator = MlvlPointGenerator(strides)
        # one point per position
        self.num_base_priors = self.prior_generator.num_base_priors[0]
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.fp16_enabled = False
        self._init_layers()

    def _init_layers(self):
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        self._init_predictor()

    def _tower(self):
        return nn.ModuleList(
            [
                ConvModule(
                    self.in_channels if i == 0 else self.feat_channels,
                    self.feat_channels,
                    3,
                    stride=1,
                    padding=1,
                    conv_cfg=self._tower_conv_cfg(i),
                    norm_cfg=self.norm_cfg,
                    bias=self.conv_bias,
                )
                for i in range(self.stacked_convs)
            ]
        )

    def _tower_conv_cfg(self, i):
        """``dcn_on_last_conv`` makes the last tower conv a DCNv2."""
        if self.dcn_on_last_conv and i == self.stacked_convs - 1:
            return dict(type='DCNv2')
        return self.conv_cfg

    def _init_predictor(self):
        self.conv_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1
        )
        self.conv_reg = nn.Conv2d(self.feat_channels, 4, 3, padding=1)

    def forward(self, feats):
        """Per-level class scores (B, cls_out, H, W) and box predictions
        (B, 4, H, W), as two lists."""
        outs = [self.forward_single(x)[:2] for x in feats]
        return tuple(map(list, zip(*outs)))

    def forward_single(self, x):
        """One level -> class scores, box predictions and the last
        features of both towers."""
        cls_feat, reg_feat = x, x
        for cls_layer in self.cls_convs:
            cls_feat = cls_layer(cls_feat)
        for reg_layer in self.reg_convs:
            reg_feat = reg_layer(reg_feat)
        return (
            self.conv_cls(cls_feat),
            self.conv_reg(reg_feat),
            cls_feat,
            reg_feat,
        )

    def loss(self, **kwargs):
        raise NotImplementedError(
            f'{type(self).__name__} must define its loss'
        )

    def get_targets(self, points, gt_bboxes_list, gt_labels_list):
        """Per-point targets; defined by the subclasses."""
        raise NotImplementedError(
            f'{type(self).__name__} must define its targets'
        )
