#!/bin/bash
# Run once by the influxdb image's entrypoint, after `influx setup` created the org and
# bucket `hashwatch` (docker-compose.yml, DOCKER_INFLUXDB_INIT_*), while the temporary
# setup server runs. It maps InfluxQL's database "hashwatch", retention policy "autogen",
# to that bucket, as the default policy: Grafana's InfluxDB datasource (InfluxQL,
# database hashwatch) and any 1.x client then query the bucket through /query.
# InfluxDB 2.7 also offers a read-only "virtual" mapping of the same name; an explicit
# one takes precedence and shows in `influx v1 dbrp list`. docs/docker.md, "InfluxDB".
set -euo pipefail
influx v1 dbrp create \
  --org "${DOCKER_INFLUXDB_INIT_ORG}" \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db hashwatch \
  --rp autogen \
  --default
