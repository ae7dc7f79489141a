"""CentripetalNet head (Dong et al., 2020): CornerNet's corners paired by
centripetal shifts (each corner predicts where the object's center is)
instead of embeddings."""

import torch.nn as nn
from mmcv.cnn import ConvModule, normal_init

from mmdet.core import multi_apply
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS, build_loss
from ..utils.deform_conv import DeformConv2d
from .corner_head import CornerHead


@HEADS.register_module()
class CentripetalHead(CornerHead):
    """Adds, per level and corner: a guiding shift (corner -> center), a
    deformable "feature adaption" conv whose offsets come from the guiding
    shift, and a centripetal shift (log distances) predicted from it.

    Args:
        centripetal_shift_channels, guiding_shift_channels (int): must be 2.
        feat_adaption_conv_kernel (int): kernel of the adaption DCN.
        loss_guiding_shift, loss_centripetal_shift (dict): losses.
        *args, **kwargs: :class:`CornerHead`'s arguments.
    """

    def __init__(
        self,
        *args,
        centripetal_shift_channels=2,
        guiding_shift_channels=2,
        feat_adaption_conv_kernel=3,
        loss_guiding_shift=dict(
            type='SmoothL1Loss', beta=1.0, loss_weight=0.05
        ),
        loss_centripetal_shift=dict(
            type='SmoothL1Loss', beta=1.0, loss_weight=1
        ),
        init_cfg=None,
        **kwargs,
    ):
        check_arg(
            centripetal_shift_channels == 2 and guiding_shift_channels == 2,
            'CentripetalHead',
            'centripetal_shift_channels and guiding_shift_channels must be 2',
        )
        self.centripetal_shift_channels = centripetal_shift_channels
        self.guiding_shift_channels = guiding_shift_channels
        self.feat_adaption_conv_kernel = feat_adaption_conv_kernel
        super().__init__(*args, init_cfg=init_cfg, **kwargs)
        self.loss_guiding_shift = build_loss(loss_guiding_shift)
        self.loss_centripetal_shift = build_loss(loss_centripetal_shift)

    def _dcn_offset_conv(self):
        k = self.feat_adaption_conv_kernel
        return ConvModule(
            self.guiding_shift_channels,
            k * k * self.guiding_shift_channels,
            1,
            bias=False,
            act_cfg=None,
        )

    def _init_centripetal_layers(self):
        c, k = self.in_channels, self.feat_adaption_conv_kernel
        levels = range(self.num_feat_levels)
        self.tl_feat_adaption = nn.ModuleList(
            DeformConv2d(c, c, k, 1, 1) for _ in levels
        )
        self.br_feat_adaption = nn.ModuleList(
            DeformConv2d(c, c, k, 1, 1) for _ in levels
        )
        self.tl_dcn_offset = nn.ModuleList(
            self._dcn_offset_conv() for _ in levels
        )
        self.br_dcn_offset = nn.ModuleList(
            self._dcn_offset_conv() for _ in levels
        )
        self.tl_guiding_shift = self._branches(self.guiding_shift_channels)
        self.br_guiding_shift = self._branches(self.guiding_shift_channels)
        self.tl_centripetal_shift = self._branches(
            self.centripetal_shift_channels
        )
        self.br_centripetal_shift = self._branches(
            self.centripetal_shift_channels
        )

    def _init_layers(self):
        super()._init_layers()
        self._init_centripetal_layers()

    def init_weights(self):
        super().init_weights()
        for i in range(self.num_feat_levels):
            normal_init(self.tl_feat_adaption[i], std=0.01)
            normal_init(self.br_feat_adaption[i], std=0.01)
            normal_init(self.tl_dcn_offset[i].conv, std=0.1)
            normal_init(self.br_dcn_offset[i].conv, std=0.1)
            for name in (
                'tl_guiding_shift',
                'br_guiding_shift',
                'tl_centripetal_shift',
                'br_centripetal_shift',
            ):
                for layer in getattr(self, name)[i]:
                    layer.conv.reset_parameters()

    def forward_single(self, x, lvl_ind):
        """One level: tl/br heatmaps, offsets, guiding shifts and
        centripetal shifts (eight maps)."""
        tl_heat, br_heat, _, _, tl_off, br_off, tl_pool, br_pool = (
            super().forward_single(x, lvl_ind, return_pool=True)
        )
        shifts = []
        for corner, pool in (('tl', tl_pool), ('br', br_pool)):
            guiding = getattr(self, f'{corner}_guiding_shift')[lvl_ind](pool)
            offset = getattr(self, f'{corner}_dcn_offset')[lvl_ind](
                guiding.detach()
            )
            adapted = getattr(self, f'{corner}_feat_adaption')[lvl_ind](
                pool, offset
            )
            centripetal = getattr(self, f'{corner}_centripetal_shift')[
                lvl_ind
            ](adapted)
            shifts.append((guiding, centripetal))
        (tl_guiding, tl_centripetal), (br_guiding, br_centripetal) = shifts
        return [
            tl_heat,
            br_heat,
            tl_off,
            br_off,
            tl_guiding,
            br_guiding,
            tl_centripetal,
            br_centripetal,
        ]

    def loss(
        self,
        tl_heats,
        br_heats,
        tl_offs,
        br_offs,
        tl_guiding_shifts,
        br_guiding_shifts,
        tl_centripetal_shifts,
        br_centripetal_shifts,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Per-level lists ``det_loss``, ``off_loss``, ``guiding_loss``,
        ``centripetal_loss``."""
        targets = self.get_targets(
            gt_bboxes,
            gt_labels,
            tl_heats[-1].shape,
            img_metas[0]['pad_shape'],
            with_corner_emb=self.with_corner_emb,
            with_guiding_shift=True,
            with_centripetal_shift=True,
        )
        det, off, guiding, centripetal = multi_apply(
            self.loss_single,
            tl_heats,
            br_heats,
            tl_offs,
            br_offs,
            tl_guiding_shifts,
            br_guiding_shifts,
            tl_centripetal_shifts,
            br_centripetal_shifts,
            [targets] * self.num_feat_levels,
        )
        return dict(
            det_loss=det,
            off_loss=off,
            guiding_loss=guiding,
            centripetal_loss=centripetal,
        )

    def loss_single(
        self,
        tl_hmp,
        br_hmp,
        tl_off,
        br_off,
        tl_guiding_shift,
        br_guiding_shift,
        tl_centripetal_shift,
        br_centripetal_shift,
        targets,
    ):
        """One level: (det, offset, guiding, centripetal) losses."""
        targets = dict(targets, corner_embedding=None)
        det, _, _, off = super().loss_single(
            tl_hmp, br_hmp, None, None, tl_off, br_off, targets
        )
        guiding = self._masked_pair_loss(
            self.loss_guiding_shift,
            (tl_guiding_shift, br_guiding_shift),
            (
                targets['topleft_guiding_shift'],
                targets['bottomright_guiding_shift'],
            ),
            targets,
        )
        centripetal = self._masked_pair_loss(
            self.loss_centripetal_shift,
            (tl_centripetal_shift, br_centripetal_shift),
            (
                targets['topleft_centripetal_shift'],
                targets['bottomright_centripetal_shift'],
            ),
            targets,
        )
        return det, off, guiding, centripetal

    def get_bboxes(
        self,
        tl_heats,
        br_heats,
        tl_offs,
        br_offs,
        tl_guiding_shifts,
        br_guiding_shifts,
        tl_centripetal_shifts,
        br_centripetal_shifts,
        img_metas,
        rescale=False,
        with_nms=True,
    ):
        """Per image ``(dets (n, 5), labels (n,))`` from the last level,
        corners paired by their centripetal shifts."""
        return [
            self._get_bboxes_single(
                tl_heats[-1][i : i + 1],
                br_heats[-1][i : i + 1],
                tl_offs[-1][i : i + 1],
                br_offs[-1][i : i + 1],
                meta,
                tl_emb=None,
                br_emb=None,
                tl_centripetal_shift=tl_centripetal_shifts[-1][i : i + 1],
                br_centripetal_shift=br_centripetal_shifts[-1][i : i + 1],
                rescale=rescale,
                with_nms=with_nms,
            )
            for i, meta in enumerate(img_metas)
        ]
