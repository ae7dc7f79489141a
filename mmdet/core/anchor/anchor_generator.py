"""Anchors of a feature pyramid, the way MMDetection 2.x lays them out.

An anchor generator owns a small set of *base anchors* per level, centred
at ``center_offset * stride`` (the top-left corner of cell (0, 0) by
default), and shifts them to every cell of a feature map. Anchors are
ordered position by position (row-major over ``(y, x)``), and within a
position in the order of the base anchors, so that output channel ``a`` of
a dense head predicts base anchor ``a``.
"""

import warnings

import numpy as np
import torch
from torch.nn.modules.utils import _pair

from mmdet.utils.arg_errors import InvalidArgumentError
from .builder import PRIOR_GENERATORS
from .level_grid import LevelGridMixin


@PRIOR_GENERATORS.register_module()
class AnchorGenerator(LevelGridMixin):
    """Standard anchor generator for 2D anchor-based detectors.

    Args:
        strides (list[int] | list[tuple[int, int]]): stride of every
            level, an int or ``(stride_w, stride_h)``.
        ratios (list[float]): height / width ratios of the anchors.
        scales (list[float], optional): anchor sizes relative to the base
            size. Mutually exclusive with ``octave_base_scale``.
        base_sizes (list[int], optional): base size of every level; the
            smaller side of the stride by default.
        scale_major (bool): order of the base anchors within a position.
            True: ratio-major, i.e. for every ratio all its scales
            (``[r0s0, r0s1, ..., r1s0, ...]``); False: for every scale all
            ratios. Both are the same when there is one scale.
        octave_base_scale (float, optional): with ``scales_per_octave``,
            scales ``octave_base_scale * 2**(i / scales_per_octave)``.
        scales_per_octave (int, optional): see ``octave_base_scale``.
        centers (list[tuple[float, float]], optional): the ``(x, y)``
            centre of the base anchors of every level; overrides
            ``center_offset``.
        center_offset (float): centre of the base anchors as a fraction of
            the base size, in [0, 1].

    Example:
        >>> gen = AnchorGenerator([16], [1.], [1.], [9])
        >>> gen.grid_priors([(2, 2)], device='cpu')
        [tensor([[-4.5000, -4.5000,  4.5000,  4.5000],
                [11.5000, -4.5000, 20.5000,  4.5000],
                [-4.5000, 11.5000,  4.5000, 20.5000],
                [11.5000, 11.5000, 20.5000, 20.5000]])]
    """

    prior_kind = 'anchor'

    def __init__(
        self,
        strides,
        ratios,
        scales=None,
        base_sizes=None,
        scale_major=True,
        octave_base_scale=None,
        scales_per_octave=None,
        centers=None,
        center_offset=0.0,
    ):
        if centers is not None:
            if center_offset != 0:
                raise InvalidArgumentError(
                    'center_offset must be 0 when centers are '
                    f'given, got {center_offset}'
                )
            if len(centers) != len(strides):
                raise InvalidArgumentError(
                    f'{len(centers)} centers given for {len(strides)} strides'
                )
        if not 0 <= center_offset <= 1:
            raise InvalidArgumentError(
                f'center_offset must be in [0, 1], got {center_offset}'
            )
        self.strides = [_pair(stride) for stride in strides]
        self.base_sizes = (
            [min(stride) for stride in self.strides]
            if base_sizes is None
            else list(base_sizes)
        )
        if len(self.base_sizes) != len(self.strides):
            raise InvalidArgumentError(
                f'{len(self.base_sizes)} base_sizes given for '
                f'{len(self.strides)} strides'
            )

        use_octave = (
            octave_base_scale is not None and scales_per_octave is not None
        )
        if use_octave == (scales is not None):
            raise InvalidArgumentError(
                'give either scales, or octave_base_scale '
                'with scales_per_octave, not both or neither'
            )
        if use_octave:
            octave_scales = np.array(
                [
                    2 ** (i / scales_per_octave)
                    for i in range(scales_per_octave)
                ]
            )
            scales = octave_scales * octave_base_scale
        self.scales = torch.Tensor(np.asarray(scales, dtype=np.float64))
        self.octave_base_scale = octave_base_scale
        self.scales_per_octave = scales_per_octave
        self.ratios = torch.Tensor(np.asarray(ratios, dtype=np.float64))
        self.scale_major = scale_major
        self.centers = centers
        self.center_offset = center_offset
        self.base_anchors = self.gen_base_anchors()

    # ------------------------------------------------------------ shape
    @property
    def num_levels(self):
        """int: number of feature levels."""
        return len(self.strides)

    @property
    def num_base_priors(self):
        """list[int]: number of anchors at one position of every level."""
        return [anchors.size(0) for anchors in self.base_anchors]

    @property
    def num_base_anchors(self):
        """list[int]: the same as :attr:`num_base_priors`."""
        return self.num_base_priors

    # ----------------------------------------------------- base anchors
    def gen_base_anchors(self):
        """list[Tensor]: the (A, 4) base anchors of every level."""
        return [
            self.gen_single_level_base_anchors(
                base_size,
                scales=self.scales,
                ratios=self.ratios,
                center=None if self.centers is None else self.centers[i],
            )
            for i, base_size in enumerate(self.base_sizes)
        ]

    def gen_single_level_base_anchors(
        self, base_size, scales, ratios, center=None
    ):
        """The base anchors of one level.

        Args:
            base_size (int | float): side of the square anchor of scale 1.
            scales (Tensor): (S,) scales.
            ratios (Tensor): (R,) height / width ratios.
            center (tuple[float], optional): ``(x, y)`` centre; by default
                ``center_offset * base_size`` on both axes.

        Returns:
            Tensor: (R * S, 4) anchors ``x1, y1, x2, y2`` around the centre.
        """
        if center is None:
            center = (
                self.center_offset * base_size,
                self.center_offset * base_size,
            )
        x_center, y_center = center
        h_ratios = torch.sqrt(ratios)
        w_ratios = 1 / h_ratios
        if self.scale_major:
            ws = (base_size * w_ratios[:, None] * scales[None, :]).view(-1)
            hs = (base_size * h_ratios[:, None] * scales[None, :]).view(-1)
        else:
            ws = (base_size * scales[:, None] * w_ratios[None, :]).view(-1)
            hs = (base_size * scales[:, None] * h_ratios[None, :]).view(-1)
        return torch.stack(
            [
                x_center - 0.5 * ws,
                y_center - 0.5 * hs,
                x_center + 0.5 * ws,
                y_center + 0.5 * hs,
            ],
            dim=-1,
        )

    # ------------------------------------------------------------ grids
    def grid_priors(self, featmap_sizes, dtype=torch.float32, device='cuda'):
        """The anchors of every level.

        Args:
            featmap_sizes (list[tuple[int, int]]): (H, W) of every level.
            dtype (torch.dtype): dtype of the anchors.
            device (str | torch.device): where to put them.

        Returns:
            list[Tensor]: per level (H * W * A, 4) anchors ``x1, y1, x2,
            y2`` in input-image pixels, position-major (row-major over the
            map), base anchor within a position.
        """
        self._check_levels(featmap_sizes)
        return [
            self.single_level_grid_priors(
                featmap_sizes[i], level_idx=i, dtype=dtype, device=device
            )
            for i in range(self.num_levels)
        ]

    def single_level_grid_priors(
        self, featmap_size, level_idx, dtype=torch.float32, device='cuda'
    ):
        """The (H * W * A, 4) anchors of one level of size ``(H, W)``."""
        base_anchors = self.base_anchors[level_idx].to(device).to(dtype)
        feat_h, feat_w = featmap_size
        stride_w, stride_h = self.strides[level_idx]
        shift_x = torch.arange(0, feat_w, device=device).to(dtype) * stride_w
        shift_y = torch.arange(0, feat_h, device=device).to(dtype) * stride_h
        shift_xx, shift_yy = self._meshgrid(shift_x, shift_y)
        shifts = torch.stack([shift_xx, shift_yy, shift_xx, shift_yy], dim=-1)
        # (positions, 1, 4) + (1, A, 4): position-major, anchor-minor
        return (shifts[:, None, :] + base_anchors[None, :, :]).view(-1, 4)

    def sparse_priors(
        self,
        prior_idxs,
        featmap_size,
        level_idx,
        dtype=torch.float32,
        device='cuda',
    ):
        """The anchors of one level at the given flat indices.

        Args:
            prior_idxs (Tensor): (K,) indices into the level's
                ``H * W * A`` anchors.
            featmap_size (tuple[int, int]): (H, W) of the level.
            level_idx (int): the level.

        Returns:
            Tensor: (K, 4) anchors, equal to
            ``single_level_grid_priors(...)[prior_idxs]``.
        """
        height, width = featmap_size
        num_base = self.num_base_priors[level_idx]
        base_id = prior_idxs % num_base
        position = prior_idxs // num_base
        x = (position % width) * self.strides[level_idx][0]
        y = (position // width % height) * self.strides[level_idx][1]
        shifts = torch.stack([x, y, x, y], dim=1).to(dtype).to(device)
        return shifts + self.base_anchors[level_idx][base_id.cpu()].to(
            device=device, dtype=dtype
        )

    def grid_anchors(self, featmap_sizes, device='cuda'):
        """Deprecated name of :meth:`grid_priors`."""
        warnings.warn(
            '``grid_anchors`` would be deprecated soon. '
            'Please use ``grid_priors`` '
        )
        return self.grid_priors(featmap_sizes, device=device)

    def single_level_grid_anchors(
        self, base_anchors, featmap_size, stride=(16, 16), device='cuda'
    ):
        """Deprecated: shift ``base_anchors`` (A, 4) over a map of size
        ``(H, W)`` with ``stride`` ``(w, h)``; use
        :meth:`single_level_grid_priors`."""
        warnings.warn(
            '``single_level_grid_anchors`` would be deprecated '
            'soon. Please use ``single_level_grid_priors`` '
        )
        feat_h, feat_w = featmap_size
        stride_w, stride_h = _pair(stride)
        base_anchors = base_anchors.to(device)
        shift_x = torch.arange(0, feat_w, device=device).to(base_anchors)
        shift_y = torch.arange(0, feat_h, device=device).to(base_anchors)
        shift_xx, shift_yy = self._meshgrid(
            shift_x * stride_w, shift_y * stride_h
        )
        shifts = torch.stack([shift_xx, shift_yy, shift_xx, shift_yy], dim=-1)
        return (shifts[:, None, :] + base_anchors[None, :, :]).view(-1, 4)

    # ------------------------------------------------------ valid flags
    def valid_flags(self, featmap_sizes, pad_shape, device='cuda'):
        """Which anchors sit on the part of each map that covers image.

        A batch is padded to its largest image; the anchors whose cell
        lies wholly in the padding of a smaller image are invalid for it.

        Args:
            featmap_sizes (list[tuple[int, int]]): (H, W) of every level.
            pad_shape (tuple): (h, w[, c]) of the image after its own
                padding (``img_meta['pad_shape']``).
            device (str | torch.device): where to put the flags.

        Returns:
            list[Tensor]: per level (H * W * A,) bool.
        """
        return [
            self.single_level_valid_flags(
                featmap_size,
                valid_size,
                self.num_base_priors[i],
                device=device,
            )
            for i, (featmap_size, valid_size) in enumerate(
                self._valid_cells(featmap_sizes, pad_shape)
            )
        ]

    def single_level_valid_flags(
        self, featmap_size, valid_size, num_base_anchors, device='cuda'
    ):
        """(H * W * A,) bool: True for the anchors of the top-left
        ``valid_size`` (h, w) cells of a map of size ``featmap_size``."""
        valid = self._cell_valid_flags(featmap_size, valid_size, device)
        return (
            valid[:, None].expand(valid.size(0), num_base_anchors).reshape(-1)
        )

    def __repr__(self):
        fields = [
            ('strides', self.strides),
            ('ratios', self.ratios),
            ('scales', self.scales),
            ('base_sizes', self.base_sizes),
            ('scale_major', self.scale_major),
            ('octave_base_scale', self.octave_base_scale),
            ('scales_per_octave', self.scales_per_octave),
            ('num_levels', self.num_levels),
            ('centers', self.centers),
            ('center_offset', self.center_offset),
        ]
        body = ''.join(f'    {name}={value},\n' for name, value in fields)
        return f'{self.__class__.__name__}(\n{body})'


@PRIOR_GENERATORS.register_module()
class LegacyAnchorGenerator(AnchorGenerator):
    """:class:`AnchorGenerator` in MMDetection 1.x's pixel convention, for
    its checkpoints (``legacy_1.x`` configs): a box of width ``w`` spans
    ``w - 1`` and the default centre is ``center_offset * (base_size -
    1)``; base anchors are rounded. Same arguments as
    :class:`AnchorGenerator`."""

    def gen_single_level_base_anchors(
        self, base_size, scales, ratios, center=None
    ):
        """(R * S, 4) base anchors, each side ``0.5`` inside the modern
        ones around the legacy centre, rounded to integers as 1.x did."""
        if center is None:
            offset = self.center_offset * (base_size - 1)
            center = (offset, offset)
        anchors = super().gen_single_level_base_anchors(
            base_size, scales, ratios, center=center
        )
        return (anchors + anchors.new_tensor([0.5, 0.5, -0.5, -0.5])).round()
