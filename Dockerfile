# A small image with sssctl as its entrypoint:
#   docker build -t sssctl .
#   docker run --rm sssctl demo
#   docker run --rm -v "$PWD:/work" -e SSSCTL_URL -e SSSCTL_TENANT_ID -e SSSCTL_CLIENT_ID \
#     -e SSSCTL_CLIENT_SECRET sssctl plan -c sssctl.toml
# The build stage installs the package into a virtual environment that the final stage
# copies as it is, so no compiler, pip cache or source tree ends up in the image.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY sssctl ./sssctl
RUN python -m venv /opt/sssctl \
    && /opt/sssctl/bin/pip install --no-cache-dir --disable-pip-version-check . \
    && /opt/sssctl/bin/pip uninstall --yes pip

FROM python:3.12-slim
COPY --from=build /opt/sssctl /opt/sssctl
ENV PATH=/opt/sssctl/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 sssctl
USER sssctl
WORKDIR /work
ENTRYPOINT ["sssctl"]
CMD ["--help"]
