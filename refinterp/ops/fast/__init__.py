"""The numba fast kernels, kept apart from the spec kernels (as onnx keeps ops_optimized/).

One module per op family, named like its spec module in refinterp.ops. Each fast kernel computes exactly its
spec module's rule; where it needs more than the spec prepare makes (packed weights, a plan, a lookup table),
its ``prepare_<op>_fast(ctx)`` calls the spec prepare and returns those params extended. These modules import
refinterp.ops, never the other way round (import-linter enforces it).
"""
