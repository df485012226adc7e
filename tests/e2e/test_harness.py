"""The harness's own promises: how it starts its servers, and the facts it shares with the Rust
code (checked against the Rust source, not copied from it)."""

import sys

import pytest

from harness import schema
from harness.processes import start_server
from harness.schema import JOB_RS, SchemaDrift, copy_job_states
from standin import backup_model
from standin.common import COPY_STATES, TERMINAL


def test_a_server_reports_the_port_it_listens_on_or_fails_to_start():
    process, (port,) = start_server([sys.executable, "-c", "print('READY 4711', flush=True)"], "a stub")
    process.wait()
    assert port == 4711
    with pytest.raises(RuntimeError, match="a stub failed to start: 'Traceback"):
        start_server([sys.executable, "-c", "raise SystemExit(__import__('sys').stdout.write('Traceback ...'))"], "a stub")


def test_the_copy_job_states_and_their_ranks_are_the_rust_enums():
    """Read from CopyJobState (shared/src/domain/job.rs): AWS's states, each with its rank, the
    terminal ones sharing the top rank, the failed ones among them. The stand-in's states and
    terminal states agree with them and with AWS's model."""
    states = schema.states()
    assert set(states) == set(backup_model.enum_values("CopyJobState")) == set(COPY_STATES)
    ranks = {state: schema.state_rank(state) for state in states}
    assert ranks["CREATED"] < ranks["RUNNING"] < min(ranks[s] for s in TERMINAL)
    assert {s for s in states if ranks[s] == max(ranks.values())} == TERMINAL
    assert {s for s in states if schema.has_failed(s)} == {"FAILED", "PARTIAL"} <= TERMINAL


def test_a_state_the_reader_cannot_rank_is_drift_not_a_guess():
    source = JOB_RS.read_text()
    assert "Self::Completed | Self::Failed | Self::Partial => 2" in source
    without = source.replace("Self::Completed | Self::Failed | Self::Partial => 2", "Self::Completed | Self::Failed => 2")
    with pytest.raises(SchemaDrift, match="Partial"):
        copy_job_states(without)


def test_what_the_harness_writes_is_named_by_the_rust_schema():
    """Every attribute of a record the harness seeds is one schema.rs names, its key is copy_key's,
    and a failed or partial job's failure is handled as the retrier leaves it."""
    named = set(vars(schema.attributes()).values()) | set(vars(schema.copy_attributes()).values())
    job = {"CopyJobId": "7B2C", "SourceRecoveryPointArn": "rp", "SourceBackupVaultArn": "src", "DestinationBackupVaultArn": "dst",
           "DestinationRecoveryPointArn": "copy", "ResourceArn": "vol", "ResourceType": "EBS"}
    copy = schema.copy_attributes()
    for state in schema.states():
        item = schema.tracked_item({**job, "State": state})
        assert set(item) <= named, set(item) - named
        assert item[schema.attributes().PK] == {"S": "copy#7B2C"}
        assert item[copy.STATE_RANK] == {"N": str(schema.state_rank(state))}
        assert (copy.FAILURE_CLAIM in item) == (state in ("FAILED", "PARTIAL"))


def test_the_tracking_table_is_the_templates_keyed_as_the_rust_code_reads_it():
    table = schema.table_definition()
    assert table["KeySchema"] == [{"AttributeName": schema.attributes().PK, "KeyType": "HASH"}]
    index, key = schema.recovery_point_index()
    copy = schema.copy_attributes()
    assert key == copy.SOURCE_RECOVERY_POINT_ARN
    (projection,) = [i["Projection"] for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == index]
    assert set(projection["NonKeyAttributes"]) <= set(vars(copy).values())
    assert {copy.DESTINATION_VAULT_ARN, copy.STATE} <= set(projection["NonKeyAttributes"]), "what copies_of reads"
