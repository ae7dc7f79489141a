"""PAA's head (Kim and Lee, "Probabilistic Anchor Assignment with IoU
Prediction for Object Detection").

Training: MaxIoU candidates (IoU > 0.1) are scored by their loss; per gt
box, the ``topk`` lowest-loss candidates of every level are split by a
two-component 1-D Gaussian mixture (scikit-learn's ``GaussianMixture``,
an optional dependency) and only the low-loss part stays positive.
Testing: scores are ``sqrt(class prob * predicted IoU)``; after NMS every
box is replaced by the IoU- and score-weighted mean of its overlapping
candidates (score voting).
"""

import numpy as np
import torch
from mmcv.runner import force_fp32

from mmdet.core import bbox_overlaps, multiclass_nms
from ..builder import HEADS
from .atss_head import ATSSHead
from .base_dense_head import flatten_level_maps

EPS = 1e-12


def import_sklearn_mixture():
    """scikit-learn's ``sklearn.mixture``, which PAA's training needs."""
    try:
        import sklearn.mixture as skm
    except ImportError as err:
        raise ImportError(
            'PAAHead (and LADHead) training fits a Gaussian mixture with '
            'scikit-learn: pip install scikit-learn'
        ) from err
    return skm


def fit_loss_gmm(losses, covariance_type='diag'):
    """Two-component GMM of (n,) ascending losses, started at their min
    and max with equal weights and unit precisions.

    The fit is MMDetection's (float32 data). Where it fails on tied
    losses (float32 round-off makes a collapsed component's variance
    negative; frequent with untrained heads), it is redone in float64.

    Returns:
        tuple[ndarray]: per loss its component (0: the low-loss one) and
        its log-likelihood under the mixture.
    """
    x = losses.detach().view(-1, 1).cpu().numpy()
    try:
        return _fit_gmm(x, covariance_type)
    except ValueError:
        return _fit_gmm(x.astype(np.float64), covariance_type)


def _fit_gmm(x, covariance_type):
    precisions = {
        'full': np.ones((2, 1, 1)),
        'tied': np.ones((1, 1)),
        'diag': np.ones((2, 1)),
        'spherical': np.ones(2),
    }[covariance_type]
    gmm = import_sklearn_mixture().GaussianMixture(
        2,
        weights_init=np.array([0.5, 0.5]),
        means_init=np.array([x.min(), x.max()]).reshape(2, 1),
        precisions_init=precisions,
        covariance_type=covariance_type,
    )
    gmm.fit(x)
    return gmm.predict(x), gmm.score_samples(x)


