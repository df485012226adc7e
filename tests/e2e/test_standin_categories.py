"""The stand-in's derived MessageCategory agrees with vaultwatch's one failure classifier
(shared/src/domain/failure.rs), read from the Rust sources, not copied from them: the stand-in's
phrase table is the Rust one, in its order; every cause the classifier names has a category; and
each message AWS documents (tests/behaviour/classification.rs) gets the category its Rust cause
means. AWS does not publish which message belongs to which category (docs/aws-facts.md#messagecategory):
the pairing is the stand-in's presumption (standin/common.py), held to one rule here —
AccessDenied exactly for the access causes, InvalidParameters exactly for an invalid request,
MISCELLANEOUS for the rest. No server: the stand-in's functions are called directly."""

from __future__ import annotations

import itertools

import pytest

from harness import classifier
from harness.classifier import ClassifierDrift
from standin import paths
from standin.common import CAUSE_CATEGORIES, CAUSE_PHRASES, derive_category, message_cause

# The rule: which causes are denials (the role may not be passed, access, the vault access policy,
# a KMS key), which an invalid request.
ACCESS_CAUSES = {"Path(PassRole)", "Path(Access)", "Path(VaultAccessPolicy)", "Path(KmsKey)"}
INVALID_CAUSES = {"Invalid"}


def category_for(cause: str) -> str:
    if cause in ACCESS_CAUSES:
        return "AccessDenied"
    if cause in INVALID_CAUSES:
        return "InvalidParameters"
    return "MISCELLANEOUS"


def rust_first_match(message: str, table: list[tuple[str, str]]) -> str:
    """What classify() in failure.rs does with a message and no label: the first phrase of the
    table the ASCII-lower-cased message contains names the cause."""
    lower = "".join(c.lower() if c.isascii() else c for c in message)
    return next((cause for phrase, cause in table if phrase in lower), "Unrecognised")


def test_the_stand_ins_phrase_table_is_the_rust_classifiers_in_its_order():
    rust = classifier.rust_phrases()
    assert len(rust) > 50, "the reader found the whole table"
    # A difference names the phrases to add, drop or move in standin/common.py CAUSE_PHRASES.
    assert CAUSE_PHRASES == rust


def test_every_cause_the_classifier_names_has_the_category_the_rule_gives_it():
    causes = classifier.rust_causes()
    assert ACCESS_CAUSES | INVALID_CAUSES <= set(causes), "the rule names causes the classifier has"
    assert set(CAUSE_CATEGORIES) == set(causes), "a new cause needs a category in standin/common.py"
    assert {cause: CAUSE_CATEGORIES[cause] for cause in causes} == {cause: category_for(cause) for cause in causes}


def test_each_documented_message_gets_the_category_of_its_rust_cause():
    rows = classifier.rust_documented_rows()
    unlabelled = [row for row in rows if row.label is None]
    assert len(unlabelled) > 30, "the reader found the documented messages"
    got = [(row.message, message_cause(row.message), derive_category(row.message)) for row in unlabelled]
    assert got == [(row.message, row.cause, category_for(row.cause)) for row in unlabelled]


@pytest.mark.parametrize(("message", "category"), [
    # Denials, the Rust causes KmsKey, Access, VaultAccessPolicy, PassRole.
    ("KMS key is either disabled or pending deletion or access to KMS key is denied", "AccessDenied"),
    ("Your backup job failed as AWS Backup does not have permission to describe resource arn:aws:s3:::bucket.", "AccessDenied"),
    ("The source snapshot KMS key [arn:aws:kms:us-east-1:123456789012:key/abc] does not exist, is not enabled or you do not have permissions to access it.", "AccessDenied"),
    ("You are not authorized to perform this operation.", "AccessDenied"),
    ("Access Denied trying to call AWS Backup service", "AccessDenied"),
    ("User: arn:aws:sts::123456789012:assumed-role/r/fn is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/x", "AccessDenied"),
    # Not supported is the path's (Unsupported), not an invalid request; AWS publishes no category for it.
    ("Copy job from us-west-2 to us-east-1 cannot be initiated for RDS resources. Feature is not supported for provided resource type.", "MISCELLANEOUS"),
    ("UnsupportedOperation : Storage Gateway backup copies require a user-created backup vault and key at destination.", "MISCELLANEOUS"),
    ("Copy job failed: invalid parameter DeleteAfterDays", "InvalidParameters"),
    # The table's order decides: throttling comes before access and KMS, access before "try again".
    ("KMS throttling: Rate exceeded", "MISCELLANEOUS"),
    ("Access denied: rate exceeded", "MISCELLANEOUS"),
    ("Access denied. Try again later.", "AccessDenied"),
    ("Copy job failed.", "MISCELLANEOUS"),
    (None, "MISCELLANEOUS"),
])
def test_denials_unsupported_texts_and_the_tables_order(message, category):
    assert derive_category(message) == category
    assert category == category_for(rust_first_match(message or "", classifier.rust_phrases()))


def test_any_two_phrases_in_one_message_are_decided_by_the_rust_tables_order():
    rust = classifier.rust_phrases()
    for (first, _), (second, _) in itertools.permutations(rust, 2):
        message = f"Copy job failed: {first.upper()} ... {second}."
        assert message_cause(message) == rust_first_match(message, rust), message
        assert derive_category(message) == category_for(rust_first_match(message, rust)), message


def test_a_table_the_reader_cannot_follow_is_drift_not_fewer_checks():
    source = classifier.FAILURE_RS.read_text()
    assert '    ("kms", Rule::KmsKey),\n' in source
    with pytest.raises(ClassifierDrift, match="kms"):
        classifier.phrases(source.replace('    ("kms", Rule::KmsKey),\n', '    ("kms", Rule::Kms),\n'))
    rows = classifier.CLASSIFICATION_RS.read_text()
    marker = 'row("Rate exceeded", Transient, transient(Throttled),'
    assert marker in rows
    with pytest.raises(ClassifierDrift, match="Rate exceeded"):
        classifier.documented_rows(rows.replace(marker, 'row("Rate exceeded",\n            Transient, transient(Throttled),'))


# The texts the stand-in's copy paths fail copies with (standin.paths, docs/aws-facts.md#copy-paths),
# each with the path cause the Rust classifier must read in it.
@pytest.mark.parametrize(("message", "cause"), [
    (paths.NOT_SAME_ORGANIZATION, "Path(Organization)"),
    (paths.CROSS_ACCOUNT_OFF, "Path(Organization)"),
    (paths.ACCESS_DENIED, "Path(VaultAccessPolicy)"),
    (paths.ROLE_NOT_ASSUMABLE.format(role="arn:aws:iam::111111111111:role/copier"), "Path(Access)"),
    (paths.MANAGED_KEY, "Path(ManagedKey)"),
    (paths.KEY_UNUSABLE, "Path(KmsKey)"),
    (paths.KEY_MISSING, "Path(KmsKey)"),
    (paths.RETENTION, "Path(Retention)"),
    *[(paths.UNSUPPORTED.format(source="us-east-1", destination="us-west-2", type=kind), "Path(Unsupported)")
      for kind in paths.COPY_FEATURES],
])
def test_every_copy_path_failure_classifies_to_its_path_cause(message, cause):
    assert rust_first_match(message, classifier.rust_phrases()) == cause
    assert message_cause(message) == cause
    assert derive_category(message) == category_for(cause)
