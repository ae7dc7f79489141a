"""Panoptic FPN's semantic head: every FPN level upsampled to the finest
stride and summed, then a 1x1 conv to the stuff classes plus one 'thing'
class."""

import warnings

import torch
import torch.nn as nn
from mmcv.runner import ModuleList

from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS
from ..utils.conv_upsample import ConvUpsample
from .base_semantic_head import BaseSemanticHead


@HEADS.register_module()
class PanopticFPNHead(BaseSemanticHead):
    """Semantic head over ``num_stuff_classes + 1`` classes (the last: any
    thing).

    Levels ``[start_level, end_level)`` go through a ``ConvUpsample`` of
    ``max(i, 1)`` convs and ``i`` 2x upsamplings (level i is at 2^i times
    the finest stride). ``num_classes``, ``fg_range`` and ``bg_range``
    are MMDetection's deprecated spellings of the class counts.
    """

    def __init__(
        self,
        num_things_classes=80,
        num_stuff_classes=53,
        num_classes=None,
        in_channels=256,
        inner_channels=128,
        start_level=0,
        end_level=4,
        fg_range=None,
        bg_range=None,
        conv_cfg=None,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        init_cfg=None,
        loss_seg=dict(
            type='CrossEntropyLoss', ignore_index=-1, loss_weight=1.0
        ),
    ):
        if num_classes is not None:
            warnings.warn(
                'PanopticFPNHead: num_classes is deprecated, it is '
                'num_stuff_classes + 1'
            )
            check_arg(
                num_classes == num_stuff_classes + 1,
                'PanopticFPNHead',
                'num_classes must be num_stuff_classes + 1',
            )
        super().__init__(num_stuff_classes + 1, init_cfg, loss_seg)
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        if fg_range is not None and bg_range is not None:
            warnings.warn(
                'PanopticFPNHead: fg_range / bg_range are deprecated, use '
                'num_things_classes / num_stuff_classes'
            )
            self.fg_range, self.bg_range = fg_range, bg_range
            self.num_things_classes = fg_range[1] - fg_range[0] + 1
            self.num_stuff_classes = bg_range[1] - bg_range[0] + 1
        self.start_level = start_level
        self.end_level = end_level
        self.num_stages = end_level - start_level
        self.inner_channels = inner_channels
        self.conv_upsample_layers = ModuleList(
            ConvUpsample(
                in_channels,
                inner_channels,
                num_layers=max(i, 1),
                num_upsample=i,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
            )
            for i in range(start_level, end_level)
        )
        self.conv_logits = nn.Conv2d(inner_channels, self.num_classes, 1)

    def _set_things_to_void(self, gt_semantic_seg):
        """Stuff labels ``num_things + k`` -> k, thing labels ->
        ``num_stuff_classes`` (one 'thing' class), others (255) kept."""
        seg = gt_semantic_seg.int()
        things = seg < self.num_things_classes
        stuff = (seg >= self.num_things_classes) & (
            seg < self.num_things_classes + self.num_stuff_classes
        )
        seg = torch.where(stuff, seg - self.num_things_classes, seg)
        return torch.where(things, things.int() * self.num_stuff_classes, seg)

    def loss(self, seg_preds, gt_semantic_seg):
        return super().loss(
            seg_preds, self._set_things_to_void(gt_semantic_seg)
        )

    def init_weights(self):
        super().init_weights()
        nn.init.normal_(self.conv_logits.weight.data, 0, 0.01)
        self.conv_logits.bias.data.zero_()

    def forward(self, x):
        check_arg(
            self.num_stages <= len(x),
            'PanopticFPNHead',
            f'{self.num_stages} levels used, {len(x)} given',
        )
        feats = sum(
            layer(x[self.start_level + i])
            for i, layer in enumerate(self.conv_upsample_layers)
        )
        return dict(seg_preds=self.conv_logits(feats), feats=feats)
