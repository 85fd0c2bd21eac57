"""The Triton model repository `make triton-repo` writes for the PyTorch backend, and the KServe and Kubernetes
manifests that serve it. No PyTorch-backend Triton can run here, so this checks what can be checked without one:
Triton's documented layout, each config.pbtxt parsed by Triton's own ModelConfig protobuf (from tritonclient, in
.venv-triton: it needs numpy<2), and the configs against what each model.pt takes and returns when loaded by
torch alone in a fresh process."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from alphanet.triton.models import TENSOR_MODELS

REPO = Path(__file__).resolve().parents[1]
TRITON_PYTHON = REPO / ".venv-triton" / "bin" / "python"
MODEL_NAMES = {spec.name for spec in TENSOR_MODELS}
TORCH_DTYPES = {"TYPE_UINT8": "torch.uint8", "TYPE_FP32": "torch.float32"}

pytestmark = pytest.mark.slow

# Parses each config.pbtxt with Triton's ModelConfig message and prints them as JSON.
PARSE_CONFIGS = """
import json, sys
from pathlib import Path
from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2
configs = {}
for path in sorted(Path(sys.argv[1]).glob("*/config.pbtxt")):
    config = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
    configs[path.parent.name] = json_format.MessageToDict(config, preserving_proto_field_name=True)
print(json.dumps(configs))
"""

# Loads a model.pt with torch alone, reads its forward() signature and calls it on inputs made from the
# config's inputs (variable dims get odd sizes); prints what it took, what it returned and what it refused.
# The same inputs through the exported file give the reference alpha: a wrapper adds nothing to the graph.
PROBE_MODEL = """
import json, sys, torch
model_pt, exported, inputs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
model = torch.jit.load(model_pt)
sizes = iter([37, 53])
shape = [d if d != -1 else next(sizes) for d in inputs[0]["dims"]]  # the image; a trimap shares its size
dtypes = {"TYPE_UINT8": torch.uint8, "TYPE_FP32": torch.float32}
tensors = []
for spec in inputs:
    dims = shape[:len(spec["dims"])]
    tensors.append(torch.randint(0, 256, dims).to(dtypes[spec["data_type"]]))
if len(tensors) > 1:
    tensors[1] = torch.where(tensors[1] < 100, 0, torch.where(tensors[1] < 200, 128, 255)).to(torch.uint8)
with torch.inference_mode():
    results = model(*tensors)
    reference = torch.jit.load(exported)(*tensors)
refused = []
for index in range(len(tensors)):
    wrong = list(tensors)
    wrong[index] = wrong[index].float()
    try:
        model(*wrong)
        refused.append(False)
    except Exception:
        refused.append(True)
