# The hashwatch image: the same wheel tests/project/test_packaging.py installs into a clean
# virtualenv and runs every subcommand from, so the image holds exactly the packages
# and package data (ASIC catalog, simulator captures, dashboards) the wheel declares.
# docker-compose.yml runs every hashwatch service from it; docs/docker.md.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11.11-slim-bookworm
# A fixed, unprivileged uid/gid: docker-compose.yml gives InfluxDB and Grafana this group
# (group_add) so they can read the generated secrets, which are mode 0640.
ARG HASHWATCH_UID=10001
ENV PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/hashwatch-*.whl && rm -rf /wheels \
    && groupadd --system --gid "$HASHWATCH_UID" hashwatch \
    && useradd --system --uid "$HASHWATCH_UID" --gid hashwatch --create-home hashwatch \
    && mkdir -p /var/lib/hashwatch /run/hashwatch-secrets \
    && chown hashwatch:hashwatch /var/lib/hashwatch /run/hashwatch-secrets  # state, secrets (volumes)
USER hashwatch
WORKDIR /home/hashwatch
ENTRYPOINT ["hashwatch"]
