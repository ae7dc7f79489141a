"""Log the process's peak memory when training on the CPU."""

import resource
import sys

from mmcv.runner import HOOKS, Hook


def peak_rss_mb():
    """Peak resident memory of this process in MB (``ru_maxrss`` is KB on
    Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / 1024 / (1024 if sys.platform == 'darwin' else 1))


@HOOKS.register_module()
class CPUMemoryHook(Hook):
    """Put ``memory`` (peak RSS in MB) in the training log.

    mmcv's logger hooks report ``memory`` (peak CUDA memory in MB) only when
    CUDA is available; on the CPU this hook fills the same field, so log
    lines and ``.log.json`` have one format everywhere. It writes straight
    into the log buffer's output (not its history) so the value is not
    averaged, and runs before the logger hooks (priority ``LOW``).
    """

    def after_train_iter(self, runner):
        runner.log_buffer.output['memory'] = peak_rss_mb()
