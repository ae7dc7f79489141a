"""Transforms that wrap optional packages: ``Albu`` (albumentations) and
``InstaBoost`` (instaboostfast). Each imports its package when built and
says how to install it when it is missing."""

import copy
import importlib
import inspect

import numpy as np

from mmdet.core.mask.structures import PolygonMasks
from mmdet.utils.arg_errors import InvalidArgumentTypeError
from ..registry import PIPELINES


def _require(package, purpose):
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise ImportError(
            f'{purpose} needs the optional package {package}: run '
            f'"pip install {package}"'
        ) from err


def _rename(d, keymap):
    return {keymap.get(k, k): v for k, v in d.items()}


@PIPELINES.register_module()
class Albu:
    """Run an albumentations ``Compose`` of ``transforms`` (configs whose
    ``type`` names an albumentations class) on the image, boxes and masks.

    Args:
        transforms (list[dict]): albumentations transform configs.
        bbox_params (dict | None): ``albumentations.BboxParams`` config;
            with ``label_fields`` and ``filter_lost_elements=True`` boxes
            that albumentations drops also drop their labels and masks.
        keymap (dict | None): our keys to albumentations' (default
            ``img->image``, ``gt_masks->masks``, ``gt_bboxes->bboxes``).
        update_pad_shape (bool): set ``pad_shape`` to the new image shape.
        skip_img_without_anno (bool): return None when no box survives.
    """

    def __init__(
        self,
        transforms,
        bbox_params=None,
        keymap=None,
        update_pad_shape=False,
        skip_img_without_anno=False,
    ):
        self.albu = _require('albumentations', 'Albu')
        self.transforms = copy.deepcopy(transforms)
        bbox_params = copy.deepcopy(bbox_params)
        self.filter_lost_elements = False
        self.update_pad_shape = update_pad_shape
        self.skip_img_without_anno = skip_img_without_anno
        if (
            isinstance(bbox_params, dict)
            and 'label_fields' in bbox_params
            and 'filter_lost_elements' in bbox_params
        ):
            self.filter_lost_elements = True
            self.origin_label_fields = bbox_params['label_fields']
            bbox_params['label_fields'] = ['idx_mapper']
            del bbox_params['filter_lost_elements']
        self.bbox_params = (
            self.albu_builder(bbox_params) if bbox_params else None
        )
        self.aug = self.albu.Compose(
            [self.albu_builder(t) for t in self.transforms],
            bbox_params=self.bbox_params,
        )
        self.keymap_to_albu = copy.deepcopy(keymap) or {
            'img': 'image',
            'gt_masks': 'masks',
            'gt_bboxes': 'bboxes',
        }
        self.keymap_back = {v: k for k, v in self.keymap_to_albu.items()}

    def albu_builder(self, cfg):
        """Build an albumentations object (nested ``transforms`` too)."""
        if not (isinstance(cfg, dict) and 'type' in cfg):
            raise InvalidArgumentTypeError('an Albu config needs a "type"')
        args = dict(cfg)
        obj_type = args.pop('type')
        if isinstance(obj_type, str):
            obj_cls = getattr(self.albu, obj_type)
        elif inspect.isclass(obj_type):
            obj_cls = obj_type
        else:
            raise InvalidArgumentTypeError(
                f'type must be a str or a class, got {type(obj_type)}'
            )
        if 'transforms' in args:
            args['transforms'] = [
                self.albu_builder(t) for t in args['transforms']
            ]
        return obj_cls(**args)

    @staticmethod
    def mapper(d, keymap):
        """``d`` with its keys renamed by ``keymap``."""
        return _rename(d, keymap)

    def _to_albu(self, results):
        results = _rename(results, self.keymap_to_albu)
        if 'bboxes' in results:
            results['bboxes'] = list(results['bboxes'])
            if self.filter_lost_elements:
                results['idx_mapper'] = np.arange(len(results['bboxes']))
        if 'masks' in results:
            if isinstance(results['masks'], PolygonMasks):
                raise NotImplementedError('Albu supports bitmap masks only')
            results['_mask_cls'] = type(results['masks'])
            results['masks'] = list(results['masks'].masks)
        return results

    def _from_albu(self, results, mask_cls):
        if 'bboxes' in results:
            boxes = np.array(results['bboxes'], dtype=np.float32)
            results['bboxes'] = boxes.reshape(-1, 4)
            if self.filter_lost_elements:
                kept = results['idx_mapper']
                for label in self.origin_label_fields:
                    results[label] = np.array(
                        [results[label][i] for i in kept]
                    )
                if 'masks' in results:
                    h, w = results['image'].shape[:2]
                    masks = np.array([results['masks'][i] for i in kept])
                    results['masks'] = mask_cls(masks, h, w)
                if not len(kept) and self.skip_img_without_anno:
                    return None
        if 'gt_labels' in results:
            results['gt_labels'] = np.asarray(results['gt_labels']).astype(
                np.int64
            )
        return _rename(results, self.keymap_back)

    def __call__(self, results):
        results = self._to_albu(results)
        mask_cls = results.pop('_mask_cls', None)
        results = self._from_albu(self.aug(**results), mask_cls)
        if results is not None and self.update_pad_shape:
            results['pad_shape'] = results['img'].shape
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(transforms={self.transforms})'


