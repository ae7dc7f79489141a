"""The RoI head of Cascade R-CNN and Cascade Mask R-CNN (Cai and
Vasconcelos, 2018): box heads in a chain, each trained on the boxes the
previous one regressed, with rising IoU thresholds."""

import numpy as np
import torch
from mmcv import ConfigDict
from mmcv.runner import ModuleList

from mmdet.core import (
    bbox2result,
    bbox2roi,
    build_assigner,
    build_sampler,
)
from ..builder import HEADS, build_head, build_roi_extractor
from ..dense_heads.cfg_check import check_cfg_keys
from .base_roi_head import TRAIN_CFG_KEYS, BaseRoIHead
from .test_mixins import (
    AugTestMixin,
    BBoxTestMixin,
    MaskTestMixin,
    mask_inputs,
    seg_masks_per_image,
    split_bbox_pred,
)


def _per_stage(cfg, num_stages, name):
    """``cfg`` repeated ``num_stages`` times, or the list itself when it
    already has one entry per stage."""
    if not isinstance(cfg, (list, tuple)):
        return [cfg] * num_stages
    if len(cfg) != num_stages:
        raise ValueError(
            f'{name} has {len(cfg)} entries but num_stages is '
            f'{num_stages}: give one per stage or a single dict'
        )
    return list(cfg)


