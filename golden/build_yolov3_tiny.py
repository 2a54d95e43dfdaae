#!/usr/bin/env python3
"""Build the YOLOv3-tiny backbone golden models (int8 + float twin) and two inputs.

The graph is structurally identical to ARM ML-zoo
``object_detection/yolo_v3_tiny/tflite_pruned_backbone_only_int8`` (the
zzh8829/yolov3-tf2 ``YoloV3Tiny`` layout without the decoding/NMS tail):

    input int8 (1,416,416,3)
    DarknetTiny: conv16-3, mp2, conv32-3, mp2, conv64-3, mp2, conv128-3, mp2,
                 x_8 = conv256-3, mp2, conv512-3, mp(2, stride 1), conv1024-3
    head 0: conv256-1 (yolo_conv_0) -> conv512-3 -> conv255-1 (bias, no BN)
            -> reshape (1,13,13,3,85)
    head 1: yolo_conv_0 -> conv128-1 -> nearest upsample x2 -> concat with x_8
            -> conv256-3 -> conv255-1 (bias, no BN) -> reshape (1,26,26,3,85)

Weights are random (He-normal kernels) but batch-norm statistics are taken
from the real per-channel statistics of every conv output on the calibration
images, so each pre-activation is roughly zero-mean with unit-ish variance and
quantization ranges are realistic.  Everything is seeded: the same --seed and
--calib-seed give the same weights, calibration set, inputs and .tflite bytes.

TensorFlow is a build-time extra only; refinterp itself never imports it.

Usage:
    python golden/build_yolov3_tiny.py --out golden [--seed 0] [--calib-seed 0]
        [--make-golden]

Writes, under --out:
    yolov3_tiny_int8.tflite     full-integer int8 model (int8 in / int8 out)
    yolov3_tiny_float.tflite    float32 twin of the same Keras model
    yolov3_tiny_int8/inputs/random.npy   seeded uniform int8 (1,416,416,3)
    yolov3_tiny_int8/inputs/smooth.npy   smooth synthetic image, quantized with
                                         the int8 model's input scale/zero point
With --make-golden it then runs refinterp.tools.golden.make_golden on the int8 model
(litert-ref, confirmed with tflm) to fill yolov3_tiny_int8/ completely.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

IMAGE_SIZE = 416
NUM_ANCHORS = 3
NUM_CLASSES = 80
HEAD_CHANNELS = NUM_ANCHORS * (NUM_CLASSES + 5)  # 255

INT8_MODEL_NAME = "yolov3_tiny_int8.tflite"
FLOAT_MODEL_NAME = "yolov3_tiny_float.tflite"
GOLDEN_DIR_NAME = "yolov3_tiny_int8"

# The op list the int8 model must have: anything else means the converter
# lowered a layer differently (e.g. UpSampling2D -> TILE, dynamic batch ->
# SHAPE/STRIDED_SLICE/PACK) and the model no longer matches the ML-zoo graph.
EXPECTED_INT8_OPS = {
    "CONV_2D": 13,
    "MAX_POOL_2D": 6,
    "LEAKY_RELU": 11,
    "CONCATENATION": 1,
    "RESIZE_NEAREST_NEIGHBOR": 1,
    "RESHAPE": 2,
}


# ----------------------------------------------------------------------------
# Synthetic images (numpy only, seeded)
# ----------------------------------------------------------------------------


def _bilinear_upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Upsample a (g, g, c) grid to (size, size, c) with bilinear interpolation."""
    g = grid.shape[0]
    coords = np.linspace(0.0, g - 1.0, size)
    i0 = np.floor(coords).astype(np.int64)
    i1 = np.minimum(i0 + 1, g - 1)
    frac = coords - i0
    rows = grid[i0] * (1.0 - frac)[:, None, None] + grid[i1] * frac[:, None, None]
    return rows[:, i0] * (1.0 - frac)[None, :, None] + rows[:, i1] * frac[None, :, None]


