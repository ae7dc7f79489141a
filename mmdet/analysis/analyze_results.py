"""Rank the images of a config's test set by the box mAP of saved
detection results and draw the best and the worst
(``tools/analysis_tools/analyze_results.py``), as MMDetection 2.28 does.

The drawings go to ``SHOW_DIR/good`` and ``SHOW_DIR/bad``, named
``<image stem>_<mAP rounded to 3 places><image extension>``.
"""

import os.path as osp

import mmcv
import numpy as np

from mmdet.analysis.reevaluate import load_results
from mmdet.apis.builders import build_test_dataset, load_config
from mmdet.core.evaluation import eval_map
from mmdet.core.visualization import imshow_gt_det_bboxes
from mmdet.datasets import get_loading_pipeline
from mmdet.utils import compat_cfg

# the COCO thresholds 0.5, 0.55, ..., 0.95
IOU_THRS = np.linspace(0.5, 0.95, 10)
TEXT_COLOR = (200, 200, 200)


def bbox_map_eval(det_result, annotation):
    """The box mAP of one image, averaged over ``IOU_THRS``.

    Each threshold's mAP is ``eval_map``'s: area AP per class, averaged
    over the classes with ground truth (0.0 when the image has none).

    Args:
        det_result (list[ndarray] | tuple): per class (n, 5) boxes
            ``x1, y1, x2, y2, score`` in pixels, or a ``(bbox, segm)``
            tuple (the masks are ignored).
        annotation (dict): ``bboxes`` (G, 4), ``labels`` (G,) and
            optionally ``bboxes_ignore`` (K, 4), as ``get_ann_info``
            returns them.

    Returns:
        float: the mAP, in [0, 1].
    """
    dets = det_result[0] if isinstance(det_result, tuple) else det_result
    maps = [
        eval_map([dets], [annotation], iou_thr=thr, logger='silent', nproc=1)[
            0
        ]
        for thr in IOU_THRS
    ]
    return sum(maps) / len(maps)


def check_detection_results(results):
    """Refuse anything but per-image box (and mask) results."""
    for result in results:
        if isinstance(result, dict):
            raise TypeError(
                'panoptic segmentation results are not supported; give the '
                'results of a detector (per-class box lists, or (bbox, '
                'segm) tuples)'
            )
        if not isinstance(result, (list, tuple)):
            raise TypeError(
                'expected per-image detection results (a list or a '
                f'tuple), got {type(result).__name__}'
            )


def rank_images(dataset, results):
    """Every image's box mAP, worst first.

    Args:
        dataset: a data set with ``get_ann_info``.
        results (list): per-image detection results.

    Returns:
        list[tuple[int, float]]: ``(index, mAP)`` in ascending mAP (ties
        in index order).
    """
    check_detection_results(results)
    progress = mmcv.ProgressBar(len(results))
    maps = []
    for idx, result in enumerate(results):
        maps.append((idx, bbox_map_eval(result, dataset.get_ann_info(idx))))
        progress.update()
    return sorted(maps, key=lambda item: item[1])


