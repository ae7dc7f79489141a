"""The result of matching predicted boxes to ground-truth boxes."""

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
