"""The numba fast kernels, kept apart from the spec kernels (as onnx keeps ops_optimized/).

Each module wraps the prepare of its spec module in refinterp.ops and never the other way round.
"""
