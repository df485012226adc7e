"""The local stack the end-to-end tests, the demo and the benchmark run against: moto (SNS, SQS,
DynamoDB), the AWS Backup stand-in (`standin`), and the function binaries under a local Lambda
Runtime API, wired the way template.yaml wires them in AWS.

    config           the account, region, credentials and functions the stack stands for, and
                     Settings: how a stack is set up
    template         template.yaml as data (the subscription filter policies)
    schema           the tracking table as the Rust code and the template define it (attribute
                     names, key prefix, state ranks, the table), read from them, not copied
    events           the events Lambda hands a function (SNS, SQS, schedule, failure destination)
    loopback         the HTTP server base of every local server (runtime API, DynamoDB proxy, stand-in)
    lambda_runtime   LocalLambda: one function's binary under a local Lambda Runtime API; LambdaPool:
                     a function with several execution environments, for concurrent delivery
    dynamodb_faults  DynamoFaults: a proxy in front of moto's DynamoDB that fails chosen requests
    processes        Endpoints: moto, the stand-in, the proxy, started (a READY handshake each)
                     and stopped; their clients
    resources        the template's topics, queues and table, each function's environment, and
                     records written to the table as the event path would
    delivery         SNS, EventBridge and SQS delivery to the functions, as Lambda does it (one at a
                     time, or concurrently); settling the system
    sns_direct       DirectTopic: the stand-in's notifications straight to the subscriptions (filter
                     policies by moto's matcher), for a burst of them
    moto_server      moto's server on a port the OS picks, reporting it with a READY line
    moto_events      moto's EventBridge handing a rule's target the whole matched event, as AWS does
    lean_moto        moto's server without per-request costs that emulate nothing (the benchmark's)
    queries          what happened: alerts (taken or peeked), failure destination, tracking
                     table, copy jobs, metrics
    controls         StandIn: the stand-in's /_standin/ controls (AWS Backup's side of a story)
    stack            LocalAws, composed of the parts above (each given what it uses);
                     `python -m harness.stack` runs it

Imported as `harness` with `tests/` on the import path (pytest's `pythonpath`, PYTHONPATH in
scripts/demo and scripts/bench). This file imports nothing, so the stand-in's process can use
`harness.loopback` without loading the rest.
"""
