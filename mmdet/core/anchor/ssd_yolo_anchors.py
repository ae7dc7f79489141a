"""The anchor generators of SSD (and its MMDetection-1.x variant) and of
YOLOv3: per-level base anchors given by sizes rather than by a shared
set of scales, centred in the middle of the first cell."""

import numpy as np
import torch
from torch.nn.modules.utils import _pair

from mmdet.utils.arg_errors import InvalidArgumentError
from .anchor_generator import AnchorGenerator, LegacyAnchorGenerator
from .builder import PRIOR_GENERATORS

# (input_size, basesize_ratio_range[0]) -> the first level's (min, max)
# size in percent of the input: SSD keeps a smaller first level than the
# evenly spaced ratios would give.
_SSD_FIRST_LEVEL = {
    (300, 0.15): (7, 15),
    (300, 0.2): (10, 20),
    (512, 0.1): (4, 10),
    (512, 0.15): (7, 15),
}


def ssd_sizes(input_size, basesize_ratio_range, num_levels):
    """SSD's per-level (min_sizes, max_sizes) in pixels.

    Levels 2..L take evenly spaced percentages of ``input_size`` over
    ``basesize_ratio_range`` (integer percents and steps, as the paper's
    Caffe code); level 1 is fixed per (input size, range start).
    """
    first = _SSD_FIRST_LEVEL.get((input_size, basesize_ratio_range[0]))
    if first is None:
        raise InvalidArgumentError(
            'without min_sizes/max_sizes, SSDAnchorGenerator supports '
            'input_size 300 with basesize_ratio_range[0] 0.15 or 0.2 and '
            f'512 with 0.1 or 0.15, got {input_size} and '
            f'{basesize_ratio_range[0]}'
        )
    low, high = (int(r * 100) for r in basesize_ratio_range)
    step = int((high - low) / (num_levels - 2))
    percents = list(range(low, high + 1, step))
    min_sizes = [int(input_size * first[0] / 100)]
    max_sizes = [int(input_size * first[1] / 100)]
    min_sizes += [int(input_size * p / 100) for p in percents]
    max_sizes += [int(input_size * (p + step) / 100) for p in percents]
    return min_sizes, max_sizes


@PRIOR_GENERATORS.register_module()
class SSDAnchorGenerator(AnchorGenerator):
    """SSD's anchors: per level, a square of ``min_size``, a square of
    ``sqrt(min_size * max_size)``, then for every ratio ``r`` the boxes of
    ratio ``1/r`` and ``r`` (area ``min_size**2``), centred at half a
    stride.

    Args:
        strides (list[int] | list[tuple[int, int]]): stride of each level.
        ratios (list[list[float]]): the extra ratios of each level.
        min_sizes, max_sizes (list[float], optional): sizes of each level;
            derived from ``basesize_ratio_range`` and ``input_size`` when
            not given (both or neither).
        basesize_ratio_range (tuple[float, float]): range of the sizes as
            fractions of ``input_size``.
        input_size (int): 300 or 512 when the sizes are derived.
        scale_major (bool): see :class:`AnchorGenerator` (SSD uses False).
    """

    def __init__(
        self,
        strides,
        ratios,
        min_sizes=None,
        max_sizes=None,
        basesize_ratio_range=(0.15, 0.9),
        input_size=300,
        scale_major=True,
    ):
        if len(strides) != len(ratios):
            raise InvalidArgumentError(
                f'{len(ratios)} ratio lists given for {len(strides)} strides'
            )
        if (min_sizes is None) != (max_sizes is None):
            raise InvalidArgumentError(
                'give both min_sizes and max_sizes, or neither'
            )
        self.strides = [_pair(stride) for stride in strides]
        self.centers = [(s[0] / 2.0, s[1] / 2.0) for s in self.strides]
        self.input_size = input_size
        self.basesize_ratio_range = basesize_ratio_range
        if min_sizes is None:
            min_sizes, max_sizes = ssd_sizes(
                input_size, basesize_ratio_range, len(strides)
            )
        if not len(min_sizes) == len(max_sizes) == len(strides):
            raise InvalidArgumentError(
                f'{len(min_sizes)} min_sizes and {len(max_sizes)} max_sizes '
                f'given for {len(strides)} strides'
            )
        self.base_sizes = list(min_sizes)
        self.scales = [
            torch.Tensor([1.0, np.sqrt(hi / lo)])
            for lo, hi in zip(min_sizes, max_sizes)
        ]
        self.ratios = [
            torch.Tensor([1.0] + [x for r in level for x in (1 / r, r)])
            for level in ratios
        ]
        self.scale_major = scale_major
        self.center_offset = 0
        self.octave_base_scale = None
        self.scales_per_octave = None
        self.base_anchors = self.gen_base_anchors()

    def gen_base_anchors(self):
        """list[Tensor]: per level (R + 1, 4) base anchors: the ratio-1
        square of scale 1, that of scale ``sqrt(max/min)``, then the other
        ratios of scale 1 (needs ``scale_major=False``, as SSD sets)."""
        base_anchors = []
        for i, base_size in enumerate(self.base_sizes):
            anchors = self.gen_single_level_base_anchors(
                base_size,
                scales=self.scales[i],
                ratios=self.ratios[i],
                center=self.centers[i],
            )
            num_ratios = len(self.ratios[i])
            order = [0, num_ratios] + list(range(1, num_ratios))
            base_anchors.append(anchors[torch.LongTensor(order)])
        return base_anchors

    def __repr__(self):
        fields = [
            ('strides', self.strides),
            ('scales', self.scales),
            ('scale_major', self.scale_major),
            ('input_size', self.input_size),
            ('ratios', self.ratios),
            ('num_levels', self.num_levels),
            ('base_sizes', self.base_sizes),
            ('basesize_ratio_range', self.basesize_ratio_range),
        ]
        body = ''.join(f'    {name}={value},\n' for name, value in fields)
        return f'{self.__class__.__name__}(\n{body})'


