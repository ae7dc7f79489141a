"""An export-friendly inference path of a box-free instance segmentor (SOLO,
Decoupled SOLO, SOLOv2), computing what ``simple_test(..., rescale=True)``
computes for one image up to the last resizing of its masks.

The graph runs the mask head's own test code: class scores above
``score_thr``, the candidates' masks (Decoupled SOLO: the product of their
x and y masks; SOLOv2: their dynamic kernels on the shared mask features),
the maskness rescoring and matrix NMS, which trace into ONNX as they are.
It stops before the masks are resized: its ``masks`` output holds the kept
candidates' probabilities at the head's mask stride (1/4 of the padded
input), and :func:`mmdet.core.mask.upsample_masks` turns them into the
original image's binary masks outside the graph (a (k, H, W) output at the
original size would be 16x larger).
"""

import torch
from torch import nn

# mask heads whose test path (get_results without upsampling) traces
# correctly, each checked against PyTorch in tests/test_deploy
EXPORTABLE_MASK_HEADS = (
    'SOLOHead',
    'DecoupledSOLOHead',
    'DecoupledSOLOLightHead',
    'SOLOV2Head',
)


def check_exportable_mask_head(model):
    """Refuse, by name, a box-free segmentor whose mask head is not one of
    ``EXPORTABLE_MASK_HEADS`` (or that also has a box head)."""
    name = type(model.mask_head).__name__
    if name not in EXPORTABLE_MASK_HEADS or model.bbox_head is not None:
        what = name if model.bbox_head is None else 'a bbox_head'
        raise NotImplementedError(
            f'{type(model).__name__} with {what} cannot be exported to '
            'ONNX yet: the box-free mask heads that export are '
            f'{", ".join(EXPORTABLE_MASK_HEADS)}'
        )


class ExportableSOLO(nn.Module):
    """Whole-segmentor inference of one image, traceable by
    ``torch.onnx.export``.

    Args:
        model (SingleStageInstanceSegmentor): in eval mode, with a mask head
            of ``EXPORTABLE_MASK_HEADS`` and no box head.

    Inputs of :meth:`forward`: ``img`` (1, 3, H, W), as
    :class:`ExportableTwoStageDetector`'s (the graph reads no other).

    Outputs:
        dets (Tensor): (n, 5) zero boxes (the head predicts none) and the
            scores, descending.
        labels (Tensor): (n,) int64 classes.
        masks (Tensor): (n, H / s, W / s) mask probabilities of the padded
            input at ``mask_stride`` s.
    """

    output_names = ['dets', 'labels', 'masks']

    def __init__(self, model):
        super().__init__()
        check_exportable_mask_head(model)
        self.model = model

    def metadata(self):
        """What ONNX Runtime needs beside the graph to make the masks:
        the ``masks`` output's stride in the padded input and the head's
        ``mask_thr`` (strings, for the file's metadata)."""
        head = self.model.mask_head
        return dict(
            mask_stride=str(head.mask_stride),
            mask_thr=str(float(head.test_cfg.mask_thr)),
        )

    def forward(self, img, img_shape=None, scale_factor=None):
        head = self.model.mask_head
        outs = head(self.model.extract_feat(img))
        result = head.get_results(*outs, img_metas=[{}], upsample=False)[0]
        scores = result['scores']
        boxes = torch.zeros_like(scores)[:, None].expand(-1, 4)
        dets = torch.cat([boxes, scores[:, None]], dim=1)
        return dets, result['labels'], result['mask_probs']
