from .eval_hooks import DistEvalHook, EvalHook

__all__ = ['EvalHook', 'DistEvalHook']
