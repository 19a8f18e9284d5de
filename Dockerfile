# One image for every Serbero process; compose.yaml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
# config/ holds the sample that serbero/data/ links to (shipped as package data) and the prompt
# bundle, whose default paths are config/prompts/… from the working directory
COPY config ./config
COPY serbero ./serbero
COPY serbero_workers ./serbero_workers
RUN pip install --no-cache-dir . && useradd --system --home /app serbero
USER serbero
ENTRYPOINT ["serbero"]
CMD ["--help"]
