"""A hook that kills the training process mid-run (for the resume tests).

Imported by configs through ``custom_imports``; ``os._exit`` ends the process
at once, as a kill would: no exception handler or clean-up runs.
"""
import os

from mmcv.runner import HOOKS, Hook


@HOOKS.register_module()
class CrashHook(Hook):
    """Exit with status 137 after ``at_iter`` training iterations."""

    def __init__(self, at_iter):
        self.at_iter = at_iter

    def after_train_iter(self, runner):
        if runner.iter + 1 == self.at_iter:
            os._exit(137)
