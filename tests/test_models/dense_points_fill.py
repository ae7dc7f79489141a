"""Deterministic weights and inputs shared by the dense-points head tests
and the MMDetection 2.28.2 script that produced their reference numbers:
state-dict tensor k (sorted keys) is ``amp sin(0.731 i + k)`` over its flat
index i (``1 + |...|`` for BatchNorm variances); input k is
``sin(0.37 i + k)``."""

import math

import torch


def fill_(module, amp=0.3):
    """Overwrite every floating state-dict tensor of ``module``."""
    state = module.state_dict()
    with torch.no_grad():
        for k, key in enumerate(sorted(state)):
            tensor = state[key]
            if tensor.is_floating_point():
                i = torch.arange(tensor.numel(), dtype=torch.float64)
                values = amp * torch.sin(0.731 * i + k)
                if key.endswith('running_var'):
                    values = 1 + values.abs()
                tensor.copy_(values.view_as(tensor))


def feat(shape, k):
    """A (shape) float32 input, ``sin(0.37 i + k)``."""
    i = torch.arange(math.prod(shape), dtype=torch.float64)
    return torch.sin(0.37 * i + k).view(shape).float()


def assert_same_dets(ours, ref_boxes, ref_labels, atol=1e-4):
    """(n, 5) detections equal the reference rows up to the order of
    near-equal scores."""
    ref = torch.tensor(ref_boxes, dtype=torch.float64).view(-1, 5)
    dets, labels = ours
    assert dets.shape == ref.shape
    assert labels.tolist() == ref_labels or sorted(labels.tolist()) == sorted(
        ref_labels
    )
    for row in ref:
        dist = (dets.double() - row).abs().max(dim=1)[0]
        assert dist.min() < atol, (row, dets)


def chirp(shape, k):
    """A (shape) float32 input without repeating peaks,
    ``sin(0.37 i + k + 0.013 i^2)``."""
    i = torch.arange(math.prod(shape), dtype=torch.float64)
    return torch.sin(0.37 * i + k + 0.013 * i * i).view(shape).float()
