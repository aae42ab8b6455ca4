"""gunicorn settings for the web tier; every value can be overridden from the environment.

The app is I/O-bound: a request spends most of its time waiting on SNS or DynamoDB. So each
worker runs threads (gthread) that overlap those waits, and there are as many worker
processes as cores, for CPU parallelism and so one crashed process does not take the host
down. Orders in flight together in one worker share an SNS call (order_web.publisher's
group commit), so more threads mean fuller batches: on a 2-core host (bench/), 16 threads
per worker took about 1.5x the orders per second of 8.
"""

import multiprocessing
import os

bind = os.environ.get("ORDER_WEB_BIND", "127.0.0.1:8080")
worker_class = "gthread"
workers = int(os.environ.get("ORDER_WEB_WORKERS", max(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("ORDER_WEB_THREADS", 16))

# Requests are short; a worker stuck this long is restarted.
timeout = 30
# On SIGTERM (systemd stop, instance refresh) finish in-flight requests first; this stays
# under the target group's deregistration delay.
graceful_timeout = 25
# Longer than the ALB's 60 s idle timeout, so the ALB, not gunicorn, closes idle
# connections (otherwise the ALB can reuse a connection gunicorn just closed: a 502).
keepalive = 75

# The ALB is the only client (its security group admits nothing else), and its addresses
# change: trust X-Forwarded-* from the addresses the deployment names.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# gunicorn 27 opens a control socket; under systemd's ProtectSystem=strict only the
# RuntimeDirectory is writable, so the unit points this there.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "/tmp/order-web-gunicorn.ctl")  # noqa: S108

accesslog = "-"
errorlog = "-"
# The access line's message; its fields (path, status, correlation_id, ...) are written as
# keys of the JSON line by order_web.logs.AccessJsonFormatter, in the Lambda functions' dialect.
access_log_format = "%(m)s %(U)s %(s)s"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Any logger's line written during a request (the app's, botocore's) gets its ids.
        "request": {"()": "order_web.logs.RequestContext"},
    },
    "formatters": {
        "json": {"()": "order_web.logs.JsonFormatter"},
        "access": {"()": "order_web.logs.AccessJsonFormatter"},
    },
    "handlers": {
        "error": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request"],
            "stream": "ext://sys.stderr",
        },
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["error"], "level": "INFO"},
}
