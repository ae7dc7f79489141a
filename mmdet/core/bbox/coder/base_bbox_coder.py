from abc import ABCMeta, abstractmethod


class BaseBBoxCoder(metaclass=ABCMeta):
    """Base class of box coders, which turn boxes into regression targets
    relative to reference boxes and back."""

    def __init__(self, **kwargs):
        pass

    @abstractmethod
    def encode(self, bboxes, gt_bboxes):
        """Targets that turn ``bboxes`` into ``gt_bboxes``."""

    @abstractmethod
    def decode(self, bboxes, bboxes_pred):
        """Apply the predictions ``bboxes_pred`` to ``bboxes``."""
