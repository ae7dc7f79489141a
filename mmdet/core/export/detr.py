"""An export-friendly inference path of DETR and Deformable DETR, computing
what ``simple_test(..., rescale=True)`` computes for one image.

The graph runs the head as it is: the padding mask of the image (computed
from the ``img_shape`` input, not written), the positional encoding, the
transformer (Deformable DETR: its levels' sizes, start indices and
reference points computed from the traced sizes, the sampling as
``GridSample``), and the ``max_per_img`` best (query, class) pairs with
their boxes scaled to ``img_shape``, clipped and divided by
``scale_factor``. There is no NMS. Only heads checked to trace correctly
are accepted: another query-based head is refused by name.
"""

from torch import nn

from .ops import size_of

# query-based heads whose test path traces correctly, each checked
# against PyTorch in tests/test_deploy
EXPORTABLE_QUERY_HEADS = ('DETRHead', 'DeformableDETRHead')


def check_exportable_query_head(model):
    """Refuse, by name, a DETR-style detector whose head is not one of
    ``EXPORTABLE_QUERY_HEADS``."""
    name = type(model.bbox_head).__name__
    if name not in EXPORTABLE_QUERY_HEADS:
        raise NotImplementedError(
            f'{type(model).__name__} with {name} cannot be exported to ONNX '
            'yet: the query-based heads that export are '
            f'{", ".join(EXPORTABLE_QUERY_HEADS)}'
        )


class ExportableDETR(nn.Module):
    """Whole-detector inference of one image, traceable by
    ``torch.onnx.export``; inputs and the ``dets`` / ``labels`` outputs
    as :class:`ExportableTwoStageDetector`'s (``max_per_img`` detections,
    descending by score).

    Args:
        model (DETR | DeformableDETR): in eval mode, with a head of
            ``EXPORTABLE_QUERY_HEADS``.
    """

    output_names = ['dets', 'labels']

    def __init__(self, model):
        super().__init__()
        check_exportable_query_head(model)
        self.model = model

    def forward(self, img, img_shape, scale_factor):
        meta = dict(
            img_shape=img_shape,
            scale_factor=scale_factor,
            # one image: the batch is the image itself, unpadded by the
            # batching (the pipeline's own padding is outside img_shape)
            batch_input_shape=(size_of(img, 2), size_of(img, 3)),
        )
        feats = self.model.extract_feat(img)
        return self.model.bbox_head.simple_test_bboxes(
            feats, [meta], rescale=True
        )[0]