def smooth_image(rng: np.random.Generator, size: int = IMAGE_SIZE) -> np.ndarray:
    """One smooth float32 RGB image in [0, 1], shape (size, size, 3).

    Low-frequency noise at two scales + a random linear gradient + a few flat
    shapes (discs and rectangles) with soft-ish edges: enough structure that
    every layer sees a spread of values, nothing like white noise.
    """
    img = np.zeros((size, size, 3), dtype=np.float64)
    for grid_size, weight in ((4, 0.45), (12, 0.2)):
        img += weight * _bilinear_upsample(rng.uniform(0.0, 1.0, (grid_size, grid_size, 3)), size)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1.0)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    gradient = np.cos(angle) * xx + np.sin(angle) * yy
    gradient = (gradient - gradient.min()) / max(np.ptp(gradient), 1e-9)
    img += 0.25 * gradient[:, :, None] * rng.uniform(0.2, 1.0, 3)[None, None, :]
    for _ in range(int(rng.integers(2, 6))):
        color = rng.uniform(0.0, 1.0, 3)
        cy, cx = rng.uniform(0.1, 0.9, 2) * size
        extent = rng.uniform(0.05, 0.2) * size
        if rng.uniform() < 0.5:
            mask = (yy * (size - 1) - cy) ** 2 + (xx * (size - 1) - cx) ** 2 < extent**2
        else:
            mask = (np.abs(yy * (size - 1) - cy) < extent) & (
                np.abs(xx * (size - 1) - cx) < extent * rng.uniform(0.5, 1.5)
            )
        alpha = rng.uniform(0.5, 0.9)
        img[mask] = (1.0 - alpha) * img[mask] + alpha * color
    lo, hi = img.min(), img.max()
    img = (img - lo) / max(hi - lo, 1e-9)
    return img.astype(np.float32)


def calibration_images(calib_seed: int, count: int) -> np.ndarray:
    """(count, 416, 416, 3) float32 smooth images in [0, 1]."""
    rng = np.random.default_rng(calib_seed)
    return np.stack([smooth_image(rng) for _ in range(count)])


# ----------------------------------------------------------------------------
# Keras model (zzh8829/yolov3-tf2 YoloV3Tiny layout)
# ----------------------------------------------------------------------------


def build_keras_model(seed: int):
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="refinterp_golden")
    class ResizeNearest2x(keras.layers.Layer):
        """Nearest-neighbour x2 upsample that converts to RESIZE_NEAREST_NEIGHBOR.

        keras.layers.UpSampling2D lowers to TILE/RESHAPE in the TFLite
        converter, which would not match the ML-zoo graph.
        """

        def call(self, x):
            height, width = x.shape[1], x.shape[2]
            return tf.image.resize(x, (2 * height, 2 * width), method="nearest")

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 2 * input_shape[1], 2 * input_shape[2], input_shape[3])

    layers = keras.layers
    conv_counter = [0]

    def darknet_conv(x, filters: int, size: int, batch_norm: bool = True):
        index = conv_counter[0]
        conv_counter[0] += 1
        x = layers.Conv2D(
            filters,
            size,
            strides=1,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer=keras.initializers.HeNormal(seed=seed * 1000 + index),
            bias_initializer=keras.initializers.RandomNormal(stddev=0.1, seed=seed * 1000 + 500 + index),
            name=f"conv_{index}",
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn_{index}")(x)
            x = layers.LeakyReLU(negative_slope=0.1, name=f"leaky_{index}")(x)
        return x

    def maxpool(x, stride: int):
        return layers.MaxPooling2D(pool_size=2, strides=stride, padding="same")(x)

    # batch_size=1: a dynamic batch turns the head Reshapes into
    # SHAPE/STRIDED_SLICE/PACK + RESHAPE in the converted graph.
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), batch_size=1, name="input")

    # DarknetTiny
    x = darknet_conv(inputs, 16, 3)
    x = maxpool(x, 2)
    x = darknet_conv(x, 32, 3)
    x = maxpool(x, 2)
    x = darknet_conv(x, 64, 3)
    x = maxpool(x, 2)
    x = darknet_conv(x, 128, 3)
    x = maxpool(x, 2)
    x_8 = darknet_conv(x, 256, 3)
    x = maxpool(x_8, 2)
    x = darknet_conv(x, 512, 3)
    x = maxpool(x, 1)
    x = darknet_conv(x, 1024, 3)

    # Head 0 (13x13)
    yolo_conv_0 = darknet_conv(x, 256, 1)
    h0 = darknet_conv(yolo_conv_0, 512, 3)
    h0 = darknet_conv(h0, HEAD_CHANNELS, 1, batch_norm=False)
    output_0 = layers.Reshape((13, 13, NUM_ANCHORS, NUM_CLASSES + 5), name="output_0")(h0)

    # Head 1 (26x26)
    h1 = darknet_conv(yolo_conv_0, 128, 1)
    h1 = ResizeNearest2x(name="upsample")(h1)
    h1 = layers.Concatenate(name="concat")([h1, x_8])
    h1 = darknet_conv(h1, 256, 3)
    h1 = darknet_conv(h1, HEAD_CHANNELS, 1, batch_norm=False)
    output_1 = layers.Reshape((26, 26, NUM_ANCHORS, NUM_CLASSES + 5), name="output_1")(h1)

    return keras.Model(inputs, [output_0, output_1], name="yolov3_tiny")


