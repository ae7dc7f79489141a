"""Detecting objects in a few images from Python.

    model = init_detector('configs/odconv/mask_rcnn_r50_fpn_1x_coco.py',
                          'checkpoints/mask_rcnn_r50.pth', device='cpu')
    result = inference_detector(model, 'demo.jpg')
    show_result_pyplot(model, 'demo.jpg', result, out_file='out.jpg')

The image goes through the config's test pipeline (``data.test.pipeline``),
so it is resized, normalized and padded exactly as in evaluation.
"""
import copy
import warnings
from pathlib import Path

import numpy as np
import torch
from mmcv.parallel import collate, scatter

from mmdet.apis.builders import build_test_detector, load_config
from mmdet.datasets import CocoDataset, replace_ImageToTensor
from mmdet.datasets.pipelines import Compose


def _check_device(device):
    device = torch.device(device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(
            f'device {str(device)!r} was asked for but CUDA is not '
            "available on this machine; pass device='cpu' (demo scripts: "
            '--device cpu).')
    return device


def init_detector(config, checkpoint=None, device='cuda:0', cfg_options=None):
    """Build a detector from its config and load a checkpoint into it.

    Args:
        config (str | Path | mmcv.Config): the config (file).
        checkpoint (str, optional): any checkpoint form
            ``load_detector_checkpoint`` reads; None keeps random weights.
        device (str): where the model runs, e.g. 'cuda:0' or 'cpu'.
        cfg_options (dict, optional): overrides merged into the config.

    Returns:
        nn.Module: the detector in eval mode, with ``CLASSES`` (from the
        checkpoint's meta, else COCO's) and ``cfg`` (the config used).
    """
    config = load_config(config, cfg_options)
    device = _check_device(device)
    model, _ = build_test_detector(config, checkpoint)
    if model.CLASSES is None:
        if checkpoint is not None:
            warnings.warn(f'{checkpoint!r} has no class names in its meta; '
                          'using the COCO class names.')
        model.CLASSES = CocoDataset.CLASSES
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def _test_pipeline(cfg, from_array):
    """The config's test pipeline, batched-friendly (``DefaultFormatBundle``)
    and reading arrays from memory when ``from_array``."""
    pipeline = copy.deepcopy(cfg.data.test.pipeline)
    if from_array:
        pipeline[0] = dict(pipeline[0], type='LoadImageFromWebcam')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        pipeline = replace_ImageToTensor(pipeline)
    return Compose(pipeline)


def _pipeline_input(img):
    if isinstance(img, np.ndarray):
        return dict(img=img)
    if not isinstance(img, (str, Path)):
        raise TypeError('images must be file paths or (H, W, 3) BGR arrays, '
                        f'got {type(img).__name__}')
    if not Path(img).is_file():
        raise FileNotFoundError(f'image {str(img)!r} does not exist')
    return dict(img_info=dict(filename=str(img)), img_prefix=None)


def inference_detector(model, imgs):
    """Detect objects in one image or a list of images.

    Args:
        model (nn.Module): a detector from ``init_detector``.
        imgs (str | ndarray | list): image path(s) or BGR uint8 array(s) of
            shape (H, W, 3); a list is run as one batch.

    Returns:
        The detector's result for the image, or a list of results for a
        list: per class an (n, 5) array ``x1, y1, x2, y2, score`` in the
        image's pixels; Mask R-CNN gives ``(bbox_results, segm_results)``.
    """
    is_batch = isinstance(imgs, (list, tuple))
    imgs = list(imgs) if is_batch else [imgs]
    if not imgs:
        return []
    pipelines = {}  # from_array -> pipeline
    samples = []
    for img in imgs:
        from_array = isinstance(img, np.ndarray)
        if from_array not in pipelines:
            pipelines[from_array] = _test_pipeline(model.cfg, from_array)
        samples.append(pipelines[from_array](_pipeline_input(img)))
    data = collate(samples, samples_per_gpu=len(imgs))
    # one DataContainer per test-time augmentation -> plain lists
    data['img_metas'] = [metas.data[0] for metas in data['img_metas']]
    data['img'] = [img.data[0] for img in data['img']]
    device = next(model.parameters()).device
    if device.type == 'cuda':
        data = scatter(data, [device.index or 0])[0]
    with torch.no_grad():
        results = model(return_loss=False, rescale=True, **data)
    return results if is_batch else results[0]


def show_result_pyplot(model, img, result, score_thr=0.3, title='result',
                       wait_time=0, palette=None, out_file=None):
    """Draw a result on its image: shown in a window, or written to
    ``out_file``.

    Args:
        model (nn.Module): the detector (its ``CLASSES`` name the boxes).
        img (str | ndarray): the image or its path.
        result: what ``inference_detector`` returned for it.
        score_thr (float): draw detections scoring above this.
        title (str): the window title.
        wait_time (float): seconds to show the window (0: until closed).
        palette (str | tuple | list, optional): box and mask colours: a
            palette name ('coco', 'random'), one RGB tuple or one per
            class; None for random colours.
        out_file (str, optional): write the drawing here instead of
            showing it.
    """
    if hasattr(model, 'module'):
        model = model.module
    return model.show_result(
        img, result, score_thr=score_thr, show=out_file is None,
        wait_time=wait_time, win_name=title, bbox_color=palette,
        text_color=(200, 200, 200), mask_color=palette, out_file=out_file)
