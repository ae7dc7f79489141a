"""Instance masks that follow the image through the data pipeline.

Two storages with one interface (MMDetection 2.x's):

- ``BitmapMasks``: a ``(N, H, W)`` uint8 array, one binary map per instance.
- ``PolygonMasks``: per instance a list of polygons, each a flat float array
  ``[x0, y0, x1, y1, ...]`` in pixel-edge coordinates (a pixel ``(i, j)``
  spans ``[j, j+1] x [i, i+1]``), as COCO stores them.

Every geometric operation (rescale, resize, flip, pad, crop, expand,
translate, shear, rotate, crop_and_resize) returns a new object of the same
kind; ``to_ndarray`` / ``to_tensor`` give ``(N, H, W)`` binary maps for both.
"""

from abc import ABCMeta, abstractmethod

import cv2
import mmcv
import numpy as np
import pycocotools.mask as mask_utils
import torch
from torchvision.ops import roi_align

from mmdet.utils.arg_errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
)


class BaseInstanceMasks(metaclass=ABCMeta):
    """The interface both mask storages implement.

    ``height`` and ``width`` are the size of the image the masks live in.
    """

    @abstractmethod
    def rescale(self, scale, interpolation='nearest'):
        """Rescale keeping the aspect ratio, as ``mmcv.imrescale``.

        Args:
            scale (float | tuple[int]): a factor, or ``(long, short)`` edges
                the result must fit into.
        """

    @abstractmethod
    def resize(self, out_shape, interpolation='nearest'):
        """Resize to ``out_shape = (h, w)``."""

    @abstractmethod
    def flip(self, flip_direction='horizontal'):
        """Flip 'horizontal', 'vertical' or 'diagonal' (both)."""

    @abstractmethod
    def pad(self, out_shape, pad_val=0):
        """Pad at the right and bottom to ``out_shape = (h, w)``."""

    @abstractmethod
    def crop(self, bbox):
        """Crop to ``bbox = [x1, y1, x2, y2]`` (pixels, clipped to the
        image); the result is ``(y2 - y1, x2 - x1)`` large, at least 1x1."""

    @abstractmethod
    def crop_and_resize(
        self,
        bboxes,
        out_shape,
        inds,
        device='cpu',
        interpolation='bilinear',
        binarize=True,
    ):
        """Crop mask ``inds[i]`` to ``bboxes[i]`` and resize it to
        ``out_shape``, for every i (what mask targets are made of).

        Args:
            bboxes (ndarray | Tensor): (K, 4) boxes ``x1, y1, x2, y2``.
            out_shape (tuple[int]): ``(h, w)`` of every target.
            inds (ndarray | Tensor): (K,) index of the mask for each box.
            binarize (bool): threshold the bilinear result at 0.5.
        """

    @abstractmethod
    def expand(self, expanded_h, expanded_w, top, left):
        """Place the masks at ``(top, left)`` of a larger empty image."""

    @abstractmethod
    def translate(
        self,
        out_shape,
        offset,
        direction='horizontal',
        fill_val=0,
        interpolation='bilinear',
    ):
        """Shift by ``offset`` pixels along ``direction``."""

    @abstractmethod
    def shear(
        self,
        out_shape,
        magnitude,
        direction='horizontal',
        border_value=0,
        interpolation='bilinear',
    ):
        """Shear by ``magnitude`` (tan of the angle) along ``direction``."""

    @abstractmethod
    def rotate(self, out_shape, angle, center=None, scale=1.0, fill_val=0):
        """Rotate by ``angle`` degrees, positive clockwise (mmcv's
        convention), about ``center`` in pixel-index coordinates (the image
        centre ``((w - 1) / 2, (h - 1) / 2)`` by default)."""

    @property
    @abstractmethod
    def areas(self):
        """ndarray (N,): the area of every mask in pixels."""

    @abstractmethod
    def to_ndarray(self):
        """ndarray (N, H, W): binary maps."""

    @abstractmethod
    def to_tensor(self, dtype, device):
        """Tensor (N, H, W) of binary maps."""

    @abstractmethod
    def get_bboxes(self):
        """ndarray (N, 4) float32: the tight box ``x1, y1, x2, y2`` of every
        mask in pixel-edge coordinates (zeros for an empty mask)."""

    def __len__(self):
        return len(self.masks)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(num_masks={len(self)}, '
            f'height={self.height}, width={self.width})'
        )


def _check_direction(direction):
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise InvalidArgumentError(
            "flip direction must be 'horizontal', 'vertical' "
            f"or 'diagonal', got {direction!r}"
        )


