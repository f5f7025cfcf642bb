# A small image with sssctl as its entrypoint, built only from the hash-pinned locks:
#   docker build -t sssctl .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" -e SSSCTL_URL -e SSSCTL_TENANT_ID \
#     -e SSSCTL_CLIENT_ID -e SSSCTL_CLIENT_SECRET sssctl plan -c sssctl.toml
#   docker run --rm --entrypoint cat sssctl /opt/sssctl/sbom.cdx.json > sbom.cdx.json
# With the emulator, for `sssctl demo` (a production image carries no web server):
#   docker build --build-arg LOCK=emulator -t sssctl:demo . && docker run --rm sssctl:demo demo
#
# `--user "$(id -u):$(id -g)"` runs sssctl as you, so what it writes under /work (saved plans,
# the local state/ beside the config) is yours and writable on a mounted directory. Without
# it the image's own unprivileged user (uid 10001) runs, which owns /work when nothing is
# mounted there. Caches go to /tmp, writable by any user.
#
# The base image is pinned by digest (python:3.12.14-slim, Debian trixie, multi-arch index);
# update the digest and the tag together. Every Python package comes from requirements/
# with --require-hashes; sssctl is built by the locked setuptools in a stage of its own and
# installed with --no-deps, so nothing is resolved or downloaded unverified.
ARG PYTHON_IMAGE=python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea

FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY requirements/build.txt ./requirements/
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes \
        -r requirements/build.txt
COPY pyproject.toml README.md LICENSE ./
COPY sssctl ./sssctl
RUN /opt/build/bin/pip wheel --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation \
        -w /dist .

FROM ${PYTHON_IMAGE} AS build
# runtime (default): what production needs; emulator: plus the emulator for `sssctl demo`
ARG LOCK=runtime
COPY requirements/${LOCK}.txt /tmp/lock.txt
COPY --from=wheel /dist /dist
RUN python -m venv --without-pip /opt/sssctl \
    && pip install --no-cache-dir --disable-pip-version-check --python /opt/sssctl/bin/python \
        --require-hashes -r /tmp/lock.txt \
    && pip install --no-cache-dir --disable-pip-version-check --python /opt/sssctl/bin/python \
        --no-deps /dist/*.whl

# The SBOM of exactly /opt/sssctl, by CycloneDX's generator from its own hashed lock.
FROM ${PYTHON_IMAGE} AS sbom
COPY requirements/sbom.txt /tmp/sbom.txt
COPY pyproject.toml README.md LICENSE /src/
COPY --from=build /opt/sssctl /opt/sssctl
RUN python -m venv /opt/sbom \
    && /opt/sbom/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes -r /tmp/sbom.txt \
    && /opt/sbom/bin/cyclonedx-py environment /opt/sssctl/bin/python --pyproject /src/pyproject.toml \
        --output-reproducible --of JSON -o /sbom.cdx.json

FROM ${PYTHON_IMAGE}
COPY --from=build /opt/sssctl /opt/sssctl
COPY --from=sbom /sbom.cdx.json /opt/sssctl/sbom.cdx.json
ENV PATH=/opt/sssctl/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_CACHE_HOME=/tmp/.cache
RUN useradd --create-home --uid 10001 sssctl \
    && mkdir -p /work \
    && chown 10001:10001 /work
USER 10001
WORKDIR /work
ENTRYPOINT ["sssctl"]
CMD ["--help"]
