"""``SimpleRoIAlign`` (mmcv.ops, used by PointRend): one bilinear sample at
the centre of every bin, read with ``F.grid_sample``."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair


class SimpleRoIAlign(nn.Module):
    """RoI features from one sample per bin.

    Args:
        output_size (int | tuple[int]): (oh, ow).
        spatial_scale (float): feature pixels per input pixel.
        aligned (bool): pixel centres at +0.5 (``grid_sample`` with
            ``align_corners=False``); False: ``align_corners=True``.

    Zero padding outside the map (``grid_sample``'s). RoIs come out grouped
    by image, in image order, as mmcv's (``bbox2roi`` already orders them).
    """

    def __init__(self, output_size, spatial_scale, aligned=True):
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.use_torchvision = False
        self.aligned = aligned

    def forward(self, features, rois):
        """(K, C, oh, ow) features of ``rois`` (K, 5) from ``features``
        (B, C, H, W)."""
        out_h, out_w = self.output_size
        device = rois.device
        rel_y = (torch.arange(out_h, device=device) + 0.5) / out_h
        rel_x = (torch.arange(out_w, device=device) + 0.5) / out_w
        boxes = rois[:, 1:].to(features.dtype)
        x = boxes[:, 0, None] + rel_x * (boxes[:, 2] - boxes[:, 0])[:, None]
        y = boxes[:, 1, None] + rel_y * (boxes[:, 3] - boxes[:, 1])[:, None]
        height, width = features.shape[2:]
        # [0, 1] of the map (input pixels * scale / size), then [-1, 1]
        gx = x * self.spatial_scale / width * 2 - 1
        gy = y * self.spatial_scale / height * 2 - 1
        grid = torch.stack(
            [
                gx[:, None, :].expand(-1, out_h, -1),
                gy[:, :, None].expand(-1, -1, out_w),
            ],
            dim=-1,
        )  # (K, oh, ow, 2)
        outs = []
        for batch in range(features.size(0)):
            idx = rois[:, 0].long() == batch
            if idx.any():
                sampled = F.grid_sample(
                    features[batch : batch + 1],
                    grid[idx].reshape(1, -1, out_w, 2),
                    align_corners=not self.aligned,
                )
                outs.append(
                    sampled[0]
                    .view(-1, int(idx.sum()), out_h, out_w)
                    .transpose(0, 1)
                )
        if not outs:
            return features.new_zeros(0, features.size(1), out_h, out_w)
        return torch.cat(outs)
