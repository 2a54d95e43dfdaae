"""Control flow and resource variables (CALL_ONCE, WHILE, IF, VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE):
multi-subgraph models built with refinterp.modelbuilder, run for several invokes on refinterp and on LiteRT
BUILTIN_REF (the oracle), every tensor of every subgraph compared after every invoke (floats bit for bit);
and the bad inputs (a loop that never ends, subgraph indices out of range, recursion, a variable read before
it is assigned), each a one-line refinterp error.

These operators move values without computing on them, so the random single-operator harness does not draw
them (their registry dtypes are "all"): these models are their oracle comparisons.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from oracle import invoke_with, litert_ref_interpreter, random_inputs

import refinterp
from refinterp.errors import EvalError, InputError, PrepareError, RefinterpError
from refinterp.modelbuilder import OpSpec, SubgraphSpec, TensorSpec, build_model

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
INVOKES = 5


def litert_module():
    if os.environ.get("CI"):
        try:
            from ai_edge_litert import interpreter as litert
        except ImportError as exc:
            pytest.fail(f"ai-edge-litert is needed as the oracle: {exc}", pytrace=False)
        return litert
    return pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")


def litert_interpreter(content: bytes | None = None, path: str | None = None):
    litert_module()  # skip, or fail under CI, without ai-edge-litert
    return litert_ref_interpreter(content, path)


def bits(value: np.ndarray) -> np.ndarray:
    value = np.ascontiguousarray(value)
    return value.view(f"u{value.dtype.itemsize}") if value.dtype.kind == "f" else value


#: LiteRT leaves these tensors out of what it keeps meaningful: (subgraph, tensor) -> why. Filled per model.
Skip = dict[tuple[int, int], str]


def compare_every_tensor(ours: refinterp.Interpreter, theirs, skip: Skip | None = None,
                         subgraphs: set[int] | None = None) -> int:
    """Every tensor of every subgraph (or of ``subgraphs``) LiteRT gives a value for equals refinterp's (same
    dtype and shape, bits equal); the number compared."""
    compared = 0
    for subgraph in ours.model.subgraphs:
        if subgraphs is not None and subgraph.index not in subgraphs:
            continue
        values = ours.tensor_values(subgraph.index)
        for tensor in subgraph.tensors:
            key = (subgraph.index, tensor.index)
            if tensor.dtype is None or (skip and key in skip):
                continue  # resource handles: LiteRT's get_tensor cannot read them
            if tensor.index not in values:
                # a condition input no operator reads (LiteRT's WHILE gives it no value: RemoveUnusedInputs), an
                # IF branch that never ran: LiteRT's tensor holds whatever its memory held
                assert subgraph.index != 0, f"tensor {key[1]} of subgraph 0 has no value"
                continue
            try:
                want = np.array(theirs.get_tensor(tensor.index, subgraph.index))
            except ValueError:  # LiteRT frees a WHILE output no one reads ("Tensor data is null")
                continue
            have = ours.get_tensor(tensor.index, subgraph.index)
            assert have.dtype == want.dtype and have.shape == want.shape, \
                f"subgraph {key[0]} tensor {key[1]} {tensor.name}: {have.dtype}{list(have.shape)}, LiteRT " \
                f"{want.dtype}{list(want.shape)}"
            assert np.array_equal(bits(have), bits(want)), \
                f"subgraph {key[0]} tensor {key[1]} {tensor.name}: {have.reshape(-1)[:8]} != {want.reshape(-1)[:8]}"
            compared += 1
    return compared


def run_both(content: bytes, inputs_per_invoke: list[list[np.ndarray]], skip: Skip | None = None,
             kernels: str = "fast", subgraphs=None) -> refinterp.Interpreter:
    """Invoke refinterp and LiteRT on each input set; after each, compare every tensor (``subgraphs``: a function
    of the inputs giving the subgraphs to compare)."""
    ours = refinterp.Interpreter(model_content=content, kernels=kernels)
    theirs = litert_interpreter(content)
    ours.allocate_tensors()
    theirs.allocate_tensors()
    for inputs in inputs_per_invoke:
        invoke_with(theirs, inputs)
        invoke_with(ours, inputs)
        assert compare_every_tensor(ours, theirs, skip, subgraphs(inputs) if subgraphs else None) > 0
    return ours


# ------------------------------------------------------------------------------------------------ models


def f32(shape, name=None, data=None, signature=None) -> TensorSpec:
    return TensorSpec(tuple(shape), "float32", name=name, data=None if data is None else np.asarray(data, np.float32))


def i32(shape, name=None, data=None) -> TensorSpec:
    return TensorSpec(tuple(shape), "int32", name=name, data=None if data is None else np.asarray(data, np.int32))


def counting_loop(limit: int = 5, body_cond_index: tuple[int, int] = (1, 2)) -> bytes:
    """WHILE (i < limit): i += 1; x = x * 1.5 + 0.25. Inputs i (int32 []), x (float32 [2, 3])."""
    cond_index, body_index = body_cond_index
    main = ([i32((), "i"), f32((2, 3), "x"), i32((), "i_out"), f32((2, 3), "x_out")],
            [OpSpec("WHILE", [0, 1], [2, 3], {"cond_subgraph_index": cond_index,
                                              "body_subgraph_index": body_index})], [0, 1], [2, 3])
    cond = SubgraphSpec([i32((), "ci"), f32((2, 3), "cx"), i32((), "limit", [limit]), TensorSpec((), "bool",
                                                                                                name="go")],
                        [OpSpec("LESS", [0, 2], [3])], [0, 1], [3], "cond")
    body = SubgraphSpec([i32((), "bi"), f32((2, 3), "bx"), i32((), "one", [1]), f32((), "factor", [1.5]),
                         f32((), "offset", [0.25]), i32((), "bi_next"), f32((2, 3), "scaled"),
                         f32((2, 3), "bx_next")],
                        [OpSpec("ADD", [0, 2], [5]), OpSpec("MUL", [1, 3], [6]), OpSpec("ADD", [6, 4], [7])],
                        [0, 1], [5, 7], "body")
    return build_model(*main, subgraphs=[cond, body])


def test_while_counting_loop_matches_litert():
    rng = np.random.default_rng(1)
    run_both(counting_loop(), [[np.array(start, np.int32), rng.standard_normal((2, 3)).astype(np.float32)]
                               for start in (0, 3, 5, 9, -2)])


def test_a_while_output_with_constant_data_is_refused_like_litert():
    """WHILE resizes its outputs in Prepare: one with constant data (found by the fuzzer: a buffer index moved onto
    it) makes LiteRT fail ("Attempting to resize a fixed-size tensor"); refinterp refuses it at allocate."""
    from refinterp.tools.fuzz import mutators

    flat = mutators.unpack(counting_loop())
    constant = next(t for t in flat.subgraphs[1].tensors if t.buffer > 0).buffer  # the condition's limit
    flat.buffers[constant].data = np.zeros(8, np.uint8)  # 8 bytes, as in the fuzzer's mutant
    flat.subgraphs[0].tensors[2].buffer = constant  # i_out (int32 []) now has constant data
    content = mutators.pack(flat)
    with pytest.raises(RuntimeError, match="fixed-size"):
        litert_interpreter(content).allocate_tensors()
    with pytest.raises(refinterp.RefinterpError, match="has constant data"):
        refinterp.Interpreter(model_content=content).allocate_tensors()


def with_signatures(content: bytes, signatures: dict[tuple[int, int], tuple[int, ...]]) -> bytes:
    """The model with these tensors' shape_signature set ((subgraph, tensor) -> signature)."""
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated", reason="ai-edge-litert is not installed")
    import flatbuffers

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    for (subgraph, tensor), signature in signatures.items():
        model.subgraphs[subgraph].tensors[tensor].shapeSignature = list(signature)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def growing_loop(limit: int = 4) -> bytes:
    """WHILE (i < limit): i += 1; x = concat(x, x[-1:] + 1) along axis 0: x grows by a row per iteration (a
    loop variable that changes shape: LiteRT's dynamic body). x is float32 [1, 3], signature [-1, 3]."""
    main = ([i32((), "i"), f32((1, 3), "x"), i32((), "i_out"), f32((1, 3), "x_out")],
            [OpSpec("WHILE", [0, 1], [2, 3], {"cond_subgraph_index": 1, "body_subgraph_index": 2})], [0, 1], [2, 3])
    cond = SubgraphSpec([i32((), "ci"), f32((1, 3), "cx"), i32((), "limit", [limit]),
                         TensorSpec((), "bool", name="go")], [OpSpec("LESS", [0, 2], [3])], [0, 1], [3], "cond")
    body = SubgraphSpec([i32((), "bi"), f32((1, 3), "bx"), i32((), "one", [1]), f32((), "step", [1.0]),
                         f32((1, 3), "last"), f32((1, 3), "bumped"), f32((2, 3), "grown"), i32((), "bi_next"),
                         i32((2,), "begin", [-1, 0]), i32((2,), "end", [0, 3]), i32((2,), "strides", [1, 1])],
                        [OpSpec("ADD", [0, 2], [7]),
                         OpSpec("STRIDED_SLICE", [1, 8, 9, 10], [4], {"end_mask": 3}),
                         OpSpec("ADD", [4, 3], [5]),
                         OpSpec("CONCATENATION", [1, 5], [6], {"axis": 0})],
                        [0, 1], [7, 6], "body")
    content = build_model(*main, subgraphs=[cond, body])
    return with_signatures(content, {(0, 1): (-1, 3), (0, 3): (-1, 3), (1, 1): (-1, 3), (2, 1): (-1, 3),
                                     (2, 4): (-1, 3), (2, 5): (-1, 3), (2, 6): (-1, 3)})


