"""Single-stage knowledge distillation (MMDetection's
``KnowledgeDistillationSingleStageDetector``, used by LD)."""

from pathlib import Path

import mmcv
import torch
from mmcv.runner import load_checkpoint

from ..builder import DETECTORS, build_detector
from .single_stage import SingleStageDetector


@DETECTORS.register_module()
class KnowledgeDistillationSingleStageDetector(SingleStageDetector):
    """A student single-stage detector trained with a frozen teacher's head
    outputs (its ``bbox_head.forward_train`` takes them second).

    The teacher is held as a plain attribute, not a submodule: it is not in
    the state dict, ``parameters()`` or the optimizer.

    Args:
        backbone, neck, bbox_head (dict): the student.
        teacher_config (str | Path | dict): the teacher's config (a file
            path is read relative to the working directory).
        teacher_ckpt (str, optional): the teacher's checkpoint, a local
            path or URL (a URL needs network access, or the file already in
            torch's hub cache); None keeps its initial weights.
        eval_teacher (bool): keep the teacher in eval mode while training.
        train_cfg, test_cfg (dict, optional): the student's settings.
        pretrained (str, optional): deprecated student weights.
    """

    def __init__(
        self,
        backbone,
        neck,
        bbox_head,
        teacher_config,
        teacher_ckpt=None,
        eval_teacher=True,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
    ):
        super().__init__(
            backbone, neck, bbox_head, train_cfg, test_cfg, pretrained
        )
        self.eval_teacher = eval_teacher
        if isinstance(teacher_config, (str, Path)):
            teacher_config = mmcv.Config.fromfile(str(teacher_config))
        self.teacher_model = build_detector(teacher_config['model'])
        if teacher_ckpt is not None:
            load_checkpoint(
                self.teacher_model, teacher_ckpt, map_location='cpu'
            )

    def __setattr__(self, name, value):
        # a plain attribute keeps the teacher out of the module tree
        if name == 'teacher_model':
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward_train(
        self, img, img_metas, gt_bboxes, gt_labels, gt_bboxes_ignore=None
    ):
        """Student losses given the teacher's head outputs on ``img``."""
        x = self.extract_feat(img)
        with torch.no_grad():
            teacher_x = self.teacher_model.extract_feat(img)
            out_teacher = self.teacher_model.bbox_head(teacher_x)
        return self.bbox_head.forward_train(
            x, out_teacher, img_metas, gt_bboxes, gt_labels, gt_bboxes_ignore
        )

    def cuda(self, device=None):
        self.teacher_model.cuda(device=device)
        return super().cuda(device=device)

    def to(self, *args, **kwargs):
        self.teacher_model.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    def train(self, mode=True):
        """The student in ``mode``; the teacher too unless
        ``eval_teacher``."""
        self.teacher_model.train(False if self.eval_teacher else mode)
        return super().train(mode)
