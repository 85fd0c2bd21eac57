"""The Kubernetes and KServe manifests for TorchServe (config/k8s-torchserve.yaml, config/kserve-torchserve.yaml)
and the profiles their containers run (config/config.k8s.properties, config/config.kserve.properties), checked
against the Dockerfile, the archive `make mar` builds, model-config.yaml and the production profile; every
manifest against Kubernetes' own schemas (kubernetes-validate, strict); the network fence and disruption budget
of both Deployments, TorchServe's and Triton's (config/k8s-triton-deployment.yaml). No cluster here: the last tests
run each profile in a real TorchServe and probe it the way the kubelet would."""
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import requests
import yaml

from tests.test_dockerfile import archiver_options, arguments
from tests.torchserve import read_profile, running_torchserve

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = ["k8s-torchserve.yaml", "kserve-torchserve.yaml"]
DEPLOYMENTS = ["k8s-torchserve.yaml", "k8s-triton-deployment.yaml"]
KSERVE_API_GROUP = "serving.kserve.io"  # custom resources: kubernetes-validate has no schema for them
# The namespace labels the NetworkPolicies let in (the operator sets them, as the README says): the ingress
# controller's namespace, to the ports the Service routes clients to; Prometheus' to the metrics port.
INGRESS_LABEL = {"alphanet-serve/ingress": "true"}
METRICS_LABEL = {"alphanet-serve/metrics": "true"}
# Where KServe's storage initializer puts the files of storageUri, and which file of config/ goes where.
KSERVE_MOUNT = "/mnt/models"
KSERVE_CONFIG = f"{KSERVE_MOUNT}/config/config.properties"
KSERVE_UPLOADS = {KSERVE_CONFIG: "config.kserve.properties"}
# Measured with bench/load_test.py (BENCHMARKS.md, "Load test"): the Java frontend's RSS, and a worker's peak RSS
# on a photo of 1024 x 1024 and of 4096 x 4096 pixels (half of it unknown).
FRONTEND_GIB = 0.55
WORKER_PEAK_GIB = {1024 ** 2: 1.2, 4096 ** 2: 2.0}


def manifests(name: str) -> dict:
    """config/<name>'s documents by kind (each kind once)."""
    documents = list(yaml.safe_load_all((REPO / "config" / name).read_text()))
    kinds = [document["kind"] for document in documents]
    assert len(set(kinds)) == len(kinds), kinds
    return {document["kind"]: document for document in documents}


def pod_and_container(name: str) -> tuple:
    """The pod spec and the TorchServe container of a manifest: a Deployment's, or a ServingRuntime's (KServe builds
    the pod around its containers)."""
    documents = manifests(name)
    if "Deployment" in documents:
        pod = documents["Deployment"]["spec"]["template"]["spec"]
    else:
        pod = documents["ServingRuntime"]["spec"]
    (container,) = pod["containers"]
    return pod, container


def option(words: list, name: str) -> str:
    return words[words.index(name) + 1]


def profile_run_by(container: dict) -> str:
    """The file of config/ that the container's `--config` names, in the image or in KServe's storage layout."""
    path = option(container["args"], "--config")
    return KSERVE_UPLOADS.get(path) or path.removeprefix("config/")


def container_port(container: dict, port) -> int:
    """The number a probe's or a Service's `port` stands for: a container port's name, or its number."""
    return next(entry["containerPort"] for entry in container["ports"] if port in (entry["name"],
                                                                                   entry["containerPort"]))


def environment(container: dict) -> dict:
    return {variable["name"]: variable["value"] for variable in container["env"]}


def gib(quantity: str) -> float:
    """A Kubernetes memory quantity in Gi or Mi, in GiB."""
    number, unit = re.fullmatch(r"(\d+)(Gi|Mi)", quantity).groups()
    return int(number) / (1 if unit == "Gi" else 1024)


def worker_peak_gib(pixels: int) -> float:
    """A worker's peak memory on a photo of `pixels`, on the line through the two measurements."""
    (small, small_gib), (large, large_gib) = sorted(WORKER_PEAK_GIB.items())
    return small_gib + (large_gib - small_gib) * (pixels - small) / (large - small)


