"""Random single-operator cases for detection post-processing (issue 11): the custom operator
TFLite_Detection_PostProcess (uint8 and float32) and NON_MAX_SUPPRESSION_V4 / V5 (float32).

TFLite_Detection_PostProcess: boxes are drawn in clusters whose anchors sit on a grid far enough apart that
boxes of different clusters never overlap, while boxes of one cluster overlap (NMS suppresses among them).
There are at least as many clusters as max_detections and each cluster has a box whose best score passes the
score threshold, so fast NMS always selects max_detections boxes: LiteRT leaves the rows of undetected boxes
unwritten (arena memory, not comparable). For the same reason fast NMS draws max_classes_per_detection <=
num_classes. Drawn: 1 to 14 clusters of 1 to 5 boxes, 1 to 6 classes with or without a background column,
box encodings of 4 to 6 values per box, fast or regular NMS (detections_per_class given or not, default 100),
IoU thresholds over (0, 1], score thresholds, scores with many ties (quantized, or drawn from a few values)
or without; regular float cases also get NaN and infinite scores (never kept). uint8: zero points and
scales of boxes, anchors and scores. Probes: an IoU threshold outside (0, 1], two background columns, a
batch of 2, a negative anchor height (a decoded box upside down, ValidateBoxes fails).
"""

from __future__ import annotations

from typing import Any

import flatbuffers.flexbuffers
import numpy as np

from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools.conformance.generators.core import Generator, case, choice, f32, join, log_uniform

DETECTION = "CUSTOM:TFLite_Detection_PostProcess"
GRID = 4  # cluster centers on a GRID x GRID grid (up to 16 clusters)


def _cluster_layout(rng: np.random.Generator, clusters: int, per_cluster: list[int]) -> np.ndarray:
    """The grid cell of each box's cluster, boxes of one cluster together or interleaved."""
    cells = rng.permutation(GRID * GRID)[:clusters]
    owner = np.concatenate([np.full(n, c) for c, n in enumerate(per_cluster)])
    if rng.random() < 0.5:
        owner = rng.permutation(owner)
    return cells[owner], owner


