"""Run an exported detector in ONNX Runtime."""

import numpy as np

from .deps import import_deploy_module

# the inputs of an exported detector, in order (a graph that does not read
# one, e.g. YOLOX's, which never clips to img_shape, lacks it)
INPUT_NAMES = ('input', 'img_shape', 'scale_factor')
# the output of a graph over a batch (``--dynamic-export``): (B,)
# detections per image, whose detections come one image after another
NUM_DETS = 'num_dets'


class ORTSession:
    """An ONNX Runtime CPU session of an exported detector.

    Args:
        onnx_file (str): the exported file.
        num_threads (int, optional): intra-op threads (ORT's default: all
            cores).
    """

    def __init__(self, onnx_file, num_threads=None):
        ort = import_deploy_module('onnxruntime')
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(onnx_file), options, providers=['CPUExecutionProvider']
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        # a graph over a batch (else over one image)
        self.batch = NUM_DETS in self.output_names
        # what the exporter wrote beside the graph (e.g. the class names)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, *inputs):
        """Outputs (numpy arrays, by name) for the inputs in graph order
        (tensors or arrays), or for all of ``INPUT_NAMES`` when the graph
        takes only some of them. A batch graph also takes one image's
        (2,) ``img_shape`` and (4,) ``scale_factor`` (a batch of one)."""
        names = self.input_names
        if len(inputs) != len(names):
            if len(inputs) != len(INPUT_NAMES) or not set(names) <= set(
                INPUT_NAMES
            ):
                raise ValueError(
                    f'the graph takes {names}, got {len(inputs)} inputs'
                )
            given = dict(zip(INPUT_NAMES, inputs))
            inputs = [given[name] for name in names]
        feed = {}
        for name, value in zip(names, inputs):
            value = np.ascontiguousarray(
                value.detach().cpu().numpy()
                if hasattr(value, 'detach')
                else value
            )
            if self.batch and name != 'input' and value.ndim == 1:
                value = value[None]
            feed[name] = value
        return dict(zip(self.output_names, self.session.run(None, feed)))
