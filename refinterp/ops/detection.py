"""Detection post-processing: the custom operator TFLite_Detection_PostProcess (SSD box decoding and
non-max suppression), NON_MAX_SUPPRESSION_V4 and NON_MAX_SUPPRESSION_V5.

These kernels sort and select rather than compute per element, so their rules are about order: which sort the
C++ code calls (``std::stable_sort``: ties keep index order; ``std::partial_sort``: libstdc++'s heap select,
emulated step by step in :func:`libstdcxx_partial_sort`, because its order among equal scores is not the index
order), which comparisons it makes (``>``, ``>=``: NaN fails them all) and in which precision it computes
(float32 operations, and double where the C++ casts to double). Sources (LiteRT 2.3.0):
``tensorflow/lite/kernels/detection_postprocess.cc``, ``tensorflow/lite/kernels/non_max_suppression.cc`` and
``tensorflow/lite/kernels/internal/reference/non_max_suppression.h``; TFLM's
``tensorflow/lite/micro/kernels/detection_postprocess.cc`` for profile "tflm".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import flatbuffers.flexbuffers
import numpy as np

from refinterp.errors import EvalError
from refinterp.model import Tensor
from refinterp.ops.common import OpContext, per_tensor_qparams_or_identity

F32 = np.float32
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


# ------------------------------------------------------------------------------------------------
# The C++ building blocks, emulated exactly.


@functools.cache
def _libm_exp() -> Callable[[float], float]:
    """libm's ``double exp(double)`` (``std::exp`` on a double) through ctypes; math.exp raises on overflow."""
    library_name = ctypes.util.find_library("m")
    library = ctypes.CDLL(library_name) if library_name is not None else ctypes.CDLL(None)
    function = library.exp
    function.restype, function.argtypes = ctypes.c_double, [ctypes.c_double]
    return function


def libm_exp(x: np.ndarray) -> np.ndarray:
    """C ``exp`` elementwise on float64 (NumPy's own SIMD exp may differ in the last bit)."""
    x = np.asarray(x, dtype=np.float64)
    return np.array(np.frompyfunc(_libm_exp(), 1, 1)(x), dtype=np.float64).reshape(x.shape)


def cxx_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``std::max(a, b)``: ``(a < b) ? b : a`` (a NaN ``a`` is kept, a NaN ``b`` is not)."""
    return np.where(a < b, b, a)


def cxx_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``std::min(a, b)``: ``(b < a) ? b : a``."""
    return np.where(b < a, b, a)


def partial_sort_top1(values: np.ndarray) -> np.ndarray:
    """libstdc++'s ``std::partial_sort`` of one element with ``values[i] > values[j]`` (TFLM's
    DecreasingPartialArgSort), on each row: the first index whose value is strictly greater than every earlier
    running maximum, starting from element 0 (NaN never wins; a NaN at 0 is never replaced)."""
    values = np.asarray(values)
    cleaned = np.where(np.isnan(values), -np.inf, values)
    first = np.argmax(cleaned, axis=-1)
    return np.where(np.isnan(values[..., 0]), 0, first)


def arg_max_vector(values: np.ndarray) -> np.ndarray:
    """``optimized_ops::ArgMaxVector`` on each row, as LiteRT 2.3.0's x86-64 build compiled it into
    DecreasingPartialArgSort (read from the machine code, measured with NaN scores at every position of rows of 2
    to 10): NaN-aware, it never returns a NaN's index unless every value is NaN (then 0).

    * 4 values or more: four lanes start from values 0..3; each later whole block of 4 (``i <= size - 4``)
      replaces a lane where the new value is not NaN and the lane is NaN or smaller; the maximum is
      ``x1 > x0 ? x1 : x0`` (``maxss``) of the pairs ``x0 = m0 < m1 ? m1 : m0``, ``x1 = m2 < m3 ? m3 : m2``; the
      index the smallest of the lanes equal to it (none when it is NaN);
    * then (fewer than 4 values: from value 0, index 0) the rest in order: a value replaces the maximum when it
      is not NaN and the maximum is NaN or smaller;
    * the result: 0 if the maximum is NaN, else its index.
    """
    values = np.asarray(values, np.float32)
    size = values.shape[-1]
    rows = values.reshape(-1, size)
    with np.errstate(invalid="ignore"):
        if size >= 4:
            lane_max, lane_index = rows[:, :4].copy(), np.broadcast_to(np.arange(4), (rows.shape[0], 4)).copy()
            start = 4
            while start <= size - 4:
                block = rows[:, start:start + 4]
                take = ~np.isnan(block) & (np.isnan(lane_max) | (lane_max < block))
                lane_max = np.where(take, block, lane_max)
                lane_index = np.where(take, np.arange(start, start + 4), lane_index)
                start += 4
            pair0 = np.where(lane_max[:, 0] < lane_max[:, 1], lane_max[:, 1], lane_max[:, 0])
            pair1 = np.where(lane_max[:, 2] < lane_max[:, 3], lane_max[:, 3], lane_max[:, 2])
            best = np.where(pair1 > pair0, pair1, pair0)
            index = np.where(lane_max == best[:, None], lane_index, np.iinfo(np.int32).max).min(axis=1)
        else:
            best, index, start = rows[:, 0].copy(), np.zeros(rows.shape[0], np.int64), 1
        for k in range(start, size):
            value = rows[:, k]
            take = ~np.isnan(value) & (np.isnan(best) | (value > best))
            best, index = np.where(take, value, best), np.where(take, k, index)
    return np.where(np.isnan(best), 0, index).astype(np.int64).reshape(values.shape[:-1])


def best_classes(scores: np.ndarray, profile: str) -> np.ndarray:
    """DecreasingPartialArgSort of one class per box: LiteRT's ArgMaxVector, TFLM's partial_sort."""
    return partial_sort_top1(scores) if profile == "tflm" else arg_max_vector(scores)


