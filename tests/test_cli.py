"""The `refinterp` command as a new user meets it: --version, --help, run, inspect, progress, first compile.

Outputs of `run` are checked against the stored LiteRT BUILTIN_REF golden tensors, never against refinterp.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import GOLDEN_DIR

import refinterp
from refinterp import cli
from refinterp.modelbuilder import TensorSpec, single_op_model
from refinterp.tools import arguments

MODEL = GOLDEN_DIR / "yolov3_tiny_int8.tflite"
SMOOTH = GOLDEN_DIR / "yolov3_tiny_int8" / "inputs" / "smooth.npy"
#: the commands whose --help this helper owns (qerror's belongs to its own tests)
HELP_COMMANDS = ("run", "inspect", "compare", "golden", "ops", "bench")


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def pool_model() -> bytes:
    """One int8 MAX_POOL_2D: the smallest model with a numba kernel."""
    return single_op_model("MAX_POOL_2D", [TensorSpec((1, 4, 4, 2), "int8", scale=0.1, zero_point=0)],
                           [TensorSpec((1, 2, 2, 2), "int8", scale=0.1, zero_point=0)],
                           {"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2})


# --------------------------------------------------------------------------------------------------
# --version, --help


def test_version(capsys):
    status, out, _ = run_cli(["--version"], capsys)
    assert status == 0 and out == f"refinterp {refinterp.__version__}\n"
    from importlib.metadata import version

    assert refinterp.__version__ == version("refinterp")


def test_version_through_the_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "refinterp.cli", "--version"], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"refinterp {refinterp.__version__}"


def test_help_lists_every_command(capsys):
    status, out, _ = run_cli(["--help"], capsys)
    assert status == 0
    for name in cli.COMMANDS:
        assert f"\n  {name} " in out
    assert "--version" in out
    status, out, _ = run_cli([], capsys)
    assert status == 2 and "commands:" in out
    status, _, err = run_cli(["nope"], capsys)
    assert status == 2 and "unknown command 'nope'" in err


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        self.parser = parser


def _parser_of(command: str, monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The ArgumentParser a command builds (caught at parse_args, before anything runs)."""
    def capture(self, args=None, namespace=None):  # noqa: ARG001
        raise _Captured(self)

    monkeypatch.setattr(arguments.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Captured) as info:
        cli.COMMANDS[command][0]([])
    monkeypatch.undo()
    return info.value.parser


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    parsers = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                parsers += _all_parsers(sub)
    return parsers


@pytest.mark.parametrize("command", HELP_COMMANDS)
def test_every_option_has_a_one_line_description(command, monkeypatch, capsys):
    parsers = _all_parsers(_parser_of(command, monkeypatch))
    for parser in parsers:
        assert parser.prog.startswith(f"refinterp {command}"), parser.prog
        assert isinstance(parser, arguments.ArgumentParser), f"{parser.prog}: a bad argument must be one line"
        assert parser.description, f"{parser.prog} has no description"
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            name = "/".join(action.option_strings) or action.dest
            assert action.help and action.help != argparse.SUPPRESS, f"{parser.prog} {name} has no description"
            assert "\n" not in action.help, f"{parser.prog} {name}"
    status, out, _ = run_cli([command, "--help"], capsys)
    assert status == 0 and out.startswith(f"usage: refinterp {command}")


def test_bench_names_itself(capsys):
    status, out, _ = run_cli(["bench", "--help"], capsys)
    assert status == 0 and out.startswith("usage: refinterp bench")
    assert "``" not in out  # no reStructuredText in a terminal


# --------------------------------------------------------------------------------------------------
# run


def test_run_writes_into_a_new_directory_and_says_what_ran(tmp_path, capsys):
    output = tmp_path / "not" / "yet" / "there" / "x.npz"
    status, out, _ = run_cli(["run", MODEL, "--input", SMOOTH, "--output", output, "--no-progress"], capsys)
    assert status == 0, out
    assert output.is_file() and f"wrote 2 tensors to {output}" in out
    stored = np.load(GOLDEN_DIR / "yolov3_tiny_int8" / "tensors" / "smooth.npz")
    with np.load(output) as saved:
        assert sorted(saved.files) == ["t59", "t63"]
        for key in saved.files:  # LiteRT BUILTIN_REF's tensors, stored in golden/
            assert np.array_equal(saved[key], stored[key])
    lines = out.splitlines()
    assert lines[0].startswith("kernels: fast: numba for ")
    assert lines[1].startswith("conv:    ")
    from refinterp.ops.fast import conv as conv_fast

    assert lines[1].split()[1].rstrip(",") == conv_fast.choose_backend()
    assert lines[2].startswith("threads: ")
    assert max(len(line) for line in lines if not line.startswith("wrote ")) <= 100  # (that one holds a path)


def test_run_spec_kernels_and_threads_say_so(tmp_path, capsys):
    model = tmp_path / "pool.tflite"
    model.write_bytes(pool_model())
    status, out, _ = run_cli(["run", model, "--kernels", "spec", "--num-threads", "1"], capsys)
    assert status == 0
    assert "kernels: spec" in out and "threads: 1 (--num-threads 1)" in out and "conv:" not in out
    assert "seeded random (seed 0" in out


