"""Cityscapes instances in COCO json (MMDetection 2.x's
``CityscapesDataset``; ``tools/dataset_converters/cityscapes.py`` writes
the json). Metrics: COCO's 'bbox' / 'segm' / 'proposal' and the official
instance-level 'cityscapes' AP through ``cityscapesscripts``
(``pip install cityscapesscripts``).
"""

import contextlib
import copy
import glob
import json
import os.path as osp
import tempfile
from collections import OrderedDict

import mmcv
import numpy as np
import pycocotools.mask as mask_utils
from mmcv.utils import print_log

from mmdet.core.evaluation import cityscapes_classes
from .coco import CocoDataset
from .numpy_compat import legacy_numpy_aliases
from .registry import DATASETS


def import_cityscapesscripts():
    """``(CSEval, CSLabels)`` of the optional cityscapesscripts package,
    with the install command when it is missing."""
    try:
        import cityscapesscripts.evaluation.evalInstanceLevelSemanticLabeling as CSEval  # noqa: E501
        import cityscapesscripts.helpers.labels as CSLabels
    except ImportError as err:
        raise ImportError(
            'The Cityscapes metric and converter need cityscapesscripts: '
            'pip install cityscapesscripts'
        ) from err
    return CSEval, CSLabels


def _binary_mask(segm):
    """(h, w) uint8 mask of an RLE dict or a binary array."""
    if isinstance(segm, dict):
        return mask_utils.decode(segm).astype(np.uint8)
    return np.asarray(segm, dtype=np.uint8)


def _plain(obj):
    """JSON form of numpy scalars (numpy 2 returns them from counts) and of
    cityscapesscripts' instance objects."""
    return obj.item() if isinstance(obj, np.generic) else obj.__dict__


@contextlib.contextmanager
def _json_writes_into(cs_eval, result_dir):
    """cityscapesscripts writes 'matches.json' into the working directory
    and cannot serialise numpy 2's scalars: while evaluating, its JSON
    writer puts relative paths under ``result_dir`` and converts them."""

    def write(data, path):
        path = path if osp.isabs(path) else osp.join(result_dir, path)
        with open(path, 'w') as f:
            json.dump(data, f, default=_plain, sort_keys=True, indent=4)

    original = cs_eval.writeDict2JSON
    cs_eval.writeDict2JSON = write
    try:
        yield
    finally:
        cs_eval.writeDict2JSON = original