def _cdiv2(n: int) -> int:
    """C's ``n / 2`` on ints (truncates toward zero)."""
    return -((-n) // 2) if n < 0 else n // 2


class LibstdcxxHeap:
    """libstdc++'s heap algorithms (bits/stl_heap.h: ``__adjust_heap``, ``__push_heap``, ``__pop_heap``,
    ``__make_heap``) on a Python list, with ``comp(a, b)`` the C++ comparator; where equal elements end up
    depends on these exact steps, so they are followed one by one."""

    def __init__(self, items: list[Any], comp: Callable[[Any, Any], bool]):
        self.a = items
        self.comp = comp

    def push_up(self, hole: int, top: int, value: Any) -> None:  # __push_heap
        a, comp = self.a, self.comp
        parent = _cdiv2(hole - 1)
        while hole > top and comp(a[parent], value):
            a[hole] = a[parent]
            hole = parent
            parent = _cdiv2(hole - 1)
        a[hole] = value

    def adjust(self, hole: int, length: int, value: Any) -> None:  # __adjust_heap on a[0:length]
        a, comp = self.a, self.comp
        top = hole
        child = hole
        while child < _cdiv2(length - 1):
            child = 2 * (child + 1)
            if comp(a[child], a[child - 1]):
                child -= 1
            a[hole] = a[child]
            hole = child
        if (length & 1) == 0 and child == _cdiv2(length - 2):
            child = 2 * (child + 1)
            a[hole] = a[child - 1]
            hole = child - 1
        self.push_up(hole, top, value)

    def pop_into(self, last: int, result: int) -> None:  # __pop_heap(first, first + last, first + result)
        value = self.a[result]
        self.a[result] = self.a[0]
        self.adjust(0, last, value)

    def make(self, length: int) -> None:  # __make_heap on a[0:length]
        if length < 2:
            return
        parent = _cdiv2(length - 2)
        while True:
            self.adjust(parent, length, self.a[parent])
            if parent == 0:
                return
            parent -= 1


def libstdcxx_partial_sort(indices: list[int], middle: int, greater: Callable[[int, int], bool]) -> list[int]:
    """libstdc++'s ``std::partial_sort(first, first + middle, last, comp)`` applied to ``indices`` (a copy is
    returned) with ``comp = greater``: ``__heap_select`` (a heap of the first ``middle`` elements; every later
    element that compares before the heap's top replaces it through ``__pop_heap``) then ``__sort_heap``. The
    order of equal elements is what that algorithm leaves, which is why it is emulated rather than a stable
    sort."""
    heap = LibstdcxxHeap(list(indices), greater)
    a = heap.a
    heap.make(middle)
    for i in range(middle, len(a)):
        if greater(a[i], a[0]):
            heap.pop_into(middle, i)
    last = middle
    while last > 1:
        last -= 1
        heap.pop_into(last, last)
    return a


class LibstdcxxPriorityQueue:
    """``std::priority_queue`` (libstdc++): ``push`` is push_back then ``std::push_heap``, ``pop`` is
    ``std::pop_heap`` then pop_back, ``top`` is the front; ``less(a, b)`` is the element's ``operator<``."""

    def __init__(self, less: Callable[[Any, Any], bool]):
        self.heap = LibstdcxxHeap([], less)

    def __len__(self) -> int:
        return len(self.heap.a)

    def push(self, value: Any) -> None:
        self.heap.a.append(value)
        self.heap.push_up(len(self.heap.a) - 1, 0, value)

    def top(self) -> Any:
        return self.heap.a[0]

    def pop(self) -> None:
        a = self.heap.a
        if len(a) > 1:
            self.heap.pop_into(len(a) - 1, len(a) - 1)
        a.pop()


def decreasing_stable_argsort(values: np.ndarray) -> np.ndarray:
    """``std::stable_sort`` of the indices by ``values[i] > values[j]`` (no NaN among the values: the callers
    keep only scores ``>=`` a threshold): decreasing, ties in index order; -0.0 and 0.0 are equal."""
    values = np.asarray(values, dtype=np.float64)
    return np.argsort(-values, kind="stable")


# ------------------------------------------------------------------------------------------------
# Flexbuffer values as the kernel's Init reads them (flexbuffers.h: AsInt32, AsFloat, AsBool on a map
# entry; an absent key is a null reference, which reads as 0 / 0.0 / false).


DETECTION_OPTION_KEYS = ("max_detections", "max_classes_per_detection", "detections_per_class", "use_regular_nms",
                         "nms_score_threshold", "nms_iou_threshold", "num_classes", "y_scale", "x_scale", "h_scale",
                         "w_scale")


def litert_flex_map(raw: bytes, keys: tuple[str, ...], fail: Callable[[str], Exception]) -> dict[str, Any]:
    """The entries ``m[key]`` finds for each of ``keys``, as flexbuffers.h's ``Map::operator[]`` finds them.

    That lookup is ``std::bsearch`` over the map's key vector with ``strcmp``: it trusts the keys to be sorted.
    In a map whose keys are not (a damaged or hand-written file) it misses keys that are there and reads them
    as null (0), so a decoded dictionary would run a model LiteRT refuses (fuzz finding: an
    ``nms_iou_threshold`` present but unreachable reads 0 and fails Eval's IoU check). Absent keys are left out.
    """
    try:
        root = flatbuffers.flexbuffers.GetRoot(raw).AsMap
        map_keys = [bytes(k.AsKeyBytes) for k in root.Keys]
        found: dict[str, Any] = {}
        for key in keys:
            target = key.encode("ascii")
            low, high = 0, len(map_keys)
            while low < high:  # glibc bsearch
                middle = (low + high) // 2
                if target < map_keys[middle]:
                    high = middle
                elif target > map_keys[middle]:
                    low = middle + 1
                else:
                    found[key] = root.Values[middle].Value
                    break
    except Exception as exc:  # noqa: BLE001 - the decoder raises anything on a malformed buffer
        raise fail(f"custom_options are not a flexbuffer map LiteRT can read ({type(exc).__name__})") from None
    return found


def flex_int32(options: Mapping[str, Any], key: str, fail: Callable[[str], Exception]) -> int:
    """``m[key].AsInt32()``: ``static_cast<int32_t>(AsInt64())``; a float truncates toward zero."""
    value = options.get(key)
    if value is None:
        return 0
    if isinstance(value, (bool, int)):
        wide = int(value)
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= 2.0 ** 63:
            raise fail(f"custom option {key} = {value} does not convert to an integer (undefined in C++)")
        wide = int(value)  # truncation, as static_cast<int64_t>(double)
    else:
        raise fail(f"custom option {key} is a flexbuffer {type(value).__name__} (refinterp reads numbers only)")
    wide &= (1 << 64) - 1
    wide = wide & 0xFFFFFFFF
    return wide - (1 << 32) if wide >= (1 << 31) else wide


def flex_float(options: Mapping[str, Any], key: str, fail: Callable[[str], Exception]) -> np.float32:
    """``m[key].AsFloat()``: ``static_cast<float>(AsDouble())``."""
    value = options.get(key)
    if value is None:
        return F32(0.0)
    if isinstance(value, (bool, int, float)):
        with np.errstate(all="ignore"):
            return F32(float(value))
    raise fail(f"custom option {key} is a flexbuffer {type(value).__name__} (refinterp reads numbers only)")


def flex_bool(options: Mapping[str, Any], key: str, fail: Callable[[str], Exception]) -> bool:
    """``m[key].AsBool()``: nonzero."""
    value = options.get(key)
    if value is None:
        return False
    if isinstance(value, (bool, int, float)):
        return value != 0
    raise fail(f"custom option {key} is a flexbuffer {type(value).__name__} (refinterp reads numbers only)")


# ------------------------------------------------------------------------------------------------
# TFLite_Detection_PostProcess (detection_postprocess.cc). Inputs: box encodings [1, boxes, >= 4] (y, x, h, w
# first), class predictions [1, boxes, classes (+1 background)], anchors [boxes, 4] (y, x, h, w); uint8
# (dequantized: boxes and anchors ``(float(q) - zp) * scale`` in float32, scores ``float(scale * (q - zp))``
# in double, optimized_ops::Dequantize) or float32. Outputs, all float32: boxes [1, N, 4] (ymin, xmin, ymax,
# xmax), classes [1, N], scores [1, N], num_detections [1], N = max_detections * max_classes_per_detection.
#
# Decoding, per box, in double then cast to float, as the C++ writes it:
#     ycenter = float(y / y_scale * anchor.h + anchor.y)        (xcenter likewise with x, w)
#     half_h  = float(0.5 * exp(h / h_scale) * anchor.h)        (half_w likewise)
#     ymin, ymax = ycenter - half_h, ycenter + half_h            (float32)
# A decoded box with ymin > ymax or xmin > xmax fails Eval (ValidateBoxes).
#
# Single-class NMS (NonMaxSuppressionSingleClassHelper): keep the scores >= nms_score_threshold, stable-sort
# them decreasing, then greedily take the next active box and deactivate every later one whose IoU with it is
# > nms_iou_threshold (IoU in float32: areas, std::max/std::min corners, 0 when either area <= 0), until
# max_detections are taken.
#
# Fast NMS (use_regular_nms false): per box, the top min(max_classes_per_detection, num_classes) classes
# (ArgMaxVector for one, libstdc++ partial_sort otherwise); NMS on each box's best score; each selected box is
# written once per top class. Regular NMS: NMS per class (detections_per_class each), merged after each class
# with the running best by partial_sort, max_detections kept. Rows the kernel does not write (fewer
# detections than N) are left as they were in LiteRT (arena memory); refinterp writes 0 there.

DETECTION_TYPES = ("uint8", "float32")
NUM_COORD_BOX = 4


@dataclass(frozen=True)
class DetectionParams:
    max_detections: int
    max_classes_per_detection: int
    detections_per_class: int
    use_regular_nms: bool
    score_threshold: np.float32
    iou_threshold: np.float32
    num_classes: int
    scales: tuple[np.float32, np.float32, np.float32, np.float32]  # y, x, h, w
    box_q: tuple[np.float32, int]  # (scale, zero_point) of a uint8 box encodings tensor
    class_q: tuple[float, int]
    anchor_q: tuple[np.float32, int]
    num_detected_boxes: int
    profile: str


def prepare_detection_postprocess(ctx: OpContext) -> DetectionParams:
    """detection_postprocess.cc Init (the flexbuffer options), Prepare and the shape checks of Eval."""
    fail = ctx.fail
    options = litert_flex_map(ctx.op.custom_options, DETECTION_OPTION_KEYS, fail)
    max_detections = flex_int32(options, "max_detections", fail)
    max_classes_per_detection = flex_int32(options, "max_classes_per_detection", fail)
    detections_per_class = 100 if options.get("detections_per_class") is None else \
        flex_int32(options, "detections_per_class", fail)
    use_regular_nms = flex_bool(options, "use_regular_nms", fail)
    score_threshold = flex_float(options, "nms_score_threshold", fail)
    iou_threshold = flex_float(options, "nms_iou_threshold", fail)
    num_classes = flex_int32(options, "num_classes", fail)
    scales = tuple(flex_float(options, f"{k}_scale", fail) for k in "yxhw")
    if not all(np.isfinite(scale) and scale != 0 for scale in scales):
        # a missing scale reads 0 (AsFloat of a null): the box decoding divides by it, and LiteRT's NMS then
        # compares NaN overlaps in an order refinterp does not follow (fuzz finding)
        raise ctx.unsupported(f"box scales (y, x, h, w) {[float(v) for v in scales]}: each must be finite and "
                              "nonzero")

    ctx.check_inputs(3, 3)
    if len(ctx.op.outputs) != 4:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected 4")
    boxes, classes, anchors = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2)
    box_shape, class_shape, anchor_shape = ctx.shape(boxes), ctx.shape(classes), ctx.shape(anchors)
    for shape, rank, role in ((box_shape, 3, "box encodings"), (class_shape, 3, "class predictions"),
                              (anchor_shape, 2, "anchors")):
        if len(shape) != rank:
            raise ctx.fail(f"{role} have rank {len(shape)}, expected {rank}")
    for position in range(4):
        output = ctx.output(position)
        if output.index < 0 or output.type_name != "float32":
            raise ctx.unsupported(f"output {position} is declared {output.type_name}; LiteRT makes it float32 "
                                  "(refinterp runs the declared types only)")
    num_detected_boxes = max_detections * max_classes_per_detection
    if not INT32_MIN <= num_detected_boxes <= INT32_MAX or num_detected_boxes < 0:
        raise ctx.fail(f"max_detections {max_detections} * max_classes_per_detection {max_classes_per_detection}"
                       " is not a valid output size")
    ctx.set_output_shape(0, (1, num_detected_boxes, NUM_COORD_BOX))
    ctx.set_output_shape(1, (1, num_detected_boxes))
    ctx.set_output_shape(2, (1, num_detected_boxes))
    ctx.set_output_shape(3, (1,))

    # Eval's checks, all on shapes and options: made here
    if box_shape[0] != 1:
        raise ctx.fail(f"box encodings batch is {box_shape[0]}, the kernel takes 1")
    if box_shape[2] < NUM_COORD_BOX:
        raise ctx.fail(f"box encodings have {box_shape[2]} values per box, at least 4 are needed")
    num_boxes = box_shape[1]
    if boxes.type_name not in DETECTION_TYPES:
        raise ctx.fail(f"box encodings of type {boxes.type_name} (the kernel takes uint8 or float32)")
    if classes.type_name not in DETECTION_TYPES:
        raise ctx.fail(f"class predictions of type {classes.type_name} (the kernel takes uint8 or float32)")
    if anchors.type_name != boxes.type_name:
        if boxes.type_name == "float32":
            raise ctx.fail(f"anchors of type {anchors.type_name} with float32 box encodings")
        raise ctx.unsupported(f"anchors of type {anchors.type_name} with uint8 box encodings (LiteRT reads "
                              "their bytes as uint8)")
    if math.prod(anchor_shape) < NUM_COORD_BOX * num_boxes:
        raise ctx.unsupported(f"anchors {list(anchor_shape)} hold fewer than 4 values for each of {num_boxes} "
                              "boxes (LiteRT reads past them)")
    if class_shape[0] != 1 or class_shape[1] != num_boxes:
        raise ctx.fail(f"class predictions {list(class_shape)} do not match {num_boxes} boxes in a batch of 1")
    num_classes_with_background = class_shape[2]
    if not (num_classes_with_background - num_classes <= 1 and num_classes_with_background >= num_classes):
        raise ctx.fail(f"num_classes {num_classes} against {num_classes_with_background} class predictions "
                       "(at most one background class)")
    if num_classes < 1:
        raise ctx.unsupported(f"num_classes {num_classes} (LiteRT reads an uninitialized class index)")
    if iou_threshold <= 0 or not iou_threshold <= 1:
        raise ctx.fail(f"nms_iou_threshold {float(iou_threshold)} is not in (0, 1]")
    if use_regular_nms:
        if min(detections_per_class, max_detections) <= 0:
            raise ctx.fail(f"min(detections_per_class {detections_per_class}, max_detections {max_detections}) "
                           "must be positive")
        if max_detections < 0:
            raise ctx.fail(f"max_detections {max_detections} must not be negative")
        if max_classes_per_detection != 1:
            raise ctx.unsupported(f"regular NMS writes max_detections rows of outputs sized max_detections * "
                                  f"max_classes_per_detection ({max_classes_per_detection}): LiteRT leaves the "
                                  "rest unwritten or writes past them")
    else:
        if max_classes_per_detection <= 0:
            raise ctx.fail(f"max_classes_per_detection {max_classes_per_detection} must be positive")
        if max_detections < 0:
            raise ctx.fail(f"max_detections {max_detections} must not be negative")

    def quant(tensor: Tensor) -> tuple[np.float32, int]:
        scale, zero_point = per_tensor_qparams_or_identity(tensor)
        return F32(scale), zero_point

    class_scale, class_zero_point = per_tensor_qparams_or_identity(classes)
    return DetectionParams(
        max_detections=max_detections, max_classes_per_detection=max_classes_per_detection,
        detections_per_class=detections_per_class, use_regular_nms=use_regular_nms,
        score_threshold=score_threshold, iou_threshold=iou_threshold, num_classes=num_classes,
        scales=scales,  # type: ignore[arg-type]
        box_q=quant(boxes), class_q=(float(F32(class_scale)), class_zero_point), anchor_q=quant(anchors),
        num_detected_boxes=num_detected_boxes, profile=ctx.profile)


