FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hashwatch ./hashwatch
COPY exporters ./exporters
COPY simulator ./simulator
RUN pip install --no-cache-dir . && useradd --system hashwatch
USER hashwatch
ENTRYPOINT ["hashwatch"]