@PRIOR_GENERATORS.register_module()
class LegacySSDAnchorGenerator(SSDAnchorGenerator, LegacyAnchorGenerator):
    """:class:`SSDAnchorGenerator` in MMDetection 1.x's pixel convention
    (see :class:`LegacyAnchorGenerator`): centres at ``(stride - 1) / 2``,
    sides one pixel shorter, rounded corners."""

    def __init__(
        self,
        strides,
        ratios,
        basesize_ratio_range,
        input_size=300,
        scale_major=True,
    ):
        super().__init__(
            strides=strides,
            ratios=ratios,
            basesize_ratio_range=basesize_ratio_range,
            input_size=input_size,
            scale_major=scale_major,
        )
        self.centers = [
            ((s[0] - 1) / 2.0, (s[0] - 1) / 2.0) for s in self.strides
        ]
        self.base_anchors = self.gen_base_anchors()


@PRIOR_GENERATORS.register_module()
class YOLOAnchorGenerator(AnchorGenerator):
    """YOLOv3's anchors: per level a list of ``(w, h)`` boxes centred at
    half a stride.

    Args:
        strides (list[int] | list[tuple[int, int]]): stride of each level.
        base_sizes (list[list[tuple[int, int]]]): the ``(w, h)`` of every
            anchor of each level; every level has as many.
    """

    def __init__(self, strides, base_sizes):
        self.strides = [_pair(stride) for stride in strides]
        self.centers = [(s[0] / 2.0, s[1] / 2.0) for s in self.strides]
        if len({len(level) for level in base_sizes}) > 1:
            raise InvalidArgumentError(
                'every level needs the same number of base sizes, got '
                f'{[len(level) for level in base_sizes]}'
            )
        self.base_sizes = [
            [_pair(size) for size in level] for level in base_sizes
        ]
        self.base_anchors = self.gen_base_anchors()

    @property
    def num_levels(self):
        """int: number of feature levels."""
        return len(self.base_sizes)

    def gen_base_anchors(self):
        """list[Tensor]: per level (A, 4) base anchors."""
        return [
            self.gen_single_level_base_anchors(sizes, center)
            for sizes, center in zip(self.base_sizes, self.centers)
        ]

    def gen_single_level_base_anchors(self, base_sizes_per_level, center):
        """(A, 4) boxes of sizes ``base_sizes_per_level`` ((w, h) each)
        around ``center`` (x, y)."""
        half = 0.5 * torch.Tensor(base_sizes_per_level)
        ctr = torch.Tensor(center)
        return torch.cat([ctr - half, ctr + half], dim=1)

    def responsible_flags(self, featmap_sizes, gt_bboxes, device='cuda'):
        """Per level (H * W * A,) uint8: 1 for the anchors of the cells
        that hold the centre of a box of ``gt_bboxes`` (n, 4)."""
        self._check_levels(featmap_sizes)
        return [
            self.single_level_responsible_flags(
                featmap_sizes[i],
                gt_bboxes,
                self.strides[i],
                self.num_base_priors[i],
                device=device,
            )
            for i in range(self.num_levels)
        ]

    def single_level_responsible_flags(
        self, featmap_size, gt_bboxes, stride, num_base_anchors, device='cuda'
    ):
        """(H * W * A,) uint8 flags of one level with ``stride`` (w, h)."""
        feat_h, feat_w = featmap_size
        ctr_x = ((gt_bboxes[:, 0] + gt_bboxes[:, 2]) * 0.5).to(device)
        ctr_y = ((gt_bboxes[:, 1] + gt_bboxes[:, 3]) * 0.5).to(device)
        cell_x = torch.floor(ctr_x / stride[0]).long()
        cell_y = torch.floor(ctr_y / stride[1]).long()
        grid = torch.zeros(feat_h * feat_w, dtype=torch.uint8, device=device)
        grid[cell_y * feat_w + cell_x] = 1
        return grid[:, None].expand(-1, num_base_anchors).reshape(-1)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(\n    strides={self.strides},\n'
            f'    base_sizes={self.base_sizes},\n)'
        )