def gen_detection_postprocess(rng: np.random.Generator, dtype: str) -> Any:
    """TFLite_Detection_PostProcess on uint8 or float32 inputs; see the module docstring."""
    regular = bool(rng.random() < 0.4)
    num_classes = int(rng.integers(1, 7))
    background = int(rng.integers(0, 2))
    columns = num_classes + background
    max_detections = int(rng.integers(1, 11))
    clusters = int(rng.integers(max_detections, min(GRID * GRID, max_detections + 4) + 1))
    per_cluster = [int(n) for n in rng.integers(1, 6, clusters)]
    num_boxes = sum(per_cluster)
    cells, owner = _cluster_layout(rng, clusters, per_cluster)
    code_length = int(choice(rng, (4, 4, 4, 5, 6)))
    max_classes = 1 if regular or rng.random() < 0.5 else int(rng.integers(1, num_classes + 1))
    iou = f32(rng.uniform(0.05, 1.0)) if rng.random() < 0.9 else 1.0
    ties = bool(rng.random() < 0.5)
    scales = {k: f32(choice(rng, (10.0, 10.0, 5.0, 1.0, 2.5))) for k in ("y_scale", "x_scale")}
    scales.update({k: f32(choice(rng, (5.0, 5.0, 2.0, 10.0))) for k in ("h_scale", "w_scale")})
    options: dict[str, Any] = {"max_detections": max_detections, "max_classes_per_detection": max_classes,
                               "nms_iou_threshold": iou, "num_classes": num_classes, **scales}
    if regular or rng.random() < 0.3:
        options["use_regular_nms"] = regular
    if rng.random() < 0.5:
        options["detections_per_class"] = int(rng.integers(1, 12))
    probes: list[str] = []
    edges: list[str] = []
    batch = 1
    if rng.random() < 0.03:
        options["nms_iou_threshold"] = float(choice(rng, (0.0, -0.5, 1.5)))
        probes.append("IoU threshold outside (0, 1]")
    if rng.random() < 0.03:
        options["num_classes"] = max(num_classes - 1, 0) if background else num_classes
        columns = options["num_classes"] + 2
        probes.append("more than one background column")
    if rng.random() < 0.02:
        batch = 2
        probes.append("batch of 2")
    negative_anchor = rng.random() < 0.02
    if negative_anchor:
        probes.append("negative anchor height: a decoded box upside down")

    # anchors (y, x, h, w): cluster centers 0.6 apart, sizes 0.05..0.1; encodings keep boxes within +-0.2
    center_y = 0.2 + 0.6 * (cells // GRID)
    center_x = 0.2 + 0.6 * (cells % GRID)
    jitter = rng.uniform(-0.02, 0.02, (num_boxes, 2))
    sizes = rng.uniform(0.05, 0.1, (num_boxes, 2))
    anchors_real = np.stack([center_y + jitter[:, 0], center_x + jitter[:, 1], sizes[:, 0], sizes[:, 1]], 1)
    if negative_anchor:
        anchors_real[int(rng.integers(num_boxes)), 2] *= -1
    # scores: the best score of each cluster's first box passes the threshold
    threshold = f32(rng.uniform(0.0, 0.3)) if rng.random() < 0.8 else 0.0
    options["nms_score_threshold"] = threshold
    if ties:
        scores_real = rng.choice(np.array([0.0, 0.25, 0.5, 0.75, 1.0]), (num_boxes, columns))
    else:
        scores_real = rng.uniform(0.0, 1.0, (num_boxes, columns))
    first_of_cluster = np.array([int(np.flatnonzero(owner == c)[0]) for c in range(clusters)])
    best_column = rng.integers(background, columns, clusters)
    scores_real[first_of_cluster, best_column] = 1.0
    params: dict[str, Any] = {"regular": regular, "num_boxes": num_boxes, "clusters": clusters,
                              "classes": num_classes, "background": background, "code_length": code_length,
                              "ties": ties, **options}
    box_shape = (batch, num_boxes, code_length)
    outputs = [TensorSpec((1, max_detections * max_classes, 4), "float32"),
               TensorSpec((1, max_detections * max_classes), "float32"),
               TensorSpec((1, max_detections * max_classes), "float32"), TensorSpec((1,), "float32")]
    if dtype == "float32":
        encodings = rng.normal(0.0, 1.0, box_shape).astype(np.float32)
        scores = scores_real.astype(np.float32)
        if regular and rng.random() < 0.2:
            specials = rng.random(scores.shape) < 0.1
            scores[specials] = rng.choice(np.array([np.nan, np.inf, -np.inf, -0.0], np.float32),
                                          int(specials.sum()))
            edges.append("NaN and infinite scores")
        class_predictions = np.broadcast_to(scores, (batch, *scores.shape)).copy()
        anchors = anchors_real.astype(np.float32)
        specs = [TensorSpec(box_shape, "float32"), TensorSpec(class_predictions.shape, "float32"),
                 TensorSpec(anchors.shape, "float32", data=anchors)]
    else:
        box_q = (log_uniform(rng, 0.005, 0.05), int(rng.integers(100, 156)))
        encodings = np.clip(np.round(rng.normal(0.0, 1.0, box_shape) / box_q[0]) + box_q[1], 0, 255).astype(np.uint8)
        anchor_scale = f32(0.01)
        anchors = np.clip(np.round(anchors_real / anchor_scale), -255, 255)
        if negative_anchor:  # a uint8 anchor is never negative: a zero point above the height instead
            anchor_q = (anchor_scale, 30)
            anchors = anchors + 30
            anchors[anchors[:, 2] > 30, 2] = 0
        else:
            anchor_q = (anchor_scale, 0)
        anchors = np.clip(anchors, 0, 255).astype(np.uint8)
        score_scale = f32(1.0 / 255) if rng.random() < 0.5 else log_uniform(rng, 1 / 400, 1 / 200)
        score_zp = 0 if rng.random() < 0.6 else int(rng.integers(1, 20))
        scores = np.clip(np.round(scores_real / score_scale) + score_zp, 0, 255).astype(np.uint8)
        scores[first_of_cluster, best_column] = 255
        class_predictions = np.broadcast_to(scores, (batch, *scores.shape)).copy()
        params.update(box_q=box_q, anchor_q=anchor_q, score_q=(score_scale, score_zp))
        specs = [TensorSpec(box_shape, "uint8", *box_q), TensorSpec(class_predictions.shape, "uint8",
                                                                   score_scale, score_zp),
                 TensorSpec(anchors.shape, "uint8", *anchor_q, data=anchors)]
    model = single_op_model(DETECTION, specs, outputs,
                            custom_options=flatbuffers.flexbuffers.Dumps(options))
    return case(DETECTION, dtype, model, [encodings, class_predictions], params, join(*probes), join(*edges))


def gen_non_max_suppression(rng: np.random.Generator, op: str) -> Any:
    """NON_MAX_SUPPRESSION_V4 / V5 on float32: clustered boxes with their corners in either order, now and then
    degenerate (zero area); scores with ties, NaN or infinities; max_output_size constant or an input, from 0
    to beyond the number of boxes; IoU thresholds over [0, 1] and now and then outside; V5 sigma 0 (hard NMS)
    or positive. Probes: a negative max_output_size (constant: Prepare; input: Eval), V5 a negative sigma,
    boxes of 5 coordinates."""
    soft = op == "NON_MAX_SUPPRESSION_V5"
    num_boxes = int(rng.integers(0, 40)) if rng.random() < 0.95 else 0
    clusters = max(1, int(rng.integers(1, 8)))
    centers = rng.uniform(0.0, 2.0, (clusters, 2))
    owner = rng.integers(0, clusters, num_boxes)
    center = centers[owner] + rng.normal(0.0, 0.05, (num_boxes, 2))
    half = rng.uniform(0.02, 0.3, (num_boxes, 2))
    boxes = np.stack([center[:, 0] - half[:, 0], center[:, 1] - half[:, 1],
                      center[:, 0] + half[:, 0], center[:, 1] + half[:, 1]], 1).astype(np.float32)
    edges, probes = [], []
    flip = rng.random(num_boxes) < 0.2
    boxes[flip] = boxes[flip][:, [2, 3, 0, 1]]
    if num_boxes and rng.random() < 0.2:
        degenerate = int(rng.integers(num_boxes))
        boxes[degenerate, 2] = boxes[degenerate, 0]
        edges.append("a box of zero area")
    if rng.random() < 0.4:
        scores = rng.choice(np.array([0.1, 0.4, 0.4, 0.7, 0.9], np.float32), num_boxes).astype(np.float32)
        edges.append("tied scores")
    else:
        scores = rng.uniform(0.0, 1.0, num_boxes).astype(np.float32)
    if num_boxes and rng.random() < 0.1:
        specials = rng.random(num_boxes) < 0.2
        scores[specials] = rng.choice(np.array([np.nan, np.inf, -np.inf, -0.0], np.float32), int(specials.sum()))
        edges.append("NaN or infinite scores")
    max_output_size = int(rng.integers(0, num_boxes + 4))
    iou = f32(rng.uniform(0.0, 1.0)) if rng.random() < 0.9 else f32(choice(rng, (0.0, 1.0, 1.5, -0.5)))
    score_threshold = f32(rng.uniform(-0.1, 0.6)) if rng.random() < 0.9 else f32(-np.inf)
    sigma = f32(0.0) if rng.random() < 0.3 else f32(log_uniform(rng, 0.05, 2.0))
    # an empty output the kernel sizes at invoke cannot be read through LiteRT's Python API ("Invalid tensor
    # size"): a size given as an input is at least 1
    size_form = "constant" if rng.random() < 0.7 or max_output_size == 0 else "input"
    coordinates = 4
    if rng.random() < 0.03:
        max_output_size = -int(rng.integers(1, 3))
        probes.append("negative max_output_size")
    if soft and rng.random() < 0.03:
        sigma = f32(-0.5)
        probes.append("negative sigma")
    if rng.random() < 0.02:
        coordinates = 5
        boxes = np.concatenate([boxes, np.zeros((num_boxes, 1), np.float32)], 1)
        probes.append("boxes of 5 coordinates")
    size_value = np.array(max_output_size, np.int32)
    out_size = max(max_output_size, 0)
    specs = [TensorSpec((num_boxes, coordinates), "float32"), TensorSpec((num_boxes,), "float32"),
             TensorSpec((), "int32", data=size_value) if size_form == "constant" else TensorSpec((), "int32"),
             TensorSpec((), "float32", data=np.array(iou, np.float32)),
             TensorSpec((), "float32", data=np.array(score_threshold, np.float32))]
    outputs = [TensorSpec((out_size,), "int32")]
    if soft:
        specs.append(TensorSpec((), "float32", data=np.array(sigma, np.float32)))
        outputs.append(TensorSpec((out_size,), "float32"))
    outputs.append(TensorSpec((), "int32"))
    params: dict[str, Any] = {"num_boxes": num_boxes, "clusters": clusters, "max_output_size": max_output_size,
                              "size": size_form, "iou": iou, "score_threshold": score_threshold}
    if soft:
        params["sigma"] = sigma
    model = single_op_model(op, specs, outputs)
    inputs = [boxes, scores] + ([size_value] if size_form == "input" else [])
    return case(op, "float32", model, inputs, params, join(*probes), join(*edges))


GENERATORS: dict[tuple[str, str], Generator] = {
    ("NON_MAX_SUPPRESSION_V4", "float32"): lambda rng: gen_non_max_suppression(rng, "NON_MAX_SUPPRESSION_V4"),
    ("NON_MAX_SUPPRESSION_V5", "float32"): lambda rng: gen_non_max_suppression(rng, "NON_MAX_SUPPRESSION_V5"),
    (DETECTION, "float32"): lambda rng: gen_detection_postprocess(rng, "float32"),
    (DETECTION, "uint8"): lambda rng: gen_detection_postprocess(rng, "uint8"),
}
TFLM_KINDS: frozenset[tuple[str, str]] = frozenset()

