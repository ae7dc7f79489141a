"""Config helpers for pipelines, and ``NumClassCheckHook`` where
MMDetection 2.x code imports it from (``mmdet.datasets.utils``)."""

import copy
import warnings

from mmdet.core.hook.num_class_check import NumClassCheckHook
from mmdet.utils.arg_errors import InvalidArgumentError

__all__ = [
    'NumClassCheckHook',
    'get_loading_pipeline',
    'replace_ImageToTensor',
]


def replace_ImageToTensor(pipelines):
    """A copy of a test pipeline with ``ImageToTensor`` replaced by
    ``DefaultFormatBundle`` (needed for batches of more than one image,
    which must be padded and stacked through DataContainers); also inside
    ``MultiScaleFlipAug``."""
    pipelines = copy.deepcopy(pipelines)
    for i, step in enumerate(pipelines):
        if step['type'] == 'MultiScaleFlipAug':
            step['transforms'] = replace_ImageToTensor(step['transforms'])
        elif step['type'] == 'ImageToTensor':
            warnings.warn(
                '"ImageToTensor" pipeline is replaced by '
                '"DefaultFormatBundle" for batch inference. It is '
                'recommended to manually replace it in the test '
                'data pipeline in your config file.',
                UserWarning,
            )
            pipelines[i] = dict(type='DefaultFormatBundle')
    return pipelines


LOADING_TYPES = (
    'LoadImageFromFile',
    'LoadAnnotations',
    'LoadProposals',
    'LoadImageFromWebcam',
    'LoadMultiChannelImageFromFiles',
)


def get_loading_pipeline(pipeline):
    """The loading steps of a pipeline config (what to read, not how to
    augment), e.g. to draw ground truth next to results."""
    loading = [
        copy.deepcopy(step)
        for step in pipeline
        if step['type'] in LOADING_TYPES
    ]
    if len(loading) < 2:
        raise InvalidArgumentError(
            'the pipeline has no LoadImageFromFile + LoadAnnotations steps'
        )
    return loading
