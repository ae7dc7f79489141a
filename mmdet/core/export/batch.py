"""A batch of images through a one-image detector graph.

An exported detector is traced on one image: ODConv's per-sample kernels
are a convolution whose weight is computed in the graph, and every
family's post-processing keeps a different number of detections per
image. Rather than trace a batch, :func:`loop_over_batch` wraps the
one-image graph into an ONNX ``Loop`` over the images of a batch: each
iteration runs the unchanged graph on one image, and the detections of all
images come out concatenated, with ``num_dets`` (B,) saying how many
belong to each. The weights stay in the outer graph, so the file is not
larger; each image gives exactly what the one-image graph gives it.
"""

from .deps import import_deploy_module
from .runtime import INPUT_NAMES, NUM_DETS

_IMAGE = '__image'  # suffix of the one-image values inside the loop


def _rename(graph, names):
    """Rename the values ``names`` (old -> new) in every node of ``graph``
    and of its subgraphs."""
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
        for attr in node.attribute:
            if attr.g.node:
                _rename(attr.g, names)
            for sub in attr.graphs:
                _rename(sub, names)


def _output_info(onnx, value, name):
    """The value info of ``value`` (a graph output) renamed, shape kept."""
    info = onnx.ValueInfoProto()
    info.CopyFrom(value)
    info.name = name
    return info


def _empty(onnx, value, name, tail=None):
    """A (0, d1, ...) initializer of ``value``'s type: the detections of
    no image yet. ``tail`` gives (d1, ...) where the graph leaves them
    free."""
    dims = value.type.tensor_type.shape.dim[1:]
    if tail is None:
        if any(d.dim_param or not d.dim_value for d in dims):
            raise ValueError(
                f'output {value.name!r} has a free dimension besides the '
                'first: give its size (trailing_dims)'
            )
        tail = [d.dim_value for d in dims]
    return onnx.helper.make_tensor(
        name, value.type.tensor_type.elem_type, [0, *tail], []
    )


def loop_over_batch(model, trailing_dims=None):
    """The batch form of a one-image detector graph.

    Args:
        model (onnx.ModelProto): inputs ``input`` (1, 3, H, W) and any of
            ``img_shape`` (2,), ``scale_factor`` (4,); outputs ``dets``,
            ``labels`` (and ``masks``), first dimension the detections.
        trailing_dims (dict, optional): output name -> the sizes of its
            dimensions after the first (e.g. ``{'dets': (5,)}``), for the
            outputs whose graph type leaves them free.

    Returns:
        onnx.ModelProto: inputs ``input`` (B, 3, H, W), ``img_shape``
        (B, 2), ``scale_factor`` (B, 4); the same outputs, the images'
        detections one after another, and ``num_dets`` (B,) int64.
    """
    onnx = import_deploy_module('onnx')
    helper = onnx.helper
    graph = model.graph
    inputs = [i.name for i in graph.input]
    outputs = list(graph.output)
    if not set(inputs) <= set(INPUT_NAMES) or 'input' not in inputs:
        raise ValueError(
            f'not a one-image detector graph: inputs {inputs}, '
            f'expected some of {list(INPUT_NAMES)}'
        )
    if NUM_DETS in [o.name for o in outputs]:
        raise ValueError('the graph already takes a batch')
    renamed = {name: name + _IMAGE for name in inputs}
    renamed.update({o.name: o.name + _IMAGE for o in outputs})
    body = helper.make_graph([], 'image', [], [])
    body.node.extend(graph.node)
    _rename(body, renamed)

    const = [
        helper.make_tensor('loop__axis0', onnx.TensorProto.INT64, [1], [0]),
        helper.make_tensor('loop__one', onnx.TensorProto.INT64, [1], [1]),
        helper.make_tensor('loop__zero', onnx.TensorProto.INT64, [], [0]),
        helper.make_tensor('loop__true', onnx.TensorProto.BOOL, [], [True]),
    ]
    # this iteration's image: input[i:i+1], img_shape[i], scale_factor[i]
    pick = [
        helper.make_node('Unsqueeze', ['loop__i', 'loop__axis0'], ['i_1d']),
        helper.make_node('Add', ['i_1d', 'loop__one'], ['i_next']),
        helper.make_node(
            'Slice',
            ['input', 'i_1d', 'i_next', 'loop__axis0'],
            ['input' + _IMAGE],
        ),
    ]
    pick += [
        helper.make_node('Gather', [name, 'loop__i'], [name + _IMAGE], axis=0)
        for name in inputs
        if name != 'input'
    ]
    # append this image's detections to those of the images before
    gather = [helper.make_node('Identity', ['loop__cond'], ['loop__cond_out'])]
    for out in outputs:
        gather.append(
            helper.make_node(
                'Concat',
                [f'{out.name}__before', out.name + _IMAGE],
                [f'{out.name}__after'],
                axis=0,
            )
        )
    first = outputs[0].name + _IMAGE
    gather += [
        helper.make_node('Shape', [first], ['image__shape']),
        helper.make_node(
            'Gather', ['image__shape', 'loop__zero'], ['image__num'], axis=0
        ),
    ]
    nodes = list(body.node)
    del body.node[:]
    body.node.extend(pick + nodes + gather)
    body.input.extend(
        [
            helper.make_tensor_value_info(
                'loop__i', onnx.TensorProto.INT64, []
            ),
            helper.make_tensor_value_info(
                'loop__cond', onnx.TensorProto.BOOL, []
            ),
        ]
        + [_output_info(onnx, o, f'{o.name}__before') for o in outputs]
    )
    body.output.extend(
        [
            helper.make_tensor_value_info(
                'loop__cond_out', onnx.TensorProto.BOOL, []
            )
        ]
        + [_output_info(onnx, o, f'{o.name}__after') for o in outputs]
        + [
            helper.make_tensor_value_info(
                'image__num', onnx.TensorProto.INT64, []
            )
        ]
    )

    trailing_dims = trailing_dims or {}
    empties = [
        _empty(onnx, o, f'{o.name}__none', trailing_dims.get(o.name))
        for o in outputs
    ]
    outer = [
        helper.make_node('Shape', ['input'], ['batch__shape']),
        helper.make_node(
            'Gather', ['batch__shape', 'loop__zero'], ['batch__size'], axis=0
        ),
        helper.make_node(
            'Loop',
            ['batch__size', 'loop__true'] + [e.name for e in empties],
            [o.name for o in outputs] + [NUM_DETS],
            body=body,
        ),
    ]
    batch_inputs = []
    for value in graph.input:
        info = onnx.ValueInfoProto()
        info.CopyFrom(value)
        dims = info.type.tensor_type.shape.dim
        if value.name == 'input':
            dims[0].Clear()
            dims[0].dim_param = 'batch'
        else:  # (2,) / (4,) -> (B, 2) / (B, 4)
            size = dims[0].dim_value
            del dims[:]
            dims.add().dim_param = 'batch'
            dims.add().dim_value = size
        batch_inputs.append(info)
    new_graph = helper.make_graph(
        outer,
        graph.name,
        batch_inputs,
        outputs
        + [
            helper.make_tensor_value_info(
                NUM_DETS, onnx.TensorProto.INT64, ['batch']
            )
        ],
        initializer=list(graph.initializer) + const + empties,
    )
    batch_model = helper.make_model(
        new_graph, opset_imports=list(model.opset_import)
    )
    batch_model.ir_version = model.ir_version
    batch_model.producer_name = model.producer_name
    batch_model.metadata_props.extend(model.metadata_props)
    return batch_model
