"""deploy/plan.py: the dry run lists every stack, in order, with what it still needs."""

from deploy.plan import REQUIRED, plan
from deploy.stacks import STACKS

PARAMETERS = {
    "messaging": {"SenderDomain": "shop.example.com"},
    "edge": {"DomainName": "shop.example.com"},
}


def test_the_dry_run_lists_every_stack_in_order_with_what_it_needs() -> None:
    without = "\n".join(plan({}))
    assert "Still required: --parameter messaging.SenderDomain=..." in without
    lines = plan({key: dict(values) for key, values in PARAMETERS.items()})
    headers = [line for line in lines if line.startswith("==> ")]
    assert [h.split()[2] for h in headers] == [stack.name for stack in STACKS]
    text = "\n".join(lines)
    assert REQUIRED not in text
    assert "--parameter-overrides SenderDomain=shop.example.com" in text
    assert "OrdersTable" in text
    assert "[retained on delete]" in text
