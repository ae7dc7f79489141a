"""Operations that behave the same in eager PyTorch and in an ONNX graph.

Each runs eagerly with torch / torchvision and, while ``torch.onnx.export``
traces it, is written as the matching ONNX operator, so a traced graph and
the eager module compute the same numbers.
"""

import torch
from torchvision.ops import nms as tv_nms

# max_output_boxes_per_class of NonMaxSuppression: "all of them"
NMS_MAX_OUTPUT = 2**31 - 1


class _NonMaxSuppression(torch.autograd.Function):
    """ONNX ``NonMaxSuppression`` (``center_point_box=0``).

    Args:
        boxes (Tensor): (B, N, 4) boxes ``x1, y1, x2, y2``.
        scores (Tensor): (B, C, N) scores.
        iou_threshold (float): suppress boxes overlapping a kept one by
            more than this IoU.
        score_threshold (float): consider only scores above it.

    Returns:
        Tensor: (K, 3) int64 ``[batch, class, box]`` of the kept boxes,
        per batch and class in descending score order.
    """

    @staticmethod
    def forward(ctx, boxes, scores, iou_threshold, score_threshold):
        selected = []
        for b in range(scores.size(0)):
            for c in range(scores.size(1)):
                cand = torch.nonzero(
                    scores[b, c] > score_threshold, as_tuple=True
                )[0]
                keep = cand[
                    tv_nms(boxes[b, cand], scores[b, c, cand], iou_threshold)
                ]
                index = torch.stack(
                    [torch.full_like(keep, b), torch.full_like(keep, c), keep],
                    dim=1,
                )
                selected.append(index)
        if not selected:
            return boxes.new_zeros((0, 3), dtype=torch.long)
        return torch.cat(selected)

    @staticmethod
    def symbolic(g, boxes, scores, iou_threshold, score_threshold):
        max_out = g.op(
            'Constant',
            value_t=torch.tensor([NMS_MAX_OUTPUT], dtype=torch.long),
        )
        iou = g.op(
            'Constant',
            value_t=torch.tensor([iou_threshold], dtype=torch.float),
        )
        score = g.op(
            'Constant',
            value_t=torch.tensor([score_threshold], dtype=torch.float),
        )
        return g.op('NonMaxSuppression', boxes, scores, max_out, iou, score)


def onnx_nms(boxes, scores, iou_threshold, score_threshold):
    """See :class:`_NonMaxSuppression`."""
    return _NonMaxSuppression.apply(
        boxes, scores, float(iou_threshold), float(score_threshold)
    )


def size_of(tensor, dim):
    """``tensor.size(dim)``, kept as a traced value during ONNX export (so
    that dynamic image sizes stay dynamic)."""
    if torch.onnx.is_in_onnx_export():
        return torch._shape_as_tensor(tensor)[dim]
    return tensor.size(dim)


def topk_at_most(values, k, dim=-1):
    """``values.topk(min(k, size))`` along ``dim``, sorted descending;
    ``k <= 0`` means all. Returns (values, indices)."""
    size = size_of(values, dim)
    if k <= 0:
        k = size
    elif torch.onnx.is_in_onnx_export():
        k = torch.clamp(size, max=k)
    else:
        k = min(k, size)
    return values.topk(k, dim=dim)


# ONNX's DeformConv (the same offsets, mask and groups as torchvision's
# deform_conv2d) exists from opset 19
DEFORM_CONV_OPSET = 19


def _deform_conv2d_symbolic(
    g,
    x,
    weight,
    offset,
    mask,
    bias,
    stride_h,
    stride_w,
    pad_h,
    pad_w,
    dil_h,
    dil_w,
    n_weight_grps,
    n_offset_grps,
    use_mask,
):
    """``torchvision::deform_conv2d`` as ONNX ``DeformConv``."""
    from torch.onnx import symbolic_helper as sym

    ints = [
        sym._get_const(v, 'i', name)
        for v, name in (
            (stride_h, 'stride_h'),
            (stride_w, 'stride_w'),
            (pad_h, 'pad_h'),
            (pad_w, 'pad_w'),
            (dil_h, 'dil_h'),
            (dil_w, 'dil_w'),
            (n_weight_grps, 'groups'),
            (n_offset_grps, 'offset_groups'),
        )
    ]
    sh, sw, ph, pw, dh, dw, groups, offset_groups = ints
    inputs = [x, weight, offset, bias]
    if sym._get_const(use_mask, 'b', 'use_mask'):
        inputs.append(mask)
    attrs = dict(
        dilations_i=[dh, dw],
        group_i=groups,
        offset_group_i=offset_groups,
        pads_i=[ph, pw, ph, pw],
        strides_i=[sh, sw],
    )
    kernel = (sym._get_tensor_sizes(weight) or [None] * 4)[2:]
    if None not in kernel:
        # else (a weight computed in the graph: TOOD's sampling) the
        # runtime reads it from the weight
        attrs['kernel_shape_i'] = kernel
    return g.op('DeformConv', *inputs, **attrs)


def register_onnx_symbolics():
    """Make ``torch.onnx.export`` write torchvision's ``deform_conv2d``
    (DCN, VFNet's star convolution, TOOD's deformable sampling) as ONNX
    ``DeformConv`` (opsets >= ``DEFORM_CONV_OPSET``). Idempotent."""
    torch.onnx.register_custom_op_symbolic(
        'torchvision::deform_conv2d',
        _deform_conv2d_symbolic,
        DEFORM_CONV_OPSET,
    )
