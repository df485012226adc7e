"""moto's EventBridge, delivering a matched event to its target as AWS does.

moto matches an event against a rule's pattern (its own pattern matcher: what the tests rely on),
then renders what the target receives through its input-transformer code, which (moto 5.1.22)
imports `jsonpath_ng` (an optional dependency) even when a target has no InputTransformer, and whose
default template leaves the event's `account` out. Without an InputTransformer, EventBridge hands
a target the whole event, envelope and detail ("Matched events – EventBridge sends the entire
original source event to the target. This is the default.", EventBridge User Guide, *Configure
target input*): so here, for a target without one, the event as moto matched it, its nine
envelope fields as AWS's events have them (docs/aws-facts.md#eventbridge-feed). A target with an
InputTransformer still goes through moto's own code. Applied on import (harness.moto_server)."""

from __future__ import annotations

import copy

from moto.events import utils

# The top-level fields of an event as EventBridge delivers it (AWS Backup's examples have these nine).
ENVELOPE = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")

_moto_parse = utils.EventTemplateParser.parse


def _parse(input_template, input_paths_map, event):
    if input_template or input_paths_map:
        return _moto_parse(input_template, input_paths_map, event)
    return {field: copy.deepcopy(event[field]) for field in ENVELOPE}


utils.EventTemplateParser.parse = staticmethod(_parse)