def calibrate_batch_norms(model, images: np.ndarray, seed: int) -> None:
    """Set every BatchNormalization's moving stats from its conv's real output.

    Layers are handled in graph order, so each BN sees the already-normalized
    activations of the layers before it.  gamma ~ 1 with spread, beta small.
    """
    import keras

    rng = np.random.default_rng(seed + 7919)
    bn_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for bn in bn_layers:
        conv_out = bn.input
        probe = keras.Model(model.inputs, conv_out)
        stats_sum = None
        stats_sq = None
        count = 0
        for start in range(0, len(images), 4):
            act = np.asarray(probe([images[start : start + 4]], training=False), dtype=np.float64)
            flat = act.reshape(-1, act.shape[-1])
            stats_sum = flat.sum(0) if stats_sum is None else stats_sum + flat.sum(0)
            stats_sq = (flat**2).sum(0) if stats_sq is None else stats_sq + (flat**2).sum(0)
            count += flat.shape[0]
        mean = stats_sum / count
        var = np.maximum(stats_sq / count - mean**2, 1e-6)
        channels = mean.shape[0]
        gamma = np.clip(rng.lognormal(mean=0.0, sigma=0.25, size=channels), 0.3, 3.0)
        beta = rng.normal(0.0, 0.1, size=channels)
        bn.set_weights(
            [gamma.astype(np.float32), beta.astype(np.float32), mean.astype(np.float32), var.astype(np.float32)]
        )


# ----------------------------------------------------------------------------
# Conversion and checks
# ----------------------------------------------------------------------------


def op_histogram(model_bytes: bytes) -> dict[str, int]:
    """{builtin op name: count} over subgraph 0, in first-seen order."""
    import tflite
    from tflite.utils import BUILTIN_OPCODE2NAME

    model = tflite.Model.GetRootAsModel(model_bytes, 0)
    subgraph = model.Subgraphs(0)
    histogram: dict[str, int] = collections.Counter()
    for i in range(subgraph.OperatorsLength()):
        opcode = model.OperatorCodes(subgraph.Operators(i).OpcodeIndex())
        # Builtin codes >= 127 live in BuiltinCode(); older ones in the deprecated byte.
        code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
        histogram[BUILTIN_OPCODE2NAME.get(code, f"BUILTIN_{code}")] += 1
    return dict(histogram)


def io_details(model_bytes: bytes) -> tuple[list[dict], list[dict]]:
    """(inputs, outputs) of subgraph 0 as dicts: name, shape, dtype, scale, zero_point."""
    import tflite

    type_names = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
    model = tflite.Model.GetRootAsModel(model_bytes, 0)
    subgraph = model.Subgraphs(0)

    def describe(tensor_index: int) -> dict:
        tensor = subgraph.Tensors(tensor_index)
        quant = tensor.Quantization()
        scale = float(quant.Scale(0)) if quant is not None and quant.ScaleLength() else None
        zero_point = int(quant.ZeroPoint(0)) if quant is not None and quant.ZeroPointLength() else None
        return {
            "index": tensor_index,
            "name": tensor.Name().decode(),
            "shape": tuple(int(d) for d in tensor.ShapeAsNumpy()),
            "dtype": type_names[tensor.Type()],
            "scale": scale,
            "zero_point": zero_point,
        }

    inputs = [describe(int(subgraph.Inputs(i))) for i in range(subgraph.InputsLength())]
    outputs = [describe(int(subgraph.Outputs(i))) for i in range(subgraph.OutputsLength())]
    return inputs, outputs


