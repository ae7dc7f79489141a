"""LAD (Nguyen et al., 2022): label assignment distillation."""

import torch
import torch.nn as nn
from mmcv.runner import load_checkpoint

from ..builder import DETECTORS, build_backbone, build_head, build_neck
from .single_stage import SingleStageDetector


@DETECTORS.register_module()
class LAD(SingleStageDetector):
    """A student PAA-style detector trained on a frozen teacher's label
    assignment (``LADHead.get_label_assignment`` on the teacher's outputs).

    The teacher (``teacher_model``: ``backbone``, ``neck``, ``bbox_head``)
    is kept out of the module tree, as in MMDetection: it is not in the
    state dict, not trained and not initialized by ``init_weights``; it
    follows the student's device and dtype.

    Args:
        backbone, neck, bbox_head (dict): the student.
        teacher_backbone, teacher_neck, teacher_bbox_head (dict): the
            teacher (``teacher_neck`` may be None); the teacher's head gets
            the detector's ``train_cfg`` and ``test_cfg``.
        teacher_ckpt (str | None): checkpoint loaded into the teacher.
        eval_teacher (bool): the teacher stays in eval mode.
        train_cfg, test_cfg (dict, optional): as
            :class:`SingleStageDetector`.
        pretrained (str, optional): deprecated backbone checkpoint.
    """

    def __init__(
        self,
        backbone,
        neck,
        bbox_head,
        teacher_backbone,
        teacher_neck,
        teacher_bbox_head,
        teacher_ckpt,
        eval_teacher=True,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
    ):
        super().__init__(
            backbone, neck, bbox_head, train_cfg, test_cfg, pretrained
        )
        self.eval_teacher = eval_teacher
        teacher = nn.Module()
        teacher.backbone = build_backbone(teacher_backbone)
        if teacher_neck is not None:
            teacher.neck = build_neck(teacher_neck)
        teacher_bbox_head = dict(
            teacher_bbox_head, train_cfg=self.train_cfg, test_cfg=self.test_cfg
        )
        teacher.bbox_head = build_head(teacher_bbox_head)
        # a plain attribute, not a submodule (no state-dict keys)
        object.__setattr__(self, 'teacher_model', teacher)
        if teacher_ckpt is not None:
            load_checkpoint(teacher, teacher_ckpt, map_location='cpu')

    @property
    def with_teacher_neck(self):
        return getattr(self.teacher_model, 'neck', None) is not None

    def extract_teacher_feat(self, img):
        """The teacher's backbone (and neck) features of the batch."""
        x = self.teacher_model.backbone(img)
        if self.with_teacher_neck:
            x = self.teacher_model.neck(x)
        return x

    def forward_train(
        self, img, img_metas, gt_bboxes, gt_labels, gt_bboxes_ignore=None
    ):
        """The student's losses against the teacher's assignment."""
        with torch.no_grad():
            teacher_head = self.teacher_model.bbox_head
            assignment = teacher_head.get_label_assignment(
                *teacher_head(self.extract_teacher_feat(img)),
                gt_bboxes,
                gt_labels,
                img_metas,
                gt_bboxes_ignore,
            )
        return self.bbox_head.forward_train(
            self.extract_feat(img),
            assignment,
            img_metas,
            gt_bboxes,
            gt_labels,
            gt_bboxes_ignore,
        )

    def train(self, mode=True):
        """Set the student's mode; the teacher stays in eval mode when
        ``eval_teacher``."""
        super().train(mode)
        self.teacher_model.train(False if self.eval_teacher else mode)
        return self

    def _apply(self, fn, *args, **kwargs):
        # .to() / .cuda() / .half() reach the unregistered teacher too
        self.teacher_model._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)
