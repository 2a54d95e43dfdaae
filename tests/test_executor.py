"""refinterp.tools.executor.run_tasks: the same results, in item order, serially, in a process pool and on Ray.

The Ray tests start one local Ray instance with 2 CPUs for the whole module (Ray's start-up costs seconds).
Without Ray they skip, except under CI (env CI set), where Ray is part of the test extra and its absence
fails them. ``compare --inputs`` and ``qerror --inputs`` run the golden YOLOv3-tiny model over several input
cases and must write the same report (apart from timings) whatever the executor.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import GOLDEN_MODEL, GOLDEN_MODEL_DIR, needs_golden

from refinterp import cli
from refinterp.errors import InputError, RefinterpError
from refinterp.tools import executor as executor_module
from refinterp.tools.executor import (
    RAY_INSTALL_HINT,
    ExecutorUnavailableError,
    TaskError,
    WorkerCrashedError,
    init_ray,
    run_tasks,
)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_FLOAT = ROOT / "golden" / "yolov3_tiny_float.tflite"


def _ray_missing() -> str | None:
    try:
        import ray  # noqa: F401
    except ImportError:
        return f"ray is not installed ({RAY_INSTALL_HINT})"
    return None


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray instance with 2 CPUs for the module; run_tasks uses it (and leaves it running)."""
    missing = _ray_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI: {missing}; the test extra must install it", pytrace=False)
        pytest.skip(missing)
    import ray

    started = init_ray(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()


# --------------------------------------------------------------------------------------------------
# Task functions (module-level: the workers import this module)


def checksum(seed: int) -> tuple[int, str, list[int]]:
    """Something numpy computes from the item: equal results prove equal work, in the right slot."""
    values = np.random.default_rng(seed).integers(-128, 128, size=1000, dtype=np.int8)
    return seed, str(values.dtype), [int(values.astype(np.int64).sum()), int(np.abs(values).max())]


def fail_on_three(item: int) -> int:
    if item == 3:
        raise InputError(f"item {item} is refused")
    if item == 5:
        raise ValueError("a plain ValueError")
    return item * item


def fail_late_and_early(item: int) -> int:
    """Item 1 fails after a while, item 4 at once: the caller must still see item 1's failure."""
    if item == 1:
        time.sleep(1.0)
        raise InputError("item 1 failed late")
    if item == 4:
        raise ValueError("item 4 failed early")
    return item


class Unpicklable(Exception):
    def __init__(self, a, b):  # pickle calls cls(*args) with one arg: unpickling fails
        super().__init__(f"{a}/{b}")


def raise_unpicklable(item: int) -> int:
    if item == 1:
        raise Unpicklable(1, 2)
    return item


def die_on_two(item: int) -> int:
    if item == 2:
        os._exit(3)  # a crash in native code, as far as the pool can tell
    return item


ITEMS = list(range(8))
EXPECTED = [checksum(i) for i in ITEMS]


# --------------------------------------------------------------------------------------------------
# run_tasks


@pytest.mark.parametrize("jobs", [1, 2])
def test_local_results_in_item_order(jobs):
    calls = []
    results = run_tasks(checksum, ITEMS, jobs=jobs, progress=lambda done, total: calls.append((done, total)))
    assert results == EXPECTED
    assert calls[0] == (0, len(ITEMS)) and calls[-1] == (len(ITEMS), len(ITEMS))
    assert [done for done, _ in calls] == list(range(len(ITEMS) + 1))


def test_ray_results_in_item_order(ray_cluster):
    calls = []
    results = run_tasks(checksum, ITEMS, jobs=2, executor="ray", progress=lambda d, t: calls.append((d, t)))
    assert results == EXPECTED
    assert [done for done, _ in calls] == list(range(len(ITEMS) + 1))
    assert ray_cluster.is_initialized()  # an instance run_tasks did not start stays up


EXECUTORS = [("local", 1), ("local", 2), ("ray", 2)]


@pytest.mark.parametrize("executor,jobs", EXECUTORS)
def test_failures_come_back_per_task(executor, jobs, request):
    if executor == "ray":
        request.getfixturevalue("ray_cluster")
    results = run_tasks(fail_on_three, range(7), jobs=jobs, executor=executor, return_exceptions=True)
    assert [r for i, r in enumerate(results) if i not in (3, 5)] == [0, 1, 4, 16, 36]
    assert type(results[3]) is InputError and str(results[3]) == "item 3 is refused"
    assert type(results[5]) is ValueError and str(results[5]) == "a plain ValueError"
    if jobs > 1:  # the worker's traceback travels with the exception
        assert "fail_on_three" in results[3].remote_traceback


@pytest.mark.parametrize("executor,jobs", EXECUTORS)
def test_first_failure_in_item_order_is_raised(executor, jobs, request):
    if executor == "ray":
        request.getfixturevalue("ray_cluster")
    with pytest.raises(InputError, match="item 3 is refused"):
        run_tasks(fail_on_three, range(7), jobs=jobs, executor=executor)
    # as a serial run would: the earlier item's failure, even when a later one failed first
    with pytest.raises(InputError, match="item 1 failed late"):
        run_tasks(fail_late_and_early, range(6), jobs=jobs, executor=executor)


def test_unpicklable_exception_becomes_a_task_error():
    results = run_tasks(raise_unpicklable, range(3), jobs=2, return_exceptions=True)
    assert results[0] == 0 and results[2] == 2
    assert isinstance(results[1], TaskError) and "Unpicklable: 1/2" in str(results[1])
    pickle.dumps(results[1])


def test_a_dying_worker_fails_its_task_not_the_caller():
    results = run_tasks(die_on_two, range(4), jobs=2, return_exceptions=True)
    assert isinstance(results[2], WorkerCrashedError)
    # the pool breaks: tasks that had not finished fail with it, finished ones keep their result
    assert all(r == i or isinstance(r, WorkerCrashedError) for i, r in enumerate(results))
    with pytest.raises(WorkerCrashedError):
        run_tasks(die_on_two, range(4), jobs=2)


@pytest.mark.parametrize("kwargs,message", [
    ({"executor": "dask"}, "unknown executor 'dask'"),
    ({"jobs": 0}, "jobs must be a whole number >= 1"),
    ({"address": "auto"}, "only applies to --executor ray"),
])
def test_bad_arguments_are_one_line_input_errors(kwargs, message):
    with pytest.raises(InputError, match=message):
        run_tasks(checksum, ITEMS, **kwargs)


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ExecutorUnavailableError) as info:
        run_tasks(checksum, ITEMS, executor="ray")
    assert isinstance(info.value, RefinterpError)
    assert "\n" not in str(info.value) and str(info.value).endswith("pip install 'refinterp[ray]'")
    assert executor_module.EXECUTORS == ("local", "ray")


