"""Iterative RoI head of Sparse R-CNN: each stage refines the boxes and
the proposal features of the previous one."""

import numpy as np
import torch

from mmdet.core import bbox2result, bbox2roi, bbox_xyxy_to_cxcywh
from mmdet.core.bbox.samplers import PseudoSampler
from mmdet.utils.arg_errors import InvalidArgumentError, UnsupportedOptionError
from ..builder import HEADS
from .cascade_roi_head import CascadeRoIHead


@HEADS.register_module()
class SparseRoIHead(CascadeRoIHead):
    """``num_stages`` DIIHeads applied in turn to a fixed set of proposals
    (boxes and ``proposal_feature_channel``-channel features); every stage
    is matched to the gts one-to-one (HungarianAssigner + PseudoSampler)
    and its losses are weighted by ``stage_loss_weights``. Mask branches
    (QueryInst) are not implemented yet."""

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
        if mask_head is not None:
            raise UnsupportedOptionError(
                'SparseRoIHead: mask_head (QueryInst) is not implemented yet'
            )
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
        head = self.bbox_head[-1]
        num_classes = head.num_classes
        if all(len(p) == 0 for p in proposal_boxes):
            empty = np.zeros((0, 5), dtype=np.float32)
            return [[empty] * num_classes for _ in img_metas]
        last = self._run_stages(
            x, proposal_boxes, proposal_features, img_metas
        )[-1]
        cls_score = last['cls_score']
        if head.loss_cls.use_sigmoid:
            scores = cls_score.sigmoid()
        else:
            scores = cls_score.softmax(-1)[..., :-1]
        results = []
        for i, meta in enumerate(img_metas):
            top, inds = (
                scores[i]
                .flatten()
                .topk(self.test_cfg.max_per_img, sorted=False)
            )
            boxes = last['detach_proposal_list'][i][inds // num_classes]
            if rescale:
                boxes = boxes / boxes.new_tensor(meta['scale_factor'])
            dets = torch.cat([boxes, top[:, None]], dim=1)
            results.append(bbox2result(dets, inds % num_classes, num_classes))
        return results

    def aug_test(self, features, proposal_list, img_metas, rescale=False):
        raise NotImplementedError(
            'Sparse R-CNN and QueryInst do not support aug_test'
        )

    def forward_dummy(self, x, proposal_boxes, proposal_features, img_metas):
        """Per stage a 1-tuple of the stage's result dict."""
        return [
            (r,)
            for r in self._run_stages(
                x, proposal_boxes, proposal_features, img_metas
            )
        ]
