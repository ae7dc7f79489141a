"""Detecting objects in a few images from Python.

    model = init_detector('configs/odconv/mask_rcnn_r50_fpn_1x_coco.py',
                          'checkpoints/mask_rcnn_r50.pth', device='cpu')
    result = inference_detector(model, 'demo.jpg')
    show_result_pyplot(model, 'demo.jpg', result, out_file='out.jpg')

The image goes through the config's test pipeline (``data.test.pipeline``),
so it is resized, normalized and padded exactly as in evaluation.
"""

import asyncio
import copy
import warnings
from pathlib import Path

import numpy as np
import torch
from mmcv.parallel import collate, scatter

from mmdet.apis.builders import build_test_detector, load_config
from mmdet.apis.config_checks import check_finite_weights
from mmdet.datasets import CocoDataset, replace_ImageToTensor
from mmdet.datasets.pipelines import Compose


def _check_device(device):
    device = torch.device(device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError(
            f'device {str(device)!r} was asked for but CUDA is not '
            "available on this machine; pass device='cpu' (demo scripts: "
            '--device cpu).'
        )
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
    if checkpoint is not None:
        check_finite_weights(model.state_dict(), repr(checkpoint))
    if model.CLASSES is None:
        if checkpoint is not None:
            warnings.warn(
                f'{checkpoint!r} has no class names in its meta; '
                'using the COCO class names.'
            )
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


def _as_bgr(img, name):
    """An (H, W, 3) array from a BGR, grayscale (H, W) / (H, W, 1) or
    BGRA (H, W, 4, alpha dropped with a warning) array; empty images and
    other shapes are errors, a float image in [0, 1] gets a warning."""
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
        img = np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, 2)
    elif img.ndim == 3 and img.shape[2] == 4:
        warnings.warn(
            f'{name} has 4 channels: read as BGRA, the alpha '
            'channel is dropped'
        )
        img = img[..., :3]
    elif img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(
            f'{name} has shape {tuple(img.shape)}: give an (H, W, 3) BGR '
            'array (as cv2.imread returns), an (H, W) grayscale or an '
            '(H, W, 4) BGRA array'
        )
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f'{name} is empty: shape {tuple(img.shape)}')
    if not (
        np.issubdtype(img.dtype, np.integer)
        or np.issubdtype(img.dtype, np.floating)
    ):
        raise TypeError(
            f'{name} has dtype {img.dtype}: give uint8 pixels (0-255)'
        )
    if np.issubdtype(img.dtype, np.floating) and np.nanmax(img) <= 1.0:
        warnings.warn(
            f'{name} is a float array with values in [0, 1], but the '
            'model expects pixel values in 0-255 (as cv2.imread returns, '
            'normalised by the config\'s img_norm_cfg): multiply it by 255'
        )
    return img


def _pipeline_input(img, name='the image'):
    if isinstance(img, np.ndarray):
        return dict(img=_as_bgr(img, name))
    if not isinstance(img, (str, Path)):
        raise TypeError(
            'images must be file paths or (H, W, 3) BGR arrays, '
            f'got {type(img).__name__}'
        )
    if not Path(img).is_file():
        raise FileNotFoundError(f'image {str(img)!r} does not exist')
    return dict(img_info=dict(filename=str(img)), img_prefix=None)


def inference_detector(model, imgs):
    """Detect objects in one image or a list of images.

    Args:
        model (nn.Module): a detector from ``init_detector``.
        imgs (str | ndarray | list): image path(s) or BGR array(s) of
            shape (H, W, 3) with pixel values 0-255 (uint8 or float); a
            list is run as one batch. (H, W) / (H, W, 1) grayscale arrays
            are repeated to 3 channels, (H, W, 4) arrays are read as BGRA
            (alpha dropped, with a warning); a float array in [0, 1] gets
            a warning; an empty image or a corrupt file is an error naming
            it.

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
    for i, img in enumerate(imgs):
        from_array = isinstance(img, np.ndarray)
        if from_array not in pipelines:
            pipelines[from_array] = _test_pipeline(model.cfg, from_array)
        name = f'image {i} of the list' if is_batch else 'the image'
        samples.append(pipelines[from_array](_pipeline_input(img, name)))
    data = collate(samples, samples_per_gpu=len(imgs))
    # one DataContainer per test-time augmentation -> plain lists
    data['img_metas'] = [metas.data[0] for metas in data['img_metas']]
    data['img'] = [img.data[0] for img in data['img']]
    # an ONNX Runtime detector (no parameters) runs on the CPU
    device = next(model.parameters(), torch.empty(0)).device
    if device.type == 'cuda':
        data = scatter(data, [device.index or 0])[0]
    with torch.no_grad():
        results = model(return_loss=False, rescale=True, **data)
    return results if is_batch else results[0]


async def async_inference_detector(model, imgs):
    """``inference_detector`` for asyncio code (MMDetection's name): the
    detection runs in the loop's default thread pool, so the event loop
    keeps serving other tasks meanwhile. Same arguments and results.

    (MMDetection's version overlaps CUDA streams instead; on the CPU a
    worker thread is what lets other coroutines proceed.)
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, inference_detector, model, imgs)


def show_result_pyplot(
    model,
    img,
    result,
    score_thr=0.3,
    title='result',
    wait_time=0,
    palette=None,
    out_file=None,
):
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
        img,
        result,
        score_thr=score_thr,
        show=out_file is None,
        wait_time=wait_time,
        win_name=title,
        bbox_color=palette,
        text_color=(200, 200, 200),
        mask_color=palette,
        out_file=out_file,
    )
