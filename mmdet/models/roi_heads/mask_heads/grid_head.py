"""Grid R-CNN's grid head (Lu et al., 2019, with Grid R-CNN Plus's
half-size heatmaps): per RoI, one heatmap per grid point of the box; the
boxes are re-located from the heatmaps' peaks."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule

from mmdet.models.builder import HEADS, build_loss
from mmdet.utils.arg_errors import check_arg


def _transition(channels):
    """Message from a neighbour point: 5x5 depth-wise conv, then 1x1."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 5, 1, 2, groups=channels),
        nn.Conv2d(channels, channels, 1),
    )


def grid_neighbors(grid_size):
    """4-neighbours of each point ``i = x_idx * grid_size + y_idx``, in the
    order left, up, down, right."""
    neighbors = []
    for xi in range(grid_size):
        for yi in range(grid_size):
            cand = [
                (xi > 0, (xi - 1) * grid_size + yi),
                (yi > 0, xi * grid_size + yi - 1),
                (yi < grid_size - 1, xi * grid_size + yi + 1),
                (xi < grid_size - 1, (xi + 1) * grid_size + yi),
            ]
            neighbors.append(tuple(idx for ok, idx in cand if ok))
    return neighbors


def _sub_region_start(idx, grid_size, whole, half):
    if idx == 0:
        return 0
    if idx == grid_size - 1:
        return half
    return max(int((idx / (grid_size - 1) - 0.25) * whole), 0)


