"""Top-k classification accuracy, in percent."""

from torch import nn


def accuracy(pred, target, topk=1, thresh=None):
    """Percentage of samples whose label is among the top-k predictions.

    Args:
        pred (Tensor): (N, C) scores.
        target (Tensor): (N,) labels.
        topk (int | tuple[int]): k, or several k.
        thresh (float, optional): a prediction counts only if its score
            is above ``thresh``.

    Returns:
        Tensor | tuple[Tensor]: shape (1,) each, in [0, 100]; one per k
        when ``topk`` is a tuple.
    """
    assert isinstance(topk, (int, tuple))
    single = isinstance(topk, int)
    topk = (topk,) if single else topk
    maxk = max(topk)
    if pred.size(0) == 0:
        res = [pred.new_tensor(0.0) for _ in topk]
        return res[0] if single else res
    assert pred.ndim == 2 and target.ndim == 1
    assert pred.size(0) == target.size(0)
    assert maxk <= pred.size(1), (
        f'maxk {maxk} exceeds the number of classes {pred.size(1)}'
    )
    pred_value, pred_label = pred.topk(maxk, dim=1)
    correct = pred_label.t() == target.view(1, -1)  # (maxk, N)
    if thresh is not None:
        correct = correct & (pred_value > thresh).t()
    res = [
        correct[:k].reshape(-1).float().sum(0, keepdim=True)
        * (100.0 / pred.size(0))
        for k in topk
    ]
    return res[0] if single else res


class Accuracy(nn.Module):
    """Module form of :func:`accuracy`.

    Args:
        topk (tuple[int]): the k to report.
        thresh (float, optional): minimum score of a counted prediction.
    """

    def __init__(self, topk=(1,), thresh=None):
        super().__init__()
        self.topk = topk
        self.thresh = thresh

    def forward(self, pred, target):
        """Accuracies (list of (1,) tensors, one per k)."""
        return accuracy(pred, target, self.topk, self.thresh)