def convert(model, calib_images: np.ndarray, work_dir: Path) -> tuple[bytes, bytes]:
    """(int8 model bytes, float model bytes).

    Goes through a SavedModel + TFLiteConverter.from_saved_model:
    from_concrete_functions fails at calibration time with Keras 3.
    """
    import keras
    import tensorflow as tf

    saved_model_dir = work_dir / "saved_model"
    # This is what model.export(dir, format="tf_saved_model") does (an
    # ExportArchive with one endpoint), with two changes:
    # - batch 1 again in the input signature: Keras exports a dynamic batch
    #   otherwise, and the head Reshapes become SHAPE/STRIDED_SLICE/PACK+RESHAPE;
    # - named signature outputs. model.export names them output_0/output_1 and
    #   the converter then emits them in the order (26x26, 13x13); with the keys
    #   yolo_13/yolo_26 it emits (13x13, 26x26) named StatefulPartitionedCall:0
    #   and :1, as in the ML-zoo model. The order is not documented converter
    #   behaviour, so check_int8_model() verifies it.
    input_signature = [tf.TensorSpec((1, IMAGE_SIZE, IMAGE_SIZE, 3), tf.float32, name="input")]

    def serve(image):
        output_13, output_26 = model(image, training=False)
        return {"yolo_13": output_13, "yolo_26": output_26}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=input_signature)
    archive.write_out(str(saved_model_dir), verbose=False)

    float_converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    float_bytes = float_converter.convert()

    def representative_dataset():
        for image in calib_images:
            yield [image[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    int8_bytes = converter.convert()
    return int8_bytes, float_bytes


def check_int8_model(model_bytes: bytes) -> None:
    histogram = op_histogram(model_bytes)
    print("int8 op histogram:")
    for name, count in histogram.items():
        print(f"  {name:<26} {count}")
    if histogram != EXPECTED_INT8_OPS:
        raise SystemExit(f"FATAL: int8 op histogram {histogram} != expected {EXPECTED_INT8_OPS}")
    inputs, outputs = io_details(model_bytes)
    for kind, details in (("input", inputs), ("output", outputs)):
        for d in details:
            print(f"  {kind} t{d['index']} {d['name']!r} {d['shape']} {d['dtype']} "
                  f"scale={d['scale']} zp={d['zero_point']}")
    expected_outputs = [(1, 13, 13, 3, 85), (1, 26, 26, 3, 85)]
    if [d["shape"] for d in outputs] != expected_outputs:
        raise SystemExit(f"FATAL: output shapes {[d['shape'] for d in outputs]} != {expected_outputs}")
    if [d["shape"] for d in inputs] != [(1, IMAGE_SIZE, IMAGE_SIZE, 3)]:
        raise SystemExit(f"FATAL: input shapes {[d['shape'] for d in inputs]}")
    if any(d["dtype"] != "INT8" for d in inputs + outputs):
        raise SystemExit("FATAL: model inputs/outputs are not all int8")


def make_inputs(int8_bytes: bytes, seed: int) -> dict[str, np.ndarray]:
    """The two golden inputs: 'random' (uniform int8) and 'smooth' (quantized image)."""
    (input_detail,), _ = io_details(int8_bytes)
    shape = input_detail["shape"]
    rng = np.random.default_rng(seed + 104729)
    random_input = rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8)
    image = smooth_image(np.random.default_rng(seed + 1299709))
    scale, zero_point = input_detail["scale"], input_detail["zero_point"]
    # Same rounding as TFLite's QUANTIZE: round half away from zero, then clamp.
    scaled = image.astype(np.float64) / scale
    quantized = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + zero_point
    smooth_input = np.clip(quantized, -128, 127).astype(np.int8)[None]
    return {"random": random_input, "smooth": smooth_input}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="output directory (e.g. golden)")
    parser.add_argument("--seed", type=int, default=0, help="weights and inputs seed (default 0)")
    parser.add_argument("--calib-seed", type=int, default=0, help="calibration image seed (default 0)")
    parser.add_argument("--calib-count", type=int, default=16, help="number of calibration images (default 16)")
    parser.add_argument(
        "--make-golden",
        action="store_true",
        help="afterwards run refinterp.tools.golden.make_golden into OUT/yolov3_tiny_int8 "
             "(litert-ref, confirmed by tflm)",
    )
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)  # python, numpy and tf seeds
    tf.config.experimental.enable_op_determinism()
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, seed={args.seed}, calib_seed={args.calib_seed}")

    calib = calibration_images(args.calib_seed, args.calib_count)
    model = build_keras_model(args.seed)
    calibrate_batch_norms(model, calib, args.seed)

    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="yolov3_tiny_build_") as tmp:
        int8_bytes, float_bytes = convert(model, calib, Path(tmp))
    check_int8_model(int8_bytes)

    (out_dir / INT8_MODEL_NAME).write_bytes(int8_bytes)
    (out_dir / FLOAT_MODEL_NAME).write_bytes(float_bytes)
    print(f"wrote {out_dir / INT8_MODEL_NAME} ({len(int8_bytes)} bytes)")
    print(f"wrote {out_dir / FLOAT_MODEL_NAME} ({len(float_bytes)} bytes)")
    print("float op histogram:", op_histogram(float_bytes))

    inputs_dir = out_dir / GOLDEN_DIR_NAME / "inputs"
    inputs_dir.mkdir(parents=True, exist_ok=True)
    inputs = make_inputs(int8_bytes, args.seed)
    for name, array in inputs.items():
        np.save(inputs_dir / f"{name}.npy", array)
        print(f"wrote {inputs_dir / f'{name}.npy'} {array.shape} {array.dtype}")

    if args.make_golden:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from refinterp.tools.golden import make_golden

        make_golden(
            str(out_dir / INT8_MODEL_NAME),
            str(out_dir / GOLDEN_DIR_NAME),
            runtime="litert-ref",
            inputs={name: [array] for name, array in inputs.items()},
            confirm_with=["tflm"],
        )
        print(f"wrote golden dir {out_dir / GOLDEN_DIR_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
