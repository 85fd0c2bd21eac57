"""Serve AlphaNet with a real Triton server on the CPU, in the foreground: `python -m alphanet.triton.server
[--scripted model_store/alphanet.pt] [--http-port 8000] [--grpc-port 8001] [--metrics-port 8002]` (in .venv-triton;
`make serve-triton` runs it). Ports also come from TRITON_HTTP_PORT, TRITON_GRPC_PORT, TRITON_METRICS_PORT;
ALPHANET_MAX_PIXELS caps uploads as it does for TorchServe.

It runs the tritonserver binary that the nvidia-pytriton wheel ships (Triton 2.51, Python backend only) on a
repository written into a workspace of its own: `alphanet` and `alphanet_trimap` with the names, data types,
shapes, instances and threads of alphanet.triton.repo's PyTorch-backend repository, and `alphanet_cutout`; each
a Python-backend model (alphanet.triton.backend) that loads the same exported file.

PyTriton's Python API is not used: it answers 500 to every exception its inference callables raise, so a bad
upload could not get its 4xx, and its stop path took 35 s. Here Ctrl-C or SIGTERM stops Triton within seconds
and leaves none of its processes behind.
"""
import argparse
import ctypes
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import psutil

from alphanet.triton.config import DEFAULT_CORES, cpu_plan, render_config, write_model_dir
from alphanet.triton.models import AUTO_TRIMAP_MODEL, CUTOUT_MODEL, USER_TRIMAP_MODEL

# Where the nvidia-pytriton wheel keeps the server, found without importing pytriton (which loads numpy, zmq
# and tritonclient): this launcher stays light, the models' processes load torch.
PYTRITON = Path(importlib.util.find_spec("pytriton").submodule_search_locations[0])
TRITON_DIST = PYTRITON / "tritonserver"
TRITON_LIBS = PYTRITON.parent / "nvidia_pytriton.libs"
PYTHON_STUB = TRITON_DIST / "python_backend_stubs" / f"{sys.version_info[0]}.{sys.version_info[1]}" / \
    "triton_python_backend_stub"  # the wheel holds one per Python version
PYTHON_BACKEND = 'backend: "python"'
BACKEND_CLASSES = {AUTO_TRIMAP_MODEL: "alphanet.triton.backend.TensorModel",
                   USER_TRIMAP_MODEL: "alphanet.triton.backend.TensorModel",
                   CUTOUT_MODEL: "alphanet.triton.cutout.CutoutModel"}
# Triton waits this long for requests in flight after a stop signal (its default, 30 s, is what made a
# PyTriton script take 35 s to stop). A small photo finishes within it, a 1500 px one (35 s on a busy core) is
# cut off: for a developer's Ctrl-C a prompt stop matters more. The Kubernetes manifests wait longer.
EXIT_TIMEOUT_S = 5
STOP_GRACE_S = EXIT_TIMEOUT_S + 10  # then whatever is left is killed
READY_TIMEOUT_S = 300


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int


def write_served_repository(out: Path, scripted: Path, cores: int) -> None:
    """The Python-backend twin of alphanet.triton.repo's repository, plus alphanet_cutout."""
    loads = ("SCRIPTED_FILE", str(scripted.resolve()), "The exported graph this model loads.")
    for spec, model_class in BACKEND_CLASSES.items():
        version_dir = write_model_dir(out, spec, render_config(spec, PYTHON_BACKEND, cpu_plan(cores), [loads]))
        module, class_name = model_class.rsplit(".", 1)
        (version_dir / "model.py").write_text(f"from {module} import {class_name} as TritonPythonModel  # noqa: F401\n")


def link_python_backend(backends: Path) -> None:
    """<backends>/python as Triton expects it: the backend library and utilities, and the stub for this Python."""
    python = backends / "python"
    python.mkdir(parents=True)
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        (python / name).symlink_to(TRITON_DIST / "backends" / "python" / name)
    (python / "triton_python_backend_stub").symlink_to(PYTHON_STUB)


