"""LVIS v0.5 and v1 (MMDetection 2.x's ``LVISV05Dataset`` /
``LVISV1Dataset``; ``LVISDataset`` is v0.5's name too).

The annotation json is read with this tree's COCO reader (LVIS has no
``iscrowd``: every object is a training box); the 1230 (v0.5) / 1203 (v1)
class names come from its categories in file order, MMDetection's label
order. Evaluation needs the ``lvis`` package (``pip install lvis``).
"""

from collections import OrderedDict

import numpy as np
from mmcv.utils import print_log

from .coco import CocoDataset
from .numpy_compat import legacy_numpy_aliases
from .registry import DATASETS

COCO_URL = 'http://images.cocodataset.org/'


def import_lvis():
    """``(LVIS, LVISEval, LVISResults)`` from the optional ``lvis``
    package, with the install command when it is missing."""
    try:
        from lvis import LVIS, LVISEval, LVISResults
    except ImportError as err:
        raise ImportError(
            'LVIS evaluation needs the lvis package: pip install lvis '
            '(or pip install -r requirements/optional.txt)'
        ) from err
    return LVIS, LVISEval, LVISResults


@DATASETS.register_module()
class LVISV05Dataset(CocoDataset):
    """LVIS v0.5: images ``COCO_train2014_<12 digits>.jpg`` are read as
    ``<12 digits>.jpg`` under ``img_prefix`` (COCO 2017's names)."""

    CLASSES = None
    PALETTE = None

    def _image_file(self, img):
        name = img['file_name']
        return name[-16:] if name.startswith('COCO') else name

    def _prepare_coco_dict(self, dataset):
        for img in dataset.get('images', []):
            img['file_name'] = self._image_file(img)

    def evaluate(
        self,
        results,
        metric='bbox',
        logger=None,
        jsonfile_prefix=None,
        classwise=False,
        proposal_nums=(100, 300, 1000),
        iou_thrs=np.arange(0.5, 0.96, 0.05),
    ):
        """LVIS AP through the lvis package: ``{metric}_AP``, ``_AP50``,
        ``_AP75``, ``_APs/m/l``, ``_APr/c/f`` and ``_mAP_copypaste`` for
        'bbox' / 'segm'; ``AR@...`` for 'proposal'; ``AR@{n}`` for
        'proposal_fast' (no lvis needed)."""
        metrics = metric if isinstance(metric, list) else [metric]
        for m in metrics:
            if m not in ('bbox', 'segm', 'proposal', 'proposal_fast'):
                raise KeyError(f'metric {m} is not supported')
        eval_results = OrderedDict()
        if 'proposal_fast' in metrics:
            recalls = self.fast_eval_recall(results, proposal_nums, iou_thrs)
            for num, recall in zip(proposal_nums, recalls):
                eval_results[f'AR@{num}'] = float(recall)
            metrics = [m for m in metrics if m != 'proposal_fast']
        if not metrics:
            return eval_results
        LVIS, _, _ = import_lvis()
        lvis_gt = LVIS(self.ann_file)
        result_files, tmp_dir = self.format_results(results, jsonfile_prefix)
        try:
            for m in metrics:
                eval_results.update(self._lvis_eval(lvis_gt, m, result_files))
        finally:
            if tmp_dir is not None:
                tmp_dir.cleanup()
        print_log(str(dict(eval_results)), logger=logger)
        return eval_results

    def _lvis_eval(self, lvis_gt, metric, result_files):
        _, LVISEval, LVISResults = import_lvis()
        lvis_dt = LVISResults(lvis_gt, result_files[metric])
        iou_type = 'bbox' if metric == 'proposal' else metric
        lvis_eval = LVISEval(lvis_gt, lvis_dt, iou_type)
        lvis_eval.params.imgIds = self.img_ids
        if metric == 'proposal':
            # class-agnostic; lvis keeps its own max_dets (300)
            lvis_eval.params.use_cats = 0
        with legacy_numpy_aliases():
            lvis_eval.run()
        lvis_eval.print_results()
        stats = lvis_eval.get_results()
        if metric == 'proposal':
            return {
                k: float(f'{float(v):.3f}')
                for k, v in stats.items()
                if k.startswith('AR')
            }
        aps = {k: float(v) for k, v in stats.items() if k.startswith('AP')}
        out = {f'{metric}_{k}': float(f'{v:.3f}') for k, v in aps.items()}
        out[f'{metric}_mAP_copypaste'] = ' '.join(
            f'{k}:{v:.3f}' for k, v in aps.items()
        )
        return out


LVISDataset = LVISV05Dataset
DATASETS.register_module(name='LVISDataset', module=LVISDataset)


@DATASETS.register_module()
class LVISV1Dataset(LVISV05Dataset):
    """LVIS v1: images are named by their ``coco_url`` under
    ``img_prefix`` (``train2017/<id>.jpg`` / ``val2017/<id>.jpg``)."""

    def _image_file(self, img):
        return img['coco_url'].replace(COCO_URL, '')
