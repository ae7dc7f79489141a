"""The base detection data set (MMDetection 2.x's ``CustomDataset``).

Annotations in the "middle format": a list with one dict per image::

    dict(filename='a.jpg', width=640, height=480,
         ann=dict(bboxes=(n, 4) float32 [x1, y1, x2, y2],
                  labels=(n,) int64,
                  bboxes_ignore=(k, 4) float32 (optional),
                  labels_ignore=(k,) int64 (optional)))

Subclasses (``CocoDataset``) override ``load_annotations`` and
``get_ann_info`` to read other formats into it. Annotation and proposal
files are read as plain data (pickles and YAML never run code), and a
training set with no image or no object left after filtering is an error
naming the file and why each group of images was dropped.
"""

import os.path as osp
import warnings
from collections import Counter, OrderedDict

import mmcv
import numpy as np
from mmcv.utils import print_log
from terminaltables import AsciiTable
from torch.utils.data import Dataset

from mmdet.core.evaluation import eval_map, eval_recalls
from mmdet.core.visualization import generated_palette
from mmdet.utils.arg_errors import InvalidArgumentError
from mmdet.utils.data_files import load_data_file
from .pipelines import Compose
from .registry import DATASETS

# consecutive failed samples (pipeline returned None) before giving up
MAX_RETRIES = 100


class EmptyDatasetError(ValueError):
    """A training set without any image or object left to train on."""


def missing_data_hint(path):
    """What to do about a missing data set file or folder."""
    if 'tiny_coco' in path:
        return (
            'Generate the tiny data set first: '
            'python tools/misc/make_tiny_coco.py'
        )
    if 'coco' in path:
        return (
            'Put COCO under data/coco (data/coco/annotations/'
            'instances_{train,val}2017.json, data/coco/train2017/, '
            'data/coco/val2017/), link it there (ln -s /path/to/coco '
            'data/coco), or set data_root / ann_file / img_prefix with '
            '--cfg-options'
        )
    return 'Check data_root, ann_file and img_prefix in the config'


def _join(root, path):
    if path is None or root is None or osp.isabs(path) or '://' in path:
        return path
    return osp.join(root, path)


def _loads_masks(pipeline):
    """Whether a pipeline (config dicts or transforms) loads instance
    masks."""
    for step in pipeline or []:
        if isinstance(step, dict):
            if step.get('type') == 'LoadAnnotations' and step.get(
                'with_mask', False
            ):
                return True
        elif getattr(step, 'with_mask', False):
            return True
    return False


