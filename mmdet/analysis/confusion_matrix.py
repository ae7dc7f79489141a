"""The confusion matrix of saved detection results against the ground
truth of a config's test set (``tools/analysis_tools/confusion_matrix.py``),
counted as MMDetection 2.28 counts it.

Rows are ground-truth classes, columns predicted classes; index
``num_classes`` (the last row and column) is background: a detection that
overlaps no ground truth lands in the background row, a ground-truth box
that no detection of its class found lands in the background column.
"""

import os.path as osp

import mmcv
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmdet.analysis.reevaluate import load_results
from mmdet.apis.builders import build_test_dataset, load_config
from mmdet.core.evaluation import bbox_overlaps
from mmdet.core.post_processing import nms
from mmdet.utils import compat_cfg

PLOT_NAME = 'confusion_matrix.png'


def bbox_part(results):
    """The box part of each image's result.

    Args:
        results (list): per image, a per-class list of (n, 5) arrays or a
            ``(bbox_results, segm_results)`` tuple.

    Returns:
        list[list[ndarray]]: per image, per class (n, 5) boxes
        ``x1, y1, x2, y2, score`` in pixels.
    """
    boxes = []
    for result in results:
        if isinstance(result, tuple):
            result = result[0]
        if not isinstance(result, list):
            raise TypeError(
                'expected per-image detection results (a list of per-class '
                'box arrays, or a (bbox, segm) tuple), got '
                f'{type(result).__name__}; panoptic results are not '
                'supported'
            )
        boxes.append(result)
    return boxes


def count_image(
    matrix,
    gt_bboxes,
    gt_labels,
    dets,
    score_thr=0,
    tp_iou_thr=0.5,
    nms_iou_thr=None,
):
    """Add the detections of one image to ``matrix`` (in place).

    A detection scoring at least ``score_thr`` adds one to
    ``matrix[gt_label, det_label]`` for every ground-truth box it overlaps
    with IoU >= ``tp_iou_thr`` (so one detection may count more than once),
    or one to ``matrix[-1, det_label]`` when it overlaps none. A
    ground-truth box without such a detection of its own class adds one
    to ``matrix[gt_label, -1]``.

    Args:
        matrix (ndarray): (C + 1, C + 1) counts, C classes.
        gt_bboxes (ndarray): (G, 4) ``x1, y1, x2, y2`` in pixels.
        gt_labels (ndarray): (G,) class indices in [0, C).
        dets (list[ndarray]): C arrays (n_c, 5), boxes and score.
        score_thr (float): detections scoring lower are ignored.
        tp_iou_thr (float): IoU from which a detection matches a box.
        nms_iou_thr (float | None): when set (and not 0), NMS with this
            IoU threshold is run again on each class's detections first.

    Returns:
        ndarray: ``matrix``.
    """
    gt_bboxes = np.asarray(gt_bboxes, dtype=np.float32).reshape(-1, 4)
    gt_labels = np.asarray(gt_labels, dtype=np.int64).reshape(-1)
    same_class_hits = np.zeros(len(gt_labels), dtype=np.int64)
    for label, boxes in enumerate(dets):
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 5)
        if nms_iou_thr:
            boxes, _ = nms(
                np.ascontiguousarray(boxes[:, :4]),
                np.ascontiguousarray(boxes[:, 4]),
                nms_iou_thr,
                score_threshold=score_thr,
            )
        boxes = boxes[boxes[:, 4] >= score_thr]
        # (n, G): which ground-truth boxes each detection matches
        matched = bbox_overlaps(boxes[:, :4], gt_bboxes) >= tp_iou_thr
        hits_per_gt = matched.sum(axis=0)
        np.add.at(matrix[:, label], gt_labels, hits_per_gt)
        same_class_hits += hits_per_gt * (gt_labels == label)
        matrix[-1, label] += np.count_nonzero(~matched.any(axis=1))
    np.add.at(matrix[:, -1], gt_labels[same_class_hits == 0], 1)
    return matrix


def calculate_confusion_matrix(
    dataset, results, score_thr=0, nms_iou_thr=None, tp_iou_thr=0.5
):
    """The confusion matrix of ``results`` on ``dataset``.

    Args:
        dataset: a data set with ``CLASSES`` and ``get_ann_info``.
        results (list): per image, as ``tools/test.py --out`` saves them
            (masks are ignored).
        score_thr, nms_iou_thr, tp_iou_thr: see ``count_image``.

    Returns:
        ndarray: (C + 1, C + 1) float64 counts, rows ground truth and
        columns predictions, the last of each background.
    """
    if len(results) != len(dataset):
        raise ValueError(
            f'{len(results)} results for the {len(dataset)} images of the '
            'data set'
        )
    num_classes = len(dataset.CLASSES)
    matrix = np.zeros((num_classes + 1, num_classes + 1))
    progress = mmcv.ProgressBar(len(results))
    for idx, dets in enumerate(bbox_part(results)):
        ann = dataset.get_ann_info(idx)
        count_image(
            matrix,
            ann['bboxes'],
            ann['labels'],
            dets,
            score_thr=score_thr,
            tp_iou_thr=tp_iou_thr,
            nms_iou_thr=nms_iou_thr,
        )
        progress.update()
    return matrix


