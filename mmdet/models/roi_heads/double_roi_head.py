"""Double-Head R-CNN's RoI head: the regression branch pools enlarged
RoIs."""

from ..builder import HEADS
from .standard_roi_head import StandardRoIHead


@HEADS.register_module()
class DoubleHeadRoIHead(StandardRoIHead):
    """A :class:`StandardRoIHead` whose box head takes two RoI features:
    the RoIs as they are (classification) and scaled about their centres
    by ``reg_roi_scale_factor`` (regression).

    Args:
        reg_roi_scale_factor (float): RoI enlargement of the regression
            branch (1.3 in MMDetection's config).
        **kwargs: :class:`StandardRoIHead` arguments.
    """

    def __init__(self, reg_roi_scale_factor, **kwargs):
        super().__init__(**kwargs)
        self.reg_roi_scale_factor = reg_roi_scale_factor

    def _bbox_forward(self, x, rois):
        """Scores, deltas and classification RoI features of (K, 5)
        ``rois``."""
        feats = x[: self.bbox_roi_extractor.num_inputs]
        cls_feats = self.bbox_roi_extractor(feats, rois)
        reg_feats = self.bbox_roi_extractor(
            feats, rois, roi_scale_factor=self.reg_roi_scale_factor
        )
        if self.with_shared_head:
            cls_feats = self.shared_head(cls_feats)
            reg_feats = self.shared_head(reg_feats)
        cls_score, bbox_pred = self.bbox_head(cls_feats, reg_feats)
        return dict(
            cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=cls_feats
        )