@PIPELINES.register_module()
class InstaBoost:
    """InstaBoost (Fang et al. 2019): with probability ``aug_ratio`` jitter
    objects within the image using their masks. Runs on
    ``results['ann_info']`` before ``LoadAnnotations``; the arguments are
    those of ``instaboostfast.InstaBoostConfig``."""

    def __init__(
        self,
        action_candidate=('normal', 'horizontal', 'skip'),
        action_prob=(1, 0, 0),
        scale=(0.8, 1.2),
        dx=15,
        dy=15,
        theta=(-1, 1),
        color_prob=0.5,
        hflag=False,
        aug_ratio=0.5,
    ):
        self.instaboost = _require('instaboostfast', 'InstaBoost')
        self.cfg = self.instaboost.InstaBoostConfig(
            action_candidate,
            action_prob,
            scale,
            dx,
            dy,
            theta,
            color_prob,
            hflag,
        )
        self.aug_ratio = aug_ratio

    @staticmethod
    def _load_anns(results):
        info = results['ann_info']
        return [
            {
                'category_id': label,
                'segmentation': mask,
                'bbox': [x1, y1, x2 - x1, y2 - y1],
            }
            for label, (x1, y1, x2, y2), mask in zip(
                info['labels'], info['bboxes'], info['masks']
            )
        ]

    @staticmethod
    def _parse_anns(results, anns, img):
        kept = [a for a in anns if a['bbox'][2] > 0 and a['bbox'][3] > 0]
        boxes = [
            [x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in kept)
        ]
        info = results['ann_info']
        info['bboxes'] = np.array(boxes, dtype=np.float32)
        info['labels'] = np.array(
            [a['category_id'] for a in kept], dtype=np.int64
        )
        info['masks'] = [a['segmentation'] for a in kept]
        results['img'] = img
        return results

    def __call__(self, results):
        img = results['img']
        anns = self._load_anns(results)
        p = self.aug_ratio
        if np.random.choice([0, 1], p=[1 - p, p]):
            anns, img = self.instaboost.get_new_data(
                anns, img.astype(np.uint8), self.cfg, background=None
            )
        return self._parse_anns(
            results, anns, img.astype(results['img'].dtype)
        )

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(cfg={self.cfg}, '
            f'aug_ratio={self.aug_ratio})'
        )


@PIPELINES.register_module()
class Corrupt:
    """Apply one of the ``imagecorruptions`` benchmark corruptions (Michaelis
    et al. 2019) by name at ``severity`` 1..5 to the uint8 image."""

    def __init__(self, corruption, severity=1):
        self.corruption = corruption
        self.severity = severity

    def __call__(self, results):
        package = _require('imagecorruptions', 'Corrupt')
        if results.get('img_fields', ['img']) != ['img']:
            raise InvalidArgumentTypeError('only one image field is supported')
        results['img'] = package.corrupt(
            results['img'].astype(np.uint8),
            corruption_name=self.corruption,
            severity=self.severity,
        )
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(corruption={self.corruption}, '
            f'severity={self.severity})'
        )
