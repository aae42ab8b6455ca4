"""The WSGI entry point: `gunicorn -c python:order_web.gunicorn_conf order_web.wsgi:app`."""

from order_web import create_app

app = create_app()