@HEADS.register_module()
class PAAHead(ATSSHead):
    """ATSS's layers (the centerness branch predicts the IoU) with PAA's
    assignment and score voting.

    Args:
        topk (int): per gt box and level, candidates given to the GMM.
        score_voting (bool): vote the boxes after NMS.
        covariance_type (str): the GMM's ('full', 'tied', 'diag',
            'spherical').
        *args, **kwargs: :class:`ATSSHead`'s arguments.
    """

    # MMDetection's LAD configs also put score_voting in test_cfg (unused)
    test_cfg_keys = ATSSHead.test_cfg_keys + ('score_voting',)

    def __init__(
        self,
        *args,
        topk=9,
        score_voting=True,
        covariance_type='diag',
        **kwargs,
    ):
        self.topk = topk
        self.with_score_voting = score_voting
        self.covariance_type = covariance_type
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------ training
    @force_fp32(apply_to=('cls_scores', 'bbox_preds', 'iou_preds'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        iou_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Focal loss over all anchors (averaged over the PAA positives),
        IoU-weighted GIoU loss and IoU-prediction loss over the positives.
        """
        labels, label_weights, bbox_targets, _, pos, anchors, num_pos = (
            self.get_label_assignment(
                cls_scores,
                bbox_preds,
                iou_preds,
                gt_bboxes,
                gt_labels,
                img_metas,
                gt_bboxes_ignore,
            )
        )
        cls_scores, bbox_preds, iou_preds = self._flatten_batch(
            cls_scores, bbox_preds, iou_preds
        )
        loss_cls = self.loss_cls(
            cls_scores,
            labels,
            label_weights,
            avg_factor=max(num_pos, len(img_metas)),
        )
        if num_pos == 0:
            return dict(
                loss_cls=loss_cls,
                loss_bbox=bbox_preds.sum() * 0,
                loss_iou=iou_preds.sum() * 0,
            )
        decoded = self.bbox_coder.decode(anchors, bbox_preds[pos])
        targets = bbox_targets[pos]
        ious = bbox_overlaps(decoded.detach(), targets, is_aligned=True)
        loss_iou = self.loss_centerness(
            iou_preds[pos], ious.unsqueeze(-1), avg_factor=num_pos
        )
        loss_bbox = self.loss_bbox(
            decoded, targets, ious.clamp(min=EPS), avg_factor=ious.sum()
        )
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox, loss_iou=loss_iou)

    def _flatten_batch(self, cls_scores, bbox_preds, iou_preds):
        """Per-level maps -> (B*N, C), (B*N, 4), (B*N, 1), image-major."""
        return (
            flatten_level_maps(cls_scores, self.cls_out_channels).flatten(
                0, 1
            ),
            flatten_level_maps(bbox_preds, 4).flatten(0, 1),
            flatten_level_maps(iou_preds, 1).flatten(0, 1),
        )

    @force_fp32(apply_to=('cls_scores', 'bbox_preds', 'iou_preds'))
    def get_label_assignment(
        self,
        cls_scores,
        bbox_preds,
        iou_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """PAA's targets of the batch's anchors (B*N, image-major).

        Returns:
            tuple: labels (B*N,), label weights (B*N,), box targets
            (B*N, 4), box weights (B*N, 4) (before the reassignment), the
            indices of the positives (P,), their anchors (P, 4) (None
            without positives) and the number of positives.
        """
        featmap_sizes = [s.size()[-2:] for s in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=cls_scores[0].device
        )
        (
            labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            pos_inds,
            gt_inds,
        ) = self.get_targets(
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore_list=gt_bboxes_ignore,
            gt_labels_list=gt_labels,
        )
        cls_flat = flatten_level_maps(cls_scores, self.cls_out_channels)
        box_flat = flatten_level_maps(bbox_preds, 4)
        pos_losses = [
            self.get_pos_loss(*args)
            for args in zip(
                anchor_list,
                cls_flat,
                box_flat,
                labels,
                label_weights,
                bbox_targets,
                bbox_weights,
                pos_inds,
            )
        ]
        with torch.no_grad():
            reassigned = [
                self.paa_reassign(*args)
                for args in zip(
                    pos_losses,
                    labels,
                    label_weights,
                    bbox_weights,
                    pos_inds,
                    gt_inds,
                    anchor_list,
                )
            ]
        new_labels, new_weights, _, num_pos = zip(*reassigned)
        labels = torch.cat(new_labels)
        pos = ((labels >= 0) & (labels < self.num_classes)).nonzero()[:, 0]
        anchors = torch.cat([torch.cat(a) for a in anchor_list])
        num_pos = sum(num_pos)
        return (
            labels,
            torch.cat(new_weights),
            torch.cat(bbox_targets),
            torch.cat(bbox_weights),
            pos,
            anchors[pos] if num_pos else None,
            num_pos,
        )

    def get_targets(
        self,
        anchor_list,
        valid_flag_list,
        gt_bboxes_list,
        img_metas,
        gt_bboxes_ignore_list=None,
        gt_labels_list=None,
        label_channels=1,
        unmap_outputs=True,
    ):
        """MaxIoU targets of every image (levels concatenated, not split):
        lists over images of labels (N,), label weights (N,), box targets
        (N, 4), box weights (N, 4), positive indices and their gt indices.
        """
        num_imgs = len(img_metas)
        ignores = gt_bboxes_ignore_list or [None] * num_imgs
        gt_labels_list = gt_labels_list or [None] * num_imgs
        per_image = [
            self._get_targets_single(
                torch.cat(anchor_list[i]),
                torch.cat(valid_flag_list[i]),
                gt_bboxes_list[i],
                ignores[i],
                gt_labels_list[i],
                img_metas[i],
            )
            for i in range(num_imgs)
        ]
        labels, label_weights, bbox_targets, bbox_weights = (
            [res[k] for res in per_image] for k in range(4)
        )
        pos_inds = [
            ((lab >= 0) & (lab < self.num_classes)).nonzero().view(-1)
            for lab in labels
        ]
        gt_inds = [res[6].pos_assigned_gt_inds for res in per_image]
        return (
            labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            pos_inds,
            gt_inds,
        )

    def get_pos_loss(
        self,
        anchors,
        cls_score,
        bbox_pred,
        label,
        label_weight,
        bbox_target,
        bbox_weight,
        pos_inds,
    ):
        """(n,) unreduced classification + box loss of one image's
        candidates ``pos_inds`` (anchors: per-level list)."""
        if not len(pos_inds):
            return cls_score.new_zeros(0)
        anchors = torch.cat(anchors)[pos_inds]
        decoded = self.bbox_coder.decode(anchors, bbox_pred[pos_inds])
        loss_cls = self.loss_cls(
            cls_score[pos_inds],
            label[pos_inds],
            label_weight[pos_inds],
            avg_factor=1.0,
            reduction_override='none',
        )
        loss_bbox = self.loss_bbox(
            decoded,
            bbox_target[pos_inds],
            bbox_weight[pos_inds],
            avg_factor=1.0,
            reduction_override='none',
        )
        return loss_bbox + loss_cls.sum(-1)

    def paa_reassign(
        self,
        pos_losses,
        label,
        label_weight,
        bbox_weight,
        pos_inds,
        pos_gt_inds,
        anchors,
    ):
        """One image's targets after the GMM split of each gt's candidates.

        Returns:
            tuple: label (N,), label_weight (N,), bbox_weight (N, 4) and the
            number of positives left.
        """
        if not len(pos_inds):
            return label, label_weight, bbox_weight, 0
        label, label_weight = label.clone(), label_weight.clone()
        bbox_weight = bbox_weight.clone()
        level_ends = torch.tensor(
            np.cumsum([a.size(0) for a in anchors]), device=pos_inds.device
        )
        pos_levels = torch.bucketize(pos_inds, level_ends, right=True)
        kept, ignored = [label.new_zeros(0)], [label.new_zeros(0)]
        for gt in range(int(pos_gt_inds.max()) + 1):
            inds, losses = self._gt_candidates(
                pos_losses, pos_inds, pos_levels, pos_gt_inds == gt
            )
            if len(inds) < 2:
                continue
            losses, order = losses.sort()
            inds = inds[order]
            assignment, scores = fit_loss_gmm(losses, self.covariance_type)
            pos, ign = self.gmm_separation_scheme(
                torch.from_numpy(assignment).to(inds.device),
                torch.from_numpy(scores).to(inds.device),
                inds,
            )
            kept.append(pos)
            ignored.append(ign)
        kept, ignored = torch.cat(kept), torch.cat(ignored)
        dropped = pos_inds[~torch.isin(pos_inds, kept)]
        label[dropped] = self.num_classes
        label_weight[ignored] = 0
        bbox_weight[dropped] = 0
        return label, label_weight, bbox_weight, len(kept)

    def _gt_candidates(self, pos_losses, pos_inds, pos_levels, gt_mask):
        """Anchor indices and losses of one gt's ``topk`` lowest-loss
        candidates on every level."""
        inds, losses = [], []
        for level in range(int(pos_levels.max()) + 1):
            mask = gt_mask & (pos_levels == level)
            k = min(int(mask.sum()), self.topk)
            values, order = pos_losses[mask].topk(k, largest=False)
            inds.append(pos_inds[mask][order])
            losses.append(values)
        return torch.cat(inds), torch.cat(losses)

    def gmm_separation_scheme(self, gmm_assignment, scores, pos_inds_gmm):
        """Positives (and ignored) among the (n,) loss-sorted candidates:
        those of the low-loss component up to its most likely one."""
        fgs = gmm_assignment == 0
        empty = pos_inds_gmm.new_zeros(0)
        if not fgs.any():
            return empty, empty
        last = int(scores[fgs].argmax())
        return pos_inds_gmm[fgs][: last + 1], empty

    # ------------------------------------------------------------- testing
    @force_fp32(apply_to=('cls_scores', 'bbox_preds'))
    def get_bboxes(
        self,
        cls_scores,
        bbox_preds,
        score_factors=None,
        img_metas=None,
        cfg=None,
        rescale=False,
        with_nms=True,
        **kwargs,
    ):
        """As :meth:`BaseDenseHead.get_bboxes`; score voting needs NMS, so
        there is no ``with_nms=False`` (nor test-time augmentation)."""
        if not with_nms:
            raise NotImplementedError(
                'PAAHead only supports with_nms=True (no test-time '
                'augmentation)'
            )
        return super().get_bboxes(
            cls_scores,
            bbox_preds,
            score_factors,
            img_metas,
            cfg,
            rescale,
            with_nms,
            **kwargs,
        )

    def _get_bboxes_single(
        self,
        cls_score_list,
        bbox_pred_list,
        score_factor_list,
        mlvl_priors,
        img_meta,
        cfg,
        rescale=False,
        with_nms=True,
        **kwargs,
    ):
        """Per level the ``nms_pre`` anchors of best sqrt(prob * IoU) (all
        classes kept), then class-wise NMS and score voting."""
        cfg = self.test_cfg if cfg is None else cfg
        nms_pre = cfg.get('nms_pre', -1)
        bboxes, scores, ious = [], [], []
        levels = zip(cls_score_list, bbox_pred_list, score_factor_list)
        for level, (cls_score, bbox_pred, iou) in enumerate(levels):
            prob = cls_score.permute(1, 2, 0).reshape(
                -1, self.cls_out_channels
            )
            prob = prob.sigmoid()
            iou = iou.permute(1, 2, 0).reshape(-1).sigmoid()
            bbox_pred = bbox_pred.permute(1, 2, 0).reshape(-1, 4)
            priors = mlvl_priors[level]
            if 0 < nms_pre < prob.size(0):
                best = (prob * iou[:, None]).sqrt().max(dim=1).values
                keep = best.topk(nms_pre).indices
                prob, iou = prob[keep], iou[keep]
                bbox_pred, priors = bbox_pred[keep], priors[keep]
            bboxes.append(
                self._decode_bboxes(priors, bbox_pred, level, img_meta)
            )
            scores.append(prob)
            ious.append(iou)
        bboxes = torch.cat(bboxes)
        if rescale:
            bboxes = bboxes / bboxes.new_tensor(img_meta['scale_factor'])
        return self._nms_and_vote(
            bboxes, torch.cat(scores), torch.cat(ious), cfg
        )

    def _nms_and_vote(self, bboxes, probs, ious, cfg):
        """(n, 4) boxes, (n, C) class probabilities and (n,) IoUs ->
        ``(dets (k, 5), labels (k,))``."""
        nms_scores = (probs * ious[:, None]).sqrt()
        padded = torch.cat(
            [nms_scores, nms_scores.new_zeros(len(bboxes), 1)], 1
        )
        dets, labels = multiclass_nms(
            bboxes, padded, cfg['score_thr'], cfg['nms'], cfg['max_per_img']
        )
        if self.with_score_voting and len(dets) > 0:
            dets, labels = self.score_voting(
                dets, labels, bboxes, nms_scores, cfg['score_thr']
            )
        return dets, labels

    def score_voting(
        self, det_bboxes, det_labels, mlvl_bboxes, mlvl_nms_scores, score_thr
    ):
        """Each detection's box -> the mean of the same-class candidates
        (score > ``score_thr``) overlapping it (IoU > 0.01), weighted by
        ``exp(-(1 - IoU)^2 / 0.025) * score``; its score is kept.

        Returns:
            tuple: ``(dets (k, 5), labels (k,))`` ordered by class, then by
            their order in the input.
        """
        box_inds, cand_labels = (mlvl_nms_scores > score_thr).nonzero(
            as_tuple=True
        )
        cand_boxes = mlvl_bboxes[box_inds]
        cand_scores = mlvl_nms_scores[box_inds, cand_labels]
        order = torch.sort(det_labels, stable=True).indices
        det_bboxes, det_labels = det_bboxes[order], det_labels[order]
        ious = bbox_overlaps(det_bboxes[:, :4], cand_boxes)
        weights = torch.exp(-((1 - ious) ** 2) / 0.025) * cand_scores
        same = det_labels[:, None] == cand_labels[None]
        weights = weights * (same & (ious > 0.01))
        voted = weights @ cand_boxes / weights.sum(1, keepdim=True)
        return torch.cat([voted, det_bboxes[:, 4:]], 1), det_labels