def split_topk(ranked, topk):
    """The ``topk`` best and worst of ``ranked`` (ascending).

    ``topk`` is cut to half of the images when the two would overlap.

    Returns:
        tuple: (good, bad) lists of ``(index, mAP)``, each ascending.
    """
    if topk <= 0:
        raise ValueError(f'topk must be positive, got {topk}')
    topk = min(topk, len(ranked) // 2)
    return ranked[len(ranked) - topk :], ranked[:topk]


def draw_images(
    dataset,
    results,
    samples,
    out_dir,
    show=False,
    wait_time=0,
    score_thr=0,
    overlay_gt_pred=False,
):
    """Draw ground truth and detections of ``samples`` into ``out_dir``.

    Args:
        dataset: a data set whose pipeline only loads (image and
            annotations), so ``prepare_train_img`` gives ``img``,
            ``gt_bboxes``, ``gt_labels`` (and ``gt_masks``).
        results (list): per-image results (masks are drawn too).
        samples (list[tuple[int, float]]): ``(index, mAP)`` to draw.
        out_dir (str): created when missing.
        show (bool), wait_time (float, seconds): also show each drawing.
        score_thr (float): draw detections scoring above it.
        overlay_gt_pred (bool): ground truth and detections on one image,
            else ground truth stacked above detections.

    Returns:
        list[str]: the files written.
    """
    mmcv.mkdir_or_exist(out_dir)
    written = []
    for idx, score in samples:
        data = dataset.prepare_train_img(idx)
        stem, ext = osp.splitext(osp.basename(data['img_info']['filename']))
        out_file = osp.join(out_dir, f'{stem}_{round(score, 3)}{ext}')
        imshow_gt_det_bboxes(
            data['img'],
            data,
            results[idx],
            dataset.CLASSES,
            score_thr=score_thr,
            gt_bbox_color=dataset.PALETTE,
            gt_text_color=TEXT_COLOR,
            gt_mask_color=dataset.PALETTE,
            det_bbox_color=dataset.PALETTE,
            det_text_color=TEXT_COLOR,
            det_mask_color=dataset.PALETTE,
            show=show,
            wait_time=wait_time,
            out_file=out_file,
            overlay_gt_pred=overlay_gt_pred,
        )
        written.append(out_file)
    return written


def _innermost_pipeline(data_cfg):
    """The pipeline of a data set config inside wrappers (RepeatDataset,
    ClassBalancedDataset, MultiImageMixDataset, ConcatDataset)."""
    while True:
        if isinstance(data_cfg, (list, tuple)):
            data_cfg = data_cfg[0]
        elif 'dataset' in data_cfg:
            data_cfg = data_cfg['dataset']
        elif 'datasets' in data_cfg:
            data_cfg = data_cfg['datasets']
        else:
            return data_cfg['pipeline']


def build_loading_dataset(cfg):
    """``data.test`` with the loading steps of the training pipeline as
    its pipeline (images and annotations, no augmentation)."""
    loading = get_loading_pipeline(_innermost_pipeline(cfg.data.train))
    tests = cfg.data.test
    for ds_cfg in tests if isinstance(tests, list) else [tests]:
        ds_cfg.pipeline = loading
    return build_test_dataset(cfg)


def analyze_results(
    config,
    prediction_path,
    show_dir,
    show=False,
    wait_time=0,
    topk=20,
    show_score_thr=0,
    overlay_gt_pred=False,
    cfg_options=None,
):
    """Rank a results file's images by box mAP and draw the ``topk`` best
    into ``show_dir/good`` and the ``topk`` worst into ``show_dir/bad``.

    Args:
        config (str): the config (its ``data.test`` is the data set).
        prediction_path (str): ``.pkl`` of ``tools/test.py --out``.
        show_dir (str): output folder.
        cfg_options (dict | None): ``--cfg-options`` overrides.
        Others: see ``split_topk`` and ``draw_images``.

    Returns:
        dict: ``good`` and ``bad``, lists of ``(index, mAP)`` ascending.
    """
    if topk <= 0:
        raise ValueError(f'topk must be positive, got {topk}')
    cfg = compat_cfg(load_config(config, cfg_options))
    dataset = build_loading_dataset(cfg)
    results = load_results(prediction_path, dataset)
    good, bad = split_topk(rank_images(dataset, results), topk)
    options = dict(
        show=show,
        wait_time=wait_time,
        score_thr=show_score_thr,
        overlay_gt_pred=overlay_gt_pred,
    )
    for name, samples in (('good', good), ('bad', bad)):
        out_dir = osp.abspath(osp.join(show_dir, name))
        draw_images(dataset, results, samples, out_dir, **options)
    return dict(good=good, bad=bad)