def test_cli_rejects_address_without_ray(capsys):
    assert cli.main(["compare", str(GOLDEN_MODEL), "--against", "litert-ref", "--address", "auto"]) == 2
    assert "--address needs --executor ray" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# compare --inputs and qerror --inputs: the same report from every executor


@pytest.fixture(scope="module")
def four_cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden DIR's two input cases and two seeded ones."""
    directory = tmp_path_factory.mktemp("cases")
    for path in sorted((GOLDEN_MODEL_DIR / "inputs").glob("*.npy")):
        shutil.copy(path, directory / path.name)
    shape = np.load(next((GOLDEN_MODEL_DIR / "inputs").glob("*.npy"))).shape
    for seed in (1, 2):
        np.save(directory / f"seed{seed}.npy", np.random.default_rng(seed).integers(-128, 128, shape, np.int8))
    return directory


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k != "invoke_seconds"}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _run(argv: list[str], capsys) -> tuple[int, str]:
    status = cli.main([str(a) for a in argv])
    return status, capsys.readouterr().out


@needs_golden
def test_compare_inputs_dir_same_report_on_every_executor(four_cases, tmp_path, capsys, ray_cluster):
    pytest.importorskip("ai_edge_litert")  # (conftest turns a skip into a failure under CI)
    reports, texts = [], []
    for name, options in [("serial", []), ("pool", ["-j", "2"]), ("ray", ["-j", "2", "--executor", "ray"])]:
        json_path = tmp_path / f"{name}.json"
        status, out = _run(["compare", GOLDEN_MODEL, "--against", "xnnpack", "--isolate", "--inputs", four_cases,
                            "--json", json_path, "--no-progress", *options], capsys)
        assert status == 1, out  # XNNPACK rounds differently (docs/int8-semantics.md §2.7, §4.6)
        reports.append(json.loads(json_path.read_text()))
        texts.append(out)
    assert reports[0]["inputs"]["cases"] == 4 and reports[0]["local_ops"]
    assert all(r["cases"][0]["invoke_seconds"]["against"] is not None for r in reports)
    assert _without_timings(reports[1]) == _without_timings(reports[0])
    assert _without_timings(reports[2]) == _without_timings(reports[0])
    assert texts[1] == texts[0] and texts[2] == texts[0]


@needs_golden
def test_qerror_inputs_dir_same_bytes_on_every_executor(tmp_path, capsys, ray_cluster):
    outputs = []
    for name, options in [("serial", []), ("ray", ["-j", "2", "--executor", "ray"])]:
        json_path = tmp_path / f"{name}.json"
        status, _ = _run(["qerror", GOLDEN_MODEL, "--float", GOLDEN_FLOAT, "--inputs", GOLDEN_MODEL_DIR, "--isolate",
                          "--json", json_path, "--quiet", *options], capsys)
        assert status == 0
        outputs.append(json_path.read_bytes())
    assert json.loads(outputs[0])["cases"] == 2
    assert outputs[1] == outputs[0]  # no timings in it: byte for byte