@pytest.mark.parametrize("where", ["a directory", "under a file"])
def test_run_output_that_cannot_be_written_is_one_line(where, tmp_path, capsys):
    model = tmp_path / "pool.tflite"
    model.write_bytes(pool_model())
    (tmp_path / "file").write_text("x")
    output = tmp_path if where == "a directory" else tmp_path / "file" / "x.npz"
    status, out, err = run_cli(["run", model, "--output", output, "--no-progress"], capsys)
    assert status == 2 and err.count("\n") == 1 and err.startswith("refinterp: error: --output")
    assert "invoke" not in out  # refused before running


def test_run_bad_num_threads_is_one_line(capsys):
    status, _, err = run_cli(["run", MODEL, "--num-threads", "0"], capsys)
    assert status == 2 and err.count("\n") == 1 and "num_threads" in err


# --------------------------------------------------------------------------------------------------
# inspect


def test_inspect_shows_the_kernel_of_every_operator(capsys):
    status, out, _ = run_cli(["inspect", MODEL], capsys)
    assert status == 0
    # (the first line names the model by its path, as long as the checkout's location makes it)
    assert max(len(line) for line in out.splitlines() if not line.startswith(str(MODEL))) <= 100
    ops = [line.split() for line in out.splitlines() if line[:4].strip().isdigit() and len(line.split()) > 3]
    kinds = {row[1]: row[2] for row in ops if row[1] in ("CONV_2D", "RESHAPE", "LEAKY_RELU")}
    assert kinds == {"CONV_2D": "numba", "RESHAPE": "spec", "LEAKY_RELU": "numba"}
    assert "kernels: fast" in out and "conv:" in out
    status, out, _ = run_cli(["inspect", MODEL, "--kernels", "spec"], capsys)
    assert "kernels: spec" in out and "numba" not in out.split("subgraph 0")[1]


# --------------------------------------------------------------------------------------------------
# progress, and the first compile


class _FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Op:
    name = "CONV_2D"


def test_progress_only_on_slow_runs():
    log = io.StringIO()
    progress = cli.OperatorProgress(stream=log)
    for k in range(3):
        progress("invoke", k, 3, _Op())
    progress.close()
    assert log.getvalue() == ""  # a quick run into a log writes nothing

    terminal = _FakeTerminal()
    progress = cli.OperatorProgress(stream=terminal)
    progress("invoke", 0, 34, _Op())
    assert terminal.getvalue() == ""  # younger than PROGRESS_AFTER_SECONDS
    progress.started -= 60
    progress("invoke", 11, 34, _Op())
    assert terminal.getvalue().startswith("\roperator 12/34 CONV_2D")
    progress.close()
    assert terminal.getvalue().endswith("\r")

    log = io.StringIO()
    progress = cli.OperatorProgress(stream=log)
    progress.started -= 60
    progress("prepare", 4, 34, _Op())
    progress("prepare", 5, 34, _Op())  # within PROGRESS_LOG_INTERVAL_SECONDS of the last line: nothing
    assert log.getvalue() == "refinterp: preparing operator 5/34 CONV_2D (60 s)\n"

    quiet = _FakeTerminal()
    progress = cli.OperatorProgress(stream=quiet, enabled=False)
    progress.started -= 60
    progress("invoke", 1, 2, _Op())
    assert quiet.getvalue() == ""


def test_first_run_on_a_cold_numba_cache_says_it_compiles(tmp_path):
    """A fresh NUMBA_CACHE_DIR is a cold cache: the first run announces the compile, the second does not."""
    model = tmp_path / "pool.tflite"
    model.write_bytes(pool_model())
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    command = [sys.executable, "-m", "refinterp.cli", "run", str(model)]
    first = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "refinterp: compiling kernels (pooling) for this machine, once" in first.stderr
    second = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert second.returncode == 0 and "compiling" not in second.stderr, second.stderr
    spec = subprocess.run([*command, "--kernels", "spec"], capture_output=True, text=True,
                          env={**env, "NUMBA_CACHE_DIR": str(tmp_path / "other-cache")}, check=False, timeout=300)
    assert spec.returncode == 0 and "compiling" not in spec.stderr


def test_kernels_to_compile_names_only_the_models_modules():
    model = refinterp.parse_model(pool_model())
    assert set(cli.kernels_to_compile(model)) <= {"pooling"}
    assert cli.kernels_to_compile(model, "spec") == []


def test_conv_backend_choice_explains_itself():
    from refinterp.ops.fast import conv as conv_fast

    backend, why = cli.conv_backend_choice()
    assert backend == conv_fast.choose_backend()
    assert why.startswith(cli.CONV_BACKEND_WORDS[backend])
    if backend == "vnni":
        assert "avx512vnni" in why


def test_module_entry_point_exists():
    assert Path(cli.__file__).name == "cli.py" and callable(cli.main)
