"""Wrap a detector for single-device or distributed execution.

mmcv 1.7's ``MMDistributedDataParallel`` assumes CUDA: with no device ids (the
CPU, Gloo backend) it hands ``DataContainer`` batches to the model unopened,
and its ``_run_ddp_forward`` reads an attribute that newer PyTorch removed.
``DetDistributedDataParallel`` unpacks the batch the same way on every
device, so ``bash tools/dist_train.sh CFG 2`` also runs on a CPU machine.
"""

import torch
from mmcv.parallel import MMDataParallel, MMDistributedDataParallel


def get_device():
    """'cuda' when a GPU is visible, else 'cpu'."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


class DetDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that works on the CPU and with new torch.

    ``train_step``/``val_step``/``forward`` scatter mmcv ``DataContainer``
    inputs onto the module's device (``-1`` = CPU) before running it.
    """

    def _target_device(self):
        return self.device_ids[0] if self.device_ids else -1

    def _unpack(self, inputs, kwargs):
        inputs, kwargs = self.to_kwargs(inputs, kwargs, self._target_device())
        return inputs[0], kwargs[0]

    def train_step(self, *inputs, **kwargs):
        if not self.device_ids:
            inputs, kwargs = self._unpack(inputs, kwargs)
        return super().train_step(*inputs, **kwargs)

    def val_step(self, *inputs, **kwargs):
        if not self.device_ids:
            inputs, kwargs = self._unpack(inputs, kwargs)
        return super().val_step(*inputs, **kwargs)

    def _run_ddp_forward(self, *inputs, **kwargs):
        inputs, kwargs = self._unpack(inputs, kwargs)
        return self.module(*inputs, **kwargs)


def build_dp(model, device='cuda', dim=0, *args, **kwargs):
    """Wrap ``model`` in ``MMDataParallel`` on ``device`` ('cuda' or 'cpu')."""
    if device == 'cuda':
        model = model.cuda(kwargs.get('device_ids', [0])[0])
    elif device == 'cpu':
        kwargs.pop('device_ids', None)  # MMDataParallel: no ids means CPU
        model = model.cpu()
    else:
        raise ValueError(f"device must be 'cuda' or 'cpu', got {device!r}")
    return MMDataParallel(model, dim=dim, *args, **kwargs)


def build_ddp(model, device='cuda', *args, **kwargs):
    """Wrap ``model`` in ``DetDistributedDataParallel`` on ``device``.

    On 'cuda' the current CUDA device of the process is used (``device_ids``
    as given, normally ``[LOCAL_RANK]``); on 'cpu' there are no device ids.
    """
    if device == 'cuda':
        model = model.cuda()
    elif device == 'cpu':
        kwargs.pop('device_ids', None)
        kwargs.pop('output_device', None)
        model = model.cpu()
    else:
        raise ValueError(f"device must be 'cuda' or 'cpu', got {device!r}")
    return DetDistributedDataParallel(model, *args, **kwargs)