def _as_tensor(data, device):
    if isinstance(data, torch.Tensor):
        return data.to(device)
    return torch.from_numpy(np.ascontiguousarray(data)).to(device)


def _clip_box(bbox, height, width):
    """Integer ``x1, y1, w, h`` of ``bbox`` clipped to the image; at least
    one pixel wide and high."""
    bbox = np.asarray(bbox, dtype=np.float64).copy()
    if bbox.shape != (4,):
        raise InvalidArgumentError(
            f'crop takes one box [x1, y1, x2, y2], got shape {bbox.shape}'
        )
    bbox[0::2] = np.clip(bbox[0::2], 0, width)
    bbox[1::2] = np.clip(bbox[1::2], 0, height)
    x1, y1, x2, y2 = bbox.astype(np.int64)
    return x1, y1, max(x2 - x1, 1), max(y2 - y1, 1)


class BitmapMasks(BaseInstanceMasks):
    """Binary masks stored as an ``(N, H, W)`` array.

    Args:
        masks (ndarray | list[ndarray]): ``(N, H, W)``, or N arrays ``(H, W)``.
        height (int), width (int): the image size.
    """

    def __init__(self, masks, height, width):
        self.height = int(height)
        self.width = int(width)
        if len(masks) == 0:
            self.masks = np.zeros((0, self.height, self.width), np.uint8)
            return
        if isinstance(masks, (list, tuple)):
            masks = np.stack(masks)
        masks = np.asarray(masks)
        if masks.ndim != 3 or masks.shape[1:] != (self.height, self.width):
            raise InvalidArgumentError(
                f'masks of shape {masks.shape} do not fit an image of '
                f'{self.height}x{self.width}: expected (N, {self.height}, '
                f'{self.width})'
            )
        self.masks = masks

    def _new(self, masks, height=None, width=None):
        height = masks.shape[1] if height is None else height
        width = masks.shape[2] if width is None else width
        return BitmapMasks(masks, height, width)

    def _map(self, func, out_shape):
        """Apply ``func`` to every ``(H, W)`` mask; ``out_shape`` is the
        result's size (used when there is no mask)."""
        if len(self.masks) == 0:
            return BitmapMasks([], *out_shape)
        return self._new(np.stack([func(mask) for mask in self.masks]))

    def __getitem__(self, index):
        masks = self.masks[index].reshape(-1, self.height, self.width)
        return BitmapMasks(masks, self.height, self.width)

    def __iter__(self):
        return iter(self.masks)

    def rescale(self, scale, interpolation='nearest'):
        new_w, new_h = mmcv.rescale_size((self.width, self.height), scale)
        return self._map(
            lambda m: mmcv.imrescale(m, scale, interpolation=interpolation),
            (new_h, new_w),
        )

    def resize(self, out_shape, interpolation='nearest'):
        out_h, out_w = out_shape
        return self._map(
            lambda m: mmcv.imresize(
                m, (out_w, out_h), interpolation=interpolation
            ),
            out_shape,
        )

    def flip(self, flip_direction='horizontal'):
        _check_direction(flip_direction)
        axes = dict(horizontal=(2,), vertical=(1,), diagonal=(1, 2))
        flipped = np.flip(self.masks, axis=axes[flip_direction])
        return BitmapMasks(
            np.ascontiguousarray(flipped), self.height, self.width
        )

    def pad(self, out_shape, pad_val=0):
        return self._map(
            lambda m: mmcv.impad(m, shape=out_shape, pad_val=pad_val),
            out_shape,
        )

    def crop(self, bbox):
        x1, y1, w, h = _clip_box(bbox, self.height, self.width)
        cropped = self.masks[:, y1 : y1 + h, x1 : x1 + w]
        return BitmapMasks(np.ascontiguousarray(cropped), *cropped.shape[1:])

    def crop_and_resize(
        self,
        bboxes,
        out_shape,
        inds,
        device='cpu',
        interpolation='bilinear',
        binarize=True,
    ):
        """RoIAlign of the masks (average, adaptive sampling, aligned
        half-pixel offset), as MMDetection's mask targets use."""
        if interpolation != 'bilinear':
            raise InvalidArgumentError(
                'BitmapMasks.crop_and_resize only supports '
                "interpolation='bilinear'"
            )
        if len(self.masks) == 0 or len(bboxes) == 0:
            return BitmapMasks([], *out_shape)
        bboxes = _as_tensor(bboxes, device).float()
        inds = _as_tensor(inds, device).long().reshape(-1)
        batch_inds = torch.arange(
            len(bboxes), device=device, dtype=bboxes.dtype
        )[:, None]
        rois = torch.cat([batch_inds, bboxes], dim=1)
        masks = torch.from_numpy(self.masks).to(device)
        masks = masks.index_select(0, inds).to(rois.dtype)[:, None]
        targets = roi_align(
            masks,
            rois,
            tuple(out_shape),
            spatial_scale=1.0,
            sampling_ratio=0,
            aligned=True,
        ).squeeze(1)
        if binarize:
            targets = targets >= 0.5
        return BitmapMasks(targets.cpu().numpy(), *out_shape)

    def expand(self, expanded_h, expanded_w, top, left):
        expanded = np.zeros(
            (len(self), expanded_h, expanded_w), dtype=self.masks.dtype
        )
        expanded[:, top : top + self.height, left : left + self.width] = (
            self.masks
        )
        return BitmapMasks(expanded, expanded_h, expanded_w)

    def _warp(self, func, out_shape):
        """Apply an image warp to every mask and cut/pad to out_shape."""

        def warp_one(mask):
            warped = func(mask)
            warped = warped[: out_shape[0], : out_shape[1]]
            return mmcv.impad(warped, shape=out_shape, pad_val=0)

        return self._map(
            lambda m: warp_one(m).astype(self.masks.dtype), out_shape
        )

    def translate(
        self,
        out_shape,
        offset,
        direction='horizontal',
        fill_val=0,
        interpolation='bilinear',
    ):
        return self._warp(
            lambda m: mmcv.imtranslate(
                m,
                offset,
                direction,
                border_value=fill_val,
                interpolation=interpolation,
            ),
            out_shape,
        )

    def shear(
        self,
        out_shape,
        magnitude,
        direction='horizontal',
        border_value=0,
        interpolation='bilinear',
    ):
        return self._warp(
            lambda m: mmcv.imshear(
                m,
                magnitude,
                direction,
                border_value=border_value,
                interpolation=interpolation,
            ),
            out_shape,
        )

    def rotate(self, out_shape, angle, center=None, scale=1.0, fill_val=0):
        return self._warp(
            lambda m: mmcv.imrotate(
                m, angle, center=center, scale=scale, border_value=fill_val
            ),
            out_shape,
        )

    @property
    def areas(self):
        return self.masks.sum((1, 2))

    def to_ndarray(self):
        return self.masks

    def to_tensor(self, dtype, device):
        return torch.tensor(self.masks, dtype=dtype, device=device)

    def get_bboxes(self):
        boxes = np.zeros((len(self), 4), dtype=np.float32)
        if len(self) == 0:
            return boxes
        cols = self.masks.any(axis=1)  # (N, W)
        rows = self.masks.any(axis=2)  # (N, H)
        has_pixels = cols.any(axis=1)
        x1 = cols.argmax(axis=1)
        x2 = self.width - cols[:, ::-1].argmax(axis=1)
        y1 = rows.argmax(axis=1)
        y2 = self.height - rows[:, ::-1].argmax(axis=1)
        boxes[has_pixels] = np.stack([x1, y1, x2, y2], axis=1)[has_pixels]
        return boxes

    @classmethod
    def random(
        cls, num_masks=3, height=32, width=32, dtype=np.uint8, rng=None
    ):
        """Random masks (for tests); ``rng`` a seed or a Generator."""
        rng = np.random.default_rng(rng)
        masks = (rng.random((num_masks, height, width)) > 0.7).astype(dtype)
        return cls(masks, height, width)


