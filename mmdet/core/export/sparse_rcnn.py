"""An export-friendly inference path of Sparse R-CNN and QueryInst,
computing what ``simple_test(..., rescale=True)`` computes for one image.

The graph runs the detector's own test code: the learned proposal boxes
scaled to ``img_shape`` (``EmbeddingRPNHead``), every stage of the RoI
head (RoI pooling per FPN level, put back in order by a permutation while
tracing: ``SingleRoIExtractor``; the dynamic instance interaction; box
refinement) and the ``max_per_img`` best (proposal, class) pairs of the
last stage (``SparseRoIHead.last_stage_dets``). There is no NMS. QueryInst
adds each detection's box-relative mask probabilities, which the ONNX
Runtime detector pastes as for Mask R-CNN.
"""

from torch import nn

from .detector import detection_output_names

# the RoI heads whose test path this module reproduces
SPARSE_ROI_HEADS = ('SparseRoIHead',)


class ExportableSparseRCNN(nn.Module):
    """Whole-detector inference of one image, traceable by
    ``torch.onnx.export``; inputs and outputs as
    :class:`ExportableTwoStageDetector`'s (``max_per_img`` detections;
    ``masks`` (n, h, w) for QueryInst).

    Args:
        model (SparseRCNN | QueryInst): in eval mode.
    """

    def __init__(self, model):
        super().__init__()
        name = type(model.roi_head).__name__
        if name not in SPARSE_ROI_HEADS:
            raise TypeError(f'{name} is not a Sparse R-CNN RoI head')
        self.model = model
        self.with_mask = model.roi_head.with_mask

    @property
    def output_names(self):
        return detection_output_names(self.with_mask)

    def forward(self, img, img_shape, scale_factor):
        meta = dict(img_shape=img_shape, scale_factor=scale_factor)
        feats = self.model.extract_feat(img)
        boxes, features, _ = self.model.rpn_head.simple_test_rpn(feats, [meta])
        roi_head = self.model.roi_head
        last, dets, labels, pairs = roi_head.last_stage_dets(
            feats, boxes, features, [meta], rescale=True
        )
        if not self.with_mask:
            return dets[0], labels[0]
        logits = roi_head.det_mask_logits(feats, last, pairs)[0]
        return dets[0], labels[0], logits.sigmoid()
