"""The optional ``deploy`` dependencies (onnx, onnxruntime, onnxsim)."""

import importlib

INSTALL_HINT = (
    'install the deployment extra: pip install -e ".[deploy]" '
    '(or pip install -r requirements/deploy.txt)'
)


def import_deploy_module(name):
    """Import ``name`` (``'onnx'``, ``'onnxruntime'``, ``'onnxsim'``) or
    raise an ImportError that says how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ImportError(
            f'{name} is needed to export or run ONNX models but is not '
            f'installed: {INSTALL_HINT}'
        ) from err
