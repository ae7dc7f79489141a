"""Iterative RoI head of Sparse R-CNN: each stage refines the boxes and
the proposal features of the previous one."""

import numpy as np
import torch

from mmdet.core import bbox2result, bbox2roi, bbox_xyxy_to_cxcywh
from mmdet.core.bbox.samplers import PseudoSampler
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS
from .cascade_roi_head import CascadeRoIHead


@HEADS.register_module()
class SparseRoIHead(CascadeRoIHead):
    """``num_stages`` DIIHeads applied in turn to a fixed set of proposals
    (boxes and ``proposal_feature_channel``-channel features); every stage
    is matched to the gts one-to-one (HungarianAssigner + PseudoSampler)
    and its losses are weighted by ``stage_loss_weights``. With
    ``mask_head`` (QueryInst) every stage also predicts masks from its
    refined boxes and its attention features."""

    def __init__(
        self,
        num_stages=6,
        stage_loss_weights=(1, 1, 1, 1, 1, 1),
        proposal_feature_channel=256,
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
            out_channels=256,
            featmap_strides=[4, 8, 16, 32],
        ),
        mask_roi_extractor=None,
        bbox_head=dict(
            type='DIIHead',
            num_classes=80,
            num_fcs=2,
            num_heads=8,
            num_cls_fcs=1,
            num_reg_fcs=3,
            feedforward_channels=2048,
            hidden_channels=256,
            dropout=0.0,
            roi_feat_size=7,
            ffn_act_cfg=dict(type='ReLU', inplace=True),
        ),
        mask_head=None,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        self.proposal_feature_channel = proposal_feature_channel
        super().__init__(
            num_stages,
            stage_loss_weights,
            bbox_roi_extractor=bbox_roi_extractor,
            mask_roi_extractor=mask_roi_extractor,
            bbox_head=bbox_head,
            mask_head=mask_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            pretrained=pretrained,
            init_cfg=init_cfg,
        )
        for sampler in self.bbox_sampler:
            if not isinstance(sampler, PseudoSampler):
                raise InvalidArgumentError(
                    'SparseRoIHead: every stage needs sampler=PseudoSampler'
                )

    def _bbox_forward(self, stage, x, rois, object_feats, img_metas):
        """One stage on (K, 5) RoIs and (B, P, C) features."""
        extractor = self.bbox_roi_extractor[stage]
        head = self.bbox_head[stage]
        roi_feats = extractor(x[: extractor.num_inputs], rois)
        cls_score, deltas, object_feats, attn_feats = head(
            roi_feats, object_feats
        )
        num_imgs, num_proposals = object_feats.shape[:2]
        no_gts = [rois.new_zeros(num_proposals) for _ in range(num_imgs)]
        boxes = head.refine_bboxes(
            rois, rois.new_zeros(len(rois)), deltas.view(-1, 4), no_gts,
            img_metas,
        )  # fmt: skip
        return dict(
            cls_score=cls_score,
            decode_bbox_pred=torch.cat(boxes),
            object_feats=object_feats,
            attn_feats=attn_feats,
            detach_cls_score_list=[s.detach() for s in cls_score],
            detach_proposal_list=[b.detach() for b in boxes],
        )

    def _mask_forward(self, stage, x, rois, attn_feats):
        """(K, num_classes, h, w) mask logits of (K, 5) RoIs."""
        extractor = self.mask_roi_extractor[stage]
        mask_feats = extractor(x[: extractor.num_inputs], rois)
        return dict(mask_pred=self.mask_head[stage](mask_feats, attn_feats))

    def _mask_loss(self, stage, x, attn_feats, sampling_results, gt_masks):
        """``loss_mask`` of the matched proposals of a stage."""
        rois = bbox2roi([r.pos_bboxes for r in sampling_results])
        feats = torch.cat(
            [f[r.pos_inds] for f, r in zip(attn_feats, sampling_results)]
        )
        mask_pred = self._mask_forward(stage, x, rois, feats)['mask_pred']
        head = self.mask_head[stage]
        targets = head.get_targets(
            sampling_results, gt_masks, self.train_cfg[stage]
        )
        labels = torch.cat([r.pos_gt_labels for r in sampling_results])
        return head.loss(mask_pred, targets, labels)['loss_mask']

    def _match(self, stage, results, whwh, gt_bboxes, gt_labels, img_metas):
        """Per image Hungarian matching of the stage's detached output."""
        sampling_results = []
        for i, meta in enumerate(img_metas):
            boxes = results['detach_proposal_list'][i]
            assign = self.bbox_assigner[stage].assign(
                bbox_xyxy_to_cxcywh(boxes / whwh[i]),
                results['detach_cls_score_list'][i],
                gt_bboxes[i],
                gt_labels[i],
                meta,
            )
            sampling_results.append(
                self.bbox_sampler[stage].sample(assign, boxes, gt_bboxes[i])
            )
        return sampling_results

    def forward_train(
        self,
        x,
        proposal_boxes,
        proposal_features,
        img_metas,
        gt_bboxes,
        gt_labels,
        gt_bboxes_ignore=None,
        imgs_whwh=None,
        gt_masks=None,
    ):
        """Losses ``stage{i}_loss_cls / loss_bbox / loss_iou / pos_acc``."""
        whwh = imgs_whwh.repeat(1, proposal_boxes.size(1), 1)
        proposal_list = list(proposal_boxes)
        object_feats = proposal_features
        losses = {}
        for stage in range(self.num_stages):
            results = self._bbox_forward(
                stage, x, bbox2roi(proposal_list), object_feats, img_metas
            )
            sampling_results = self._match(
                stage, results, whwh, gt_bboxes, gt_labels, img_metas
            )
            head = self.bbox_head[stage]
            targets = head.get_targets(
                sampling_results, gt_bboxes, gt_labels, self.train_cfg[stage]
            )
            cls_score = results['cls_score']
            stage_losses = head.loss(
                cls_score.view(-1, cls_score.size(-1)),
                results['decode_bbox_pred'].view(-1, 4),
                *targets,
                imgs_whwh=whwh,
            )
            if self.with_mask:
                stage_losses['loss_mask'] = self._mask_loss(
                    stage,
                    x,
                    results['attn_feats'],
                    sampling_results,
                    gt_masks,
                )
            weight = self.stage_loss_weights[stage]
            for key, value in stage_losses.items():
                losses[f'stage{stage}_{key}'] = value * weight
            proposal_list = results['detach_proposal_list']
            object_feats = results['object_feats']
        return losses

    def _run_stages(self, x, proposal_boxes, proposal_features, img_metas):
        """All stages; the last stage's results."""
        proposal_list = list(proposal_boxes)
        object_feats = proposal_features
        all_results = []
        for stage in range(self.num_stages):
            results = self._bbox_forward(
                stage, x, bbox2roi(proposal_list), object_feats, img_metas
            )
            all_results.append(results)
            proposal_list = results['detach_proposal_list']
            object_feats = results['object_feats']
        return all_results

    def simple_test(
        self,
        x,
        proposal_boxes,
        proposal_features,
        img_metas,
        imgs_whwh,
        rescale=False,
    ):
        """Per image, per class (n, 5) arrays of the ``max_per_img`` best
        (proposal, class) pairs of the last stage (no NMS)."""
        num_classes = self.bbox_head[-1].num_classes
        if all(len(p) == 0 for p in proposal_boxes):
            empty = np.zeros((0, 5), dtype=np.float32)
            return [[empty] * num_classes for _ in img_metas]
        last, det_bboxes, det_labels, top_inds = self.last_stage_dets(
            x, proposal_boxes, proposal_features, img_metas, rescale
        )
        bbox_results = [
            bbox2result(dets, labels, num_classes)
            for dets, labels in zip(det_bboxes, det_labels)
        ]
        if not self.with_mask:
            return bbox_results
        segm_results = self._test_masks(
            x, last, det_bboxes, det_labels, top_inds, img_metas, rescale
        )
        return list(zip(bbox_results, segm_results))

    def last_stage_dets(
        self, x, proposal_boxes, proposal_features, img_metas, rescale
    ):
        """The stages, then per image the ``max_per_img`` best (proposal,
        class) pairs of the last one, as tensors: ``(last stage's result
        dict, dets (n, 5) per image, labels (n,), pair indices (n,))``.
        ``scale_factor`` may be a tensor (an exported graph's input)."""
        head = self.bbox_head[-1]
        num_classes = head.num_classes
        last = self._run_stages(
            x, proposal_boxes, proposal_features, img_metas
        )[-1]
        cls_score = last['cls_score']
        if head.loss_cls.use_sigmoid:
            scores = cls_score.sigmoid()
        else:
            scores = cls_score.softmax(-1)[..., :-1]
        det_bboxes, det_labels, top_inds = [], [], []
        for i, meta in enumerate(img_metas):
            top, inds = (
                scores[i]
                .flatten()
                .topk(self.test_cfg.max_per_img, sorted=False)
            )
            boxes = last['detach_proposal_list'][i][inds // num_classes]
            if rescale:
                scale = torch.as_tensor(meta['scale_factor'])
                boxes = boxes / scale.to(boxes)
            det_bboxes.append(torch.cat([boxes, top[:, None]], dim=1))
            det_labels.append(inds % num_classes)
            top_inds.append(inds)
        return last, det_bboxes, det_labels, top_inds

    def det_mask_logits(self, x, last, top_inds):
        """Per image the (n, h, w) box-relative mask logits of the
        detections ``top_inds`` ((proposal, class) pair indices): the last
        stage's mask of each one's proposal, in its class's channel."""
        stage = self.num_stages - 1
        mask_pred = self._mask_forward(
            stage,
            x,
            bbox2roi(last['detach_proposal_list']),
            last['attn_feats'],
        )['mask_pred']
        mask_pred = mask_pred.reshape(len(top_inds), -1, *mask_pred.shape[1:])
        # (P * K) (proposal, class) pairs, as the scores were flattened
        return [m.flatten(0, 1)[inds] for m, inds in zip(mask_pred, top_inds)]

    def _test_masks(
        self, x, last, det_bboxes, det_labels, top_inds, img_metas, rescale
    ):
        """Per image, per class masks of the detections: the last stage's
        mask of each detection's proposal."""
        head = self.mask_head[-1]
        segms = []
        logits = self.det_mask_logits(x, last, top_inds)
        for i, meta in enumerate(img_metas):
            per_pair = logits[i][:, None].repeat(1, head.num_classes, 1, 1)
            scale = meta['scale_factor']
            boxes = det_bboxes[i][:, :4]
            if rescale:
                boxes = boxes * boxes.new_tensor(scale)
            segms.append(
                head.get_seg_masks(
                    per_pair,
                    boxes,
                    det_labels[i],
                    self.test_cfg,
                    meta['ori_shape'],
                    scale,
                    rescale,
                )
            )
        return segms

    def aug_test(self, features, proposal_list, img_metas, rescale=False):
        raise NotImplementedError(
            'Sparse R-CNN and QueryInst do not support aug_test'
        )

    def forward_dummy(self, x, proposal_boxes, proposal_features, img_metas):
        """Per stage the stage's result dict, and with masks its mask
        result dict (on the stage's refined boxes)."""
        outs = []
        stages = self._run_stages(
            x, proposal_boxes, proposal_features, img_metas
        )
        for stage, results in enumerate(stages):
            if not self.with_mask:
                outs.append((results,))
                continue
            rois = bbox2roi(results['detach_proposal_list'])
            masks = self._mask_forward(stage, x, rois, results['attn_feats'])
            outs.append((results, masks))
        return outs