def _dequantize_boxes(values: np.ndarray, q: tuple[np.float32, int]) -> np.ndarray:
    """Dequantizer: ``(static_cast<float>(x) - zero_point) * scale`` in float32 (the int zero point becomes a
    float)."""
    scale, zero_point = q
    with np.errstate(all="ignore"):
        return (values.astype(F32) - F32(zero_point)) * F32(scale)


def decode_boxes(p: DetectionParams, box_encodings: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """DecodeCenterSizeBoxes: [boxes, 4] float32 corners (ymin, xmin, ymax, xmax)."""
    num_boxes = box_encodings.shape[1]
    encodings = box_encodings.reshape(num_boxes, -1)[:, :NUM_COORD_BOX]
    anchor_values = anchors.reshape(-1)[:NUM_COORD_BOX * num_boxes].reshape(num_boxes, NUM_COORD_BOX)
    if box_encodings.dtype == np.uint8:
        encodings = _dequantize_boxes(encodings, p.box_q)
        anchor_values = _dequantize_boxes(anchor_values, p.anchor_q)
    e = encodings.astype(np.float64)
    a = anchor_values.astype(np.float64)
    sy, sx, sh, sw = (np.float64(s) for s in p.scales)
    with np.errstate(all="ignore"):
        ycenter = (e[:, 0] / sy * a[:, 2] + a[:, 0]).astype(F32)
        xcenter = (e[:, 1] / sx * a[:, 3] + a[:, 1]).astype(F32)
        half_h = (0.5 * libm_exp(e[:, 2] / sh) * a[:, 2]).astype(F32)
        half_w = (0.5 * libm_exp(e[:, 3] / sw) * a[:, 3]).astype(F32)
        return np.stack([ycenter - half_h, xcenter - half_w, ycenter + half_h, xcenter + half_w], axis=1)


def _dequantize_scores(p: DetectionParams, class_predictions: np.ndarray) -> np.ndarray:
    """DequantizeClassPredictions: ``optimized_ops::Dequantize`` on uint8, which LiteRT's x86 build compiles
    with its NEON path (NEON_2_SSE): eight values at a time ``float(q) * float(scale) + float(-zp * scale)``
    (float32 multiply, then add; measured), the last ``size % 8`` values by the scalar rule
    ``static_cast<float>(double(scale) * (q - zero_point))``."""
    scale, zero_point = p.class_q
    q = class_predictions.reshape(-1)
    vector_part = q.size - q.size % 8
    with np.errstate(all="ignore"):
        zero_times_scale = F32(-zero_point * np.float64(scale))
        head = q[:vector_part].astype(F32) * F32(scale) + zero_times_scale
        tail = (np.float64(scale) * (q[vector_part:].astype(np.int64) - zero_point)).astype(F32)
    return np.concatenate([head, tail]).astype(F32).reshape(class_predictions.shape)


def intersection_over_union(boxes: np.ndarray, i: int, others: np.ndarray) -> np.ndarray:
    """ComputeIntersectionOverUnion of box ``i`` with each box of ``others`` (indices), float32 throughout."""
    bi = boxes[i]
    bj = boxes[others]
    with np.errstate(all="ignore"):
        area_i = (bi[2] - bi[0]) * (bi[3] - bi[1])
        area_j = (bj[:, 2] - bj[:, 0]) * (bj[:, 3] - bj[:, 1])
        ymin = cxx_max(np.full_like(bj[:, 0], bi[0]), bj[:, 0])
        xmin = cxx_max(np.full_like(bj[:, 1], bi[1]), bj[:, 1])
        ymax = cxx_min(np.full_like(bj[:, 2], bi[2]), bj[:, 2])
        xmax = cxx_min(np.full_like(bj[:, 3], bi[3]), bj[:, 3])
        intersection = cxx_max(ymax - ymin, F32(0.0)) * cxx_max(xmax - xmin, F32(0.0))
        iou = intersection / ((area_i + area_j) - intersection)
    degenerate = (area_i <= 0) | (area_j <= 0)
    return np.where(degenerate, F32(0.0), iou).astype(F32)


def nms_single_class(p: DetectionParams, boxes: np.ndarray, scores: np.ndarray, max_detections: int) -> list[int]:
    """NonMaxSuppressionSingleClassHelper: the selected box indices, best first."""
    keep_indices = np.flatnonzero(scores >= p.score_threshold)
    keep_scores = scores[keep_indices]
    order = keep_indices[decreasing_stable_argsort(keep_scores)]
    output_size = min(len(order), max_detections)
    active = np.ones(len(order), dtype=bool)
    selected: list[int] = []
    for i in range(len(order)):
        if len(selected) >= output_size:
            break
        if not active[i]:
            continue
        selected.append(int(order[i]))
        active[i] = False
        later = np.flatnonzero(active[i + 1:]) + i + 1
        if later.size:
            iou = intersection_over_union(boxes, int(order[i]), order[later])
            active[later[iou > p.iou_threshold]] = False
    return selected


def _validate_boxes(boxes: np.ndarray) -> None:
    """ValidateBoxes: LiteRT refuses ymin > ymax or xmin > xmax (TFLM also equal corners)."""
    bad = (boxes[:, 0] > boxes[:, 2]) | (boxes[:, 1] > boxes[:, 3])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvalError(f"decoded box {i} {boxes[i].tolist()} has its minimum corner above its maximum")


def _decreasing_partial_arg_sort(values: np.ndarray, num_to_sort: int) -> list[int]:
    """DecreasingPartialArgSort of more than one class: libstdc++ partial_sort, the first ``num_to_sort`` indices."""
    as_list = [float(v) for v in values]
    return libstdcxx_partial_sort(list(range(len(as_list))), num_to_sort,
                                  lambda i, j: as_list[i] > as_list[j])[:num_to_sort]


def _boxes_and_scores(p: DetectionParams, box_encodings: np.ndarray, class_predictions: np.ndarray,
                      anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The decoded boxes, the class scores per box without the background columns (dequantized from uint8), and
    how many background columns were dropped."""
    boxes = decode_boxes(p, box_encodings, anchors)
    num_boxes = boxes.shape[0]
    if class_predictions.dtype == np.uint8:
        scores = _dequantize_scores(p, class_predictions)
    else:
        scores = class_predictions
    num_with_background = class_predictions.shape[2]
    label_offset = num_with_background - p.num_classes
    return boxes, scores.reshape(num_boxes, num_with_background)[:, label_offset:], label_offset


def detection_postprocess_spec(p: DetectionParams, box_encodings: np.ndarray, class_predictions: np.ndarray,
                               anchors: np.ndarray) -> tuple[np.ndarray, ...]:
    boxes, scores, _ = _boxes_and_scores(p, box_encodings, class_predictions, anchors)
    n = p.num_detected_boxes
    out_boxes = np.zeros((1, n, NUM_COORD_BOX), F32)
    out_classes = np.zeros((1, n), F32)
    out_scores = np.zeros((1, n), F32)
    if p.use_regular_nms:
        count = _regular_nms(p, boxes, scores, out_boxes, out_classes, out_scores)
    else:
        count = _fast_nms(p, boxes, scores, out_boxes, out_classes, out_scores)
    return out_boxes, out_classes, out_scores, np.array([count], F32)


def _nms_checked(p: DetectionParams, boxes: np.ndarray, scores: np.ndarray, max_detections: int) -> list[int]:
    _validate_boxes(boxes)  # every call of the helper validates (a failure needs at least one call)
    return nms_single_class(p, boxes, scores, max_detections)


def _fast_nms(p: DetectionParams, boxes: np.ndarray, scores: np.ndarray, out_boxes: np.ndarray,
              out_classes: np.ndarray, out_scores: np.ndarray) -> int:
    """NonMaxSuppressionMultiClassFastHelper."""
    categories = min(p.max_classes_per_detection, p.num_classes)
    if categories == 1:
        top = best_classes(scores, p.profile).reshape(-1, 1)
    else:
        top = np.array([_decreasing_partial_arg_sort(row, categories) for row in scores], dtype=np.int64)
        top = top.reshape(scores.shape[0], categories)
    max_scores = scores[np.arange(scores.shape[0]), top[:, 0]] if scores.shape[0] else scores[:, 0]
    selected = _nms_checked(p, boxes, max_scores, p.max_detections)
    for output_index, box in enumerate(selected):
        for col in range(categories):
            offset = p.max_classes_per_detection * output_index + col
            out_boxes[0, offset] = boxes[box]
            out_classes[0, offset] = F32(top[box, col])
            out_scores[0, offset] = scores[box, top[box, col]]
    return len(selected)


def _regular_nms(p: DetectionParams, boxes: np.ndarray, scores: np.ndarray, out_boxes: np.ndarray,
                 out_classes: np.ndarray, out_scores: np.ndarray) -> int:
    """NonMaxSuppressionMultiClassRegularHelper (ComputeNMSResult on one thread): class by class, the boxes NMS
    selects (at most min(detections_per_class, max_detections), best first) are merged into the running best
    list by ``std::inplace_merge`` on ``score >`` (stable: on equal scores the earlier classes' entries stay
    first), which is then cut to max_detections; every one of the max_detections rows is written (zeros after
    the detections)."""
    per_class = min(p.detections_per_class, p.max_detections)
    best: list[tuple[int, int, np.float32]] = []  # (box, class, score), the running best after each class
    for col in range(p.num_classes):
        class_scores = scores[:, col]
        selected = _nms_checked(p, boxes, class_scores, per_class)
        if not selected:
            continue
        new = [(box, col, class_scores[box]) for box in selected]
        best = _stable_merge(best, new)[:p.max_detections]
    for row, (box, col, score) in enumerate(best):
        out_boxes[0, row] = boxes[box]
        out_classes[0, row] = F32(col)
        out_scores[0, row] = score
    return len(best)


def _stable_merge(first: list[tuple[int, int, np.float32]],
                  second: list[tuple[int, int, np.float32]]) -> list[tuple[int, int, np.float32]]:
    """``std::inplace_merge`` of two runs sorted by decreasing score, comparing ``b.score > a.score``: an entry
    of ``second`` goes before one of ``first`` only when its score is strictly greater."""
    merged = []
    i = j = 0
    while i < len(first) and j < len(second):
        if second[j][2] > first[i][2]:
            merged.append(second[j])
            j += 1
        else:
            merged.append(first[i])
            i += 1
    return merged + first[i:] + second[j:]


# ------------------------------------------------------------------------------------------------
# NON_MAX_SUPPRESSION_V4 / V5 (non_max_suppression.cc, reference_ops::NonMaxSuppression in
# reference/non_max_suppression.h), float32. Inputs: boxes [N, 4] (y1, x1, y2, x2, either corner order),
# scores [N], max_output_size (int32 scalar), iou_threshold, score_threshold (float32 scalars), V5 also
# soft_nms_sigma. Outputs: selected indices (int32 [max_output_size]), V5 selected scores (float32
# [max_output_size]), the number selected (int32 scalar); the rows after it are 0.
#
# Candidates are the boxes with score > score_threshold, in a std::priority_queue ordered by score (its
# libstdc++ heap decides among equal scores). Each popped candidate is compared with the boxes selected since
# it was last compared, newest first: IoU >= iou_threshold suppresses it; with sigma > 0 its score is decayed
# by ``score * expf(scale * iou * iou)``, scale = -0.5f / sigma (float32), and the loop stops once the score is
# <= score_threshold. Not suppressed: selected when its score is unchanged, and pushed back when its score is
# still > score_threshold (the TFLite code has no `continue` there: a selected box is pushed back too, and is
# then compared with itself, IoU 1). IoU: float32 areas of the min/max-ordered corners, 0 when an area is <= 0
# or the union is 0. The output size is max_output_size: constant (set at prepare) or from the input value (at
# invoke); a negative one fails.


@dataclass(frozen=True)
class NmsParams:
    soft: bool  # V5: six inputs, three outputs
    max_output_size: int | None  # the constant value, None when it is an input


def _nms_iou(boxes: np.ndarray, i: int, j: int) -> np.float32:
    """ComputeIou / ComputeIntersectionAndUnion in float32."""
    bi, bj = boxes[i], boxes[j]
    with np.errstate(all="ignore"):
        iy_min, iy_max = cxx_min(bi[0], bi[2]), cxx_max(bi[0], bi[2])
        ix_min, ix_max = cxx_min(bi[1], bi[3]), cxx_max(bi[1], bi[3])
        jy_min, jy_max = cxx_min(bj[0], bj[2]), cxx_max(bj[0], bj[2])
        jx_min, jx_max = cxx_min(bj[1], bj[3]), cxx_max(bj[1], bj[3])
        area_i = (iy_max - iy_min) * (ix_max - ix_min)
        area_j = (jy_max - jy_min) * (jx_max - jx_min)
        if area_i <= 0 or area_j <= 0:
            return F32(0.0)
        intersection = (cxx_max(cxx_min(iy_max, jy_max) - cxx_max(iy_min, jy_min), F32(0.0))
                        * cxx_max(cxx_min(ix_max, jx_max) - cxx_max(ix_min, jx_min), F32(0.0)))
        union = (area_i + area_j) - intersection
        if union == 0:
            return F32(0.0)
        return F32(intersection / union)


@functools.cache
def _libm_expf() -> Callable[[float], float]:
    library_name = ctypes.util.find_library("m")
    library = ctypes.CDLL(library_name) if library_name is not None else ctypes.CDLL(None)
    function = library.expf
    function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
    return function


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, max_output_size: int, iou_threshold: np.float32,
                        score_threshold: np.float32, sigma: np.float32) -> tuple[list[int], list[np.float32]]:
    """reference_ops::NonMaxSuppression (float): the selected indices and their (decayed) scores."""
    queue = LibstdcxxPriorityQueue(lambda a, b: a[1] < b[1])  # [index, score, suppress_begin_index]
    for i in range(scores.shape[0]):
        if scores[i] > score_threshold:
            queue.push([i, scores[i], 0])
    selected: list[int] = []
    selected_scores: list[np.float32] = []
    num_outputs = min(len(queue), max_output_size)
    if num_outputs == 0:
        return selected, selected_scores
    with np.errstate(all="ignore"):
        scale = F32(F32(-0.5) / sigma) if sigma > 0 else F32(0.0)
        while len(selected) < num_outputs and len(queue):
            candidate = list(queue.top())
            original_score = candidate[1]
            queue.pop()
            hard_suppress = False
            for j in range(len(selected) - 1, candidate[2] - 1, -1):
                iou = _nms_iou(boxes, candidate[0], selected[j])
                if iou >= iou_threshold:
                    hard_suppress = True
                    break
                if sigma > 0:
                    decay = F32(_libm_expf()(float(F32(F32(scale * iou) * iou))))
                    candidate[1] = F32(candidate[1] * decay)
                if candidate[1] <= score_threshold:
                    break
            candidate[2] = len(selected)
            if not hard_suppress:
                if candidate[1] == original_score:
                    selected.append(candidate[0])
                    selected_scores.append(candidate[1])
                if candidate[1] > score_threshold:
                    queue.push(candidate)
    return selected, selected_scores


def prepare_non_max_suppression(ctx: OpContext) -> NmsParams:
    """non_max_suppression.cc Prepare (float32)."""
    if ctx.num_inputs not in (5, 6):
        raise ctx.fail(f"has {ctx.num_inputs} inputs, expected 5 (V4) or 6 (V5)")
    soft = ctx.num_inputs == 6
    boxes, scores, size = ctx.require_input(0), ctx.require_input(1), ctx.require_input(2)
    iou, score_threshold = ctx.require_input(3), ctx.require_input(4)
    scalars = [iou, score_threshold] + ([ctx.require_input(5)] if soft else [])
    for tensor, role in ((boxes, "boxes"), (scores, "scores"), *((t, "threshold") for t in scalars)):
        if tensor.type_name != "float32":
            raise ctx.unsupported(f"{role} of type {tensor.type_name} (refinterp runs float32 NMS)")
    box_shape, score_shape = ctx.shape(boxes), ctx.shape(scores)
    if len(box_shape) != 2 or box_shape[1] != 4:
        raise ctx.fail(f"boxes of shape {list(box_shape)}, expected [num_boxes, 4]")
    if len(score_shape) != 1 or score_shape[0] != box_shape[0]:
        raise ctx.fail(f"scores of shape {list(score_shape)} for {box_shape[0]} boxes")
    if size.type_name != "int32" or len(ctx.shape(size)) != 0:
        raise ctx.fail(f"max_output_size is {size.type_name} {list(ctx.shape(size))}, expected an int32 scalar")
    for tensor in scalars:
        if len(ctx.shape(tensor)) != 0:
            raise ctx.fail(f"input {tensor.index} has shape {list(ctx.shape(tensor))}, expected a scalar")
    outputs = 3 if soft else 2
    if len(ctx.op.outputs) != outputs:
        raise ctx.fail(f"has {len(ctx.op.outputs)} outputs, expected {outputs}")
    for position in range(outputs):
        want = "float32" if soft and position == 1 else "int32"
        if ctx.output(position).type_name != want:
            raise ctx.unsupported(f"output {position} is declared {ctx.output(position).type_name}; LiteRT makes "
                                  f"it {want} (refinterp runs the declared types only)")
    max_output_size = None
    if size.is_constant:
        max_output_size = int(size.data.reshape(-1)[0])
        if max_output_size < 0:
            raise ctx.fail(f"max_output_size {max_output_size} is negative")
        for position in range(outputs - 1):
            ctx.set_output_shape(position, (max_output_size,))
    else:
        def output_size(inputs: Any) -> tuple[int, ...]:
            value = int(np.asarray(inputs[2]).reshape(-1)[0])
            if value < 0:
                raise EvalError(f"max_output_size {value} is negative")
            return (value,)
        for position in range(outputs - 1):
            ctx.set_output_shape(position, output_size)
    ctx.set_output_shape(outputs - 1, ())
    return NmsParams(soft=soft, max_output_size=max_output_size)


def non_max_suppression_spec(p: NmsParams, boxes: np.ndarray, scores: np.ndarray, max_output_size: np.ndarray,
                             iou_threshold: np.ndarray, score_threshold: np.ndarray,
                             sigma: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    size = int(max_output_size.reshape(-1)[0])
    if size < 0:
        raise EvalError(f"max_output_size {size} is negative")
    soft_sigma = F32(sigma.reshape(-1)[0]) if sigma is not None else F32(0.0)
    if sigma is not None and soft_sigma < 0:
        raise EvalError(f"soft_nms_sigma {float(soft_sigma)} is negative")
    selected, selected_scores = non_max_suppression(
        boxes.reshape(-1, 4), scores.reshape(-1), size, F32(iou_threshold.reshape(-1)[0]),
        F32(score_threshold.reshape(-1)[0]), soft_sigma)
    indices = np.zeros(size, np.int32)
    indices[:len(selected)] = selected
    count = np.array(len(selected), np.int32)
    if not p.soft:
        return indices, count
    values = np.zeros(size, F32)
    values[:len(selected_scores)] = selected_scores
    return indices, values, count


# ------------------------------------------------------------------------------------------------
# ``refinterp explain`` (refinterp/ops/trace.py): one output element, the selection steps that decide it. The
# kernels select rather than compute per element, so an explanation replays the selection loop with the
# kernel's own helpers (the priority queue, the IoU, the box decoding, the sorts) and records its events; the
# selection the kernel itself makes is then checked against the replay (a drifted replay is never shown).

def _soft_nms_decay(scale: np.float32, iou: np.float32) -> np.float32:
    """The Gaussian decay factor ``expf(scale * iou * iou)`` (float32 products, libm expf), as the kernel's loop
    computes it."""
    return F32(_libm_expf()(float(F32(F32(scale * iou) * iou))))


def explain_non_max_suppression(ctx: OpContext, p: NmsParams, inputs: list, index: tuple[int, ...],
                                trace: Any) -> object:
    """NON_MAX_SUPPRESSION_V4 / V5 output ``index``: the candidates (score > score_threshold) in the priority
    queue's order, then each candidate popped: its IoU with the boxes selected since it was last compared (newest
    first), what suppressed, decayed (V5 soft NMS) or kept it, until the element's rank is selected (the count:
    until the loop ends); then the selected index, score or count."""
    boxes = np.asarray(inputs[0], dtype=F32).reshape(-1, 4)
    scores = np.asarray(inputs[1], dtype=F32).reshape(-1)
    size = int(np.asarray(inputs[2]).reshape(-1)[0])
    iou_threshold = F32(np.asarray(inputs[3]).reshape(-1)[0])
    score_threshold = F32(np.asarray(inputs[4]).reshape(-1)[0])
    sigma = F32(np.asarray(inputs[5]).reshape(-1)[0]) if p.soft else F32(0.0)
    if size < 0 or sigma < 0:
        raise trace.not_detailed("a negative max_output_size or sigma (the kernel fails)")
    count_output = trace.output == (2 if p.soft else 1)
    rank = None if count_output else int(index[0])
    trace.add("parameters", [size, float(iou_threshold), float(score_threshold)] + ([float(sigma)] if p.soft else []),
              "max_output_size, iou_threshold, score_threshold" + (", soft_nms_sigma (0: hard NMS only)" if p.soft
                                                                   else "") + "; float32")
    queue = LibstdcxxPriorityQueue(lambda a, b: a[1] < b[1])  # the kernel's queue: [index, score, suppress_begin]
    for i in range(scores.shape[0]):
        if scores[i] > score_threshold:
            queue.push([i, scores[i], 0])
    in_order = LibstdcxxPriorityQueue(queue.heap.comp)
    in_order.heap.a = [list(c) for c in queue.heap.a]
    order = []
    while len(in_order):
        order.append(in_order.top()[0])
        in_order.pop()
    trace.add("candidates in score order", order,
              f"the {len(order)} boxes with score > {float(score_threshold)!r} (NaN never is), in the order "
              "std::priority_queue pops them (libstdc++'s heap decides among equal scores)",
              items=[{"box": i, "score": scores[i], **dict(zip(("y1", "x1", "y2", "x2"), boxes[i]))} for i in order])
    num_outputs = min(len(queue), size)
    selected: list[int] = []
    selected_scores: list[np.float32] = []
    events: list[dict[str, Any]] = []
    pops = 0
    with np.errstate(all="ignore"):
        scale = F32(F32(-0.5) / sigma) if sigma > 0 else F32(0.0)
        if sigma > 0:
            trace.add("decay scale", scale, f"-0.5f / sigma = -0.5 / {float(sigma)!r}, float32; a candidate's score "
                      "is multiplied by expf(scale * IoU * IoU) for each selected box it is compared with",
                      rule="round to nearest, ties to even")
        while len(selected) < num_outputs and len(queue) and (rank is None or len(selected) <= rank):
            candidate = list(queue.top())
            original_score = candidate[1]
            queue.pop()
            hard_suppress = False
            compared, ious, decayed = [], [], []
            outcome = ""
            for j in range(len(selected) - 1, candidate[2] - 1, -1):
                iou = _nms_iou(boxes, candidate[0], selected[j])
                compared.append(selected[j])
                ious.append(iou)
                if iou >= iou_threshold:
                    hard_suppress = True
                    outcome = "suppressed"
                    break
                if sigma > 0:
                    candidate[1] = F32(candidate[1] * _soft_nms_decay(scale, iou))
                    decayed.append(candidate[1])
                if candidate[1] <= score_threshold:
                    break
            candidate[2] = len(selected)
            if not hard_suppress:
                if candidate[1] == original_score:
                    selected.append(candidate[0])
                    selected_scores.append(candidate[1])
                    outcome = f"selected #{len(selected) - 1}"
                if candidate[1] > score_threshold:
                    queue.push(candidate)
                    outcome = outcome or "pushed back"
                elif not outcome:
                    outcome = "dropped"
            pops += 1
            for k in range(max(len(compared), 1)):  # one row per comparison, the outcome on the last
                item: dict[str, Any] = {"pop": pops, "box": candidate[0], "score": original_score,
                                        "vs box": compared[k] if compared else "", "IoU": ious[k] if ious else ""}
                if p.soft:
                    item["score after"] = decayed[k] if k < len(decayed) else ""
                item["outcome"] = outcome if k == max(len(compared), 1) - 1 else ""
                events.append(item)
    kernel_selected, kernel_scores = non_max_suppression(boxes, scores, size, iou_threshold, score_threshold, sigma)
    if selected != kernel_selected[:len(selected)] or (rank is None and selected != kernel_selected):
        raise AssertionError(f"replayed selection {selected} != the kernel's {kernel_selected}")
    trace.add("candidates popped", [e["box"] for e in events if e["outcome"]],
              f"{pops} pops; each popped candidate is compared (newest first, one row each) with the boxes selected "
              f"since it was last compared: IoU >= {float(iou_threshold):.6g} suppresses it"
              + ("; otherwise its score decays (score after), the comparisons stop once it is <= the score "
                 "threshold (dropped), and it is selected only when no decay changed it in this pop" if sigma > 0
                 else "; otherwise it is selected") + f"; at most {num_outputs} selections. A candidate still above "
              "the score threshold is pushed back into the queue, a selected one too (the TFLite loop has no "
              "`continue`: popped again, it meets itself, IoU 1)", items=events)
    if count_output:
        count = np.int32(len(kernel_selected))
        trace.add("output", int(count), f"the number of boxes selected (at most min(candidates, max_output_size) "
                  f"= {num_outputs})")
        return count.item()
    if rank >= len(kernel_selected):
        value = np.float32(0.0) if trace.output == 1 else np.int32(0)
        trace.add("output", value.item(), f"rank {rank} >= the {len(kernel_selected)} selected boxes: the kernel "
                  "writes 0 there")
        return value.item()
    if trace.output == 1:
        value = kernel_scores[rank]
        trace.add("output", value.item(), f"the score of the box selected at rank {rank} (box "
                  f"{kernel_selected[rank]})")
        return value.item()
    trace.add("output", kernel_selected[rank], f"the index of the box selected at rank {rank}")
    return int(kernel_selected[rank])


def _explain_decode(p: DetectionParams, box_encodings: np.ndarray, anchors: np.ndarray, box: int, boxes: np.ndarray,
                    trace: Any) -> None:
    """The steps of DecodeCenterSizeBoxes for one box (the corners are decode_boxes' own, checked against the
    centre/size shown)."""
    num_boxes = box_encodings.shape[1]
    encoding = box_encodings.reshape(num_boxes, -1)[box, :NUM_COORD_BOX]
    anchor = anchors.reshape(-1)[NUM_COORD_BOX * box:NUM_COORD_BOX * (box + 1)]
    if box_encodings.dtype == np.uint8:
        trace.add("box encoding (stored)", encoding, f"box encodings[0, {box}, 0:4]: y, x, h, w, uint8")
        encoding = _dequantize_boxes(encoding, p.box_q)
        trace.add("box encoding", encoding, f"(float(q) - {p.box_q[1]}) * {float(p.box_q[0])!r}, float32 "
                  "(the Dequantizer)", rule="round to nearest, ties to even")
        trace.add("anchor (stored)", anchor, f"anchors[{box}]: y, x, h, w, uint8")
        anchor = _dequantize_boxes(anchor, p.anchor_q)
        trace.add("anchor", anchor, f"(float(q) - {p.anchor_q[1]}) * {float(p.anchor_q[0])!r}, float32",
                  rule="round to nearest, ties to even")
    else:
        trace.add("box encoding", encoding, f"box encodings[0, {box}, 0:4]: y, x, h, w, float32")
        trace.add("anchor", anchor, f"anchors[{box}]: y, x, h, w, float32")
    e = [float(v) for v in encoding]
    a = [float(v) for v in anchor]
    sy, sx, sh, sw = (float(s) for s in p.scales)
    trace.add("scales", [sy, sx, sh, sw], "y_scale, x_scale, h_scale, w_scale (custom options, float32)")
    with np.errstate(all="ignore"):
        ycenter = F32(e[0] / sy * a[2] + a[0])
        xcenter = F32(e[1] / sx * a[3] + a[1])
        half_h = F32(0.5 * float(libm_exp(np.float64(e[2] / sh))) * a[2])
        half_w = F32(0.5 * float(libm_exp(np.float64(e[3] / sw))) * a[3])
    trace.add("centre", [ycenter, xcenter], "ycenter = float(y / y_scale * anchor_h + anchor_y), xcenter likewise "
              "with x, x_scale, anchor_w, anchor_x: in double, then cast to float32", rule="round to nearest, ties "
              "to even")
    trace.add("half size", [half_h, half_w], "half_h = float(0.5 * exp(h / h_scale) * anchor_h), half_w likewise: "
              "in double (libm exp), then cast to float32", rule="round to nearest, ties to even")
    corners = boxes[box]
    with np.errstate(all="ignore"):
        shown = np.array([ycenter - half_h, xcenter - half_w, ycenter + half_h, xcenter + half_w], F32)
    if not np.array_equal(shown, corners, equal_nan=True):
        raise AssertionError(f"decoded box {box}: {shown.tolist()} != the kernel's {corners.tolist()}")
    trace.add("decoded box", corners, "ymin, xmin, ymax, xmax = centre -+ half size, float32",
              rule="round to nearest, ties to even")


def _explain_nms_single_class(p: DetectionParams, boxes: np.ndarray, scores: np.ndarray, max_detections: int,
                              what: str, trace: Any) -> list[int]:
    """NonMaxSuppressionSingleClassHelper replayed with its steps: the scores kept, their stable order, each box
    taken and the later ones its IoU deactivates; checked against nms_single_class."""
    keep_indices = np.flatnonzero(scores >= p.score_threshold)
    order = keep_indices[decreasing_stable_argsort(scores[keep_indices])]
    trace.add(f"{what}: boxes in score order", order,
              f"the {len(order)} boxes whose score >= {float(p.score_threshold)!r}, std::stable_sort decreasing "
              "(equal scores in box order)", items=[{"box": int(i), "score": scores[i]} for i in order])
    output_size = min(len(order), max_detections)
    active = np.ones(len(order), dtype=bool)
    selected: list[int] = []
    events: list[dict[str, Any]] = []
    for i in range(len(order)):
        if len(selected) >= output_size:
            break
        if not active[i]:
            continue
        selected.append(int(order[i]))
        active[i] = False
        later = np.flatnonzero(active[i + 1:]) + i + 1
        suppressed: list[int] = []
        ious: list[Any] = []
        if later.size:
            iou = intersection_over_union(boxes, int(order[i]), order[later])
            hit = iou > p.iou_threshold
            active[later[hit]] = False
            suppressed = [int(b) for b in order[later[hit]]]
            ious = list(iou[hit])
        for k in range(max(len(suppressed), 1)):  # one row per box it suppresses
            events.append({"rank": len(selected) - 1, "box": int(order[i]), "score": scores[order[i]],
                           "suppresses": suppressed[k] if suppressed else "", "IoU": ious[k] if ious else ""})
    if selected != nms_single_class(p, boxes, scores, max_detections):
        raise AssertionError(f"replayed NMS {selected} != the kernel's")
    trace.add(f"{what}: selected", selected,
              f"greedy: the next active box is taken and every later one with IoU > {float(p.iou_threshold)!r} "
              f"(float32) is deactivated, until {output_size} boxes are taken", items=events)
    return selected


def explain_detection_postprocess(ctx: OpContext, p: DetectionParams, inputs: list, index: tuple[int, ...],
                                  trace: Any) -> object:
    """TFLite_Detection_PostProcess output ``index`` (boxes: output 0, classes: 1, scores: 2, count: 3): the NMS
    that selects the detection of the element's row (fast NMS on each box's best class score, or regular NMS class
    by class and the merge), the class scores of the box behind it, its box decoding, and the value written."""
    box_encodings, class_predictions, anchors = (np.asarray(v) for v in inputs[:3])
    boxes, scores, label_offset = _boxes_and_scores(p, box_encodings, class_predictions, anchors)
    trace.add("options", [p.max_detections, p.max_classes_per_detection, p.detections_per_class,
                          p.use_regular_nms, float(p.score_threshold), float(p.iou_threshold), p.num_classes],
              "max_detections, max_classes_per_detection, detections_per_class, use_regular_nms, "
              "nms_score_threshold, nms_iou_threshold, num_classes (flexbuffer custom options)")
    if class_predictions.dtype == np.uint8:
        vector_part = class_predictions.size - class_predictions.size % 8
        trace.add("class scores dequantized", list(p.class_q),
                  f"(scale, zero point) of the uint8 class predictions: the first {vector_part} values as "
                  "float(q) * float(scale) + float(-zp * scale) (float32, LiteRT's NEON-on-SSE Dequantize), the last "
                  f"{class_predictions.size - vector_part} as float(double(scale) * (q - zp))")
    if label_offset:
        trace.add("background", label_offset, "class prediction column 0 is the background class: skipped")
    row = int(index[1]) if trace.output != 3 else None
    if p.use_regular_nms:
        chosen = _explain_regular(p, boxes, scores, row, trace)
        count = chosen[1]
        entry = chosen[0]
    else:
        chosen = _explain_fast(p, boxes, scores, row, trace)
        count = chosen[1]
        entry = chosen[0]
    if trace.output == 3:
        trace.add("output", float(F32(count)), "num_detections, as float32")
        return float(F32(count))
    if entry is None:
        trace.add("output", 0.0, f"row {row} is after the {count} detections: "
                  + ("regular NMS writes 0 there" if p.use_regular_nms else
                     "LiteRT leaves it unwritten (arena memory); refinterp writes 0"))
        return 0.0
    box, col, score = entry
    _explain_decode(p, box_encodings, anchors, box, boxes, trace)
    if trace.output == 0:
        coordinate = int(index[2])
        value = boxes[box, coordinate]
        trace.add("output", value.item(), f"{('ymin', 'xmin', 'ymax', 'xmax')[coordinate]} of box {box}")
        return value.item()
    if trace.output == 1:
        trace.add("output", float(F32(col)), f"class {col} (after the background column), as float32")
        return float(F32(col))
    trace.add("output", F32(score).item(), f"the score of box {box}, class {col}")
    return F32(score).item()


def _explain_fast(p: DetectionParams, boxes: np.ndarray, scores: np.ndarray, row: int | None,
                  trace: Any) -> tuple[tuple[int, int, Any] | None, int]:
    """NonMaxSuppressionMultiClassFastHelper's steps: NMS on each box's best class score; output row ``row`` is
    selection ``row // max_classes_per_detection``'s class of rank ``row % max_classes_per_detection``."""
    categories = min(p.max_classes_per_detection, p.num_classes)
    if categories == 1:
        top = best_classes(scores, p.profile).reshape(-1, 1)
        how = ("the first largest score (TFLM: std::partial_sort of one; NaN never wins)" if p.profile == "tflm"
               else "ArgMaxVector: the largest score, in its x86 lane order (NaN never wins)")
    else:
        top = np.array([_decreasing_partial_arg_sort(r, categories) for r in scores], dtype=np.int64)
        top = top.reshape(scores.shape[0], categories)
        how = f"the top {categories} classes by libstdc++ std::partial_sort (its order among equal scores)"
    max_scores = scores[np.arange(scores.shape[0]), top[:, 0]] if scores.shape[0] else scores[:, 0]
    trace.add("best class score of each box", max_scores, f"fast NMS: each box's classes ranked by {how}; NMS runs "
              "on the best one", items=[{"box": b, "classes": top[b], "best score": max_scores[b]}
                                        for b in range(scores.shape[0])])
    _validate_boxes(boxes)
    selected = _explain_nms_single_class(p, boxes, max_scores, p.max_detections, "fast NMS", trace)
    if row is None:
        return None, len(selected)
    output_index, col = divmod(row, p.max_classes_per_detection)
    if output_index >= len(selected) or col >= categories:
        return None, len(selected)
    box = selected[output_index]
    trace.add("class scores of the box", scores[box],
              f"box {box} (selection {output_index}); row {row} = selection {output_index} * "
              f"{p.max_classes_per_detection} + class rank {col}: class {int(top[box, col])}",
              items=[{"class": c, "score": s} for c, s in enumerate(scores[box])])
    return (box, int(top[box, col]), scores[box, top[box, col]]), len(selected)


