"""Draw what a config's training pipeline produces (tools/misc/
browse_dataset.py): boxes, labels and masks on the augmented images."""

import os.path as osp

import mmcv
import numpy as np
from mmcv import Config
from mmcv.parallel import DataContainer

from mmdet.core.visualization import imshow_det_bboxes
from .builder import build_dataset

DEFAULT_SKIP_TYPES = ('DefaultFormatBundle', 'Normalize', 'Collect')


def _innermost(data_cfg):
    """The data set config(s) inside wrappers (RepeatDataset, ...)."""
    if isinstance(data_cfg, (list, tuple)):
        return [c for d in data_cfg for c in _innermost(d)]
    if data_cfg.get('type') == 'ConcatDataset':
        return _innermost(data_cfg['datasets'])
    if 'dataset' in data_cfg:
        return _innermost(data_cfg['dataset'])
    return [data_cfg]


def retrieve_data_cfg(config, skip_type=DEFAULT_SKIP_TYPES, cfg_options=None):
    """Read ``config`` and drop the ``skip_type`` steps from the training
    pipeline(s), so samples stay images + annotations one can draw."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    for data_cfg in _innermost(cfg.data.train):
        data_cfg['pipeline'] = [
            step
            for step in data_cfg['pipeline']
            if step['type'] not in skip_type
        ]
    return cfg


def _unwrap(value):
    return value.data if isinstance(value, DataContainer) else value


def _as_drawable(item):
    """(BGR uint8 image, boxes, labels, masks or None) of one sample, also
    when Normalize / DefaultFormatBundle were kept."""
    item = {key: _unwrap(value) for key, value in item.items()}
    img = item['img']
    if hasattr(img, 'numpy'):  # a (C, H, W) tensor
        img = img.numpy().transpose(1, 2, 0)
    norm = _unwrap(item.get('img_norm_cfg'))
    if norm is not None and img.dtype != np.uint8:
        img = mmcv.imdenormalize(
            img, norm['mean'], norm['std'], to_bgr=norm['to_rgb']
        )
    img = np.clip(img, 0, 255).astype(np.uint8)
    bboxes = np.asarray(item.get('gt_bboxes', np.zeros((0, 4))))
    labels = np.asarray(item.get('gt_labels', np.zeros(0, np.int64)))
    masks = item.get('gt_masks')
    if masks is not None:
        masks = np.asarray(masks.to_ndarray()).astype(bool)
    return img, bboxes, labels, masks


def browse_dataset(
    config,
    output_dir=None,
    show=False,
    show_interval=2,
    skip_type=DEFAULT_SKIP_TYPES,
    cfg_options=None,
    max_images=None,
):
    """Draw the training samples of ``config``.

    Args:
        config (str): config file.
        output_dir (str | None): write one drawing per sample there (named
            after the image file).
        show (bool): also show them (needs a display).
        show_interval (float): seconds each is shown.
        skip_type (Sequence[str]): pipeline steps to leave out.
        cfg_options (dict | None): config overrides.
        max_images (int | None): stop after this many samples.

    Returns:
        list[str]: the files written.
    """
    cfg = retrieve_data_cfg(config, tuple(skip_type), cfg_options)
    dataset = build_dataset(cfg.data.train)
    total = (
        len(dataset) if max_images is None else min(max_images, len(dataset))
    )
    written = []
    progress = mmcv.ProgressBar(total)
    for idx in range(total):
        item = dataset[idx]
        img, bboxes, labels, masks = _as_drawable(item)
        out_file = None
        if output_dir is not None:
            out_file = osp.join(
                output_dir,
                osp.basename(
                    _unwrap(item.get('filename')) or f'{idx:06d}.jpg'
                ),
            )
            written.append(out_file)
        imshow_det_bboxes(
            img,
            bboxes,
            labels,
            masks,
            class_names=dataset.CLASSES,
            show=show,
            wait_time=show_interval,
            out_file=out_file,
            bbox_color=dataset.PALETTE,
            text_color=(200, 200, 200),
            mask_color=dataset.PALETTE,
        )
        progress.update()
    return written
