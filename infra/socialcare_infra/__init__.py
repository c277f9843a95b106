"""socialcare's development infrastructure: the embedded local AWS stack and the CLI.

Modules: ``template`` (read template.yaml, resolve intrinsics), ``provision`` (create its
resources in moto), ``worker``/``invoke`` (functions in warm processes, the Lambda Invoke
API), ``gateway`` (the HTTP API), ``esm`` (SQS event sources, schedules), ``stack``
(``LocalStack``), ``cli`` (``socialcare``), ``demo``. See docs/local-stack.md.

Nothing is imported here on purpose: every function worker imports this package first, and
its cold start should not pay for moto and werkzeug.
"""
