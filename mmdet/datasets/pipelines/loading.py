"""Reading images and annotations into the ``results`` dict.

The data set hands each pipeline ``results = dict(img_info=..., ann_info=...,
img_prefix=..., bbox_fields=[], mask_fields=[], seg_fields=[])``; these steps
fill in ``img`` and the ground truth.
"""

import os.path as osp

import mmcv
import numpy as np
import pycocotools.mask as mask_utils

from mmdet.core.evaluation.panoptic import rgb2id
from mmdet.core.mask import BitmapMasks, PolygonMasks
from mmdet.utils.arg_errors import InvalidArgumentError
from ..registry import PIPELINES


def _read_bytes(file_client, filename):
    try:
        return file_client.get(filename)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'image file {filename!r} does not exist (listed in the '
            'annotation file but missing from the image folder)'
        ) from err


def _decode(img_bytes, filename, **kwargs):
    """Decode image bytes; a corrupt file raises an error naming it."""
    try:
        img = mmcv.imfrombytes(img_bytes, **kwargs)
    except Exception as err:  # cv2/PIL/turbojpeg errors differ
        raise OSError(f'cannot decode image file {filename!r}: {err}') from err
    if img is None:
        raise OSError(
            f'cannot decode image file {filename!r}: it is empty '
            'or not an image (corrupt or truncated?)'
        )
    return img


def _check_size(img, img_info, filename):
    """The decoded image must have the annotation file's width and height
    (masks are drawn at that size, boxes are in its pixels)."""
    if 'width' not in img_info or 'height' not in img_info:
        return
    height, width = img.shape[:2]
    if (width, height) == (img_info['width'], img_info['height']):
        return
    if (height, width) == (img_info['width'], img_info['height']):
        hint = (
            'Width and height are swapped: the file has an EXIF '
            'orientation tag, which decoding applies. If the annotations '
            'were made on the stored pixels, load it with '
            "LoadImageFromFile(color_type='color_ignore_orientation'); "
            'if they were made on the rotated image, correct width and '
            'height in the annotation file.'
        )
    else:
        hint = (
            'Correct width and height in the annotation file (and the '
            'annotations, if they were made at another size) or '
            'replace the image.'
        )
    raise ValueError(
        f'image {filename!r} decodes to {width}x{height} (width x height) '
        f"but the annotation file says {img_info['width']}x"
        f"{img_info['height']}. {hint}"
    )


@PIPELINES.register_module()
class LoadImageFromFile:
    """Read ``img_prefix / img_info['filename']``.

    Adds ``filename``, ``ori_filename``, ``img`` (H, W, 3 BGR uint8, or
    float32 with ``to_float32``), ``img_shape``, ``ori_shape`` and
    ``img_fields = ['img']``. An image whose decoded size differs from
    ``img_info``'s ``width`` / ``height`` (when given) is an error naming
    it.

    Args:
        to_float32 (bool): convert the image to float32.
        color_type (str): mmcv's imread flag ('color', 'grayscale',
            'unchanged').
        channel_order (str): 'bgr' or 'rgb'.
        file_client_args (dict): ``mmcv.FileClient`` arguments.
    """

    def __init__(
        self,
        to_float32=False,
        color_type='color',
        channel_order='bgr',
        file_client_args=dict(backend='disk'),
    ):
        self.to_float32 = to_float32
        self.color_type = color_type
        self.channel_order = channel_order
        self.file_client_args = file_client_args.copy()
        self.file_client = None

    def __call__(self, results):
        if self.file_client is None:
            self.file_client = mmcv.FileClient(**self.file_client_args)
        name = results['img_info']['filename']
        prefix = results.get('img_prefix')
        filename = osp.join(prefix, name) if prefix is not None else name
        img = _decode(
            _read_bytes(self.file_client, filename),
            filename,
            flag=self.color_type,
            channel_order=self.channel_order,
        )
        _check_size(img, results['img_info'], filename)
        if self.to_float32:
            img = img.astype(np.float32)
        results['filename'] = filename
        results['ori_filename'] = name
        results['img'] = img
        results['img_shape'] = img.shape
        results['ori_shape'] = img.shape
        results['img_fields'] = ['img']
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(to_float32={self.to_float32}, '
            f"color_type='{self.color_type}', "
            f"channel_order='{self.channel_order}', "
            f'file_client_args={self.file_client_args})'
        )