# ---------------------------------------------------------------------------
# polygons
# ---------------------------------------------------------------------------


def polygon_area(poly):
    """Shoelace area of one flat polygon ``[x0, y0, x1, y1, ...]``."""
    x, y = poly[0::2], poly[1::2]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def polygons_to_bitmap(polygons, height, width):
    """Rasterize one instance's polygons (pycocotools) to an (H, W) bool."""
    if len(polygons) == 0:
        return np.zeros((height, width), dtype=bool)
    rles = mask_utils.frPyObjects(
        [np.asarray(p, dtype=np.float64) for p in polygons], height, width
    )
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def _clip_polygon_to_box(points, x1, y1, x2, y2):
    """Sutherland-Hodgman: clip a (P, 2) polygon to an axis-aligned box.

    The box is convex, so the result is the exact intersection (possibly
    with zero-width bridges that rasterize to nothing). Returns (Q, 2).
    """
    # each edge of the box: (axis, bound, keep points with coord >= bound?)
    for axis, bound, keep_greater in (
        (0, x1, True),
        (0, x2, False),
        (1, y1, True),
        (1, y2, False),
    ):
        if len(points) == 0:
            break
        coord = points[:, axis]
        inside = coord >= bound if keep_greater else coord <= bound
        prev = np.roll(points, 1, axis=0)
        prev_inside = np.roll(inside, 1)
        out = []
        for p, q, p_in, q_in in zip(points, prev, inside, prev_inside):
            if p_in != q_in:  # the edge q -> p crosses the bound
                t = (bound - q[axis]) / (p[axis] - q[axis])
                out.append(q + t * (p - q))
            if p_in:
                out.append(p)
        points = np.array(out, dtype=np.float64).reshape(-1, 2)
    return points


