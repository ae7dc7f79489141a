"""Max-IoU assignment of squares through their approximating anchors
(Guided Anchoring)."""

from ..builder import BBOX_ASSIGNERS
from .max_iou_assigner import MaxIoUAssigner


@BBOX_ASSIGNERS.register_module()
class ApproxMaxIoUAssigner(MaxIoUAssigner):
    """:class:`MaxIoUAssigner` where a square's IoU with a gt is the best
    IoU among its ``approxs_per_octave`` approximating anchors. Same
    arguments as :class:`MaxIoUAssigner`."""

    def assign(
        self,
        approxs,
        squares,
        approxs_per_octave,
        gt_bboxes,
        gt_bboxes_ignore=None,
        gt_labels=None,
    ):
        """Approxs (S * A, 4) grouped per square, squares (S, 4), gt boxes
        (G, 4) -> :class:`AssignResult` over the S squares."""
        num_squares, num_gts = squares.size(0), gt_bboxes.size(0)
        if num_squares == 0 or num_gts == 0:
            overlaps = approxs.new_zeros((num_gts, num_squares))
            return self.assign_wrt_overlaps(overlaps, gt_labels)
        on_cpu = 0 < self.gpu_assign_thr < num_gts
        device = approxs.device
        if on_cpu:
            approxs, squares, gt_bboxes = (
                t.cpu() for t in (approxs, squares, gt_bboxes)
            )
            if gt_bboxes_ignore is not None:
                gt_bboxes_ignore = gt_bboxes_ignore.cpu()
            if gt_labels is not None:
                gt_labels = gt_labels.cpu()
        overlaps = self.iou_calculator(approxs.reshape(-1, 4), gt_bboxes)
        overlaps = overlaps.view(num_squares, approxs_per_octave, num_gts)
        overlaps = overlaps.max(dim=1).values.t()
        if (
            self.ignore_iof_thr > 0
            and gt_bboxes_ignore is not None
            and gt_bboxes_ignore.numel() > 0
        ):
            overlaps[:, self._ignored_mask(squares, gt_bboxes_ignore)] = -1
        result = self.assign_wrt_overlaps(overlaps, gt_labels)
        if on_cpu:
            result.gt_inds = result.gt_inds.to(device)
            result.max_overlaps = result.max_overlaps.to(device)
            if result.labels is not None:
                result.labels = result.labels.to(device)
        return result


@BBOX_ASSIGNERS.register_module()
class AscendMaxIoUAssigner(MaxIoUAssigner):
    """The name MMDetection 2.28 gives its Ascend-NPU max-IoU assigner;
    here it assigns one image at a time exactly as
    :class:`MaxIoUAssigner` (same arguments). The batched
    ``AscendAssignResult`` interface is not provided."""