@PIPELINES.register_module()
class LoadImageFromWebcam(LoadImageFromFile):
    """Take an image already in memory (``results['img']``), e.g. from a
    camera or ``inference_detector`` given an array."""

    def __call__(self, results):
        img = results['img']
        if self.to_float32:
            img = img.astype(np.float32)
        results['filename'] = None
        results['ori_filename'] = None
        results['img'] = img
        results['img_shape'] = img.shape
        results['ori_shape'] = img.shape
        results['img_fields'] = ['img']
        return results


@PIPELINES.register_module()
class LoadMultiChannelImageFromFiles:
    """Read one single-channel file per channel (``img_info['filename']``
    is a list) and stack them to (H, W, C).

    Also sets ``pad_shape``, ``scale_factor = 1.0`` and an identity
    ``img_norm_cfg`` (zeros mean, ones std), as MMDetection 2.x does.
    """

    def __init__(
        self,
        to_float32=False,
        color_type='unchanged',
        file_client_args=dict(backend='disk'),
    ):
        self.to_float32 = to_float32
        self.color_type = color_type
        self.file_client_args = file_client_args.copy()
        self.file_client = None

    def __call__(self, results):
        if self.file_client is None:
            self.file_client = mmcv.FileClient(**self.file_client_args)
        names = results['img_info']['filename']
        prefix = results.get('img_prefix')
        files = [
            osp.join(prefix, n) if prefix is not None else n for n in names
        ]
        img = np.stack(
            [
                _decode(
                    _read_bytes(self.file_client, f), f, flag=self.color_type
                )
                for f in files
            ],
            axis=-1,
        )
        if self.to_float32:
            img = img.astype(np.float32)
        channels = 1 if img.ndim < 3 else img.shape[2]
        results.update(
            filename=files,
            ori_filename=names,
            img=img,
            img_shape=img.shape,
            ori_shape=img.shape,
            pad_shape=img.shape,
            scale_factor=1.0,
            img_norm_cfg=dict(
                mean=np.zeros(channels, dtype=np.float32),
                std=np.ones(channels, dtype=np.float32),
                to_rgb=False,
            ),
        )
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(to_float32={self.to_float32}, '
            f"color_type='{self.color_type}', "
            f'file_client_args={self.file_client_args})'
        )


def poly2mask(mask_ann, img_h, img_w):
    """One instance's COCO segmentation (polygons, uncompressed RLE or RLE)
    -> (H, W) uint8 binary mask."""
    if isinstance(mask_ann, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(mask_ann, img_h, img_w))
    elif isinstance(mask_ann.get('counts'), list):
        rle = mask_utils.frPyObjects(mask_ann, img_h, img_w)
    else:
        rle = mask_ann
    return mask_utils.decode(rle)


