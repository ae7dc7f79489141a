"""Base class of the detectors: the entry points the runner and the test
loops call (``forward``, ``train_step``, ``val_step``, ``show_result``)."""

from abc import ABCMeta, abstractmethod
from collections import OrderedDict

import torch
import torch.distributed as dist
from mmcv.runner import BaseModule, auto_fp16

from mmdet.core.visualization import imshow_det_result


class BaseDetector(BaseModule, metaclass=ABCMeta):
    """Base class for detectors.

    ``CLASSES`` (the class names, a tuple of str) is set by whoever knows
    them: the training code from the data set, ``init_detector`` from the
    checkpoint's meta.
    """

    CLASSES = None

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg)
        self.fp16_enabled = False

    @property
    def with_neck(self):
        return hasattr(self, 'neck') and self.neck is not None

    @property
    def with_shared_head(self):
        return hasattr(self, 'roi_head') and self.roi_head.with_shared_head

    @property
    def with_bbox(self):
        return (hasattr(self, 'roi_head') and self.roi_head.with_bbox) or (
            hasattr(self, 'bbox_head') and self.bbox_head is not None
        )

    @property
    def with_mask(self):
        return (hasattr(self, 'roi_head') and self.roi_head.with_mask) or (
            hasattr(self, 'mask_head') and self.mask_head is not None
        )

    @abstractmethod
    def extract_feat(self, imgs):
        """Features of a (B, 3, H, W) batch."""

    def extract_feats(self, imgs):
        """Features of each batch in a list (test-time augmentation)."""
        assert isinstance(imgs, list)
        return [self.extract_feat(img) for img in imgs]

    def forward_train(self, imgs, img_metas, **kwargs):
        """Record the padded batch shape in the metas; subclasses compute
        the losses.

        Args:
            imgs (Tensor): (B, 3, H, W) normalized, padded images.
            img_metas (list[dict]): per image 'img_shape', 'scale_factor',
                'flip', 'ori_shape', 'pad_shape', 'img_norm_cfg', ...
        """
        batch_input_shape = tuple(imgs[0].size()[-2:])
        for img_meta in img_metas:
            img_meta['batch_input_shape'] = batch_input_shape

    @abstractmethod
    def simple_test(self, img, img_metas, **kwargs):
        """Results of a batch without augmentation."""

    @abstractmethod
    def aug_test(self, imgs, img_metas, **kwargs):
        """Results merged over augmentations."""

    def forward_test(self, imgs, img_metas, **kwargs):
        """Test entry: ``imgs`` and ``img_metas`` are lists over the
        augmentations; one augmentation goes to ``simple_test``, several
        (batch size 1) to ``aug_test``.

        Args:
            imgs (list[Tensor]): per augmentation (B, 3, H, W).
            img_metas (list[list[dict]]): per augmentation, per image.
        """
        for var, name in ((imgs, 'imgs'), (img_metas, 'img_metas')):
            if not isinstance(var, list):
                raise TypeError(f'{name} must be a list, but got {type(var)}')
        num_augs = len(imgs)
        if num_augs != len(img_metas):
            raise ValueError(
                f'num of augmentations ({len(imgs)}) != num of '
                f'image meta ({len(img_metas)})'
            )
        for img, img_meta in zip(imgs, img_metas):
            for meta in img_meta:
                meta['batch_input_shape'] = tuple(img.size()[-2:])
        if num_augs == 1:
            if 'proposals' in kwargs:
                kwargs['proposals'] = kwargs['proposals'][0]
            return self.simple_test(imgs[0], img_metas[0], **kwargs)
        assert imgs[0].size(0) == 1, (
            f'aug test supports batch size 1 only, got {imgs[0].size(0)}'
        )
        assert 'proposals' not in kwargs, 'aug test takes no proposals'
        return self.aug_test(imgs, img_metas, **kwargs)

    @auto_fp16(apply_to=('img',))
    def forward(self, img, img_metas, return_loss=True, **kwargs):
        """``forward_train(img, img_metas, **kwargs)`` when
        ``return_loss``, else ``forward_test`` (where ``img`` and
        ``img_metas`` are lists over augmentations)."""
        if return_loss:
            return self.forward_train(img, img_metas, **kwargs)
        return self.forward_test(img, img_metas, **kwargs)

    def _parse_losses(self, losses):
        """Total loss and the scalar log variables of a loss dict.

        Each value (a tensor or a list of tensors) is averaged (lists:
        summed over their means); the total ``loss`` sums every entry whose
        key contains 'loss'. When distributed, the log values are averaged
        over the processes (after checking they all log the same keys).

        Returns:
            tuple[Tensor, OrderedDict]: the loss to back-propagate and the
            float log variables (including 'loss').
        """
        log_vars = OrderedDict()
        for name, value in losses.items():
            if isinstance(value, torch.Tensor):
                log_vars[name] = value.mean()
            elif isinstance(value, list):
                log_vars[name] = sum(v.mean() for v in value)
            else:
                raise TypeError(f'{name} is not a tensor or list of tensors')
        loss = sum(v for k, v in log_vars.items() if 'loss' in k)

        distributed = dist.is_available() and dist.is_initialized()
        if distributed:
            # different keys on different processes would hang all_reduce
            length = torch.tensor(len(log_vars), device=loss.device)
            dist.all_reduce(length)
            assert length == len(log_vars) * dist.get_world_size(), (
                'loss log variables differ across processes: rank '
                f'{dist.get_rank()} has {",".join(log_vars)}'
            )
        log_vars['loss'] = loss
        for name, value in log_vars.items():
            if distributed:
                value = value.data.clone()
                dist.all_reduce(value.div_(dist.get_world_size()))
            log_vars[name] = value.item()
        return loss, log_vars

    def train_step(self, data, optimizer):
        """One training iteration as mmcv's runner calls it.

        Args:
            data (dict): the collated batch (``img``, ``img_metas``,
                ``gt_bboxes``, ``gt_labels``, ...).
            optimizer: unused (the runner's optimizer hook steps it).

        Returns:
            dict: ``loss`` (to back-propagate), ``log_vars`` (floats) and
            ``num_samples`` (images in the batch).
        """
        losses = self(**data)
        loss, log_vars = self._parse_losses(losses)
        return dict(
            loss=loss, log_vars=log_vars, num_samples=len(data['img_metas'])
        )

    def val_step(self, data, optimizer=None):
        """Losses of a validation batch, in :meth:`train_step`'s format."""
        losses = self(**data)
        loss, log_vars = self._parse_losses(losses)
        return dict(
            loss=loss, log_vars=log_vars, num_samples=len(data['img_metas'])
        )

    def show_result(
        self,
        img,
        result,
        score_thr=0.3,
        bbox_color=(72, 101, 241),
        text_color=(72, 101, 241),
        mask_color=None,
        thickness=2,
        font_size=13,
        win_name='',
        show=False,
        wait_time=0,
        out_file=None,
    ):
        """Draw a result on an image (:func:`imshow_det_result` with this
        detector's ``CLASSES``).

        Returns:
            ndarray | None: the drawn image when neither shown nor written.
        """
        return imshow_det_result(
            img,
            result,
            class_names=self.CLASSES,
            score_thr=score_thr,
            bbox_color=bbox_color,
            text_color=text_color,
            mask_color=mask_color,
            thickness=thickness,
            font_size=font_size,
            win_name=win_name,
            show=show,
            wait_time=wait_time,
            out_file=out_file,
        )
