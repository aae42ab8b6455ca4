"""The WSGI entry point gunicorn serves: `gunicorn -c gunicorn.conf.py order_web.wsgi:app`."""

from order_web import create_app

app = create_app()