@DATASETS.register_module()
class CityscapesDataset(CocoDataset):
    """The 8 Cityscapes instance classes."""

    CLASSES = tuple(cityscapes_classes())
    PALETTE = [
        (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
        (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    ]  # fmt: skip

    def _filter_imgs(self, min_size=32):
        """As COCO's, and (with ``filter_empty_gt``) images whose objects
        are all crowd regions are dropped too."""
        kept = super()._filter_imgs(min_size)
        if not self.filter_empty_gt:
            return kept
        valid, valid_ids = [], []
        for i in kept:
            img_id = self.data_infos[i]['id']
            anns = self.coco.load_anns(self.coco.get_ann_ids(img_ids=[img_id]))
            if not all(a.get('iscrowd', 0) for a in anns):
                valid.append(i)
                valid_ids.append(img_id)
        self.img_ids = valid_ids
        return valid

    def _parse_ann_info(self, img_info, ann_info):
        """COCO's parse; the semantic map is the image's ``segm_file``."""
        ann = super()._parse_ann_info(img_info, ann_info)
        if 'segm_file' in img_info:
            ann['seg_map'] = img_info['segm_file']
        return ann

    def results2txt(self, results, outfile_prefix):
        """Write the instance results in Cityscapes' format: per image
        ``<name>_pred.txt`` listing ``<mask png> <label id> <score>``.

        Args:
            results (list[tuple]): per image (bbox_results, segm_results);
                segm_results per class (or (masks, mask_scores)).
            outfile_prefix (str): the output folder.

        Returns:
            list[str]: the txt files.
        """
        _, CSLabels = import_cityscapesscripts()
        mmcv.mkdir_or_exist(outfile_prefix)
        files = []
        for info, (bbox_result, segm_result) in zip(self.data_infos, results):
            base = osp.splitext(osp.basename(info['filename']))[0]
            if isinstance(segm_result, tuple):
                segms = mmcv.concat_list(segm_result[0])
                scores = list(segm_result[1])
            else:
                segms = mmcv.concat_list(segm_result)
                scores = [b[-1] for b in np.vstack(bbox_result)]
            labels = np.concatenate(
                [np.full(len(b), i) for i, b in enumerate(bbox_result)]
            )
            lines = []
            for i, (segm, label) in enumerate(zip(segms, labels)):
                name = self.CLASSES[label]
                png = osp.join(outfile_prefix, f'{base}_{i}_{name}.png')
                mmcv.imwrite(_binary_mask(segm), png)
                class_id = CSLabels.name2label[name].id
                lines.append(f'{osp.basename(png)} {class_id} {scores[i]}\n')
            txt = osp.join(outfile_prefix, f'{base}_pred.txt')
            with open(txt, 'w') as f:
                f.writelines(lines)
            files.append(txt)
        return files

    def format_results(self, results, txtfile_prefix=None):
        """``results2txt`` into ``txtfile_prefix`` (a temporary folder when
        None). Returns (txt files, the TemporaryDirectory or None)."""
        if len(results) != len(self):
            raise ValueError(
                f'{len(results)} results for a data set of {len(self)} images'
            )
        tmp_dir = None
        if txtfile_prefix is None:
            tmp_dir = tempfile.TemporaryDirectory()
            txtfile_prefix = osp.join(tmp_dir.name, 'results')
        return self.results2txt(results, txtfile_prefix), tmp_dir

    def evaluate(
        self,
        results,
        metric='bbox',
        logger=None,
        outfile_prefix=None,
        classwise=False,
        proposal_nums=(100, 300, 1000),
        iou_thrs=np.arange(0.5, 0.96, 0.05),
    ):
        """'cityscapes' (``mAP``, ``AP@50`` of cityscapesscripts) and/or
        COCO's 'bbox', 'segm', 'proposal', 'proposal_fast' (their COCO
        keys; ``outfile_prefix`` keeps the files)."""
        metrics = (
            list(metric) if isinstance(metric, (list, tuple)) else [metric]
        )
        eval_results = OrderedDict()
        if 'cityscapes' in metrics:
            eval_results.update(
                self._evaluate_cityscapes(results, outfile_prefix, logger)
            )
            metrics.remove('cityscapes')
        if metrics:
            eval_results.update(
                self._coco_view().evaluate(
                    results,
                    metrics,
                    logger,
                    outfile_prefix,
                    classwise,
                    proposal_nums,
                    iou_thrs,
                )
            )
        return eval_results

    def _coco_view(self):
        """This data set as a plain CocoDataset (same state), whose
        ``format_results`` writes COCO json for the COCO metrics."""
        view = copy.copy(self)
        view.__class__ = CocoDataset
        return view

    def _evaluate_cityscapes(self, results, txtfile_prefix, logger):
        """cityscapesscripts' instance AP: ground truth
        ``gtFine/<split>/<city>/*_gtFine_instanceIds.png`` beside
        ``img_prefix`` (``leftImg8bit/<split>/``)."""
        CSEval, _ = import_cityscapesscripts()
        print_log('Evaluating in Cityscapes style', logger=logger)
        _, tmp_dir = self.format_results(results, txtfile_prefix)
        result_dir = (
            txtfile_prefix
            if tmp_dir is None
            else osp.join(tmp_dir.name, 'results')
        )
        try:
            return self._run_cseval(CSEval, result_dir, logger)
        finally:
            if tmp_dir is not None:
                tmp_dir.cleanup()

    def _run_cseval(self, CSEval, result_dir, logger):
        args = CSEval.args
        args.cityscapesPath = osp.join(self.img_prefix, '../..')
        args.predictionPath = osp.abspath(result_dir)
        args.predictionWalk = None
        args.JSONOutput = False
        args.colorized = False
        args.gtInstancesFile = osp.join(result_dir, 'gtInstances.json')
        args.groundTruthSearch = osp.join(
            self.img_prefix.replace('leftImg8bit', 'gtFine'),
            '*/*_gtFine_instanceIds.png',
        )
        gts = sorted(glob.glob(args.groundTruthSearch))
        if not gts:
            raise FileNotFoundError(
                f'Cannot find ground truth images in {args.groundTruthSearch}.'
            )
        print_log(f'Evaluating results under {result_dir} ...', logger)
        preds = [CSEval.getPrediction(gt, args) for gt in gts]
        with legacy_numpy_aliases(), _json_writes_into(CSEval, result_dir):
            averages = CSEval.evaluateImgLists(preds, gts, args)['averages']
        return OrderedDict(
            [('mAP', averages['allAp']), ('AP@50', averages['allAp50%'])]
        )