def server_environment() -> dict:
    env = dict(os.environ)
    # The stub embeds libpython; a pyenv-built interpreter keeps it in LIBDIR, which the loader doesn't search
    # (the stub then dies on `_recursion_count`). The wheel's own libraries come after it.
    libraries = [sysconfig.get_config_var("LIBDIR"), str(TRITON_LIBS), env.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, libraries))
    # The stub runs the first python3 on PATH: this one, so the models import this environment's torch...
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # ...and this very alphanet package.
    project_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project_root, env.get("PYTHONPATH", "")]))
    return env


def start_tritonserver(repository: Path, backends: Path, ports: Ports) -> subprocess.Popen:
    command = [str(TRITON_DIST / "bin" / "tritonserver"), f"--model-repository={repository}",
               f"--backend-directory={backends}", f"--http-port={ports.http}", f"--grpc-port={ports.grpc}",
               f"--metrics-port={ports.metrics}", f"--exit-timeout-secs={EXIT_TIMEOUT_S}",
               "--allow-gpu-metrics=false"]
    return subprocess.Popen(command, env=server_environment(), preexec_fn=_end_with_parent)


def _end_with_parent() -> None:
    """In the child before exec: the kernel sends it SIGTERM if this launcher dies, even by SIGKILL."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop_tritonserver(process: subprocess.Popen) -> None:
    """SIGTERM: Triton stops taking requests, lets those in flight finish (EXIT_TIMEOUT_S at most), unloads the
    models, which ends their stub processes, and exits. Whatever is left after STOP_GRACE_S is killed."""
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    process.terminate()
    _, alive = psutil.wait_procs(tree, timeout=STOP_GRACE_S)
    for survivor in alive:
        survivor.kill()
    psutil.wait_procs(alive, timeout=STOP_GRACE_S)
    process.wait()


def wait_until_ready(process: subprocess.Popen, http_port: int) -> bool:
    """Whether every model answers ready before Triton exits or READY_TIMEOUT_S passes."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        if all(_answers_ok(f"http://127.0.0.1:{http_port}/v2/models/{spec.name}/ready") for spec in BACKEND_CLASSES):
            return True
        time.sleep(0.25)
    return False


def _answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def workspace(path: Optional[Path]) -> Iterator[Path]:
    """`path` (kept afterwards), or a fresh temporary folder (removed afterwards)."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path.resolve()  # Triton resolves relative paths against its own working directory
        return
    folder = Path(tempfile.mkdtemp(prefix="alphanet-triton-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def serve(scripted: Path, ports: Ports, root: Path, cores: int) -> int:
    """Run Triton until it exits or a stop signal comes; its exit code, 0 after a stop signal."""
    repository, backends = root / "model_repository", root / "backends"
    shutil.rmtree(backends, ignore_errors=True)
    write_served_repository(repository, scripted, cores)
    link_python_backend(backends)
    started = time.monotonic()
    process = start_tritonserver(repository, backends, ports)
    try:
        if wait_until_ready(process, ports.http):
            print(f"AlphaNet on Triton ready in {time.monotonic() - started:.1f} s: http://localhost:{ports.http}"
                  f" (gRPC {ports.grpc}, metrics {ports.metrics})", flush=True)
        return process.wait()
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see main)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_tritonserver(process)
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripted", type=Path, default=Path("model_store/alphanet.pt"),
                        help="the exported TorchScript file (python -m alphanet.export, or `make mar`)")
    for name, default in (("http", 8000), ("grpc", 8001), ("metrics", 8002)):
        parser.add_argument(f"--{name}-port", type=int, default=int(os.environ.get(f"TRITON_{name.upper()}_PORT",
                                                                                    default)))
    parser.add_argument("--cores", type=int, default=DEFAULT_CORES, help="CPU cores: instances per model")
    parser.add_argument("--workspace", type=Path,
                        help="where the served repository goes (default: a temporary folder, removed at exit)")
    args = parser.parse_args()
    if not args.scripted.is_file():
        parser.error(f"{args.scripted} does not exist: export it first (`make mar` or python -m alphanet.export)")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # docker stop / kill: stop as on Ctrl-C
    with workspace(args.workspace) as root:
        exit_code = serve(args.scripted, Ports(args.http_port, args.grpc_port, args.metrics_port), root,
                          args.cores)
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
