# The hashwatch image: the same wheel tests/project/test_packaging.py installs into a clean
# virtualenv and runs every subcommand from, so the image holds exactly the packages
# and package data (ASIC catalog, simulator captures) the wheel declares.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/hashwatch-*.whl && rm -rf /wheels && useradd --system hashwatch \
    && mkdir -p /var/lib/hashwatch && chown hashwatch /var/lib/hashwatch  # state: the webhook receiver's store
USER hashwatch
WORKDIR /home/hashwatch
ENTRYPOINT ["hashwatch"]