@HEADS.register_module()
class GridHead(BaseModule):
    """(K, C, S, S) RoI features -> heatmaps ``dict(fused, unfused)``, each
    (K, grid_points, 2S, 2S) logits.

    Point ``i`` sits at column ``i // g``, row ``i % g`` of the ``g x g``
    grid over the box; its heatmap covers its own half-size window
    (``sub_regions``) of the 4S x 4S map of the box expanded 2x.

    Args:
        grid_points (int): a square >= 4.
        num_convs (int): 3x3 convs (the first of stride 2).
        roi_feat_size (int): S.
        in_channels (int): C.
        conv_kernel_size (int): of the convs.
        point_feat_channels (int): channels per grid point.
        deconv_kernel_size (int): of the two 2x deconvs.
        class_agnostic (bool): kept for config compatibility.
        loss_grid (dict): per-pixel loss of the heatmaps.
        conv_cfg, norm_cfg (dict): of the convs.
        init_cfg (list[dict]): initialization.
    """

    def __init__(
        self,
        grid_points=9,
        num_convs=8,
        roi_feat_size=14,
        in_channels=256,
        conv_kernel_size=3,
        point_feat_channels=64,
        deconv_kernel_size=4,
        class_agnostic=False,
        loss_grid=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=15
        ),
        conv_cfg=None,
        norm_cfg=dict(type='GN', num_groups=36),
        init_cfg=[
            dict(type='Kaiming', layer=['Conv2d', 'Linear']),
            dict(
                type='Normal',
                layer='ConvTranspose2d',
                std=0.001,
                override=dict(
                    type='Normal',
                    name='deconv2',
                    std=0.001,
                    bias=-np.log(0.99 / 0.01),
                ),
            ),
        ],
    ):
        super().__init__(init_cfg)
        self.grid_points = grid_points
        self.num_convs = num_convs
        self.roi_feat_size = roi_feat_size
        self.in_channels = in_channels
        self.conv_kernel_size = conv_kernel_size
        self.point_feat_channels = point_feat_channels
        self.conv_out_channels = point_feat_channels * grid_points
        self.class_agnostic = class_agnostic
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self._check_args()
        self.grid_size = int(np.sqrt(grid_points))
        self.whole_map_size = roi_feat_size * 4
        self.sub_regions = self.calc_sub_regions()
        self.convs = nn.Sequential(*self._build_convs())
        self._build_deconvs(deconv_kernel_size)
        self.neighbor_points = grid_neighbors(self.grid_size)
        self.num_edges = sum(len(p) for p in self.neighbor_points)
        c = point_feat_channels
        self.forder_trans = nn.ModuleList(
            nn.ModuleList(_transition(c) for _ in p)
            for p in self.neighbor_points
        )
        self.sorder_trans = nn.ModuleList(
            nn.ModuleList(_transition(c) for _ in p)
            for p in self.neighbor_points
        )
        self.loss_grid = build_loss(loss_grid)

    def _check_args(self):
        g = int(np.sqrt(self.grid_points))
        check_arg(
            self.grid_points >= 4 and g * g == self.grid_points,
            'GridHead',
            f'grid_points must be a square >= 4, got {self.grid_points}',
        )
        check_arg(
            isinstance(self.roi_feat_size, int),
            'GridHead',
            'roi_feat_size must be an int (square RoIs only)',
        )
        if isinstance(self.norm_cfg, dict) and self.norm_cfg['type'] == 'GN':
            check_arg(
                self.conv_out_channels % self.norm_cfg['num_groups'] == 0,
                'GridHead',
                f'{self.conv_out_channels} channels do not split into '
                f'{self.norm_cfg["num_groups"]} GN groups',
            )

    def _build_convs(self):
        return [
            ConvModule(
                self.in_channels if i == 0 else self.conv_out_channels,
                self.conv_out_channels,
                self.conv_kernel_size,
                stride=2 if i == 0 else 1,
                padding=(self.conv_kernel_size - 1) // 2,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                bias=True,
            )
            for i in range(self.num_convs)
        ]

    def _build_deconvs(self, kernel):
        channels, points = self.conv_out_channels, self.grid_points
        pad = (kernel - 2) // 2
        self.deconv1 = nn.ConvTranspose2d(
            channels, channels, kernel, 2, pad, groups=points
        )
        self.norm1 = nn.GroupNorm(points, channels)
        self.deconv2 = nn.ConvTranspose2d(
            channels, points, kernel, 2, pad, groups=points
        )

    def calc_sub_regions(self):
        """Per point ``(x1, y1, x2, y2)`` window of the whole map, of side
        ``whole // 4 * 2`` (Grid R-CNN Plus)."""
        whole = self.whole_map_size
        half = whole // 4 * 2
        regions = []
        for i in range(self.grid_points):
            x1 = _sub_region_start(
                i // self.grid_size, self.grid_size, whole, half
            )
            y1 = _sub_region_start(
                i % self.grid_size, self.grid_size, whole, half
            )
            regions.append((x1, y1, x1 + half, y1 + half))
        return regions

    # ------------------------------------------------------------ forward
    def _heatmap(self, x):
        x = F.relu(self.norm1(self.deconv1(x)), inplace=True)
        return self.deconv2(x)

    def _fuse(self, feats, trans):
        """Each point's features plus its neighbours' transitions."""
        return [
            feats[i] + sum(t(feats[j]) for t, j in zip(trans[i], nbrs))
            for i, nbrs in enumerate(self.neighbor_points)
        ]

    def forward(self, x):
        check_arg(
            x.shape[-1] == x.shape[-2] == self.roi_feat_size,
            'GridHead',
            f'expects {self.roi_feat_size}x{self.roi_feat_size} RoI '
            f'features, got {tuple(x.shape[-2:])}',
        )
        x = self.convs(x)
        points = list(x.split(self.point_feat_channels, dim=1))
        first = self._fuse(points, self.forder_trans)
        # second order: own features plus neighbours' first-order fusions
        second = [
            points[i]
            + sum(t(first[j]) for t, j in zip(self.sorder_trans[i], nbrs))
            for i, nbrs in enumerate(self.neighbor_points)
        ]
        fused = self._heatmap(torch.cat(second, dim=1))
        # the unfused map only adds a training signal
        unfused = self._heatmap(x) if self.training else fused
        return dict(fused=fused, unfused=unfused)

    # ------------------------------------------------------------ targets
    def _point_factors(self, device):
        """(P,) weights of x1 and y1 in each point's position."""
        g = self.grid_size
        fx = [1 - (i // g) / (g - 1) for i in range(self.grid_points)]
        fy = [1 - (i % g) / (g - 1) for i in range(self.grid_points)]
        t = torch.tensor
        return (
            t(fx, device=device),
            t([1 - f for f in fx], device=device),
            t(fy, device=device),
            t([1 - f for f in fy], device=device),
        )

    def get_targets(self, sampling_results, rcnn_train_cfg):
        """(P_pos, grid_points, 2S, 2S) 0/1 heatmaps: a disc of radius
        ``pos_radius`` (whole-map pixels) around each gt grid point, within
        the 2x-expanded positive box; none for boxes of expanded side
        <= grid_size."""
        boxes = torch.cat([r.pos_bboxes for r in sampling_results]).float()
        gts = torch.cat([r.pos_gt_bboxes for r in sampling_results]).float()
        size = boxes[:, 2:] - boxes[:, :2]
        expanded = torch.cat(
            [boxes[:, :2] - size / 2, boxes[:, 2:] + size / 2], 1
        )
        ws = expanded[:, 2:3] - expanded[:, 0:1]
        hs = expanded[:, 3:4] - expanded[:, 1:2]
        fx, fx2, fy, fy2 = self._point_factors(boxes.device)
        px = fx * gts[:, 0:1] + fx2 * gts[:, 2:3]
        py = fy * gts[:, 1:2] + fy2 * gts[:, 3:4]
        whole = self.whole_map_size
        cx = torch.trunc((px - expanded[:, 0:1]) / ws * whole)
        cy = torch.trunc((py - expanded[:, 1:2]) / hs * whole)
        return self._disc_targets(
            cx,
            cy,
            (ws > self.grid_size) & (hs > self.grid_size),
            rcnn_train_cfg['pos_radius'],
        )

    def _disc_targets(self, cx, cy, valid, radius):
        """Discs around (N, P) centres, cut to each point's window."""
        half = self.whole_map_size // 4 * 2
        offsets = torch.tensor(self.sub_regions, device=cx.device)[:, :2]
        coords = torch.arange(half, device=cx.device, dtype=cx.dtype)
        dx = (
            coords[None, None, None, :]
            + offsets[None, :, 0, None, None]
            - cx[..., None, None]
        )
        dy = (
            coords[None, None, :, None]
            + offsets[None, :, 1, None, None]
            - cy[..., None, None]
        )
        inside = dx.pow(2) + dy.pow(2) <= radius**2
        return (inside & valid[..., None, None]).float()

    def loss(self, grid_pred, grid_targets):
        """``loss_grid``: the loss of the fused plus the unfused maps."""
        fused = self.loss_grid(grid_pred['fused'], grid_targets)
        unfused = self.loss_grid(grid_pred['unfused'], grid_targets)
        return dict(loss_grid=fused + unfused)

    # ------------------------------------------------------------ decoding
    def _boundary_inds(self):
        """Points on the x1, y1, x2, y2 sides of the grid."""
        g, p = self.grid_size, self.grid_points
        return (
            list(range(g)),
            [i * g for i in range(g)],
            [p - g + i for i in range(g)],
            [(i + 1) * g - 1 for i in range(g)],
        )

    def get_bboxes(self, det_bboxes, grid_pred, img_metas):
        """(R, 5) detections and their (R, P, 2S, 2S) fused heatmap logits
        -> (R, 5) boxes: each side the score-weighted mean of its points'
        peak positions (input-image pixels), then the detection score.

        MMDetection 2.28 clamps a copy, so the boxes are not clipped to the
        image; ``img_metas`` is kept for its signature.
        """
        rois, n_points = grid_pred.shape[:2]
        h, w = grid_pred.shape[2:]
        check_arg(
            n_points == self.grid_points
            and h == w == self.whole_map_size // 4 * 2,
            'GridHead.get_bboxes',
            f'unexpected heatmaps {tuple(grid_pred.shape)}',
        )
        scores, pos = grid_pred.sigmoid().flatten(2).max(dim=2)
        offsets = torch.tensor(self.sub_regions, device=pos.device)
        xs = pos % w + offsets[:, 0]
        ys = torch.div(pos, w, rounding_mode='floor') + offsets[:, 1]
        boxes = det_bboxes[:, :4]
        widths = (boxes[:, 2] - boxes[:, 0])[:, None]
        heights = (boxes[:, 3] - boxes[:, 1])[:, None]
        abs_x = (xs.float() + 0.5) / w * widths + (boxes[:, 0:1] - widths / 2)
        abs_y = (ys.float() + 0.5) / h * heights + (
            boxes[:, 1:2] - heights / 2
        )
        sides = []
        for coords, inds in zip(
            (abs_x, abs_y, abs_x, abs_y), self._boundary_inds()
        ):
            weight = scores[:, inds]
            sides.append(
                (coords[:, inds] * weight).sum(1, keepdim=True)
                / weight.sum(1, keepdim=True)
            )
        return torch.cat(sides + [det_bboxes[:, 4:5]], dim=1)
