"""chalicelib/access.py, the one table of routes and permissions, against app.py's routes.

How the packaged template makes API Gateway enforce it is in tests/system/test_package.py;
how the local gateway does, in tests/unit/test_local_gateway.py.
"""

from chalice.app import IAMAuthorizer

from app import app
from chalicelib.access import ROUTES, Permission, policy_document

# A stage's ARN as API Gateway names it: api id, then stage.
STAND_IN_API_ARN = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/api"


def test_the_apps_routes_are_the_access_tables_routes() -> None:
    declared = {(method, path) for path, methods in app.routes.items() for method in methods}
    assert declared == {(route.method, route.path) for route in ROUTES}
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            assert isinstance(entry.authorizer, IAMAuthorizer), f"{method} {path}"


def test_every_route_is_granted_by_exactly_one_permission() -> None:
    granted: dict[str, list[Permission]] = {}
    for permission in Permission:
        (statement,) = policy_document(permission, STAND_IN_API_ARN)["Statement"]
        for resource in statement["Resource"]:
            granted.setdefault(resource, []).append(permission)
    assert granted == {
        route.invoke_resource(STAND_IN_API_ARN): [route.permission] for route in ROUTES
    }
