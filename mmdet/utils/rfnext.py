"""RF-Next receptive-field search (mmcv's ``RFSearchHook``) set up on a
detector before training or testing, as MMDetection 2.28's tools do."""

from .arg_errors import InvalidArgumentError


def rfnext_init_model(detector, cfg):
    """Prepare ``detector`` for the ``RFSearchHook`` of ``cfg.custom_hooks``
    (nothing happens without one).

    The hook's ``mode``, ``config``, ``rfstructure_file``, ``by_epoch`` and
    ``verbose`` set up the searchable dilations of the convolutions; the
    structure file is read once here, so it is cleared in the hook's config
    afterwards (the runner's copy of the hook must not apply it again).

    Args:
        detector (nn.Module): the built detector.
        cfg (mmcv.Config): the full config.
    """
    hooks = cfg.get('custom_hooks') or []
    found = [h for h in hooks if h.get('type') == 'RFSearchHook']
    if not found:
        return
    if len(found) > 1:
        raise InvalidArgumentError('custom_hooks holds two RFSearchHooks')
    try:
        from mmcv.cnn import RFSearchHook
    except ImportError as error:  # mmcv < 1.7.1
        raise ImportError(
            'RFSearchHook needs mmcv>=1.7.1: pip install mmcv==1.7.2'
        ) from error
    hook_cfg = found[0]
    RFSearchHook(
        mode=hook_cfg.get('mode', 'search'),
        config=hook_cfg.get('config', None),
        rfstructure_file=hook_cfg.get('rfstructure_file', None),
        by_epoch=hook_cfg.get('by_epoch', True),
        verbose=hook_cfg.get('verbose', True),
    ).init_model(detector)
    hook_cfg['rfstructure_file'] = None
