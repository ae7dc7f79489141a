from abc import ABCMeta, abstractmethod


class BaseAssigner(metaclass=ABCMeta):
    """Base class of assigners, which match predicted boxes to gt boxes."""

    @abstractmethod
    def assign(self, bboxes, gt_bboxes, gt_bboxes_ignore=None, gt_labels=None):
        """Assign every box of ``bboxes`` to a gt box, the background, or
        nothing; returns an :class:`AssignResult`."""