@HEADS.register_module()
class CascadeRoIHead(BBoxTestMixin, MaskTestMixin, AugTestMixin, BaseRoIHead):
    """``num_stages`` box heads (and mask heads) applied in turn.

    Training: stage ``i`` assigns and samples the current boxes with its
    own assigner/sampler (``train_cfg[i]``), computes its losses (logged as
    ``s{i}.loss_cls`` ... and weighted by ``stage_loss_weights[i]``), then
    regresses its RoIs (``refine_bboxes``) to give the next stage's boxes.
    Testing: every stage scores the boxes the previous stage regressed; the
    class logits are averaged over the stages and the last stage's deltas
    decode the final boxes; mask probabilities are averaged over the
    stages' mask heads.

    The state dict keys are ``bbox_roi_extractor.{i}``, ``bbox_head.{i}``,
    ``mask_head.{i}`` (and ``mask_roi_extractor.{i}``), as in MMDetection.

    Args:
        num_stages (int): number of stages.
        stage_loss_weights (list[float]): weight of each stage's losses.
        bbox_roi_extractor, bbox_head, mask_roi_extractor, mask_head (dict
            | list[dict]): one config for every stage, or a list with one
            per stage.
        shared_head: not supported (must be None).
        train_cfg (list[dict], optional): per stage ``assigner``,
            ``sampler``, ``pos_weight``, ``debug`` (and ``mask_size``).
        test_cfg (dict, optional): ``score_thr``, ``nms``, ``max_per_img``
            (and ``mask_thr_binary``).
    """

    def __init__(
        self,
        num_stages,
        stage_loss_weights,
        bbox_roi_extractor=None,
        bbox_head=None,
        mask_roi_extractor=None,
        mask_head=None,
        shared_head=None,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        assert bbox_roi_extractor is not None and bbox_head is not None, (
            'CascadeRoIHead needs bbox_roi_extractor and bbox_head'
        )
        if shared_head is not None:
            raise ValueError(
                'CascadeRoIHead does not support shared_head '
                '(as in MMDetection 2.x); remove it'
            )
        if len(stage_loss_weights) != num_stages:
            raise ValueError(
                f'stage_loss_weights has {len(stage_loss_weights)} entries '
                f'but num_stages is {num_stages}'
            )
        self.num_stages = num_stages
        self.stage_loss_weights = stage_loss_weights
        super().__init__(
            bbox_roi_extractor=bbox_roi_extractor,
            bbox_head=bbox_head,
            mask_roi_extractor=mask_roi_extractor,
            mask_head=mask_head,
            shared_head=shared_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            pretrained=pretrained,
            init_cfg=init_cfg,
        )

    def init_train_cfg(self, train_cfg):
        """One checked ``ConfigDict`` per stage (or None)."""
        if train_cfg is None:
            return None
        if not isinstance(train_cfg, (list, tuple)):
            raise TypeError(
                'train_cfg.rcnn of a cascade must be a list with one dict '
                f'per stage ({self.num_stages}), got {type(train_cfg)}'
            )
        stages = _per_stage(train_cfg, self.num_stages, 'train_cfg.rcnn')
        for i, cfg in enumerate(stages):
            check_cfg_keys(cfg, TRAIN_CFG_KEYS, f'train_cfg.rcnn[{i}]')
        return [ConfigDict(cfg) for cfg in stages]

    def init_bbox_head(self, bbox_roi_extractor, bbox_head):
        self.bbox_roi_extractor = ModuleList()
        self.bbox_head = ModuleList()
        extractors = _per_stage(
            bbox_roi_extractor, self.num_stages, 'bbox_roi_extractor'
        )
        heads = _per_stage(bbox_head, self.num_stages, 'bbox_head')
        for extractor, head in zip(extractors, heads):
            self.bbox_roi_extractor.append(build_roi_extractor(extractor))
            self.bbox_head.append(build_head(head))

    def init_mask_head(self, mask_roi_extractor, mask_head):
        self.mask_head = ModuleList(
            build_head(head)
            for head in _per_stage(mask_head, self.num_stages, 'mask_head')
        )
        if mask_roi_extractor is None:
            self.share_roi_extractor = True
            self.mask_roi_extractor = self.bbox_roi_extractor
        else:
            self.share_roi_extractor = False
            self.mask_roi_extractor = ModuleList(
                build_roi_extractor(extractor)
                for extractor in _per_stage(
                    mask_roi_extractor, self.num_stages, 'mask_roi_extractor'
                )
            )

    def init_assigner_sampler(self):
        self.bbox_assigner = []
        self.bbox_sampler = []
        for stage, cfg in enumerate(self.train_cfg or []):
            self.current_stage = stage
            self.bbox_assigner.append(build_assigner(cfg['assigner']))
            self.bbox_sampler.append(
                build_sampler(cfg['sampler'], context=self)
            )

    def forward_dummy(self, x, proposals):
        """Raw outputs of every stage for (n, 4) ``proposals`` of one
        image (FLOPs counting)."""
        outs = ()
        rois = bbox2roi([proposals])
        for stage in range(self.num_stages):
            bbox_results = self._bbox_forward(stage, x, rois)
            outs += (bbox_results['cls_score'], bbox_results['bbox_pred'])
        if self.with_mask:
            for stage in range(self.num_stages):
                outs += (
                    self._mask_forward(stage, x, rois[:100])['mask_pred'],
                )
        return outs

    # ----------------------------------------------------------- forward
    def _bbox_forward(self, stage, x, rois):
        """Stage ``stage``'s scores (K, C + 1), deltas and pooled features
        of (K, 5) ``rois``."""
        extractor = self.bbox_roi_extractor[stage]
        bbox_feats = extractor(x[: extractor.num_inputs], rois)
        cls_score, bbox_pred = self.bbox_head[stage](bbox_feats)
        return dict(
            cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats
        )

    def _mask_forward(self, stage, x, rois):
        """Stage ``stage``'s mask logits (K, C, h, w) of (K, 5) ``rois``."""
        extractor = self.mask_roi_extractor[stage]
        mask_feats = extractor(x[: extractor.num_inputs], rois)
        return dict(mask_pred=self.mask_head[stage](mask_feats))

    # ---------------------------------------------------------- training
    def _sample(
        self, stage, x, proposal_list, gt_bboxes, gt_labels, gt_bboxes_ignore
    ):
        """Assign and sample each image's boxes with stage ``stage``'s
        assigner and sampler."""
        assigner = self.bbox_assigner[stage]
        sampler = self.bbox_sampler[stage]
        results = []
        for i, proposals in enumerate(proposal_list):
            assign_result = assigner.assign(
                proposals, gt_bboxes[i], gt_bboxes_ignore[i], gt_labels[i]
            )
            results.append(
                sampler.sample(
                    assign_result,
                    proposals,
                    gt_bboxes[i],
                    gt_labels[i],
                    feats=[level[i][None] for level in x],
                )
            )
        return results

    def _bbox_forward_train(self, stage, x, sampling_results):
        rois = bbox2roi([res.bboxes for res in sampling_results])
        bbox_results = self._bbox_forward(stage, x, rois)
        head = self.bbox_head[stage]
        bbox_targets = head.get_targets(
            sampling_results, None, None, self.train_cfg[stage]
        )
        loss_bbox = head.loss(
            bbox_results['cls_score'],
            bbox_results['bbox_pred'],
            rois,
            *bbox_targets,
        )
        bbox_results.update(
            loss_bbox=loss_bbox, rois=rois, bbox_targets=bbox_targets
        )
        return bbox_results

    def _mask_forward_train(self, stage, x, sampling_results, gt_masks):
        pos_rois = bbox2roi([res.pos_bboxes for res in sampling_results])
        mask_results = self._mask_forward(stage, x, pos_rois)
        head = self.mask_head[stage]
        mask_targets = head.get_targets(
            sampling_results, gt_masks, self.train_cfg[stage]
        )
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        mask_results.update(
            loss_mask=head.loss(
                mask_results['mask_pred'], mask_targets, pos_labels
            )
        )
        return mask_results

    def _refine_train(self, stage, bbox_results, sampling_results, img_metas):
        """The next stage's boxes: each sampled RoI regressed with the
        deltas of its target class (of its top-scoring class for the
        negatives), the gt boxes the sampler added left out."""
        head = self.bbox_head[stage]
        labels = bbox_results['bbox_targets'][0]
        cls_score = bbox_results['cls_score']
        if head.custom_activation:
            cls_score = head.loss_cls.get_activation(cls_score)
        labels = torch.where(
            labels == head.num_classes, cls_score[:, :-1].argmax(1), labels
        )
        return head.refine_bboxes(
            bbox_results['rois'],
            labels,
            bbox_results['bbox_pred'],
            [res.pos_is_gt for res in sampling_results],
            img_metas,
        )

    def forward_train(
        self,
        x,
        img_metas,
        proposal_list,
        gt_bboxes,
        gt_labels,
        gt_bboxes_ignore=None,
        gt_masks=None,
    ):
        """Per-stage losses ``s{i}.loss_cls``, ``s{i}.acc``,
        ``s{i}.loss_bbox`` (and ``s{i}.loss_mask``); the losses (not the
        accuracy) are multiplied by ``stage_loss_weights[i]``.

        Args:
            x (tuple[Tensor]): feature levels, each (B, C, H, W).
            img_metas (list[dict]): per image meta.
            proposal_list (list[Tensor]): per image (n, 4 or 5) proposals.
            gt_bboxes (list[Tensor]): per image (k, 4) boxes.
            gt_labels (list[Tensor]): per image (k,) labels.
            gt_bboxes_ignore (list[Tensor], optional): ignored boxes.
            gt_masks (list[BitmapMasks | PolygonMasks], optional): masks.
        """
        if gt_bboxes_ignore is None:
            gt_bboxes_ignore = [None] * len(img_metas)
        losses = dict()
        for stage in range(self.num_stages):
            self.current_stage = stage
            weight = self.stage_loss_weights[stage]
            sampling_results = self._sample(
                stage, x, proposal_list, gt_bboxes, gt_labels, gt_bboxes_ignore
            )
            bbox_results = self._bbox_forward_train(stage, x, sampling_results)
            stage_losses = dict(bbox_results['loss_bbox'])
            if self.with_mask:
                stage_losses.update(
                    self._mask_forward_train(
                        stage, x, sampling_results, gt_masks
                    )['loss_mask']
                )
            for name, value in stage_losses.items():
                losses[f's{stage}.{name}'] = (
                    value * weight if 'loss' in name else value
                )
            if stage == self.num_stages - 1:
                break
            if bbox_results['cls_score'].numel() == 0:
                break
            with torch.no_grad():
                proposal_list = self._refine_train(
                    stage, bbox_results, sampling_results, img_metas
                )
        return losses

    # --------------------------------------------------------- inference
    def _cascade_test(self, x, rois, counts, img_metas):
        """Run the stages on (K, 5) ``rois`` (``counts`` per image).

        Returns:
            tuple: per image the last stage's RoIs, the class logits
            averaged over the stages and the last stage's deltas.
        """
        ms_scores = []
        for stage in range(self.num_stages):
            bbox_results = self._bbox_forward(stage, x, rois)
            cls_scores = bbox_results['cls_score'].split(counts)
            bbox_preds = split_bbox_pred(bbox_results['bbox_pred'], counts)
            rois_per_img = rois.split(counts)
            ms_scores.append(cls_scores)
            if stage == self.num_stages - 1:
                break
            head = self.bbox_head[stage]
            refined = []
            for img_rois, score, pred, meta in zip(
                rois_per_img, cls_scores, bbox_preds, img_metas
            ):
                if img_rois.size(0) == 0:
                    refined.append(img_rois)
                    continue
                if head.custom_activation:
                    score = head.loss_cls.get_activation(score)
                refined.append(
                    head.regress_by_class(
                        img_rois, score[:, :-1].argmax(1), pred, meta
                    )
                )
            rois = torch.cat(refined)
        mean_scores = [
            sum(scores[i] for scores in ms_scores) / len(ms_scores)
            for i in range(len(counts))
        ]
        return rois_per_img, mean_scores, bbox_preds

    def simple_test_bboxes(
        self, x, img_metas, proposals, rcnn_test_cfg, rescale=False
    ):
        """Per image (n, 5) detections and (n,) labels (boxes in
        original-image pixels with ``rescale``)."""
        rois = bbox2roi(proposals)
        counts = [len(p) for p in proposals]
        rois, scores, preds = self._cascade_test(x, rois, counts, img_metas)
        det_bboxes, det_labels = [], []
        last = self.bbox_head[-1]
        for i, meta in enumerate(img_metas):
            if rois[i].size(0) == 0:
                det_bboxes.append(rois[i].new_zeros(0, 5))
                det_labels.append(rois[i].new_zeros((0,), dtype=torch.long))
                continue
            det_bbox, det_label = last.get_bboxes(
                rois[i],
                scores[i],
                preds[i],
                meta['img_shape'],
                meta['scale_factor'],
                rescale=rescale,
                cfg=rcnn_test_cfg,
            )
            det_bboxes.append(det_bbox)
            det_labels.append(det_label)
        return det_bboxes, det_labels

    def _empty_results(self, num_imgs):
        num_classes = self.bbox_head[-1].num_classes
        bbox_results = [
            [np.zeros((0, 5), dtype=np.float32) for _ in range(num_classes)]
            for _ in range(num_imgs)
        ]
        if not self.with_mask:
            return bbox_results
        segm_results = [
            [[] for _ in range(self.mask_head[-1].num_classes)]
            for _ in range(num_imgs)
        ]
        return list(zip(bbox_results, segm_results))

    def simple_test(self, x, proposal_list, img_metas, rescale=False):
        """Detections of a batch without augmentation.

        Returns:
            list: per image a list of ``num_classes`` (n, 5) arrays
            (``x1, y1, x2, y2, score``); with mask heads, per image a tuple
            ``(bbox_results, segm_results)``, ``segm_results[c]`` a list of
            (H, W) bool masks.
        """
        if sum(len(p) for p in proposal_list) == 0:
            return self._empty_results(len(proposal_list))
        det_bboxes, det_labels = self.simple_test_bboxes(
            x, img_metas, proposal_list, self.test_cfg, rescale=rescale
        )
        bbox_results = [
            bbox2result(bboxes, labels, self.bbox_head[-1].num_classes)
            for bboxes, labels in zip(det_bboxes, det_labels)
        ]
        if not self.with_mask:
            return bbox_results
        segm_results = self.simple_test_mask(
            x, img_metas, det_bboxes, det_labels, rescale
        )
        return list(zip(bbox_results, segm_results))

    def simple_test_mask(
        self, x, img_metas, det_bboxes, det_labels, rescale=False
    ):
        """Per image, per class binary masks of the detections, from the
        mask probabilities averaged over the stages' mask heads."""
        num_classes = self.mask_head[-1].num_classes
        if all(b.size(0) == 0 for b in det_bboxes):
            return [[[] for _ in range(num_classes)] for _ in det_bboxes]
        scale_factors, input_bboxes = mask_inputs(
            det_bboxes, img_metas, rescale
        )
        mask_rois = bbox2roi(input_bboxes)
        counts = [len(b) for b in det_bboxes]
        stage_probs = [
            self._mask_forward(stage, x, mask_rois)['mask_pred'].sigmoid()
            for stage in range(self.num_stages)
        ]
        mean_probs = (sum(stage_probs) / self.num_stages).split(counts)
        return seg_masks_per_image(
            self.mask_head[-1],
            [probs.cpu().numpy() for probs in mean_probs],
            input_bboxes,
            det_labels,
            img_metas,
            scale_factors,
            self.test_cfg,
            rescale,
        )

    def _final_bbox_head(self):
        return self.bbox_head[-1]

    def _final_mask_head(self):
        return self.mask_head[-1]

    def _aug_bbox_forward(self, x, proposals, img_meta):
        """The cascade's RoIs, stage-averaged class scores and last-stage
        deltas of one augmentation's (n, 4) proposals."""
        rois, scores, preds = self._cascade_test(
            x, bbox2roi([proposals]), [len(proposals)], img_meta
        )
        return rois[0], scores[0], preds[0]

    def _aug_mask_probs(self, x, mask_rois):
        """Every stage's (n, C, h, w) mask probabilities."""
        return [
            self._mask_forward(stage, x, mask_rois)['mask_pred'].sigmoid()
            for stage in range(self.num_stages)
        ]
