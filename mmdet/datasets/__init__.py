from .builder import (
    DATASETS,
    PIPELINES,
    build_dataloader,
    build_dataset,
    worker_init_fn,
)
from .cityscapes import CityscapesDataset
from .coco import CocoDataset
from .coco_panoptic import CocoPanopticDataset
from .custom import CustomDataset
from .dataset_wrappers import (
    ClassBalancedDataset,
    ConcatDataset,
    MultiImageMixDataset,
    RepeatDataset,
)
from .deepfashion import DeepFashionDataset
from .lvis import LVISDataset, LVISV05Dataset, LVISV1Dataset
from .objects365 import Objects365V1Dataset, Objects365V2Dataset
from .openimages import OpenImagesChallengeDataset, OpenImagesDataset
from .samplers import (
    DistributedGroupSampler,
    DistributedSampler,
    GroupSampler,
    InfiniteBatchSampler,
    InfiniteGroupBatchSampler,
)
from .utils import (
    NumClassCheckHook,
    get_loading_pipeline,
    replace_ImageToTensor,
)
from .voc import VOCDataset
from .wider_face import WIDERFaceDataset
from .xml_style import XMLDataset

__all__ = [
    'CustomDataset',
    'CocoDataset',
    'ConcatDataset',
    'RepeatDataset',
    'ClassBalancedDataset',
    'GroupSampler',
    'DistributedGroupSampler',
    'DistributedSampler',
    'InfiniteBatchSampler',
    'InfiniteGroupBatchSampler',
    'build_dataloader',
    'build_dataset',
    'worker_init_fn',
    'DATASETS',
    'PIPELINES',
    'replace_ImageToTensor',
    'get_loading_pipeline',
    'NumClassCheckHook',
    'XMLDataset',
    'MultiImageMixDataset',
    'CityscapesDataset',
    'DeepFashionDataset',
    'LVISDataset',
    'LVISV05Dataset',
    'LVISV1Dataset',
    'Objects365V1Dataset',
    'Objects365V2Dataset',
    'WIDERFaceDataset',
    'OpenImagesDataset',
    'OpenImagesChallengeDataset',
    'CocoPanopticDataset',
    'VOCDataset',
]