def plot_confusion_matrix(
    matrix,
    labels,
    save_dir=None,
    show=False,
    title='Normalized Confusion Matrix',
    color_theme='plasma',
):
    """Draw ``matrix`` with each row in percent of its sum.

    Cells are labelled with the whole percentage (``-1%`` for a row
    without any count); predictions run along the x axis (labels on top),
    ground truth down the y axis.

    Args:
        matrix (ndarray): (K, K) counts.
        labels (list[str]): K names, background included.
        save_dir (str | None): write ``confusion_matrix.png`` here
            (created when missing).
        show (bool): also open a matplotlib window (pyplot); otherwise
            the figure is drawn with Agg only.
        title (str): the plot's title.
        color_theme (str): a matplotlib colour map name.

    Returns:
        str | None: the saved file.
    """
    with np.errstate(divide='ignore', invalid='ignore'):
        percent = (
            matrix.astype(np.float32) / matrix.sum(axis=1, keepdims=True) * 100
        )
    num = len(labels)
    # 0.5 x 0.4 inch per label as in 2.28, but not smaller than for 16
    # labels, where a few labels would not fit
    side = max(num, 16)
    figsize = (0.5 * side, 0.4 * side)
    if show:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize, dpi=180)
    else:
        fig = Figure(figsize=figsize, dpi=180)
        FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(percent, cmap=color_theme)
    fig.colorbar(image, ax=ax)
    ax.set_title(title, fontdict=dict(weight='bold', size=12))
    ax.set_xlabel('Prediction Label', fontdict=dict(size=10))
    ax.set_ylabel('Ground Truth Label', fontdict=dict(size=10))

    ticks = np.arange(num)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xticklabels(labels, rotation=45, ha='left', rotation_mode='anchor')
    ax.set_yticklabels(labels)
    ax.tick_params(
        axis='x', bottom=False, top=True, labelbottom=False, labeltop=True
    )
    # cell borders
    ax.set_xticks(np.arange(num + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(num + 1) - 0.5, minor=True)
    ax.grid(True, which='minor', linestyle='-')

    for row in range(num):
        for col in range(num):
            value = percent[row, col]
            text = -1 if np.isnan(value) else int(value)
            ax.text(
                col,
                row,
                f'{text}%',
                ha='center',
                va='center',
                color='w',
                size=7,
            )
    ax.set_xlim(-0.5, num - 0.5)
    ax.set_ylim(num - 0.5, -0.5)
    fig.tight_layout()

    out_file = None
    if save_dir is not None:
        mmcv.mkdir_or_exist(save_dir)
        out_file = osp.join(save_dir, PLOT_NAME)
        fig.savefig(out_file, format='png')
    if show:
        plt.show()
        plt.close(fig)
    return out_file


def confusion_matrix(
    config,
    prediction_path,
    save_dir,
    show=False,
    color_theme='plasma',
    score_thr=0.3,
    tp_iou_thr=0.5,
    nms_iou_thr=None,
    cfg_options=None,
):
    """Compute and plot the confusion matrix of a results file.

    Args:
        config (str): the config (its ``data.test`` is the data set).
        prediction_path (str): ``.pkl`` of ``tools/test.py --out``.
        save_dir (str): where ``confusion_matrix.png`` is written.
        cfg_options (dict | None): ``--cfg-options`` overrides.
        Others: see ``count_image`` and ``plot_confusion_matrix``.

    Returns:
        tuple: the (C + 1, C + 1) matrix and the plot's path.
    """
    cfg = compat_cfg(load_config(config, cfg_options))
    dataset = build_test_dataset(cfg)
    results = load_results(prediction_path, dataset)
    matrix = calculate_confusion_matrix(
        dataset,
        results,
        score_thr=score_thr,
        nms_iou_thr=nms_iou_thr,
        tp_iou_thr=tp_iou_thr,
    )
    out_file = plot_confusion_matrix(
        matrix,
        list(dataset.CLASSES) + ['background'],
        save_dir=save_dir,
        show=show,
        color_theme=color_theme,
    )
    return matrix, out_file
