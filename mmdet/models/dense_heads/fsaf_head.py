"""FSAF's anchor-free branch (Zhu et al., "Feature Selective Anchor-Free
Module for Single-Shot Object Detection")."""

import torch

from mmdet.core import anchor_inside_flags, unmap
from ..builder import HEADS
from ..losses.accuracy import accuracy
from .base_dense_head import flatten_level_maps
from .retina_head import RetinaHead


@HEADS.register_module()
class FSAFHead(RetinaHead):
    """RetinaNet's layers with one square "anchor" per position (the grid
    point), ReLU'd TBLR distances and online feature selection: every gt
    box trains only on the level where its (class + box) loss is lowest.

    Targets come from :class:`CenterRegionAssigner` (positives in the box
    centre; the ring around it is ignored for that class only, via the
    assign result's ``shadowed_labels``); the losses are built unreduced
    (``reduction='none'``) and averaged over the kept positives.

    Args:
        score_threshold (float, optional): score a positive needs to count
            in the logged ``pos_recall``.
        init_cfg (dict, optional): None: normal(0, 0.01) convs, the
            classifier's bias for a prior of 0.01, ``retina_reg``'s bias 0.25.
        *args, **kwargs: :class:`RetinaHead`'s arguments.
    """

    def __init__(self, *args, score_threshold=None, init_cfg=None, **kwargs):
        if init_cfg is None:
            init_cfg = dict(
                type='Normal',
                layer='Conv2d',
                std=0.01,
                override=[
                    dict(
                        type='Normal',
                        name='retina_cls',
                        std=0.01,
                        bias_prob=0.01,
                    ),
                    dict(
                        type='Normal', name='retina_reg', std=0.01, bias=0.25
                    ),
                ],
            )
        super().__init__(*args, init_cfg=init_cfg, **kwargs)
        self.score_threshold = score_threshold

    def forward_single(self, x):
        """One level -> class scores and non-negative TBLR distances."""
        cls_score, bbox_pred = super().forward_single(x)
        return cls_score, self.relu(bbox_pred)

    def _fsaf_targets_single(
        self,
        flat_anchors,
        valid_flags,
        gt_bboxes,
        gt_bboxes_ignore,
        gt_labels,
        img_meta,
    ):
        """One image's targets (levels concatenated): labels (N,), label
        weights (N, C) (0 where a class is shadowed), box targets and
        weights (N, 4), the gt index of each positive (-1 elsewhere) and
        the number of negatives."""
        inside = anchor_inside_flags(
            flat_anchors,
            valid_flags,
            img_meta['img_shape'][:2],
            self.train_cfg['allowed_border'],
        )
        anchors = flat_anchors[inside]
        sampling = type(self.sampler).__name__ != 'PseudoSampler'
        assign_result = self.assigner.assign(
            anchors,
            gt_bboxes,
            gt_bboxes_ignore,
            None if sampling else gt_labels,
        )
        result = self.sampler.sample(assign_result, anchors, gt_bboxes)
        labels, label_weights, bbox_targets, bbox_weights = (
            self._sampled_targets(anchors, result, gt_labels)
        )
        label_weights = label_weights[:, None].repeat(1, self.cls_out_channels)
        shadowed = assign_result.get_extra_property('shadowed_labels')
        if shadowed is not None and shadowed.numel():
            label_weights[shadowed[:, 0], shadowed[:, 1]] = 0
        gt_inds = labels.new_full(labels.shape, -1)
        gt_inds[result.pos_inds] = result.pos_assigned_gt_inds
        total = flat_anchors.size(0)
        return (
            unmap(labels, total, inside, fill=self.num_classes),
            unmap(label_weights, total, inside),
            unmap(bbox_targets, total, inside),
            unmap(bbox_weights, total, inside),
            unmap(gt_inds, total, inside, fill=-1),
            max(result.neg_inds.numel(), 1),
        )

    def loss(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Per-level ``loss_cls`` and ``loss_bbox`` of each gt's selected
        level, averaged over the positives; also the logged ``num_pos``
        (per image) and ``pos_recall`` (percent)."""
        bbox_preds = [p.clamp(min=1e-4) for p in bbox_preds]
        featmap_sizes = [s.size()[-2:] for s in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=cls_scores[0].device
        )
        num_imgs = len(img_metas)
        ignores = gt_bboxes_ignore or [None] * num_imgs
        per_image = [
            self._fsaf_targets_single(
                torch.cat(anchor_list[i]),
                torch.cat(valid_flag_list[i]),
                gt_bboxes[i],
                ignores[i],
                gt_labels[i],
                img_metas[i],
            )
            for i in range(num_imgs)
        ]
        *targets, num_neg = zip(*per_image)
        labels, label_w, box_t, box_w, gt_inds = (
            torch.stack(t) for t in targets
        )
        # gt indices over the batch
        offsets = torch.tensor([0] + [len(g) for g in gt_bboxes[:-1]])
        offsets = offsets.cumsum(0).to(gt_inds.device)[:, None]
        gt_inds = torch.where(gt_inds >= 0, gt_inds + offsets, gt_inds)
        levels = self._level_losses(
            cls_scores,
            bbox_preds,
            anchor_list,
            labels,
            label_w,
            box_t,
            box_w,
            gt_inds,
        )
        num_gts = sum(len(g) for g in gt_bboxes)
        best = self._best_levels(levels, num_gts)
        losses_cls, losses_bbox, pos_flags = zip(
            *[
                self._keep_best_level(*lv, i, best)
                for i, lv in enumerate(levels)
            ]
        )
        num_pos = torch.cat(pos_flags).sum().float()
        avg = num_pos if num_pos > 0 else num_pos + float(sum(num_neg))
        return dict(
            loss_cls=[loss / avg for loss in losses_cls],
            loss_bbox=[loss / avg for loss in losses_bbox],
            num_pos=num_pos / num_imgs,
            pos_recall=self.calculate_pos_recall(levels, pos_flags),
        )

    def _level_losses(
        self,
        cls_scores,
        bbox_preds,
        anchor_list,
        labels,
        label_w,
        box_t,
        box_w,
        gt_inds,
    ):
        """Per level: unreduced class loss (n, C), box loss (n,), labels
        (n,), gt indices (n,) and class scores (n, C), over the batch's
        positions of that level (image-major)."""
        sizes = [a.size(0) for a in anchor_list[0]]
        anchors = torch.stack([torch.cat(a) for a in anchor_list])
        cls = flatten_level_maps(cls_scores, self.cls_out_channels)
        pred = flatten_level_maps(bbox_preds, 4)
        split = (
            t.split(sizes, dim=1)
            for t in (
                cls,
                pred,
                anchors,
                labels,
                label_w,
                box_t,
                box_w,
                gt_inds,
            )
        )
        out = []
        for c, p, a, lab, lw, bt, bw, g in zip(*split):
            loss_cls, loss_bbox = self.loss_single(
                c.reshape(-1, self.cls_out_channels),
                p.reshape(-1, 4),
                a.reshape(-1, 4),
                lab.reshape(-1),
                lw.reshape(-1, self.cls_out_channels),
                bt.reshape(-1, 4),
                bw.reshape(-1, 4),
                1,
            )
            out.append(
                (
                    loss_cls,
                    loss_bbox,
                    lab.reshape(-1),
                    g.reshape(-1),
                    c.reshape(-1, self.cls_out_channels),
                )
            )
        return out

    @staticmethod
    def _reduce_box_loss(loss_bbox):
        return loss_bbox.sum(-1) if loss_bbox.dim() == 2 else loss_bbox

    def _best_levels(self, levels, num_gts):
        """(G,) the level of lowest mean (class + box) loss of each gt's
        positives (levels without positives count as 1e6)."""
        with torch.no_grad():
            per_level = []
            for loss_cls, loss_bbox, _, gt_inds, _ in levels:
                loss = loss_cls.sum(-1) + self._reduce_box_loss(loss_bbox)
                means = loss.new_full((num_gts,), 1e6)
                for g in range(num_gts):
                    match = gt_inds == g
                    if match.any():
                        means[g] = loss[match].mean()
                per_level.append(means)
            return torch.stack(per_level).min(dim=0).indices

    def _keep_best_level(
        self, loss_cls, loss_bbox, labels, gt_inds, _, level, best
    ):
        """Summed losses of one level with the positives of gts selected
        elsewhere turned to negatives; and its (n,) positive flags."""
        cls_w = torch.ones_like(loss_cls)
        box_w = torch.ones_like(loss_bbox)
        pos = gt_inds >= 0
        moved = pos.nonzero()[:, 0]
        moved = moved[best[gt_inds[moved]] != level]
        pos[moved] = False
        box_w[moved] = 0
        cls_w[moved, labels[moved]] = 0
        return (loss_cls * cls_w).sum(), (loss_bbox * box_w).sum(), pos

    def calculate_pos_recall(self, levels, pos_flags):
        """Percent of the kept positives whose top class is their label
        (with a score above ``score_threshold`` if set)."""
        with torch.no_grad():
            scores = torch.cat(
                [lv[4][pos] for lv, pos in zip(levels, pos_flags)]
            )
            labels = torch.cat(
                [lv[2][pos] for lv, pos in zip(levels, pos_flags)]
            )
            if self.use_sigmoid_cls:
                scores = scores.sigmoid()
            else:
                scores = scores.softmax(dim=1)
            return accuracy(scores, labels, thresh=self.score_threshold)