def model_config() -> dict:
    return yaml.safe_load((REPO / "config" / "model-config.yaml").read_text())


def model_name() -> str:
    return archiver_options()["--model-name"]


def readme_image_name() -> str:
    """The name the README builds the image under (`docker build -t NAME .`)."""
    return re.search(r"docker build -t ([\w./-]+)", (REPO / "README.md").read_text())[1]


# --- each manifest's container against the image, the archive and its profile --------------------------------

@pytest.mark.parametrize("manifest", MANIFESTS)
def test_image_is_the_readmes_at_the_projects_version(manifest):
    _, container = pod_and_container(manifest)
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert container["image"] == f"{readme_image_name()}:{version}"


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_it_runs_as_the_images_non_root_user(manifest):
    pod, container = pod_and_container(manifest)
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    image_user = arguments("USER")[-1]
    uid = int(re.search(rf"useradd .*--uid (\d+) {image_user}\b", " ".join(arguments("RUN")))[1])
    assert uid != 0 and security["runAsUser"] == uid and security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_it_launches_a_profile_of_the_repository(manifest):
    _, container = pod_and_container(manifest)
    assert container["args"][:3] == ["python", "-m", "alphanet.serving.launch_torchserve"]
    assert (REPO / "config" / profile_run_by(container)).is_file()
    assert "config config" in arguments("COPY")  # the image holds config/, so config/... paths exist in it


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_inference_port_is_the_profiles_and_exposed_by_the_image(manifest):
    _, container = pod_and_container(manifest)
    inference = urlsplit(read_profile(profile_run_by(container))["inference_address"])
    assert inference.hostname == "0.0.0.0"
    assert [port["containerPort"] for port in container["ports"]] == [inference.port]
    assert str(inference.port) in arguments("EXPOSE")[0].split()


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_cpu_is_the_archives_workers_times_threads_per_worker(manifest):
    _, container = pod_and_container(manifest)
    workers = model_config()["minWorkers"]
    assert model_config()["maxWorkers"] == workers
    env = environment(container)
    threads = int(env["ALPHANET_THREADS"])
    assert int(env["OMP_NUM_THREADS"]) == threads
    resources = container["resources"]
    assert int(resources["limits"]["cpu"]) == int(resources["requests"]["cpu"]) == workers * threads
    assert resources["limits"]["memory"] == resources["requests"]["memory"]


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_memory_holds_every_worker_on_the_largest_photo_the_pod_accepts(manifest):
    _, container = pod_and_container(manifest)
    max_pixels = int(environment(container)["ALPHANET_MAX_PIXELS"])
    assert max_pixels <= model_config()["handler"]["max_pixels"]
    needed = FRONTEND_GIB + model_config()["maxWorkers"] * worker_peak_gib(max_pixels)
    assert needed <= gib(container["resources"]["limits"]["memory"])


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_liveness_pings_inference_and_readiness_asks_management_for_the_model(manifest):
    _, container = pod_and_container(manifest)
    profile = read_profile(profile_run_by(container))
    for probe in (container["startupProbe"], container["livenessProbe"]):
        assert probe["httpGet"]["path"] == "/ping"
        assert container_port(container, probe["httpGet"]["port"]) == urlsplit(profile["inference_address"]).port
    command = container["readinessProbe"]["exec"]["command"]
    assert command[:3] == ["python", "-m", "alphanet.serving.healthcheck"]
    assert option(command, "--management") == profile["management_address"]
    assert option(command, "--model") == model_name()


@pytest.mark.parametrize("profile", ["config.k8s.properties", "config.kserve.properties"])
def test_cluster_profiles_keep_the_production_limits_and_lock_down(profile):
    """Only TorchServe's tokens differ: their random per-start, expiring keys cannot work behind a Service."""
    cluster, production = read_profile(profile), read_profile("config.production.properties")
    for key in ("inference_address", "management_address", "metrics_address", "grpc_inference_port",
                "grpc_management_port", "enable_model_api", "metrics_mode", "max_request_size", "max_response_size",
                "job_queue_size"):
        assert cluster[key] == production[key], key
    assert production["disable_token_authorization"] == "false" and cluster["disable_token_authorization"] == "true"


