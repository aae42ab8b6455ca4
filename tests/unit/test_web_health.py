"""order_web/health.py: the load balancer asks liveness, the boot waits for readiness.

The checks answered by the app are in tests/functional/test_web_health.py.
"""

from order_web import health
from tests import ROOT
from tests.cfn import of_type, templates

PLAYBOOKS = ROOT / "playbooks"


def test_the_target_group_asks_liveness_and_the_boot_waits_for_readiness() -> None:
    (group,) = of_type(templates()["edge"], "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert group["Properties"]["HealthCheckPath"] == health.LIVENESS_PATH
    verify = (PLAYBOOKS / "roles" / "order_web" / "tasks" / "verify.yml").read_text()
    assert f"/{{{{ order_web_port }}}}{health.READINESS_PATH}" in verify.replace(":", "/")
