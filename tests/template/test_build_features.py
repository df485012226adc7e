"""What `sam build` compiles into the functions. SAM's rust-cargolambda builder runs `cargo lambda build
--bin <Binary>` in the CodeUri folder, the workspace root here, and Cargo unifies the features of every
package a build selects: the functions must be built without the command's aws-config `sso` and the
tests' vaultwatch `test-util` (the workspace's default-members)."""

from __future__ import annotations

import re
import subprocess

import yaml

from harness.config import ROOT
from harness.template import CfnLoader


def features(package: str, *args: str) -> set[str]:
    """The features of `package` in a build at the root selecting what `args` select (Cargo's own
    resolution, read with `cargo tree`: nothing is compiled)."""
    tree = subprocess.run(["cargo", "tree", "--offline", "-e", "features", "-i", package, *args], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    return set(re.findall(rf'{package} feature "([\w-]+)"', tree))


def test_sam_builds_each_function_at_the_workspace_root_by_its_binary():
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    functions = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert len(functions) >= 5
    code_uri = template["Globals"]["Function"].get("CodeUri")
    for name, function in functions.items():
        assert function["Properties"].get("CodeUri", code_uri) == ".", name
        assert function["Metadata"]["BuildMethod"] == "rust-cargolambda", name
        assert function["Metadata"]["BuildProperties"]["Binary"], name


def test_the_functions_are_built_without_the_commands_and_the_tests_features():
    assert "sso" not in features("aws-config")
    assert "test-util" not in features("vaultwatch")
    # The check can fail: a build selecting every member has them.
    assert "sso" in features("aws-config", "--workspace")
    assert "test-util" in features("vaultwatch", "--workspace")