# --- the Deployment's neighbours ----------------------------------------------------------------------------------

def test_service_and_autoscaler_serve_the_deployments_pods():
    documents = manifests("k8s-torchserve.yaml")
    deployment, service, autoscaler = (documents[kind] for kind in
                                       ("Deployment", "Service", "HorizontalPodAutoscaler"))
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    _, container = pod_and_container("k8s-torchserve.yaml")
    (port,) = service["spec"]["ports"]
    assert container_port(container, port["targetPort"]) == container["ports"][0]["containerPort"]
    target = autoscaler["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    (metric,) = autoscaler["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert 2 <= autoscaler["spec"]["minReplicas"] < autoscaler["spec"]["maxReplicas"]
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count; `kubectl apply` must not reset it


def every_manifest() -> list:
    return sorted(path.name for path in (REPO / "config").glob("*.yaml") if "apiVersion" in path.read_text())


@pytest.mark.parametrize("manifest", every_manifest())
def test_every_resource_passes_kubernetes_validate_strict(manifest):
    """What `kubernetes-validate --strict` checks: each document against the schema of its kind, no unknown field."""
    for document in yaml.safe_load_all((REPO / "config" / manifest).read_text()):
        try:
            kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            assert document["apiVersion"].startswith(f"{KSERVE_API_GROUP}/"), document["kind"]


def pod_labels(documents: dict) -> dict:
    return documents["Deployment"]["spec"]["template"]["metadata"]["labels"]


def service_target_ports(documents: dict) -> set:
    return {port["targetPort"] for port in documents["Service"]["spec"]["ports"]}


@pytest.mark.parametrize("manifest", DEPLOYMENTS)
def test_only_the_labelled_namespaces_reach_the_pods_on_the_services_ports(manifest):
    """Ingress only (egress is free), and every rule admits pods of labelled namespaces to named ports: the ingress
    controller's to the ports clients use, Prometheus' to the metrics port, nobody to anything else."""
    documents = manifests(manifest)
    policy = documents["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels(documents).items()
    assert policy["policyTypes"] == ["Ingress"]
    allowed = {}  # namespace label -> ports
    for rule in policy["ingress"]:
        (peer,) = rule["from"]
        assert list(peer) == ["namespaceSelector"] and list(peer["namespaceSelector"]) == ["matchLabels"]
        assert all(port["protocol"] == "TCP" for port in rule["ports"])
        allowed[json.dumps(peer["namespaceSelector"]["matchLabels"])] = {port["port"] for port in rule["ports"]}
    metrics = {"metrics"} & service_target_ports(documents)
    expected = {json.dumps(INGRESS_LABEL): service_target_ports(documents) - metrics}
    if metrics:
        expected[json.dumps(METRICS_LABEL)] = metrics
    assert allowed == expected
    (container,) = documents["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert set().union(*allowed.values()) <= {port["name"] for port in container["ports"]}


def test_the_readme_tells_operators_the_labels_the_policies_admit():
    readme = (REPO / "README.md").read_text()
    for label in (INGRESS_LABEL, METRICS_LABEL):
        ((key, value),) = label.items()
        assert re.search(rf"kubectl label namespace \S+ {re.escape(key)}={value}", readme), key


@pytest.mark.parametrize("manifest", DEPLOYMENTS)
def test_a_disruption_takes_one_pod_of_the_autoscalers_two_at_least(manifest):
    documents = manifests(manifest)
    budget, autoscaler = documents["PodDisruptionBudget"]["spec"], documents["HorizontalPodAutoscaler"]["spec"]
    assert budget["selector"]["matchLabels"].items() <= pod_labels(documents).items()
    assert budget["maxUnavailable"] == 1 and "minAvailable" not in budget
    assert budget["maxUnavailable"] < autoscaler["minReplicas"]
    target = autoscaler["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", documents["Deployment"]["metadata"]["name"])
    assert "replicas" not in documents["Deployment"]["spec"]  # the autoscaler owns the count


# --- KServe: the storage layout and the runtime ---------------------------------------------------------------

def test_inference_service_runs_the_projects_runtime_on_kserves_torchserve_layout():
    documents = manifests("kserve-torchserve.yaml")
    runtime, service = documents["ServingRuntime"], documents["InferenceService"]
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] in [fmt["name"] for fmt in runtime["spec"]["supportedModelFormats"]]
    assert model["storageUri"]
    _, container = pod_and_container("kserve-torchserve.yaml")
    assert option(container["args"], "--config") == KSERVE_CONFIG
    assert read_profile("config.kserve.properties")["model_store"] == f"{KSERVE_MOUNT}/model-store"
    # Raw deployment: the probes and the CPU autoscaler are plain Kubernetes ones, as in k8s-torchserve.yaml.
    assert service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert service["spec"]["predictor"]["scaleMetric"] == "cpu"


def test_kserve_snapshot_registers_the_archive_as_make_mar_builds_it():
    snapshot = json.loads(read_profile("config.kserve.properties")["model_snapshot"])
    assert list(snapshot["models"]) == [model_name()] and snapshot["modelCount"] == 1
    versions = snapshot["models"][model_name()]
    assert list(versions) == [archiver_options()["--version"]]
    (registration,) = versions.values()
    assert registration["marName"] == f"{model_name()}.mar" and registration["defaultVersion"] is True
    for key in ("minWorkers", "maxWorkers", "batchSize", "responseTimeout"):
        assert registration[key] == model_config()[key], key


# --- each profile in a real TorchServe, probed as the kubelet would ---------------------------------------------

def readiness_command(container: dict, management: str) -> list:
    """The readiness probe's command for this interpreter, asking the test server's management address."""
    command = [sys.executable] + container["readinessProbe"]["exec"]["command"][1:]
    command[command.index("--management") + 1] = management
    return command


def probe_like_the_kubelet(container: dict, server, cwd: Path) -> None:
    assert requests.get(f"{server.inference}/ping", timeout=30).status_code == 200  # no token needed
    readiness = subprocess.run(readiness_command(container, server.management), cwd=cwd, capture_output=True,
                               text=True, timeout=60)
    assert readiness.returncode == 0, readiness.stdout + readiness.stderr


def assert_answers_a_photo(url: str, shared_data: Path) -> None:
    photo = (shared_data / "photos" / "coffee.png").read_bytes()
    answer = requests.post(url, data=photo, headers={"Content-Type": "application/octet-stream", "X-Output": "alpha"},
                           timeout=300)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/png"


@pytest.mark.slow
def test_k8s_profile_passes_the_deployments_probes_and_serves(model_store, tmp_path, shared_data):
    _, container = pod_and_container("k8s-torchserve.yaml")
    with running_torchserve(profile_run_by(container), model_store, tmp_path) as server:
        probe_like_the_kubelet(container, server, tmp_path / "work")
        assert_answers_a_photo(f"{server.inference}/predictions/alphanet", shared_data)


@pytest.mark.slow
def test_kserve_profile_registers_the_model_from_its_snapshot(model_store, tmp_path, shared_data):
    """The store holds only the archive, as model-store/ under storageUri; nothing names the model but the
    snapshot, which must register it with the archive's workers."""
    store = tmp_path / "model-store"
    store.mkdir()
    shutil.copy(model_store / "alphanet.mar", store)
    _, container = pod_and_container("kserve-torchserve.yaml")
    with running_torchserve(profile_run_by(container), store, tmp_path / "server") as server:
        probe_like_the_kubelet(container, server, tmp_path / "server" / "work")
        description = requests.get(f"{server.management}/models/alphanet", timeout=30).json()[0]
        assert len(description["workers"]) == description["minWorkers"] == model_config()["minWorkers"]
        assert_answers_a_photo(f"{server.inference}/v1/models/alphanet:predict", shared_data)  # KServe's v1 path
