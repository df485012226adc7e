"""The local stack the end-to-end tests, the demo and the benchmark run against: moto (SNS, SQS,
DynamoDB), the AWS Backup stand-in (`standin`), and the function binaries under a local Lambda
Runtime API, wired the way template.yaml wires them in AWS.

    config           the account, region, credentials and functions the stack stands for
    template         template.yaml as data (the subscription filter policies)
    events           the events Lambda hands a function (SNS, SQS, schedule, failure destination)
    loopback         the HTTP server base of every local server (runtime API, DynamoDB proxy, stand-in)
    lambda_runtime   LocalLambda: one function's binary under a local Lambda Runtime API; LambdaPool:
                     a function with several execution environments, for concurrent delivery
    dynamodb_faults  DynamoFaults: a proxy in front of moto's DynamoDB that fails chosen requests
    processes        starting and stopping moto, the stand-in, the proxy and the functions
    resources        the template's topics, queues and table, and each function's environment
    delivery         SNS and SQS delivery to the functions, as Lambda does it (one at a time, or
                     concurrently); settling the system
    sns_direct       DirectTopic: the stand-in's notifications straight to the subscriptions (filter
                     policies by moto's matcher), for a burst of them
    lean_moto        moto's server without per-request costs that emulate nothing (the benchmark's)
    queries          what happened: alerts, failure destination, tracking table, copy jobs
    controls         the stand-in's /_standin/ controls (AWS Backup's side of a story)
    stack            LocalStack, composed of the parts above; `python -m harness.stack` runs it

Imported as `harness` with `tests/` on the import path (pytest's `pythonpath`, PYTHONPATH in
scripts/demo and scripts/bench). This file imports nothing, so the stand-in's process can use
`harness.loopback` without loading the rest.
"""