def test_while_whose_loop_variable_grows_matches_litert():
    rng = np.random.default_rng(2)
    # the body's input x: LiteRT's points at the WHILE output's memory, which it frees when x grows (it then
    # reads whatever that memory holds); refinterp's holds the last run's input
    ours = run_both(growing_loop(), [[np.array(start, np.int32), rng.standard_normal((1, 3)).astype(np.float32)]
                                     for start in (0, 2, 4, 1)], skip={(2, 1): "freed by LiteRT"})
    assert ours.get_tensor(3).shape == (4, 3)  # the last invoke started at 1: three rows added


def branches(then_shape=(2, 3), else_shape=(2, 3)) -> bytes:
    """IF c: y = x + 1 (then) else y = x * x (else); with ``else_shape`` != ``then_shape`` the else branch
    tiles its result, and the output is dynamic."""
    main = ([TensorSpec((), "bool", name="c"), f32((2, 3), "x"), f32(then_shape, "y")],
            [OpSpec("IF", [0, 1], [2], {"then_subgraph_index": 1, "else_subgraph_index": 2})], [0, 1], [2])
    then = SubgraphSpec([f32((2, 3), "tx"), f32((), "one", [1.0]), f32(then_shape, "ty")],
                        [OpSpec("ADD", [0, 1], [2])], [0], [2], "then")
    if else_shape == (2, 3):
        other = SubgraphSpec([f32((2, 3), "ex"), f32((2, 3), "ey")], [OpSpec("MUL", [0, 0], [1])], [0], [1], "else")
    else:
        multiples = [a // b for a, b in zip(else_shape, (2, 3))]
        other = SubgraphSpec([f32((2, 3), "ex"), f32((2, 3), "squared"), i32((2,), "multiples", multiples),
                              f32(else_shape, "ey")],
                             [OpSpec("MUL", [0, 0], [1]), OpSpec("TILE", [1, 2], [3])], [0], [3], "else")
    content = build_model(*main, subgraphs=[then, other])
    if else_shape != then_shape:
        content = with_signatures(content, {(0, 2): (-1, 3)})
    return content


@pytest.mark.parametrize("else_shape", [(2, 3), (4, 3)], ids=["same-shapes", "else-gives-more-rows"])
def test_if_matches_litert(else_shape):
    rng = np.random.default_rng(3)
    # the branch that did not run: LiteRT's tensors share memory with the other's and the operator's, so only
    # the main subgraph and the branch that ran are compared
    run_both(branches(else_shape=else_shape),
             [[np.array(flag), rng.standard_normal((2, 3)).astype(np.float32)] for flag in (True, False, False, True)],
             subgraphs=lambda inputs: {0, 1 if inputs[0] else 2})


def accumulator(dtype: str = "float32", with_init: bool = True, read_shape=(2, 2)) -> bytes:
    """A streaming state in a resource variable: CALL_ONCE (init subgraph: v = initial); main: y = v + x;
    v = y; output y. Without ``with_init`` nothing assigns v before the first read."""
    initial = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    value = f32 if dtype == "float32" else i32
    data = initial if dtype == "float32" else np.array([[1, -2], [3, 4]], np.int32)
    main_tensors = [value((2, 2), "x"), TensorSpec((), "resource", name="handle"), value(read_shape, "state"),
                    value((2, 2), "y")]
    main_ops = [OpSpec("VAR_HANDLE", [], [1], {"container": "", "shared_name": "acc"}),
                OpSpec("READ_VARIABLE", [1], [2]),
                OpSpec("ADD", [2, 0], [3]),
                OpSpec("ASSIGN_VARIABLE", [1, 3], [])]
    subgraphs = []
    if with_init:
        main_ops.insert(0, OpSpec("CALL_ONCE", [], [], {"init_subgraph_index": 1}))
        subgraphs.append(SubgraphSpec([TensorSpec((), "resource", name="init_handle"),
                                       value((2, 2), "initial", data)],
                                      [OpSpec("VAR_HANDLE", [], [0], {"container": "", "shared_name": "acc"}),
                                       OpSpec("ASSIGN_VARIABLE", [0, 1], [])], [], [], "init"))
    return build_model(main_tensors, main_ops, [0], [3], subgraphs=subgraphs)


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_resource_variable_state_carries_across_invokes_like_litert(dtype):
    rng = np.random.default_rng(4)
    make = (lambda: rng.standard_normal((2, 2)).astype(np.float32)) if dtype == "float32" else \
        (lambda: rng.integers(-100, 100, (2, 2)).astype(np.int32))
    content = accumulator(dtype)
    ours = run_both(content, [[make()] for _ in range(INVOKES)])
    assert ours.subgraphs_run() == [0, 1]


def test_reset_all_variables_keeps_resource_variables_and_call_once_like_litert():
    """LiteRT's ResetVariableTensors resets is_variable tensors only: a resource variable keeps its value and
    the init subgraph does not run again."""
    content = accumulator()
    ours = refinterp.Interpreter(model_content=content)
    theirs = litert_interpreter(content)
    for interpreter in (ours, theirs):
        interpreter.allocate_tensors()
    x = np.ones((2, 2), np.float32)
    for step in range(3):
        for interpreter in (ours, theirs):
            interpreter.set_tensor(0, x)
            interpreter.invoke()
            if step == 1:
                interpreter.reset_all_variables()
        compare_every_tensor(ours, theirs)
    np.testing.assert_array_equal(ours.get_tensor(3), np.array([[3.5, 2.0], [5.0, 3.25]], np.float32))


def test_a_variable_read_before_it_is_assigned_is_an_eval_error():
    content = accumulator(with_init=False)
    theirs = litert_interpreter(content)
    theirs.allocate_tensors()
    theirs.set_tensor(0, np.ones((2, 2), np.float32))
    with pytest.raises(RuntimeError):
        theirs.invoke()
    ours = refinterp.Interpreter(model_content=content)
    ours.set_tensor(0, np.ones((2, 2), np.float32))
    with pytest.raises(EvalError, match=r"operator 1 \(READ_VARIABLE\): resource variable 0 'acc' is read before "
                                        "anything was assigned to it") as caught:
        ours.invoke()
    assert "\n" not in str(caught.value)


def test_a_variable_of_another_shape_than_its_reader_declares_is_refused():
    """The init subgraph assigns a [2, 2] value; READ_VARIABLE's output is declared [3, 2]. read_variable.cc makes
    only a rank-0 output dynamic, so LiteRT prepares ADD on [3, 2] and [2, 2] at AllocateTensors and refuses it
    ("not broadcastable", measured); refinterp refuses it there too."""
    ours = refinterp.Interpreter(model_content=accumulator(read_shape=(3, 2)))
    with pytest.raises(PrepareError, match=r"operator 3 \(ADD\): input shapes \[3, 2\] and \[2, 2\] do not broadcast"):
        ours.allocate_tensors()

def test_a_loop_that_never_ends_stops_at_the_iteration_limit():
    content = counting_loop(limit=10**9)
    ours = refinterp.Interpreter(model_content=content, max_while_iterations=1000)
    ours.set_tensor(0, np.array(0, np.int32))
    ours.set_tensor(1, np.ones((2, 3), np.float32))
    with pytest.raises(EvalError, match=r"^operator 0 \(WHILE\): the loop's condition is still true after 1000 "
                                        r"iterations, the limit \(raise it: "):
        ours.invoke()
    with pytest.raises(InputError, match="max_while_iterations"):
        refinterp.Interpreter(model_content=content, max_while_iterations=0)


def test_the_iteration_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("REFINTERP_MAX_WHILE_ITERATIONS", "3")
    ours = refinterp.Interpreter(model_content=counting_loop(limit=5))
    ours.set_tensor(0, np.array(0, np.int32))
    ours.set_tensor(1, np.ones((2, 3), np.float32))
    with pytest.raises(EvalError, match="after 3 iterations"):
        ours.invoke()
    ours.set_tensor(0, np.array(2, np.int32))
    ours.invoke()  # three iterations are allowed
    assert ours.get_tensor(2) == 5


@pytest.mark.parametrize("indices, message", [
    ((1, 7), "body_subgraph_index 7 is not a subgraph of the model"),
    ((9, 2), "cond_subgraph_index 9 is not a subgraph of the model"),
    ((-1, 2), "cond_subgraph_index -1 is not a subgraph of the model"),
    ((2, 2), "cond_subgraph_index and body_subgraph_index are both 2"),
])
def test_subgraph_indices_out_of_range_are_refused_at_allocate(indices, message):
    content = counting_loop(body_cond_index=indices)
    if min(indices) >= 0:  # LiteRT refuses these too (a negative index would read out of bounds)
        theirs = litert_interpreter(content)
        with pytest.raises(RuntimeError):
            theirs.allocate_tensors()
    with pytest.raises(PrepareError, match=rf"^operator 0 \(WHILE\): {message}"):
        refinterp.Interpreter(model_content=content).allocate_tensors()


def test_call_once_of_a_missing_subgraph_is_refused():
    content = build_model([f32((1,), "x"), f32((1,), "y")],
                          [OpSpec("CALL_ONCE", [], [], {"init_subgraph_index": 3}), OpSpec("RELU", [0], [1])],
                          [0], [1])
    theirs = litert_interpreter(content)
    with pytest.raises(RuntimeError, match="init_subgraph_index < subgraphs->size"):
        theirs.allocate_tensors()
    with pytest.raises(PrepareError, match=r"operator 0 \(CALL_ONCE\): init_subgraph_index 3 is not a subgraph"):
        refinterp.Interpreter(model_content=content).allocate_tensors()


def test_a_subgraph_that_calls_itself_is_refused():
    # CALL_ONCE of its own subgraph: both runtimes refuse it (call_once.cc Prepare)
    content = build_model([f32((1,), "x"), f32((1,), "y")],
                          [OpSpec("CALL_ONCE", [], [], {"init_subgraph_index": 0}), OpSpec("RELU", [0], [1])],
                          [0], [1])
    with pytest.raises(PrepareError, match="init_subgraph_index 0 is the subgraph itself"):
        refinterp.Interpreter(model_content=content).allocate_tensors()
    # a WHILE whose body is the main subgraph, and one whose body runs itself: refinterp refuses them at
    # allocate (not run on LiteRT, which would recurse until its stack overflows)
    with pytest.raises(PrepareError, match=r"subgraph 0 would run inside itself \(0 -> 0\)"):
        refinterp.Interpreter(model_content=counting_loop(body_cond_index=(1, 0))).allocate_tensors()
    main, cond, body = _nested_loops()
    body.operators.append(OpSpec("WHILE", [0, 1], [5, 7], {"cond_subgraph_index": 1, "body_subgraph_index": 2}))
    with pytest.raises(PrepareError, match=r"^operator 0 \(WHILE\): subgraph 2 operator 3 \(WHILE\): subgraph 2 "
                                           r"would run inside itself \(0 -> 2 -> 2\)"):
        refinterp.Interpreter(model_content=build_model(*main, subgraphs=[cond, body])).allocate_tensors()


def _nested_loops():
    main = ([i32((), "i"), f32((2, 3), "x"), i32((), "i_out"), f32((2, 3), "x_out")],
            [OpSpec("WHILE", [0, 1], [2, 3], {"cond_subgraph_index": 1, "body_subgraph_index": 2})], [0, 1], [2, 3])
    cond = SubgraphSpec([i32((), "ci"), f32((2, 3), "cx"), i32((), "limit", [5]), TensorSpec((), "bool", name="go")],
                        [OpSpec("LESS", [0, 2], [3])], [0, 1], [3], "cond")
    body = SubgraphSpec([i32((), "bi"), f32((2, 3), "bx"), i32((), "one", [1]), f32((), "factor", [1.5]),
                         f32((), "offset", [0.25]), i32((), "bi_next"), f32((2, 3), "scaled"),
                         f32((2, 3), "bx_next")],
                        [OpSpec("ADD", [0, 2], [5]), OpSpec("MUL", [1, 3], [6]), OpSpec("ADD", [6, 4], [7])],
                        [0, 1], [5, 7], "body")
    return main, cond, body


def test_tensors_of_other_subgraphs_are_addressed_like_litert():
    ours = refinterp.Interpreter(model_content=counting_loop())
    with pytest.raises(InputError, match="subgraph_index is out of range: 3"):
        ours.get_tensor(0, 3)
    with pytest.raises(InputError, match="tensor index 9 out of range"):
        ours.get_tensor(9, 1)
    ours.set_tensor(0, np.array(1, np.int32))
    ours.set_tensor(1, np.ones((2, 3), np.float32))
    ours.invoke()
    assert ours.get_tensor(5, 2) == 5 and ours.get_tensor(0, 2) == 5  # the body's last run; its inputs: see WHILE
    assert set(ours.tensor_values(2)) == set(range(8))
    assert set(ours.tensor_values()) == set(ours.tensor_values(0)) == {0, 1, 2, 3}
    assert [d["name"] for d in ours.get_tensor_details(1)] == ["ci", "cx", "limit", "go"]


def test_resource_handles_are_not_data():
    ours = refinterp.Interpreter(model_content=accumulator())
    ours.set_tensor(0, np.ones((2, 2), np.float32))
    ours.invoke()
    with pytest.raises(InputError, match="tensor 1 'handle' is a resource handle, not data"):
        ours.get_tensor(1)
    assert 1 not in ours.tensor_values()
    assert ours._get_tensor_details(1, 0)["dtype"] is np.object_  # LiteRT's dtype for a resource tensor


# ------------------------------------------------------------------------------------------------ real models


def shared_model(relative: str) -> str:
    path = SHARED_MODELS / relative
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing", pytrace=False)
        pytest.skip(f"{path} is missing")
    return str(path)


@pytest.mark.parametrize("relative", ["lyra/lyragan.tflite", "spokestack/wakeword_encode.tflite"])
def test_real_models_match_litert_on_every_tensor_over_several_invokes(relative):
    path = shared_model(relative)
    content = Path(path).read_bytes()
    probe = refinterp.Interpreter(model_content=content)
    rng = np.random.default_rng(5)
    ours = run_both(content, [random_inputs(probe, rng) for _ in range(INVOKES)])
    assert len(ours.subgraphs_run()) == len(ours.model.subgraphs)


def test_errors_are_refinterp_errors():
    assert issubclass(EvalError, RefinterpError) and issubclass(PrepareError, RefinterpError)