@PIPELINES.register_module()
class LoadAnnotations:
    """Copy the ground truth of ``results['ann_info']`` into ``results``.

    Adds ``gt_bboxes`` (N, 4) float32 and ``gt_bboxes_ignore`` (crowd),
    ``gt_labels`` (N,) int64, ``gt_masks`` (BitmapMasks with
    ``poly2mask``, otherwise PolygonMasks) and ``gt_semantic_seg``, and
    registers them in ``bbox_fields`` / ``mask_fields`` / ``seg_fields`` so
    geometric transforms move them with the image.

    Args:
        with_bbox, with_label, with_mask, with_seg (bool): what to load.
        poly2mask (bool): rasterize polygon masks to bitmaps.
        denorm_bbox (bool): boxes are stored in [0, 1]; scale by the size.
        file_client_args (dict): for reading segmentation maps.
    """

    def __init__(
        self,
        with_bbox=True,
        with_label=True,
        with_mask=False,
        with_seg=False,
        poly2mask=True,
        denorm_bbox=False,
        file_client_args=dict(backend='disk'),
    ):
        self.with_bbox = with_bbox
        self.with_label = with_label
        self.with_mask = with_mask
        self.with_seg = with_seg
        self.poly2mask = poly2mask
        self.denorm_bbox = denorm_bbox
        self.file_client_args = file_client_args.copy()
        self.file_client = None

    def _load_bboxes(self, results):
        ann_info = results['ann_info']
        bboxes = (
            np.asarray(ann_info['bboxes'], dtype=np.float32)
            .reshape(-1, 4)
            .copy()
        )
        if self.denorm_bbox and len(bboxes):
            h, w = results['img_shape'][:2]
            bboxes *= np.array([w, h, w, h], dtype=np.float32)
        results['gt_bboxes'] = bboxes
        results['bbox_fields'].append('gt_bboxes')
        ignore = ann_info.get('bboxes_ignore')
        if ignore is not None:
            results['gt_bboxes_ignore'] = (
                np.asarray(ignore, dtype=np.float32).reshape(-1, 4).copy()
            )
            results['bbox_fields'].append('gt_bboxes_ignore')
        if ann_info.get('gt_is_group_ofs') is not None:  # OpenImages
            results['gt_is_group_ofs'] = ann_info['gt_is_group_ofs'].copy()
        return results

    def _load_labels(self, results):
        results['gt_labels'] = np.asarray(
            results['ann_info']['labels'], dtype=np.int64
        ).copy()
        return results

    @staticmethod
    def process_polygons(polygons):
        """Keep the valid polygons of one instance (even length, >= 3
        points) as float arrays."""
        if isinstance(polygons, dict):
            raise ValueError(
                'LoadAnnotations(poly2mask=False) keeps polygons, but an '
                'instance mask is RLE; use poly2mask=True for this data set'
            )
        polygons = [np.asarray(p, dtype=np.float64) for p in polygons]
        return [p for p in polygons if len(p) % 2 == 0 and len(p) >= 6]

    def _load_masks(self, results):
        h = results['img_info']['height']
        w = results['img_info']['width']
        masks = results['ann_info']['masks']
        if self.poly2mask:
            gt_masks = BitmapMasks([poly2mask(m, h, w) for m in masks], h, w)
        else:
            gt_masks = PolygonMasks(
                [self.process_polygons(m) for m in masks], h, w
            )
        results['gt_masks'] = gt_masks
        results['mask_fields'].append('gt_masks')
        return results

    def _load_semantic_seg(self, results):
        if self.file_client is None:
            self.file_client = mmcv.FileClient(**self.file_client_args)
        filename = osp.join(
            results['seg_prefix'], results['ann_info']['seg_map']
        )
        seg = _decode(
            _read_bytes(self.file_client, filename), filename, flag='unchanged'
        )
        results['gt_semantic_seg'] = seg.squeeze()
        results['seg_fields'].append('gt_semantic_seg')
        return results

    def __call__(self, results):
        if self.with_bbox:
            results = self._load_bboxes(results)
        if self.with_label:
            results = self._load_labels(results)
        if self.with_mask:
            results = self._load_masks(results)
        if self.with_seg:
            results = self._load_semantic_seg(results)
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(with_bbox={self.with_bbox}, '
            f'with_label={self.with_label}, with_mask={self.with_mask}, '
            f'with_seg={self.with_seg}, poly2mask={self.poly2mask})'
        )


@PIPELINES.register_module()
class LoadProposals:
    """Copy precomputed proposals (``results['proposals']``, (N, 4) or
    (N, 5)) keeping at most ``num_max_proposals`` of them, boxes only."""

    def __init__(self, num_max_proposals=None):
        self.num_max_proposals = num_max_proposals

    def __call__(self, results):
        proposals = np.asarray(results['proposals'], dtype=np.float32)
        if proposals.ndim != 2 or proposals.shape[1] not in (4, 5):
            raise ValueError(
                'proposals must be (N, 4) or (N, 5), got shape '
                f'{proposals.shape}'
            )
        proposals = proposals[:, :4]
        if self.num_max_proposals is not None:
            proposals = proposals[: self.num_max_proposals]
        if len(proposals) == 0:
            proposals = np.array([[0, 0, 0, 0]], dtype=np.float32)
        results['proposals'] = proposals
        results['bbox_fields'].append('proposals')
        return results


