"""The RoI head of Faster / Mask R-CNN."""

import torch

from mmdet.core import bbox2result, bbox2roi, build_assigner, build_sampler
from ..builder import HEADS, build_head, build_roi_extractor
from .base_roi_head import BaseRoIHead
from .test_mixins import BBoxTestMixin, MaskTestMixin


@HEADS.register_module()
class StandardRoIHead(BBoxTestMixin, MaskTestMixin, BaseRoIHead):
    """Sample RoIs from the proposals, pool their features, then classify
    and regress them (``bbox_head``) and segment the positives
    (``mask_head``)."""

    def init_assigner_sampler(self):
        self.bbox_assigner = None
        self.bbox_sampler = None
        if self.train_cfg:
            self.bbox_assigner = build_assigner(self.train_cfg['assigner'])
            self.bbox_sampler = build_sampler(
                self.train_cfg['sampler'], context=self
            )

    def init_bbox_head(self, bbox_roi_extractor, bbox_head):
        self.bbox_roi_extractor = build_roi_extractor(bbox_roi_extractor)
        self.bbox_head = build_head(bbox_head)

    def init_mask_head(self, mask_roi_extractor, mask_head):
        if mask_roi_extractor is not None:
            self.mask_roi_extractor = build_roi_extractor(mask_roi_extractor)
            self.share_roi_extractor = False
        else:
            self.share_roi_extractor = True
            self.mask_roi_extractor = self.bbox_roi_extractor
        self.mask_head = build_head(mask_head)

    def forward_dummy(self, x, proposals):
        """Raw outputs for (n, 4) ``proposals`` of one image (FLOPs)."""
        outs = ()
        rois = bbox2roi([proposals])
        if self.with_bbox:
            bbox_results = self._bbox_forward(x, rois)
            outs += (bbox_results['cls_score'], bbox_results['bbox_pred'])
        if self.with_mask:
            outs += (self._mask_forward(x, rois[:100])['mask_pred'],)
        return outs

    # ---------------------------------------------------------- training
    def _sample(
        self, x, proposal_list, gt_bboxes, gt_labels, gt_bboxes_ignore
    ):
        """Assign each image's proposals to its gts and sample them."""
        if gt_bboxes_ignore is None:
            gt_bboxes_ignore = [None] * len(proposal_list)
        sampling_results = []
        for i, proposals in enumerate(proposal_list):
            assign_result = self.bbox_assigner.assign(
                proposals, gt_bboxes[i], gt_bboxes_ignore[i], gt_labels[i]
            )
            sampling_results.append(
                self.bbox_sampler.sample(
                    assign_result,
                    proposals,
                    gt_bboxes[i],
                    gt_labels[i],
                    feats=[level[i][None] for level in x],
                )
            )
        return sampling_results

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
        """Losses of the box branch (``loss_cls``, ``acc``, ``loss_bbox``)
        and the mask branch (``loss_mask``).

        Args:
            x (tuple[Tensor]): feature levels, each (B, C, H, W).
            img_metas (list[dict]): per image meta.
            proposal_list (list[Tensor]): per image (n, 5) proposals.
            gt_bboxes (list[Tensor]): per image (k, 4) boxes.
            gt_labels (list[Tensor]): per image (k,) labels.
            gt_bboxes_ignore (list[Tensor], optional): ignored boxes.
            gt_masks (list[BitmapMasks | PolygonMasks], optional): per
                image, for the mask branch.
        """
        losses = dict()
        if not (self.with_bbox or self.with_mask):
            return losses
        sampling_results = self._sample(
            x, proposal_list, gt_bboxes, gt_labels, gt_bboxes_ignore
        )
        bbox_results = None
        if self.with_bbox:
            bbox_results = self._bbox_forward_train(
                x, sampling_results, gt_bboxes, gt_labels, img_metas
            )
            losses.update(bbox_results['loss_bbox'])
        if self.with_mask:
            mask_results = self._mask_forward_train(
                x,
                sampling_results,
                None if bbox_results is None else bbox_results['bbox_feats'],
                gt_masks,
                img_metas,
            )
            losses.update(mask_results['loss_mask'])
        return losses

    def _bbox_forward(self, x, rois):
        """Scores, deltas and pooled features of (K, 5) ``rois``."""
        bbox_feats = self.bbox_roi_extractor(
            x[: self.bbox_roi_extractor.num_inputs], rois
        )
        if self.with_shared_head:
            bbox_feats = self.shared_head(bbox_feats)
        cls_score, bbox_pred = self.bbox_head(bbox_feats)
        return dict(
            cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=bbox_feats
        )

    def _bbox_forward_train(
        self, x, sampling_results, gt_bboxes, gt_labels, img_metas
    ):
        rois = bbox2roi([res.bboxes for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        bbox_targets = self.bbox_head.get_targets(
            sampling_results, gt_bboxes, gt_labels, self.train_cfg
        )
        loss_bbox = self.bbox_head.loss(
            bbox_results['cls_score'],
            bbox_results['bbox_pred'],
            rois,
            *bbox_targets,
        )
        bbox_results.update(
            loss_bbox=loss_bbox, rois=rois, bbox_targets=bbox_targets
        )
        return bbox_results

    def _mask_forward(self, x, rois=None, pos_inds=None, bbox_feats=None):
        """Mask logits of ``rois``, or (shared extractor) of the positive
        rows ``pos_inds`` of the box branch's ``bbox_feats``."""
        assert (rois is not None) ^ (
            pos_inds is not None and bbox_feats is not None
        )
        if rois is not None:
            mask_feats = self.mask_roi_extractor(
                x[: self.mask_roi_extractor.num_inputs], rois
            )
            if self.with_shared_head:
                mask_feats = self.shared_head(mask_feats)
        else:
            mask_feats = bbox_feats[pos_inds]
        mask_pred = self.mask_head(mask_feats)
        return dict(mask_pred=mask_pred, mask_feats=mask_feats)

    def _mask_forward_train(
        self, x, sampling_results, bbox_feats, gt_masks, img_metas
    ):
        if not self.share_roi_extractor:
            pos_rois = bbox2roi([res.pos_bboxes for res in sampling_results])
            mask_results = self._mask_forward(x, pos_rois)
        else:
            # the positives come first in each image's samples
            pos_inds = torch.cat(
                [
                    torch.arange(len(res.bboxes), device=res.bboxes.device)
                    < len(res.pos_bboxes)
                    for res in sampling_results
                ]
            )
            mask_results = self._mask_forward(
                x, pos_inds=pos_inds, bbox_feats=bbox_feats
            )
        mask_targets = self.mask_head.get_targets(
            sampling_results, gt_masks, self.train_cfg
        )
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        loss_mask = self.mask_head.loss(
            mask_results['mask_pred'], mask_targets, pos_labels
        )
        mask_results.update(loss_mask=loss_mask, mask_targets=mask_targets)
        return mask_results

    # --------------------------------------------------------- inference
    def simple_test(
        self, x, proposal_list, img_metas, proposals=None, rescale=False
    ):
        """Detections of a batch without augmentation.

        Returns:
            list: per image a list of ``num_classes`` (n, 5) arrays
            (``x1, y1, x2, y2, score``); with a mask head, per image a
            tuple ``(bbox_results, segm_results)``, ``segm_results[c]`` a
            list of (H, W) bool masks.
        """
        assert self.with_bbox, 'Bbox head must be implemented.'
        det_bboxes, det_labels = self.simple_test_bboxes(
            x, img_metas, proposal_list, self.test_cfg, rescale=rescale
        )
        bbox_results = [
            bbox2result(bboxes, labels, self.bbox_head.num_classes)
            for bboxes, labels in zip(det_bboxes, det_labels)
        ]
        if not self.with_mask:
            return bbox_results
        segm_results = self.simple_test_mask(
            x, img_metas, det_bboxes, det_labels, rescale=rescale
        )
        return list(zip(bbox_results, segm_results))

    def aug_test(self, x, proposal_list, img_metas, rescale=False):
        """Detections of one image merged over test-time augmentations.

        Args:
            x (list[tuple[Tensor]]): per augmentation the feature levels.
            proposal_list (list[Tensor]): ``[(n, 5)]`` merged proposals in
                original-image pixels.
            img_metas (list[list[dict]]): per augmentation ``[meta]``.
            rescale (bool): original-image pixels; otherwise boxes are
                scaled into the first augmentation's size.

        Returns:
            list: one result as :meth:`simple_test` gives per image.
        """
        det_bboxes, det_labels = self.aug_test_bboxes(
            x, img_metas, proposal_list, self.test_cfg
        )
        out_bboxes = det_bboxes
        if not rescale:
            out_bboxes = det_bboxes.clone()
            out_bboxes[:, :4] *= det_bboxes.new_tensor(
                img_metas[0][0]['scale_factor']
            )
        bbox_results = bbox2result(
            out_bboxes, det_labels, self.bbox_head.num_classes
        )
        if not self.with_mask:
            return [bbox_results]
        segm_results = self.aug_test_mask(x, img_metas, det_bboxes, det_labels)
        return [(bbox_results, segm_results)]
