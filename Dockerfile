# One image for every Serbero process; compose.yaml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY serbero ./serbero
COPY workers ./workers
COPY config/prompts ./config/prompts
RUN pip install --no-cache-dir . && useradd --system --home /app serbero
USER serbero
ENTRYPOINT ["serbero"]
CMD ["--help"]
