"""Reject unknown keys in the train/test settings a head reads.

A head reads its ``train_cfg``/``test_cfg`` with ``cfg.get``, so a misspelt
key (``nms_thres``) would silently fall back to a default. Checking the keys
once when the head is built turns such a typo into an error.
"""


def check_cfg_keys(cfg, allowed, name):
    """Raise ``KeyError`` if ``cfg`` (a dict or None) has a key outside
    ``allowed``; ``name`` says which setting it is in the message."""
    if cfg is None:
        return
    unknown = sorted(set(cfg) - set(allowed))
    if unknown:
        raise KeyError(
            f'unknown key(s) {unknown} in {name}; allowed: {sorted(allowed)}'
        )
