"""The local API Gateway: routes as API Gateway routes, IAM (SigV4) authorization for real.

`chalice local` authorizes every request to an IAM-protected route; this gateway verifies
each request's signature against credentials the local IAM issued at start, evaluates the
caller's IAM policies for execute-api:Invoke on the route's ARN, and only then invokes the
Chalice app with the Lambda proxy event API Gateway would send.
"""