print(json.dumps({
    "arguments": [[a.name, str(a.type)] for a in model.forward.schema.arguments[1:]],
    "results": [{"dtype": str(r.dtype), "shape": list(r.shape)} for r in results],
    "input_shape": shape,
    "alpha_difference": float((results[0] - reference[0]).abs().max()),
    "refuses_float_inputs": refused,
    "imports_alphanet": any(name.startswith("alphanet") for name in sys.modules),
}))
"""


@pytest.fixture(scope="session")
def built(model_store, tmp_path_factory) -> dict:
    """`make triton-repo`, as a user runs it, from the archive's store (conftest's model_store)."""
    repository = tmp_path_factory.mktemp("triton") / "model_repository"
    build = subprocess.run(["make", "--no-print-directory", "triton-repo", f"MODEL_STORE={model_store}",
                            f"TRITON_REPO={repository}"], cwd=REPO, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    return {"repository": repository, "scripted": model_store / "alphanet.pt"}


@pytest.fixture(scope="session")
def configs(built) -> dict:
    assert TRITON_PYTHON.exists(), "no .venv-triton: `make install` creates it"
    parsed = subprocess.run([str(TRITON_PYTHON), "-c", PARSE_CONFIGS, str(built["repository"])],
                            capture_output=True, text=True, timeout=120)
    assert parsed.returncode == 0, parsed.stderr
    return json.loads(parsed.stdout)


def dims(tensor: dict) -> list:
    return [int(d) for d in tensor["dims"]]  # protobuf's JSON writes int64 as strings


def probe(model_pt: Path, scripted: Path, inputs: list) -> dict:
    """PROBE_MODEL in a fresh, isolated interpreter (-I: not even the working directory on sys.path)."""
    result = subprocess.run([sys.executable, "-I", "-c", PROBE_MODEL, str(model_pt), str(scripted), json.dumps(inputs)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_layout_is_the_one_triton_documents(built):
    repository = built["repository"]
    files = {str(path.relative_to(repository)) for path in repository.rglob("*") if path.is_file()}
    assert files == {f"{name}/{part}" for name in MODEL_NAMES for part in ("config.pbtxt", "1/model.pt")}


def test_each_config_is_a_cpu_libtorch_model_of_its_folders_name(configs):
    assert set(configs) == MODEL_NAMES
    for folder, config in configs.items():
        assert config["name"] == folder
        assert config["platform"] == "pytorch_libtorch"
        assert config.get("max_batch_size", 0) == 0  # one image per request: photos differ in size
        assert config["instance_group"] == [{"count": 2, "kind": "KIND_CPU"}]  # one per core of a 2-core server
        for tensor in config["input"] + config["output"]:
            assert dims(tensor)[:2] == [-1, -1], tensor  # any height and width


def test_threads_and_mode_are_set_for_the_cpu(configs):
    for config in configs.values():
        parameters = {key: value["string_value"] for key, value in config["parameters"].items()}
        assert parameters == {"INTRA_OP_THREAD_COUNT": "1", "INTER_OP_THREAD_COUNT": "1", "INFERENCE_MODE": "true"}


@pytest.mark.parametrize("name", sorted(MODEL_NAMES))
def test_config_agrees_with_what_model_pt_takes_and_returns(built, configs, name):
    config = configs[name]
    inputs = [{"name": t["name"], "data_type": t["data_type"], "dims": dims(t)} for t in config["input"]]
    found = probe(built["repository"] / name / "1" / "model.pt", built["scripted"], inputs)
    assert not found["imports_alphanet"]
    # Inputs: `<argument>__<position>` in forward()'s order, tensors of the config's data type only.
    assert [f"{argument}__{index}" for index, (argument, _) in enumerate(found["arguments"])] == \
        [t["name"] for t in inputs]
    assert all(kind == "Tensor" for _, kind in found["arguments"])
    assert all(found["refuses_float_inputs"])
    # Outputs: `<name>__<position>` in the returned tuple's order, of the config's data type and rank.
    assert len(found["results"]) == len(config["output"])
    for index, (output, result) in enumerate(zip(config["output"], found["results"])):
        assert re.fullmatch(rf"\w+__{index}", output["name"])
        assert result["dtype"] == TORCH_DTYPES[output["data_type"]]
        assert result["shape"] == found["input_shape"][:len(dims(output))]
    assert found["alpha_difference"] == 0.0


# --- KServe and Kubernetes -------------------------------------------------------------------------------

def manifests(name: str) -> list:
    return list(yaml.safe_load_all((REPO / "config" / name).read_text()))


def flag_values(args: list, flag: str) -> list:
    return [arg.split("=", 1)[1] for arg in args if arg.startswith(f"{flag}=")]


def cpu_threads(configs: dict) -> str:
    """The cores one server needs: every model's instances x intra-op threads (the models share them)."""
    per_model = {int(c["parameters"]["INTRA_OP_THREAD_COUNT"]["string_value"]) * c["instance_group"][0]["count"]
                 for c in configs.values()}
    assert len(per_model) == 1
    return str(per_model.pop())


def test_kserve_runs_the_repository_on_the_triton_runtime(configs):
    (service,) = manifests("kserve-triton.yaml")
    assert (service["apiVersion"], service["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == "kserve-tritonserver"
    assert model["modelFormat"]["name"] in ("triton", "pytorch")
    assert model["storageUri"].rstrip("/").endswith("model_repository")
    assert set(flag_values(model["args"], "--load-model")) == set(configs)
    assert model["resources"]["requests"]["cpu"] == model["resources"]["limits"]["cpu"] == cpu_threads(configs)


def test_deployment_serves_the_repository_on_its_ports_and_probes_each_model(configs):
    documents = {document["kind"]: document for document in manifests("k8s-triton-deployment.yaml")}
    deployment, service = documents["Deployment"], documents["Service"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8000, "grpc": 8001, "metrics": 8002}
    for name, port in ports.items():
        assert flag_values(args, f"--{name}-port") == [str(port)]
    (mount,) = container["volumeMounts"]
    assert flag_values(args, "--model-repository") == [mount["mountPath"]]
    assert set(flag_values(args, "--load-model")) == set(configs)
    (exit_timeout,) = flag_values(args, "--exit-timeout-secs")
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > int(exit_timeout)

    readiness = container["readinessProbe"]["exec"]["command"][-1]  # run against a live server in test_triton_live
    assert set(re.findall(r"http://127\.0\.0\.1:(\d+)/v2/models/(\w+)/ready", readiness)) == \
        {(str(ports["http"]), name) for name in configs}
    for probe in ("livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/v2/health/live", "port": "http"}

    resources = container["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == cpu_threads(configs)
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == \
        {name: (port, name) for name, port in ports.items()}
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