class PolygonMasks(BaseInstanceMasks):
    """Masks stored as polygons (COCO's format).

    Args:
        masks (list[list[ndarray]]): per instance, its polygons, each a flat
            array ``[x0, y0, x1, y1, ...]`` of at least 3 points.
        height (int), width (int): the image size.
    """

    def __init__(self, masks, height, width):
        if not isinstance(masks, list):
            raise InvalidArgumentTypeError(
                'PolygonMasks takes a list (instances) of lists '
                f'(polygons) of arrays, got {type(masks)}'
            )
        for instance in masks:
            if not isinstance(instance, list):
                raise InvalidArgumentTypeError(
                    'each instance of PolygonMasks is a list of '
                    f'polygons, got {type(instance)}'
                )
            for poly in instance:
                if not isinstance(poly, np.ndarray) and len(poly) == 0:
                    raise InvalidArgumentTypeError(
                        'each polygon of PolygonMasks is an array '
                        '[x0, y0, x1, y1, ...], got an empty '
                        f'{type(poly).__name__}'
                    )
        self.height = int(height)
        self.width = int(width)
        self.masks = [
            [np.asarray(p, dtype=np.float64) for p in instance]
            for instance in masks
        ]

    def __getitem__(self, index):
        if isinstance(index, np.ndarray):
            index = np.flatnonzero(index) if index.dtype == bool else index
            masks = [self.masks[i] for i in index.tolist()]
        elif isinstance(index, (list, tuple)):
            masks = [self.masks[i] for i in index]
        else:
            try:
                masks = self.masks[index]
            except TypeError as error:
                # MMDetection raises ValueError for an index it cannot use
                raise ValueError(
                    f'PolygonMasks cannot be indexed by {type(index)}: use '
                    'an int, a slice, a list or an integer/boolean array'
                ) from error
            if isinstance(index, (int, np.integer)):
                masks = [masks]
        return PolygonMasks(masks, self.height, self.width)

    def __iter__(self):
        return iter(self.masks)

    def _map_points(self, func, height, width):
        """New masks whose every polygon's (P, 2) points are ``func(pts)``;
        polygons left with fewer than 3 points are dropped."""
        out = []
        for instance in self.masks:
            polys = []
            for p in instance:
                pts = func(p.reshape(-1, 2))
                if len(pts) >= 3:
                    polys.append(pts.reshape(-1))
            out.append(polys)
        return PolygonMasks(out, height, width)

    def rescale(self, scale, interpolation=None):
        new_w, new_h = mmcv.rescale_size((self.width, self.height), scale)
        return self.resize((new_h, new_w))

    def resize(self, out_shape, interpolation=None):
        out_h, out_w = out_shape
        factor = np.array([out_w / self.width, out_h / self.height])
        return self._map_points(lambda pts: pts * factor, out_h, out_w)

    def flip(self, flip_direction='horizontal'):
        _check_direction(flip_direction)
        sign = np.array([1.0, 1.0])
        shift = np.array([0.0, 0.0])
        if flip_direction in ('horizontal', 'diagonal'):
            sign[0], shift[0] = -1.0, self.width
        if flip_direction in ('vertical', 'diagonal'):
            sign[1], shift[1] = -1.0, self.height
        return self._map_points(
            lambda pts: shift + sign * pts, self.height, self.width
        )

    def pad(self, out_shape, pad_val=0):
        # padding right/bottom does not move any point
        return PolygonMasks(self.masks, *out_shape)

    def crop(self, bbox):
        x1, y1, w, h = _clip_box(bbox, self.height, self.width)
        offset = np.array([x1, y1], dtype=np.float64)
        return self._map_points(
            lambda pts: _clip_polygon_to_box(pts - offset, 0, 0, w, h), h, w
        )

    def crop_and_resize(
        self,
        bboxes,
        out_shape,
        inds,
        device='cpu',
        interpolation='bilinear',
        binarize=True,
    ):
        """Polygon ``inds[i]`` cropped to ``bboxes[i]`` (coordinates only,
        as MMDetection) and scaled to ``out_shape``."""
        out_h, out_w = out_shape
        if len(self.masks) == 0 or len(bboxes) == 0:
            return PolygonMasks([], out_h, out_w)
        if isinstance(bboxes, torch.Tensor):
            bboxes = bboxes.cpu().numpy()
        if isinstance(inds, torch.Tensor):
            inds = inds.cpu().numpy()
        bboxes = np.asarray(bboxes, dtype=np.float64)
        out = []
        for bbox, ind in zip(bboxes, np.asarray(inds).reshape(-1)):
            w = max(bbox[2] - bbox[0], 1.0)
            h = max(bbox[3] - bbox[1], 1.0)
            factor = np.array([out_w / max(w, 0.1), out_h / max(h, 0.1)])
            out.append(
                [
                    ((p.reshape(-1, 2) - bbox[:2]) * factor).reshape(-1)
                    for p in self.masks[ind]
                ]
            )
        return PolygonMasks(out, out_h, out_w)

    def expand(self, expanded_h, expanded_w, top, left):
        offset = np.array([left, top], dtype=np.float64)
        return self._map_points(
            lambda pts: pts + offset, expanded_h, expanded_w
        )

    def _affine(self, matrix, out_shape):
        """Map every point by the 2x3 ``matrix`` and clip to out_shape.

        ``matrix`` acts on pixel-index coordinates (pixel centres at
        integers, as cv2/mmcv warps); polygons use pixel edges, half a pixel
        off, so the shift is adjusted to move both the same way.
        """
        out_h, out_w = out_shape
        linear = matrix[:, :2]
        shift = matrix[:, 2] + 0.5 - linear @ np.array([0.5, 0.5])
        return self._map_points(
            lambda pts: _clip_polygon_to_box(
                pts @ linear.T + shift, 0, 0, out_w, out_h
            ),
            out_h,
            out_w,
        )

    def translate(
        self,
        out_shape,
        offset,
        direction='horizontal',
        fill_val=None,
        interpolation=None,
    ):
        if direction not in ('horizontal', 'vertical'):
            raise InvalidArgumentError(
                f'translate direction {direction!r} is not '
                "'horizontal' or 'vertical'"
            )
        dx, dy = (offset, 0) if direction == 'horizontal' else (0, offset)
        matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
        return self._affine(matrix, out_shape)

    def shear(
        self,
        out_shape,
        magnitude,
        direction='horizontal',
        border_value=0,
        interpolation='bilinear',
    ):
        if direction == 'horizontal':
            matrix = np.array([[1.0, magnitude, 0.0], [0.0, 1.0, 0.0]])
        elif direction == 'vertical':
            matrix = np.array([[1.0, 0.0, 0.0], [magnitude, 1.0, 0.0]])
        else:
            raise InvalidArgumentError(
                f'shear direction {direction!r} is not '
                "'horizontal' or 'vertical'"
            )
        return self._affine(matrix, out_shape)

    def rotate(self, out_shape, angle, center=None, scale=1.0, fill_val=0):
        if center is None:
            center = ((self.width - 1) * 0.5, (self.height - 1) * 0.5)
        matrix = cv2.getRotationMatrix2D(
            tuple(map(float, center)), -angle, scale
        )
        return self._affine(matrix, out_shape)

    def to_bitmap(self):
        """The same masks as ``BitmapMasks``."""
        return BitmapMasks(self.to_ndarray(), self.height, self.width)

    @property
    def areas(self):
        """Polygon areas (shoelace), summed over each instance's parts."""
        return np.array(
            [
                sum(polygon_area(p) for p in instance)
                for instance in self.masks
            ],
            dtype=np.float64,
        )

    def to_ndarray(self):
        if len(self.masks) == 0:
            return np.zeros((0, self.height, self.width), dtype=np.uint8)
        return np.stack(
            [
                polygons_to_bitmap(instance, self.height, self.width)
                for instance in self.masks
            ]
        ).astype(np.uint8)

    def to_tensor(self, dtype, device):
        return torch.tensor(self.to_ndarray(), dtype=dtype, device=device)

    def get_bboxes(self):
        boxes = np.zeros((len(self), 4), dtype=np.float32)
        for i, instance in enumerate(self.masks):
            if not instance:
                continue
            pts = np.concatenate(instance).reshape(-1, 2)
            boxes[i] = [*pts.min(axis=0), *pts.max(axis=0)]
        return boxes


__all__ = [
    'BaseInstanceMasks',
    'BitmapMasks',
    'PolygonMasks',
    'polygons_to_bitmap',
]
