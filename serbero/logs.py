"""Structured logging: one line per record, to stderr, as logfmt (`time level logger event
key=value …`) or, with SERBERO_LOG_FORMAT=json, as one JSON object.

Log calls pass a short event name as the message and ids in `extra`; never secrets, decrypted
messages or model prompts. The level is a plain level (`info`) or per-logger filters
(`serbero=debug,dramatiq=warning`), as SERBERO_LOG accepts in the original. A traceback is a
field of its record (`exc`), never lines of its own, so a log collector keeps it together.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
           "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR}


def _quote(value: object) -> str:
    text = str(value)
    if text and all(c.isalnum() or c in "-_.:/@+…" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _stamp(record: logging.LogRecord) -> str:
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z")


def _fields(formatter: logging.Formatter, record: logging.LogRecord) -> dict[str, object]:
    """The record's `extra` values, then its traceback (`exc`) and stack (`stack`) if any."""
    fields: dict[str, object] = {k: v for k, v in record.__dict__.items()
                                 if k not in _STANDARD and not k.startswith("_")}
    if record.exc_info:
        fields["exc"] = formatter.formatException(record.exc_info)
    if record.stack_info:
        fields["stack"] = formatter.formatStack(record.stack_info)
    return fields


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [_stamp(record), record.levelname.lower(), record.name,
                 _quote(record.getMessage())]
        parts += [f"{k}={_quote(v)}" for k, v in _fields(self, record).items()]
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: `time`, `level`, `logger`, `event`, then the extras."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {"time": _stamp(record), "level": record.levelname.lower(),
                                  "logger": record.name, "event": record.getMessage()}
        for key, value in _fields(self, record).items():
            doc.setdefault(key, value)
        return json.dumps(doc, ensure_ascii=False, default=str)


FORMATTERS: dict[str, type[logging.Formatter]] = {"logfmt": LogfmtFormatter,
                                                   "json": JsonFormatter}


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


def setup(spec: str = "info", fmt: str = "logfmt", stream: TextIO | None = None) -> None:
    """Send every log record to the process's stderr (or `stream`, e.g. the demo's log file)
    as `fmt` (logfmt or json), replacing earlier handlers; an exception nothing caught becomes
    one error record too.

    The original stderr, not `sys.stderr`: dramatiq points a worker's `sys.stderr` at a pipe
    to its parent process, which costs both processes CPU per line; a line written straight to
    the inherited descriptor stays whole (it is far below the pipe's atomic-write size).
    """
    try:
        root_level, per_logger = parse_level_spec(spec)
    except ValueError:
        root_level, per_logger = logging.INFO, {}
    handler = logging.StreamHandler(stream or sys.__stderr__ or sys.stderr)
    handler.setFormatter(FORMATTERS.get(fmt, LogfmtFormatter)())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(root_level)
    for name, level in per_logger.items():
        logging.getLogger(name).setLevel(level)
    sys.excepthook = _log_uncaught
    if threading.excepthook is threading.__excepthook__:  # leave a hook someone installed
        threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], exc: BaseException,
                  tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("serbero").critical("uncaught_exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    logging.getLogger("serbero").error(
        "thread_crashed", exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        extra={"thread": args.thread.name if args.thread else "-"})
