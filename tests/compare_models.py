"""Small models the compare tests share (tests/test_compare.py, tests/test_compare_explain.py)."""

from __future__ import annotations

import numpy as np

from refinterp.modelbuilder import OpSpec, TensorSpec, build_model


def chain_specs(size: int = 16, cin: int = 8, cout: int = 16, seed: int = 0) -> tuple[list, list]:
    """CONV_2D -> LEAKY_RELU -> MAX_POOL_2D -> RESHAPE, int8 with per-channel weights (a YOLO block in small): the
    tensors and operators (tensor 3 is the conv's output, 4 the LEAKY_RELU's, 5 the pool's, 7 the model output)."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(-127, 128, size=(cout, 3, 3, cin)).astype(np.int8)
    bias = rng.integers(-2000, 2000, size=cout).astype(np.int32)
    input_scale = 0.02
    weight_scales = [float(s) for s in rng.uniform(0.002, 0.01, cout)]
    tensors = [
        TensorSpec((1, size, size, cin), "int8", scale=input_scale, zero_point=-3, name="input"),
        TensorSpec((cout, 3, 3, cin), "int8", scale=weight_scales, zero_point=[0] * cout, data=weights,
                   name="conv/weights"),
        TensorSpec((cout,), "int32", scale=[input_scale * s for s in weight_scales], zero_point=[0] * cout,
                   data=bias, name="conv/bias"),
        TensorSpec((1, size, size, cout), "int8", scale=0.05, zero_point=2, name="conv/out"),
        TensorSpec((1, size, size, cout), "int8", scale=0.04, zero_point=-10, name="leaky/out"),
        TensorSpec((1, size // 2, size // 2, cout), "int8", scale=0.04, zero_point=-10, name="pool/out"),
        TensorSpec((2,), "int32", data=np.array([1, -1], np.int32), name="reshape/shape"),
        TensorSpec((1, size * size // 4 * cout), "int8", scale=0.04, zero_point=-10, name="reshape/out"),
    ]
    operators = [
        OpSpec("CONV_2D", [0, 1, 2], [3], {"padding": "SAME", "stride_w": 1, "stride_h": 1}),
        OpSpec("LEAKY_RELU", [3], [4], {"alpha": 0.1}),
        OpSpec("MAX_POOL_2D", [4], [5], {"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 2,
                                         "filter_height": 2}),
        OpSpec("RESHAPE", [5, 6], [7], {"new_shape": [1, -1]}),
    ]
    return tensors, operators


def chain_model(size: int = 16, cin: int = 8, cout: int = 16, seed: int = 0) -> bytes:
    """The :func:`chain_specs` model: input tensor 0, output tensor 7."""
    tensors, operators = chain_specs(size, cin, cout, seed)
    return build_model(tensors, operators, [0], [7])
