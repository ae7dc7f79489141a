"""PISA's RoI head (Cao et al., 2020): Score-HLR negative weights, ISR-P
positive weights and the CARL loss on a standard box branch."""

from mmcv import ConfigDict

from mmdet.core import bbox2roi
from ..builder import HEADS
from ..dense_heads.cfg_check import check_cfg_keys
from ..losses.pisa_loss import carl_loss, isr_p
from .base_roi_head import TRAIN_CFG_KEYS
from .standard_roi_head import StandardRoIHead


@HEADS.register_module()
class PISARoIHead(StandardRoIHead):
    """:class:`StandardRoIHead` whose ``train_cfg`` may add ``isr`` (ISR-P:
    ``k``, ``bias``) and ``carl`` (CARL: ``k``, ``bias``; adds
    ``loss_carl``); a ``ScoreHLRSampler`` also weights the negatives."""

    def init_train_cfg(self, train_cfg):
        keys = TRAIN_CFG_KEYS + ('isr', 'carl')
        check_cfg_keys(train_cfg, keys, 'PISARoIHead train_cfg')
        return ConfigDict(train_cfg) if train_cfg is not None else None

    def _sample(
        self, x, proposal_list, gt_bboxes, gt_labels, gt_bboxes_ignore
    ):
        """Sampling results; those of a sampler returning ``(result,
        neg_label_weights)`` carry the weights as ``neg_label_weights``."""
        results = []
        for res in super()._sample(
            x, proposal_list, gt_bboxes, gt_labels, gt_bboxes_ignore
        ):
            weights = None
            if isinstance(res, tuple):
                res, weights = res
            res.neg_label_weights = weights
            results.append(res)
        return results

    def _bbox_forward_train(
        self, x, sampling_results, gt_bboxes, gt_labels, img_metas
    ):
        rois = bbox2roi([res.bboxes for res in sampling_results])
        bbox_results = self._bbox_forward(x, rois)
        head = self.bbox_head
        bbox_targets = head.get_targets(
            sampling_results, gt_bboxes, gt_labels, self.train_cfg
        )
        start = 0
        for res in sampling_results:
            num_pos, num_neg = res.pos_inds.size(0), res.neg_inds.size(0)
            weights = getattr(res, 'neg_label_weights', None)
            if weights is not None:
                end = start + num_pos + num_neg
                bbox_targets[1][start + num_pos : end] = weights
            start += num_pos + num_neg
        cls_score = bbox_results['cls_score']
        bbox_pred = bbox_results['bbox_pred']
        isr_cfg = self.train_cfg.get('isr')
        if isr_cfg is not None:
            bbox_targets = isr_p(
                cls_score,
                bbox_pred,
                bbox_targets,
                rois,
                sampling_results,
                head.loss_cls,
                head.bbox_coder,
                **isr_cfg,
                num_class=head.num_classes,
            )
        loss_bbox = head.loss(cls_score, bbox_pred, rois, *bbox_targets)
        carl_cfg = self.train_cfg.get('carl')
        if carl_cfg is not None:
            loss_bbox.update(
                carl_loss(
                    cls_score,
                    bbox_targets[0],
                    bbox_pred,
                    bbox_targets[2],
                    head.loss_bbox,
                    **carl_cfg,
                    num_class=head.num_classes,
                )
            )
        bbox_results.update(
            loss_bbox=loss_bbox, rois=rois, bbox_targets=bbox_targets
        )
        return bbox_results
