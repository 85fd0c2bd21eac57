# AlphaNet served by TorchServe on CPU, with the production profile (token auth, no model registration).
# Build from the repository root after `make mar`:  docker build -t alphanet-serve .
# Run:  docker run -p 8080:8080 alphanet-serve   (inference keys: docker exec <id> cat /app/key_file.json)
# bookworm: Debian 12 is the release that ships openjdk-17 (trixie moved to 21).
FROM python:3.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

# The project's pins, as `make install` installs them. torch==2.13.0 is taken from PyTorch's CPU index
# (its 2.13.0+cpu satisfies the pin); PyPI's wheel of the same version would pull gigabytes of CUDA.
COPY requirements.txt ./
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu \
        --extra-index-url https://pypi.org/simple -r requirements.txt

# The package itself (the handler imports alphanet.serving.imageio from it); its dependencies are already in.
# numba compiles pymatting's loops on first use: that is done once here, into the package's cache, not in
# every worker at start-up.
COPY pyproject.toml README.md ./
COPY alphanet alphanet
COPY handlers handlers
RUN pip install --no-cache-dir --no-deps . \
    && python -c "import numpy as np; from alphanet.serving.imageio import decontaminated_foreground as f; \
f(np.zeros((2, 2, 3), np.uint8), np.full((2, 2), 0.5, np.float32))"

COPY config config
COPY model_store/alphanet.mar model_store/alphanet.mar

# Non-root; TorchServe writes logs/ and key_file.json in its working directory.
RUN useradd --create-home --uid 1000 app && chown -R app /app
USER app

# Inference for the load balancer; metrics listen on loopback in this profile (a sidecar in the pod can
# scrape them): publish 8082 only after changing metrics_address.
EXPOSE 8080 8082
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "alphanet.serving.healthcheck"]
# The launcher stops TorchServe's whole process group on SIGTERM (docker stop).
CMD ["python", "-m", "alphanet.serving.launch_torchserve", "--config", "config/config.production.properties"]
