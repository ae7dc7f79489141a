"""Box heads with shared and per-branch convs / fully connected layers."""

import torch.nn as nn
from mmcv.cnn import ConvModule

from mmdet.models.builder import HEADS
from .bbox_head import BBoxHead, build_linear_layer


@HEADS.register_module()
class ConvFCBBoxHead(BBoxHead):
    r"""RoI features -> shared convs -> shared fcs, then a classification
    branch (convs, fcs, ``fc_cls``) and a regression branch (convs, fcs,
    ``fc_reg``).

    .. code-block:: none

                                    /-> cls convs -> cls fcs -> fc_cls
        shared convs -> shared fcs
                                    \-> reg convs -> reg fcs -> fc_reg

    Args:
        num_shared_convs, num_shared_fcs (int): shared layers.
        num_cls_convs, num_cls_fcs (int): classification branch layers.
        num_reg_convs, num_reg_fcs (int): regression branch layers.
        conv_out_channels (int): channels of the 3x3 convs.
        fc_out_channels (int): width of the fcs.
        conv_cfg, norm_cfg (dict, optional): conv and norm layer configs.
        init_cfg (dict | list[dict], optional): initialization config;
            by default Xavier-uniform fcs and the BBoxHead predictors'.
        **kwargs: the arguments of :class:`BBoxHead`.
    """

    def __init__(
        self,
        num_shared_convs=0,
        num_shared_fcs=0,
        num_cls_convs=0,
        num_cls_fcs=0,
        num_reg_convs=0,
        num_reg_fcs=0,
        conv_out_channels=256,
        fc_out_channels=1024,
        conv_cfg=None,
        norm_cfg=None,
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(init_cfg=init_cfg, **kwargs)
        assert (
            num_shared_convs
            + num_shared_fcs
            + num_cls_convs
            + num_cls_fcs
            + num_reg_convs
            + num_reg_fcs
            > 0
        )
        if num_cls_convs > 0 or num_reg_convs > 0:
            assert num_shared_fcs == 0, 'branch convs need unshared fcs'
        if not self.with_cls:
            assert num_cls_convs == 0 and num_cls_fcs == 0
        if not self.with_reg:
            assert num_reg_convs == 0 and num_reg_fcs == 0
        self.num_shared_convs = num_shared_convs
        self.num_shared_fcs = num_shared_fcs
        self.num_cls_convs = num_cls_convs
        self.num_cls_fcs = num_cls_fcs
        self.num_reg_convs = num_reg_convs
        self.num_reg_fcs = num_reg_fcs
        self.conv_out_channels = conv_out_channels
        self.fc_out_channels = fc_out_channels
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg

        self.shared_convs, self.shared_fcs, shared_dim = (
            self._add_conv_fc_branch(
                num_shared_convs, num_shared_fcs, self.in_channels, True
            )
        )
        self.cls_convs, self.cls_fcs, cls_dim = self._add_conv_fc_branch(
            num_cls_convs, num_cls_fcs, shared_dim
        )
        self.reg_convs, self.reg_fcs, reg_dim = self._add_conv_fc_branch(
            num_reg_convs, num_reg_fcs, shared_dim
        )
        if num_shared_fcs == 0 and not self.with_avg_pool:
            # a branch without fcs sees the flattened feature map
            if num_cls_fcs == 0:
                cls_dim *= self.roi_feat_area
            if num_reg_fcs == 0:
                reg_dim *= self.roi_feat_area
        self.relu = nn.ReLU(inplace=True)
        # the predictors of BBoxHead are rebuilt for the new input widths
        if self.with_cls:
            self.fc_cls = build_linear_layer(
                self.cls_predictor_cfg, cls_dim, self.num_cls_channels
            )
        if self.with_reg:
            self.fc_reg = build_linear_layer(
                self.reg_predictor_cfg, reg_dim, self.num_reg_channels
            )
        if init_cfg is None:
            self.init_cfg += [
                dict(
                    type='Xavier',
                    distribution='uniform',
                    override=[
                        dict(name='shared_fcs'),
                        dict(name='cls_fcs'),
                        dict(name='reg_fcs'),
                    ],
                )
            ]

    def _add_conv_fc_branch(
        self, num_branch_convs, num_branch_fcs, in_channels, is_shared=False
    ):
        """Convs and fcs of one branch and the width of its output."""
        last_dim = in_channels
        convs = nn.ModuleList()
        for i in range(num_branch_convs):
            convs.append(
                ConvModule(
                    last_dim if i == 0 else self.conv_out_channels,
                    self.conv_out_channels,
                    3,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                )
            )
        if num_branch_convs > 0:
            last_dim = self.conv_out_channels
        fcs = nn.ModuleList()
        if num_branch_fcs > 0:
            # the first fc of the head sees the flattened map
            if (
                is_shared or self.num_shared_fcs == 0
            ) and not self.with_avg_pool:
                last_dim *= self.roi_feat_area
            for i in range(num_branch_fcs):
                fcs.append(
                    nn.Linear(
                        last_dim if i == 0 else self.fc_out_channels,
                        self.fc_out_channels,
                    )
                )
            last_dim = self.fc_out_channels
        return convs, fcs, last_dim

    def _run_branch(self, x, convs, fcs, to_vector):
        """Apply a branch's convs and fcs; the map is pooled (with
        ``with_avg_pool``) and flattened before fcs, or at the end when
        ``to_vector``."""
        for conv in convs:
            x = conv(x)
        if x.dim() > 2 and (len(fcs) > 0 or to_vector):
            if self.with_avg_pool:
                x = self.avg_pool(x)
            x = x.flatten(1)
        for fc in fcs:
            x = self.relu(fc(x))
        return x

    def forward(self, x):
        """(K, C, h, w) RoI features -> (K, num_classes + 1) scores and
        (K, 4 * num_classes) deltas (None for a missing branch)."""
        x = self._run_branch(x, self.shared_convs, self.shared_fcs, False)
        cls_score = bbox_pred = None
        if self.with_cls:
            cls_score = self.fc_cls(
                self._run_branch(x, self.cls_convs, self.cls_fcs, True)
            )
        if self.with_reg:
            bbox_pred = self.fc_reg(
                self._run_branch(x, self.reg_convs, self.reg_fcs, True)
            )
        return cls_score, bbox_pred


@HEADS.register_module()
class Shared2FCBBoxHead(ConvFCBBoxHead):
    """Two shared fcs (``shared_fcs.0``, ``shared_fcs.1``), then ``fc_cls``
    and ``fc_reg``: the Faster R-CNN FPN box head."""

    def __init__(self, fc_out_channels=1024, **kwargs):
        super().__init__(
            num_shared_convs=0,
            num_shared_fcs=2,
            num_cls_convs=0,
            num_cls_fcs=0,
            num_reg_convs=0,
            num_reg_fcs=0,
            fc_out_channels=fc_out_channels,
            **kwargs,
        )


@HEADS.register_module()
class Shared4Conv1FCBBoxHead(ConvFCBBoxHead):
    """Four shared 3x3 convs and one shared fc, then the predictors."""

    def __init__(self, fc_out_channels=1024, **kwargs):
        super().__init__(
            num_shared_convs=4,
            num_shared_fcs=1,
            num_cls_convs=0,
            num_cls_fcs=0,
            num_reg_convs=0,
            num_reg_fcs=0,
            fc_out_channels=fc_out_channels,
            **kwargs,
        )
