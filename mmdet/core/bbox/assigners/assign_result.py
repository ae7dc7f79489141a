"""The result of matching predicted boxes to ground-truth boxes."""

import numpy as np
import torch


class AssignResult:
    """Which gt box every predicted box (prior / proposal) is assigned to.

    Args:
        num_gts (int): number of gt boxes the boxes were matched against.
        gt_inds (Tensor): (N,) long, per box: 0 for the background
            (negative), ``i + 1`` for gt box ``i`` (positive), -1 for
            "ignore" (neither).
        max_overlaps (Tensor): (N,) the best overlap of every box with any
            gt box.
        labels (Tensor, optional): (N,) long, the label of the assigned gt
            box, -1 where there is none.

    Extra, assigner-specific tensors can be attached with
    :meth:`set_extra_property`; :attr:`info` lists everything.
    """

    def __init__(self, num_gts, gt_inds, max_overlaps, labels=None):
        self.num_gts = num_gts
        self.gt_inds = gt_inds
        self.max_overlaps = max_overlaps
        self.labels = labels
        self._extra_properties = {}

    @property
    def num_preds(self):
        """int: number of predicted boxes that were assigned."""
        return len(self.gt_inds)

    def set_extra_property(self, key, value):
        """Attach ``value`` under a new name ``key``."""
        if key in self.info:
            raise KeyError(f'{key!r} is already a property of AssignResult')
        self._extra_properties[key] = value

    def get_extra_property(self, key):
        """The extra property ``key``, or None."""
        return self._extra_properties.get(key, None)

    @property
    def info(self):
        """dict: every property of the result."""
        basic = dict(
            num_gts=self.num_gts,
            num_preds=self.num_preds,
            gt_inds=self.gt_inds,
            max_overlaps=self.max_overlaps,
            labels=self.labels,
        )
        basic.update(self._extra_properties)
        return basic

    @classmethod
    def random(cls, **kwargs):
        """A random result, for tests of samplers and heads.

        Keyword Args:
            num_preds (int): number of boxes (default: random in [0, 16)).
            num_gts (int): number of gt boxes (default: random in [0, 8)).
            p_ignore (float): probability an assigned box is "ignore"
                (-1) instead (0.3).
            p_assigned (float): probability a box is assigned (0.7); at
                most one box per gt box is.
            p_use_label (bool | float): whether the result has labels
                (True), or the probability that it has (0.5).
            num_classes (int): labels are drawn from [0, num_classes) (3).
            rng (None | int | RandomState): the random source.
        """
        from mmdet.utils.util_random import ensure_rng

        rng = ensure_rng(kwargs.get('rng'))
        num_gts = kwargs.get('num_gts')
        num_gts = rng.randint(0, 8) if num_gts is None else num_gts
        num_preds = kwargs.get('num_preds')
        num_preds = rng.randint(0, 16) if num_preds is None else num_preds
        p_use_label = kwargs.get('p_use_label', 0.5)
        use_label = p_use_label is True or (
            p_use_label is not False and rng.rand() < p_use_label
        )
        gt_inds = np.zeros(num_preds, dtype=np.int64)
        max_overlaps = np.zeros(num_preds, dtype=np.float32)
        if num_gts > 0 and num_preds > 0:
            assigned = rng.rand(num_preds) < kwargs.get('p_assigned', 0.7)
            # at most one box per gt box: keep a random subset
            idxs = rng.permutation(np.flatnonzero(assigned))[:num_gts]
            gt_inds[idxs] = rng.permutation(num_gts)[: len(idxs)] + 1
            max_overlaps[idxs] = rng.rand(len(idxs))
            ignored = rng.rand(num_preds) < kwargs.get('p_ignore', 0.3)
            gt_inds[ignored & (gt_inds > 0)] = -1
        labels = None
        if use_label:
            gt_labels = rng.randint(0, kwargs.get('num_classes', 3), num_gts)
            labels = np.full(num_preds, -1, dtype=np.int64)
            positive = gt_inds > 0
            labels[positive] = gt_labels[gt_inds[positive] - 1]
            labels = torch.from_numpy(labels)
        return cls(
            num_gts,
            torch.from_numpy(gt_inds),
            torch.from_numpy(max_overlaps),
            labels,
        )

    def add_gt_(self, gt_labels):
        """Prepend the gt boxes themselves as positives (in place).

        Samplers that add the gt boxes to the proposals call this so the
        result covers ``num_gts + N`` boxes, gt box ``i`` assigned to
        itself with overlap 1.

        Args:
            gt_labels (Tensor): (num_gts,) labels of the gt boxes.
        """
        self_inds = torch.arange(
            1, len(gt_labels) + 1, dtype=torch.long, device=gt_labels.device
        )
        self.gt_inds = torch.cat([self_inds, self.gt_inds])
        self.max_overlaps = torch.cat(
            [self.max_overlaps.new_ones(len(gt_labels)), self.max_overlaps]
        )
        if self.labels is not None:
            self.labels = torch.cat([gt_labels, self.labels])

    def __repr__(self):
        parts = [f'num_gts={self.num_gts}', f'num_preds={self.num_preds}']
        if self.num_preds:
            num_pos = int((self.gt_inds > 0).sum())
            num_neg = int((self.gt_inds == 0).sum())
            parts += [f'pos={num_pos}', f'neg={num_neg}']
        parts.append('labels' if self.labels is not None else 'no labels')
        return f'<AssignResult({", ".join(parts)})>'