def _explain_regular(p: DetectionParams, boxes: np.ndarray, scores: np.ndarray, row: int | None,
                     trace: Any) -> tuple[tuple[int, int, Any] | None, int]:
    """NonMaxSuppressionMultiClassRegularHelper's steps: NMS per class, each class's selections merged into the
    running best list (stable on equal scores), cut to max_detections; the NMS of the element's class in full."""
    per_class = min(p.detections_per_class, p.max_detections)
    best: list[tuple[int, int, np.float32]] = []
    per_class_items = []
    _validate_boxes(boxes)
    for col in range(p.num_classes):
        selected = nms_single_class(p, boxes, scores[:, col], per_class)
        per_class_items.append({"class": col, "selected boxes": selected,
                                "scores": [scores[b, col] for b in selected]})
        if selected:
            best = _stable_merge(best, [(box, col, scores[box, col]) for box in selected])[:p.max_detections]
    trace.add("per-class NMS", [item["selected boxes"] for item in per_class_items],
              f"regular NMS: each class's NMS keeps at most min(detections_per_class, max_detections) = {per_class} "
              "boxes", items=per_class_items)
    trace.add("merged detections", [[b, c] for b, c, _ in best],
              f"after each class, its selections merged into the running list by score (std::inplace_merge: on "
              f"equal scores the earlier classes first), cut to max_detections = {p.max_detections}",
              items=[{"row": k, "box": b, "class": c, "score": s} for k, (b, c, s) in enumerate(best)])
    if row is None or row >= len(best):
        return None, len(best)
    box, col, score = best[row]
    _explain_nms_single_class(p, boxes, scores[:, col], per_class, f"class {col} NMS", trace)
    trace.add("class scores of the box", scores[box], f"box {box}: row {row} of the merged list is its class {col}",
              items=[{"class": c, "score": s} for c, s in enumerate(scores[box])])
    return (box, col, score), len(best)
