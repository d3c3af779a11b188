#!/usr/bin/python3
"""Builds tiny YOLO-shaped ONNX models with known outputs, for the onnx
detector's tests: input [1,3,S,S] -> GlobalAveragePool -> Flatten -> Gemm
(zero weights, the wanted outputs as bias) -> Reshape. The image changes
nothing, but OpenCV DNN loads, runs and decodes a real ONNX graph.

  make_onnx_models.py OUT_DIR
writes yolov5.onnx ([1,N,5+C]), yolov8.onnx ([1,4+C,N]), yolox.onnx ([1,84,5+C]:
the 8x8, 4x4 and 2x2 grids of strides 8, 16 and 32 at input 64), wrong_shape.onnx,
labels.txt (C = 3) and not_a_model.onnx.
  make_onnx_models.py --bench OUT_DIR
writes yolo_sized.onnx and labels80.txt for the ingest benchmark: no real
detector can be downloaded here, so this is a random-weight convolutional
network with YOLOv8n's input (640x640), output layout ([1,84,6400]) and about
its compute (7.8 GFLOPs against YOLOv8n's 8.7): it measures what inference
costs the pipeline, not what it finds."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 64
LABELS = ["person", "car", "bicycle"]

# Candidates in network-input pixels: cx, cy, w, h, objectness, class scores.
CANDIDATES = np.array([
    [32, 20, 20, 10, 0.9, 0.1, 0.9, 0.2],    # car 0.81: kept
    [33, 21, 20, 10, 0.8, 0.1, 0.9, 0.1],    # car 0.72 on top of it: suppressed by NMS
    [32, 20, 20, 10, 0.9, 0.7, 0.1, 0.1],    # person 0.63, same place: kept (NMS is per class)
    [10, 40, 8, 12, 0.2, 0.1, 0.1, 0.9],     # bicycle 0.18: under min_score
    [50, 40, 10, 20, 1.0, 0.05, 0.05, 0.6],  # bicycle 0.6: kept
], dtype=np.float32)


def yolox_output():
    """[1, 84, 8]: raw YOLOX cells (tx, ty, tw, th, objectness, 3 class scores),
    stride-8 grid first, each grid row by row, x fastest. Four live cells; a
    decoder with a wrong stride, order or offset puts their boxes elsewhere."""
    out = np.zeros((84, 8), np.float32)
    def cell(stride, gx, gy):
        base = {8: 0, 16: 64, 32: 80}[stride]
        return base + gy * (64 // stride) + gx
    # car 0.81 at stride 8, cell (3, 2): centre (28, 20), 20 x 10
    out[cell(8, 3, 2)] = [0.5, 0.5, np.log(2.5), np.log(1.25), 0.9, 0.1, 0.9, 0.2]
    # bicycle 0.6 at stride 16, cell (1, 1): centre (20, 20), 8 x 12
    out[cell(16, 1, 1)] = [0.25, 0.25, np.log(0.5), np.log(0.75), 1.0, 0.05, 0.05, 0.6]
    # person 0.4 at stride 32, cell (1, 0): centre (32, 16), 16 x 32
    out[cell(32, 1, 0)] = [0.0, 0.5, np.log(0.5), 0.0, 0.5, 0.8, 0.1, 0.1]
    # person 0.18 at stride 8, cell (0, 0): under min_score
    out[cell(8, 0, 0)] = [0.5, 0.5, 0.0, 0.0, 0.2, 0.9, 0.0, 0.0]
    return out[np.newaxis]


def model(values, name):
    flat = values.reshape(1, -1)
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(values.shape))
    inits = [
        numpy_helper.from_array(np.zeros((flat.shape[1], 3), np.float32), "W"),
        numpy_helper.from_array(flat.reshape(-1), "B"),
        numpy_helper.from_array(np.array(values.shape, np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W", "B"], ["dense"], transB=1),
        helper.make_node("Reshape", ["dense", "shape"], ["output0"]),
    ]
    graph = helper.make_graph(nodes, name, [x], [y], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)], producer_name="dashloop-tests")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def bench_model(out):
    rng = np.random.RandomState(5)
    layers = [(3, 16, 2), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 128, 1), (128, 128, 1), (128, 128, 1), (128, 128, 1)]
    nodes, inits, prev = [], [], "images"
    for i, (cin, cout, stride) in enumerate(layers):
        w = (rng.randn(cout, cin, 3, 3) * np.sqrt(2.0 / (cin * 9))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[3, 3],
                                   strides=[stride, stride], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        prev = f"r{i}"
    head_w = (rng.randn(84, 128, 1, 1) * 0.01).astype(np.float32)
    head_b = np.full(84, -6.0, np.float32)  # class scores near 0: inference cost, not NMS cost
    inits += [numpy_helper.from_array(head_w, "wh"), numpy_helper.from_array(head_b, "bh"),
              numpy_helper.from_array(np.array([1, 84, 6400], np.int64), "shape")]
    nodes += [helper.make_node("Conv", [prev, "wh", "bh"], ["head"], kernel_shape=[1, 1]),
              helper.make_node("Sigmoid", ["head"], ["act"]),
              helper.make_node("Reshape", ["act", "shape"], ["output0"])]
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 84, 6400])
    m = helper.make_model(helper.make_graph(nodes, "yolo_sized", [x], [y], inits),
                          opset_imports=[helper.make_opsetid("", 12)], producer_name="dashloop-bench")
    m.ir_version = 7
    onnx.checker.check_model(m)
    os.makedirs(out, exist_ok=True)
    onnx.save(m, os.path.join(out, "yolo_sized.onnx"))
    with open(os.path.join(out, "labels80.txt"), "w") as f:
        f.write("\n".join(f"class{i}" for i in range(80)) + "\n")


def main():
    if sys.argv[1] == "--bench":
        bench_model(sys.argv[2])
        return
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    v5 = CANDIDATES[np.newaxis]                                   # [1, 5, 8]
    no_obj = np.delete(CANDIDATES, 4, axis=1)                     # v8 has no objectness
    no_obj[:, 4:] *= CANDIDATES[:, 4:5]                           # same final scores
    v8 = no_obj.T[np.newaxis].copy()                              # [1, 7, 5]
    onnx.save(model(v5, "yolov5"), os.path.join(out, "yolov5.onnx"))
    onnx.save(model(v8, "yolov8"), os.path.join(out, "yolov8.onnx"))
    onnx.save(model(yolox_output(), "yolox"), os.path.join(out, "yolox.onnx"))
    onnx.save(model(np.zeros((1, 5, 6), np.float32), "wrong"), os.path.join(out, "wrong_shape.onnx"))
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    with open(os.path.join(out, "not_a_model.onnx"), "wb") as f:
        f.write(b"this is not protobuf\x00\x01\x02" * 10)


if __name__ == "__main__":
    main()