@PIPELINES.register_module()
class FilterAnnotations:
    """Drop ground truth objects smaller than ``min_gt_bbox_wh`` (by box)
    or ``min_gt_mask_area`` (by mask).

    As in MMDetection 2.x, ``keep_empty`` (True by default) decides what
    happens to a sample left without any object: True returns None (the
    data set then draws another sample), False returns it with its objects
    emptied. A sample without objects to begin with passes unchanged.
    """

    def __init__(
        self,
        min_gt_bbox_wh=(1.0, 1.0),
        min_gt_mask_area=1,
        by_box=True,
        by_mask=False,
        keep_empty=True,
    ):
        if not (by_box or by_mask):
            raise InvalidArgumentError(
                'FilterAnnotations needs by_box or by_mask'
            )
        self.min_gt_bbox_wh = min_gt_bbox_wh
        self.min_gt_mask_area = min_gt_mask_area
        self.by_box = by_box
        self.by_mask = by_mask
        self.keep_empty = keep_empty

    def _keep(self, results):
        """(n,) bool of the objects passing every enabled test."""
        tests = []
        if self.by_box:
            boxes = results['gt_bboxes']
            w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
            min_w, min_h = self.min_gt_bbox_wh
            tests.append((w > min_w) & (h > min_h))
        if self.by_mask:
            tests.append(results['gt_masks'].areas >= self.min_gt_mask_area)
        return np.logical_and.reduce(tests)

    def __call__(self, results):
        key = 'gt_masks' if self.by_mask else 'gt_bboxes'
        if len(results[key]) == 0:
            return results
        keep = self._keep(results).nonzero()[0]
        for key in ('gt_bboxes', 'gt_labels', 'gt_masks'):
            if key in results:
                results[key] = results[key][keep]
        if keep.size == 0 and self.keep_empty:
            return None
        return results


@PIPELINES.register_module()
class LoadPanopticAnnotations(LoadAnnotations):
    """COCO panoptic ground truth: boxes and labels as ``LoadAnnotations``,
    then from the panoptic png (``seg_prefix``/``seg_map``) the thing
    masks (BitmapMasks) and the semantic map (every segment's label,
    255 elsewhere)."""

    def __init__(
        self,
        with_bbox=True,
        with_label=True,
        with_mask=True,
        with_seg=True,
        file_client_args=dict(backend='disk'),
    ):
        super().__init__(
            with_bbox=with_bbox,
            with_label=with_label,
            with_mask=with_mask,
            with_seg=with_seg,
            poly2mask=True,
            denorm_bbox=False,
            file_client_args=file_client_args,
        )

    def _load_masks_and_semantic_segs(self, results):
        if self.file_client is None:
            self.file_client = mmcv.FileClient(**self.file_client_args)
        filename = osp.join(
            results['seg_prefix'], results['ann_info']['seg_map']
        )
        png = mmcv.imfrombytes(
            _read_bytes(self.file_client, filename),
            flag='color',
            channel_order='rgb',
        )
        pan = rgb2id(png)
        seg = np.full(pan.shape, 255, dtype=np.int64)
        masks = []
        for info in results['ann_info']['masks']:
            inside = pan == info['id']
            seg[inside] = info['category']
            if info.get('is_thing'):
                masks.append(inside.astype(np.uint8))
        if self.with_mask:
            h, w = results['img_info']['height'], results['img_info']['width']
            results['gt_masks'] = BitmapMasks(masks, h, w)
            results['mask_fields'].append('gt_masks')
        if self.with_seg:
            results['gt_semantic_seg'] = seg
            results['seg_fields'].append('gt_semantic_seg')
        return results

    def __call__(self, results):
        if self.with_bbox:
            results = self._load_bboxes(results)
        if self.with_label:
            results = self._load_labels(results)
        if self.with_mask or self.with_seg:
            results = self._load_masks_and_semantic_segs(results)
        return results
