"""An export-friendly inference path of a single-stage detector (RetinaNet,
FCOS, ATSS, ...), computing what ``simple_test(..., rescale=True)``
computes for one image.

It runs the head's own test-time code (``get_bboxes`` without NMS: the
per-level ``nms_pre`` selection above ``score_thr``, decoding, score
factors such as centerness), which traces into ONNX as it is, and replaces
only the final class-wise NMS with ONNX's ``NonMaxSuppression`` (boxes
shifted by class as ``batched_nms`` shifts them). Only heads checked to
trace correctly are accepted: another head is refused by name.
"""

from torch import nn

from .nms import class_wise_dets, nms_iou

# dense heads whose test path (get_bboxes without NMS) traces correctly,
# each checked against PyTorch in tests/test_deploy
EXPORTABLE_DENSE_HEADS = (
    'RetinaHead',
    'FCOSHead',
    'ATSSHead',
    'GFLHead',
    'VFNetHead',
    'TOODHead',
    'YOLOFHead',
    'YOLOXHead',
    'FSAFHead',
    'FreeAnchorRetinaHead',
    'AutoAssignHead',
    'FoveaHead',
    'DDODHead',
    'RepPointsHead',
    'SABLRetinaHead',
    'GARetinaHead',
)
# heads whose eager test keeps every NMS survivor (no max_per_img)
KEEP_ALL_AFTER_NMS = ('YOLOXHead',)


def check_exportable_dense_head(model):
    """Refuse, by name, a single-stage detector whose head is not one of
    ``EXPORTABLE_DENSE_HEADS``."""
    head = getattr(model, 'bbox_head', None)
    name = type(head).__name__
    if head is None or name not in EXPORTABLE_DENSE_HEADS:
        what = f'with {name}' if head is not None else 'without a bbox_head'
        raise NotImplementedError(
            f'{type(model).__name__} {what} cannot be exported to ONNX yet: '
            f'the single-stage heads that export are '
            f'{", ".join(EXPORTABLE_DENSE_HEADS)}'
        )


class ExportableSingleStageDetector(nn.Module):
    """Whole-detector inference of one image, traceable by
    ``torch.onnx.export``; inputs and the ``dets`` / ``labels`` outputs
    as :class:`ExportableTwoStageDetector`'s.

    Args:
        model (SingleStageDetector): in eval mode, with a head of
            ``EXPORTABLE_DENSE_HEADS``.
    """

    output_names = ['dets', 'labels']

    def __init__(self, model):
        super().__init__()
        check_exportable_dense_head(model)
        self.model = model
        cfg = model.bbox_head.test_cfg
        self.iou = nms_iou(cfg['nms'], 'test_cfg')
        if type(model.bbox_head).__name__ in KEEP_ALL_AFTER_NMS:
            self.max_per_img = -1
        else:
            self.max_per_img = int(cfg['max_per_img'])

    def forward(self, img, img_shape, scale_factor):
        head = self.model.bbox_head
        outs = head(self.model.extract_feat(img))
        meta = dict(img_shape=img_shape, scale_factor=scale_factor)
        boxes, scores, labels = head.get_bboxes(
            *outs, img_metas=[meta], rescale=False, with_nms=False
        )[0]
        return class_wise_dets(
            boxes / scale_factor, scores, labels, self.iou, self.max_per_img
        )
