from .eval_hooks import DistEvalHook, EvalHook
from .recall import average_recall

__all__ = ['EvalHook', 'DistEvalHook', 'average_recall']