@DATASETS.register_module()
class CustomDataset(Dataset):
    """A detection data set read through a pipeline.

    Args:
        ann_file (str): annotation file.
        pipeline (list[dict]): the processing pipeline.
        classes (str | Sequence[str] | None): class names to use instead of
            ``CLASSES`` (a file with one name per line, or a list).
        data_root (str | None): prefix of relative ``ann_file``,
            ``img_prefix``, ``seg_prefix`` and ``proposal_file``.
        img_prefix (str): folder of the images.
        seg_prefix (str | None): folder of segmentation maps.
        seg_suffix (str): their file name suffix.
        proposal_file (str | None): precomputed proposals (a pickle).
        test_mode (bool): no annotations are loaded into samples and no
            images are filtered.
        filter_empty_gt (bool): in training, drop images without objects
            (where the subclass supports it).
        file_client_args (dict): ``mmcv.FileClient`` arguments.
    """

    CLASSES = None
    PALETTE = None

    def __init__(
        self,
        ann_file,
        pipeline,
        classes=None,
        data_root=None,
        img_prefix='',
        seg_prefix=None,
        seg_suffix='.png',
        proposal_file=None,
        test_mode=False,
        filter_empty_gt=True,
        file_client_args=dict(backend='disk'),
    ):
        self.data_root = data_root
        self.ann_file = _join(data_root, ann_file)
        self.img_prefix = _join(data_root, img_prefix)
        self.seg_prefix = _join(data_root, seg_prefix)
        self.seg_suffix = seg_suffix
        self.proposal_file = _join(data_root, proposal_file)
        self.test_mode = test_mode
        self.filter_empty_gt = filter_empty_gt
        self.file_client_args = file_client_args
        self.file_client = mmcv.FileClient(**file_client_args)
        self.CLASSES = self.get_classes(classes)
        self.PALETTE = self._palette_for(self.CLASSES)
        self._check_paths()
        self.loads_masks = _loads_masks(pipeline)

        self.data_infos = self.load_annotations(self.ann_file)
        self.proposals = (
            self.load_proposals(self.proposal_file)
            if self.proposal_file is not None
            else None
        )
        if not test_mode:
            read_infos = self.data_infos
            valid = self._filter_imgs()
            self.data_infos = [self.data_infos[i] for i in valid]
            if self.proposals is not None:
                self.proposals = [self.proposals[i] for i in valid]
            self._check_trainable(read_infos)
            # aspect-ratio groups of the training samplers (test mode has
            # none, as in MMDetection)
            self._set_group_flag()
        self.pipeline = Compose(pipeline)

    # -- set-up ---------------------------------------------------------

    def _on_disk(self):
        return self.file_client_args.get('backend', 'disk') == 'disk'

    def _check_paths(self):
        """Missing files/folders fail here, naming the path and the fix."""
        if not self._on_disk():
            return
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'annotation file {self.ann_file!r} does not exist. '
                f'{missing_data_hint(self.ann_file)}'
            )
        if self.img_prefix and not osp.isdir(self.img_prefix):
            raise FileNotFoundError(
                f'image folder {self.img_prefix!r} does not exist. '
                f'{missing_data_hint(self.img_prefix)}'
            )
        if self.proposal_file is not None and not osp.isfile(
            self.proposal_file
        ):
            raise FileNotFoundError(
                f'proposal file {self.proposal_file!r} does not exist'
            )

    @classmethod
    def get_classes(cls, classes=None):
        """The class names: ``CLASSES`` by default, else ``classes`` (a
        list/tuple, or a file with one name per line)."""
        if classes is None:
            return cls.CLASSES
        if isinstance(classes, str):
            if not osp.isfile(classes):
                raise FileNotFoundError(
                    f'class name file {classes!r} does not exist'
                )
            return mmcv.list_from_file(classes)
        if isinstance(classes, (tuple, list)):
            return classes
        raise ValueError(
            f'classes must be a list, a tuple or a file name, '
            f'got {type(classes)}'
        )

    def _palette_for(self, classes):
        """The class's own PALETTE for its own classes, else one generated
        for ``classes``."""
        own = type(self).PALETTE
        if classes is None or (
            own is not None
            and tuple(classes) == tuple(type(self).CLASSES or ())
        ):
            return own
        return generated_palette(len(classes))

    def load_annotations(self, ann_file):
        """Read the middle-format list (.json, .pkl or .yaml; pickles and
        YAML as plain data only, never running code)."""
        return load_data_file(
            ann_file,
            'annotation file',
            'Write annotation files as plain data (lists, dicts, numpy '
            'arrays), e.g. with mmcv.dump.',
        )

    def load_proposals(self, proposal_file):
        """Read the proposals: per image an (n, 4) or (n, 5) array (a
        .pkl of numpy arrays, read as plain data only)."""
        return load_data_file(
            proposal_file,
            'proposal file',
            'Write proposals as a list of numpy arrays, e.g. with '
            'tools/test.py --out or mmcv.dump.',
        )

    def get_ann_info(self, idx):
        """The annotation dict of image ``idx`` (see the module doc)."""
        return self.data_infos[idx]['ann']

    def get_cat_ids(self, idx):
        """The class labels present in image ``idx`` (list[int])."""
        return self.data_infos[idx]['ann']['labels'].astype(np.int64).tolist()

    def _filter_imgs(self, min_size=32):
        """Indices of the images kept for training (both sides >= min_size;
        this base class cannot tell empty images apart)."""
        if self.filter_empty_gt:
            warnings.warn(
                'CustomDataset does not filter images without objects'
            )
        return [
            i
            for i, info in enumerate(self.data_infos)
            if min(info['width'], info['height']) >= min_size
        ]

    def _drop_reasons(self, read_infos):
        """Why the images ``read_infos`` were left out of training: list of
        (count, reason) (here only the image size; subclasses add their
        own)."""
        small = sum(
            min(info['width'], info['height']) < 32 for info in read_infos
        )
        return [(small, 'have a side under 32 pixels')]

    def _object_drop_reasons(self):
        """Why the objects of the kept images are unusable: list of
        (count, reason)."""
        return []

    def _check_trainable(self, read_infos):
        """Stop before training when no image, or no object at all, is left
        for it; the message says how many images were read and why each
        group was dropped."""
        if len(self.data_infos) == 0:
            reasons = '; '.join(
                f'{count} {why}'
                for count, why in self._drop_reasons(read_infos)
                if count
            )
            raise EmptyDatasetError(
                f'no training images: {self.ann_file!r} lists '
                f'{len(read_infos)} images and the training filter dropped '
                f'them all ({reasons or "the file lists no image"}). Check '
                f'the annotation file and `classes` (now {self.CLASSES}), '
                'or keep images without objects with '
                'filter_empty_gt=False.'
            )
        if any(len(self.get_ann_info(i)['labels']) for i in range(len(self))):
            return
        reasons = ', '.join(
            f'{count} {why}'
            for count, why in self._object_drop_reasons()
            if count
        )
        raise EmptyDatasetError(
            f'no training objects: the {len(self)} training images of '
            f'{self.ann_file!r} (of {len(read_infos)} read) hold no usable '
            'object'
            f'{" (" + reasons + ")" if reasons else ""}. Check the boxes '
            '([x, y, w, h] in pixels, w and h >= 1) and the categories.'
        )

    def _set_group_flag(self):
        """``flag[i]`` = 1 for landscape images (w / h > 1), else 0: the
        group samplers batch images of one orientation together."""
        self.flag = np.array(
            [
                int(info['width'] / info['height'] > 1)
                for info in self.data_infos
            ],
            dtype=np.uint8,
        )

    # -- samples --------------------------------------------------------

    def __len__(self):
        return len(self.data_infos)

    def pre_pipeline(self, results):
        """Fields every pipeline expects."""
        results['img_prefix'] = self.img_prefix
        results['seg_prefix'] = self.seg_prefix
        results['proposal_file'] = self.proposal_file
        results['bbox_fields'] = []
        results['mask_fields'] = []
        results['seg_fields'] = []

    def prepare_train_img(self, idx):
        """The pipeline's output for training sample ``idx`` (None when the
        pipeline dropped it)."""
        results = dict(
            img_info=self.data_infos[idx], ann_info=self.get_ann_info(idx)
        )
        if self.proposals is not None:
            results['proposals'] = self.proposals[idx]
        self.pre_pipeline(results)
        return self.pipeline(results)

    def prepare_test_img(self, idx):
        """The pipeline's output for test sample ``idx`` (no annotations)."""
        results = dict(img_info=self.data_infos[idx])
        if self.proposals is not None:
            results['proposals'] = self.proposals[idx]
        self.pre_pipeline(results)
        return self.pipeline(results)

    def _rand_another(self, idx):
        """A random index of the same aspect-ratio group as ``idx``."""
        pool = np.flatnonzero(self.flag == self.flag[idx])
        return int(np.random.choice(pool))

    def __getitem__(self, idx):
        """Test mode: the test sample. Training: the training sample, or,
        when the pipeline drops it (returns None, e.g. no object left),
        another random sample of the same group."""
        if self.test_mode:
            return self.prepare_test_img(idx)
        for _ in range(MAX_RETRIES):
            data = self.prepare_train_img(idx)
            if data is not None:
                return data
            idx = self._rand_another(idx)
        raise RuntimeError(
            f'the training pipeline dropped {MAX_RETRIES} samples in a row '
            '(e.g. FilterAnnotations(keep_empty=True) with no object '
            'left); check the annotations and the pipeline'
        )

    # -- results --------------------------------------------------------

    def format_results(self, results, **kwargs):
        """Nothing to format for this base class."""

    def evaluate(
        self,
        results,
        metric='mAP',
        logger=None,
        proposal_nums=(100, 300, 1000),
        iou_thr=0.5,
        scale_ranges=None,
    ):
        """VOC-style box mAP or proposal recall of ``results`` against
        ``get_ann_info`` (MMDetection 2.x's ``CustomDataset.evaluate``).

        Args:
            results (list): per image, for 'mAP' a list of per-class (m, 5)
                detections; for 'recall' (k, 5) or (k, 4) proposals (a
                per-class list is stacked).
            metric (str | list[str]): 'mAP' or 'recall' (one metric).
            logger (logging.Logger | str | None): where the tables go.
            proposal_nums (Sequence[int]): top-N proposals for 'recall'.
            iou_thr (float | list[float]): IoU threshold(s).
            scale_ranges (list[tuple] | None): box size ranges for 'mAP'
                (then each value is a list, one entry per range).

        Returns:
            OrderedDict: 'mAP': ``AP50``-style keys (mAP at each threshold,
            rounded to 3 decimals) and 'mAP' (their unrounded mean);
            'recall': ``recall@{num}@{iou}`` and, with several thresholds,
            ``AR@{num}`` (mean over them).
        """
        if not isinstance(metric, str):
            if len(metric) != 1:
                raise AssertionError(
                    f'{type(self).__name__} evaluates one metric at a time, '
                    f'got {metric}'
                )
            metric = metric[0]
        if metric not in ('mAP', 'recall'):
            raise KeyError(f'metric {metric} is not supported')
        if len(results) != len(self):
            raise InvalidArgumentError(
                f'{len(results)} results for a data set of {len(self)} images'
            )
        annotations = [self.get_ann_info(i) for i in range(len(self))]
        iou_thrs = [iou_thr] if isinstance(iou_thr, float) else list(iou_thr)
        if metric == 'mAP':
            return self._eval_map(
                results, annotations, iou_thrs, scale_ranges, logger
            )
        return self._eval_recall(
            results, annotations, proposal_nums, iou_thrs, logger
        )

    def _eval_map(self, results, annotations, iou_thrs, scale_ranges, logger):
        """``evaluate``'s 'mAP' metric: one ``eval_map`` per threshold
        (with ``scale_ranges`` each value is a list over the ranges)."""
        eval_results = OrderedDict()
        mean_aps = []
        for thr in iou_thrs:
            print_log(f'\n{"-" * 15}iou_thr: {thr}{"-" * 15}', logger=logger)
            mean_ap, _ = eval_map(
                results,
                annotations,
                scale_ranges=scale_ranges,
                iou_thr=thr,
                dataset=self.CLASSES,
                logger=logger,
            )
            mean_aps.append(mean_ap)
            eval_results[f'AP{int(thr * 100):02d}'] = (
                round(mean_ap, 3)
                if scale_ranges is None
                else [round(v, 3) for v in mean_ap]
            )
        if scale_ranges is None:
            eval_results['mAP'] = sum(mean_aps) / len(mean_aps)
        else:
            eval_results['mAP'] = [sum(v) / len(v) for v in zip(*mean_aps)]
        return eval_results

    def _eval_recall(
        self,
        results,
        annotations,
        proposal_nums,
        iou_thrs,
        logger,
        use_legacy_coordinate=False,
    ):
        """``evaluate``'s 'recall' metric through ``eval_recalls``
        (``use_legacy_coordinate``: the +1 box sizes of VOC)."""
        proposals = [
            r if isinstance(r, np.ndarray) else np.vstack(r) for r in results
        ]
        recalls = eval_recalls(
            [ann['bboxes'] for ann in annotations],
            proposals,
            proposal_nums,
            iou_thrs,
            logger=logger,
            use_legacy_coordinate=use_legacy_coordinate,
        )
        eval_results = OrderedDict()
        for i, num in enumerate(proposal_nums):
            for j, thr in enumerate(iou_thrs):
                eval_results[f'recall@{num}@{thr}'] = recalls[i, j]
        if recalls.shape[1] > 1:
            for num, ar in zip(proposal_nums, recalls.mean(axis=1)):
                eval_results[f'AR@{num}'] = ar
        return eval_results

    def __repr__(self):
        mode = 'Test' if self.test_mode else 'Train'
        head = (
            f'\n{type(self).__name__} {mode} dataset with {len(self)} images\n'
        )
        if self.CLASSES is None:
            return head + 'the classes are not set\n'
        counts = Counter()
        for idx in range(len(self)):
            labels = self.get_ann_info(idx)['labels']
            counts.update(np.asarray(labels).tolist())
            if len(labels) == 0:
                counts[-1] += 1
        rows = [['category', 'count'] * 5]
        cells = [f'{i} [{name}]' for i, name in enumerate(self.CLASSES)]
        cells = [x for i, c in enumerate(cells) for x in (c, counts[i])]
        if counts[-1]:
            cells += ['-1 background', counts[-1]]
        for start in range(0, len(cells), 10):
            rows.append(cells[start : start + 10])
        table = AsciiTable(rows)
        table.inner_footing_row_border = False
        return head + table.table
