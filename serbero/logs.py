"""Structured logging: one logfmt line per record, `event key=value …`, to stderr.

Log calls pass a short event name as the message and ids in `extra`; never secrets, decrypted
messages or model prompts. The level is a plain level (`info`) or per-logger filters
(`serbero=debug,dramatiq=warning`), as SERBERO_LOG accepts in the original.
"""

from __future__ import annotations

import logging
import sys
import time

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
           "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR}


def _quote(value: object) -> str:
    text = str(value)
    if text and all(c.isalnum() or c in "-_.:/@+…" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [f"{stamp}.{int(record.msecs):03d}Z", record.levelname.lower(), record.name,
                 _quote(record.getMessage())]
        parts += [f"{k}={_quote(v)}" for k, v in record.__dict__.items()
                  if k not in _STANDARD and not k.startswith("_")]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def parse_level_spec(spec: str) -> tuple[int, dict[str, int]]:
    """`info` → (INFO, {}); `serbero=debug,nostr_sdk=info` → (INFO, {...}). Raises ValueError."""
    root, per_logger = logging.INFO, {}
    for part in filter(None, (p.strip() for p in spec.lower().split(","))):
        name, _, level = part.rpartition("=")
        if level not in _LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {', '.join(_LEVELS)}")
        if name:
            per_logger[name] = _LEVELS[level]
        else:
            root = _LEVELS[level]
    return root, per_logger


def setup(spec: str = "info") -> None:
    """Send every log record to the process's stderr as logfmt, replacing earlier handlers.

    The original stderr, not `sys.stderr`: dramatiq points a worker's `sys.stderr` at a pipe
    to its parent process, which costs both processes CPU per line; a line written straight to
    the inherited descriptor stays whole (it is far below the pipe's atomic-write size).
    """
    try:
        root_level, per_logger = parse_level_spec(spec)
    except ValueError:
        root_level, per_logger = logging.INFO, {}
    handler = logging.StreamHandler(sys.__stderr__ or sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(root_level)
    for name, level in per_logger.items():
        logging.getLogger(name).setLevel(level)
