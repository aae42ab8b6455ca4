"""The cancellation window both tiers apply: the functions judge a cancel by it
(chalicelib.cancellation), the storefront offers the cancel button and its links for it.

The one default; a deployment sets its own value once, in playbooks/group_vars/all.yml
(order_pipeline_cancellation_window_hours), which the web hosts' role and deploy/stage_config.py
both read, so the two tiers' CANCELLATION_WINDOW_HOURS cannot differ.
"""

CANCELLATION_WINDOW_VARIABLE = "CANCELLATION_WINDOW_HOURS"
DEFAULT_CANCELLATION_WINDOW_HOURS = 24
