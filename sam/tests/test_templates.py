"""Offline checks of the SAM templates, and their parity with the Terraform
stacks: for each example both tools must declare the same runtime, handler,
architectures, layer layout, environment variables, sizing defaults and IAM
actions. Run with scripts/check-stacks (after `sam validate --lint`).
"""

import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml

# Run from the repository root, as scripts/check-stacks does.
from terraform.tests.test_stacks import allowed_actions, key_prefix_pattern, load, named, only, variables

SAM = Path(__file__).resolve().parent.parent


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, …) as their long form."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def template(stack):
    return yaml.load((SAM / stack / "template.yaml").read_text(), Loader=CfnLoader)


def of_type(doc, kind):
    return {k: v for k, v in doc["Resources"].items() if v["Type"] == kind}


ARCHITECTURE = {"Fn::FindInMap": ["Build", "Target", "Architecture"]}


def role_statements(doc):
    """The statements of the function role's inline policies, the
    conditional ones (an Fn::If) left out."""
    role = doc["Resources"]["FunctionRole"]["Properties"]
    return [statement for policy in role["Policies"] if "PolicyDocument" in policy
            for statement in policy["PolicyDocument"]["Statement"]]


def sam_allowed_actions(doc):
    actions = set()
    for statement in role_statements(doc):
        if statement["Effect"] == "Allow":
            listed = statement["Action"]
            actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def make_dry_run(stack, layer, architecture):
    """What `make build-<layer>` would run, in a copy of the stack whose
    template chooses the given architecture."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp, "sam", stack)
        shutil.copytree(SAM / stack, copy, ignore=shutil.ignore_patterns(".aws-sam"))
        shutil.copy(SAM / "layer.mk", copy.parent / "layer.mk")
        template_path = copy / "template.yaml"
        template_path.write_text(template_path.read_text().replace(
            "      Architecture: x86_64", f"      Architecture: {architecture}"))
        return subprocess.run(["make", "-n", f"build-{layer}", f"ARTIFACTS_DIR={tmp}/out"], cwd=copy,
                              capture_output=True, text=True, check=True).stdout


class Common:
    stack = None
    handler = None
    binary = None

    def setUp(self):
        self.doc = template(self.stack)
        (self.function,) = of_type(self.doc, "AWS::Serverless::Function").values()
        self.props = self.function["Properties"]
        self.tf = load(self.stack)

    def test_function_is_built_by_cargo_lambda_for_provided_al2023(self):
        self.assertEqual(self.function["Metadata"]["BuildMethod"], "rust-cargolambda")
        self.assertEqual(self.function["Metadata"]["BuildProperties"]["Binary"], self.binary)
        self.assertEqual(self.props["Runtime"], "provided.al2023")
        self.assertEqual(self.props["Handler"], self.handler)
        self.assertEqual(self.props["Architectures"], [ARCHITECTURE])
        self.assertEqual(self.doc["Mappings"]["Build"]["Target"]["Architecture"], "x86_64")
        self.assertNotIn("Architecture", self.doc["Parameters"], "a deploy must not choose another than the build")

    def test_every_name_derives_from_the_stack_name(self):
        self.assertEqual(self.props["FunctionName"], {"Ref": "AWS::StackName"})
        (group,) = of_type(self.doc, "AWS::Logs::LogGroup").values()
        self.assertEqual(group["Properties"]["LogGroupName"], {"Fn::Sub": "/aws/lambda/${AWS::StackName}"})
        # Account-wide and global names are left to CloudFormation, which
        # makes them unique to the stack.
        for resource in self.doc["Resources"].values():
            for key in ("RoleName", "BucketName"):
                self.assertNotIn(key, resource.get("Properties", {}))
        self.assertNotIn("FunctionName", self.doc["Parameters"], "the stack name is the one name to choose")
        for resource in of_type(self.doc, "AWS::AppConfig::Application").values():
            self.assertEqual(resource["Properties"]["Name"], {"Fn::Sub": "${AWS::StackName}-${ApplicationName}"})

    def test_the_role_may_write_to_its_own_log_group_only(self):
        self.assertEqual(self.props["Role"], {"Fn::GetAtt": "FunctionRole.Arn"})
        self.assertNotIn("Policies", self.props, "SAM's default role would add AWSLambdaBasicExecutionRole")
        self.assertNotIn("ManagedPolicyArns", self.doc["Resources"]["FunctionRole"]["Properties"])
        logs = [s for s in role_statements(self.doc) if s["Effect"] == "Allow"
                and any(a.startswith("logs:") for a in s["Action"])]
        self.assertEqual(len(logs), 1)
        self.assertEqual(sorted(logs[0]["Action"]), ["logs:CreateLogStream", "logs:PutLogEvents"])
        self.assertEqual(logs[0]["Resource"], {"Fn::GetAtt": "LogGroup.Arn"})

    def test_log_group_has_retention(self):
        (group,) = of_type(self.doc, "AWS::Logs::LogGroup").values()
        self.assertEqual(group["Properties"]["RetentionInDays"], {"Ref": "LogRetentionDays"})
        self.assertEqual(self.props["LoggingConfig"]["LogGroup"], {"Ref": "LogGroup"})

    def test_same_as_terraform(self):
        function = only(named(self.tf, "resource", "aws_lambda_function"))
        tf_variables = variables(self.tf)
        params = self.doc["Parameters"]
        self.assertEqual(self.props["Runtime"], function["runtime"])
        self.assertEqual(self.props["Handler"], function["handler"])
        self.assertEqual(self.doc["Mappings"]["Build"]["Target"]["Architecture"],
                         tf_variables["architecture"]["default"])
        for param, var in [("MemorySize", "memory_size"), ("Timeout", "timeout"),
                           ("LogRetentionDays", "log_retention_days")]:
            self.assertEqual(params[param]["Default"], tf_variables[var]["default"], param)
        self.assertEqual(sorted(self.props["Environment"]["Variables"]),
                         sorted(function["environment"][0]["variables"]))
        # Every action, the logs ones included.
        self.assertEqual(sam_allowed_actions(self.doc), allowed_actions(self.tf))


class ExtensionStack(Common):
    extension = None
    layer = None

    def test_the_extension_layer_is_built_by_make_into_extensions(self):
        layer = self.doc["Resources"][self.layer]
        self.assertEqual(layer["Metadata"]["BuildMethod"], "makefile")
        self.assertEqual(layer["Properties"]["CompatibleArchitectures"], [ARCHITECTURE])
        self.assertEqual(layer["Properties"]["CompatibleRuntimes"], ["provided.al2023"])
        self.assertEqual(layer["Properties"]["RetentionPolicy"], "Delete", "sam delete removes the layer")
        self.assertEqual(self.props["Layers"], [{"Ref": self.layer}])
        makefile = (SAM / self.stack / "Makefile").read_text()
        self.assertRegex(makefile, rf"build-{self.layer}:\n\t\$\(call extension_layer,{self.extension}\)")
        shared = (SAM / "layer.mk").read_text()
        self.assertIn("$(ARTIFACTS_DIR)/extensions/$(1)", shared)
        self.assertIn("chmod 755", shared)

    def test_the_layer_is_built_for_the_templates_architecture(self):
        self.assertIn("--target x86_64-unknown-linux-gnu.2.26", make_dry_run(self.stack, self.layer, "x86_64"))
        self.assertIn("--target aarch64-unknown-linux-gnu.2.26", make_dry_run(self.stack, self.layer, "arm64"))


class LifecycleLogger(ExtensionStack, unittest.TestCase):
    stack = "lifecycle-logger"
    extension = "lifecycle-logger"
    layer = "LifecycleLoggerLayer"
    binary = "bootstrap"
    handler = "function.handler"


class S3LogShipper(ExtensionStack, unittest.TestCase):
    stack = "s3-log-shipper"
    extension = "s3-log-shipper"
    layer = "ShipperLayer"
    binary = "bootstrap"
    handler = "function.handler"

    def test_the_shipper_may_only_put_objects_under_its_prefix(self):
        (statement,) = [s for s in role_statements(self.doc) if s.get("Sid") == "ShipLogsUnderThePrefix"]
        self.assertEqual(statement["Action"], "s3:PutObject")
        self.assertEqual(statement["Resource"], {"Fn::Sub": "${LogBucket.Arn}/${KeyPrefix}/*"})

    def test_the_key_prefix_is_checked_with_terraforms_pattern(self):
        allowed = self.doc["Parameters"]["KeyPrefix"]["AllowedPattern"]
        (validation,) = variables(load("s3-log-shipper"))["key_prefix"]["validation"]
        self.assertEqual(re.compile(allowed), key_prefix_pattern(validation["condition"]))
        self.assertIsNone(re.match(allowed, "logs/"))

    def test_cloudwatch_logs_switch_is_off_by_default(self):
        self.assertEqual(self.doc["Parameters"]["DisableCloudWatchLogs"]["Default"], "false")
        (switch,) = [p["Fn::If"] for p in self.doc["Resources"]["FunctionRole"]["Properties"]["Policies"]
                     if "Fn::If" in p]
        condition, deny, _ = switch
        self.assertEqual(condition, "NoCloudWatchLogs")
        (statement,) = deny["PolicyDocument"]["Statement"]
        self.assertEqual(statement["Effect"], "Deny")
        self.assertEqual(sorted(statement["Action"]),
                         ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])
        # The stack's partition: arn:aws: matches nothing in aws-cn or aws-us-gov.
        self.assertEqual(statement["Resource"], {"Fn::Sub": "arn:${AWS::Partition}:logs:*:*:*"})

    def test_the_bucket_is_private_encrypted_tls_only_and_expiring(self):
        bucket = self.doc["Resources"]["LogBucket"]["Properties"]
        self.assertTrue(all(bucket["PublicAccessBlockConfiguration"].values()))
        self.assertEqual(bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                         ["ServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
        self.assertEqual(bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"], {"Ref": "ExpireAfterDays"})
        policy = self.doc["Resources"]["LogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        self.assertEqual((policy["Effect"], policy["Condition"]["Bool"]["aws:SecureTransport"]), ("Deny", "false"))


class AppConfigReader(Common, unittest.TestCase):
    stack = "appconfig-reader"
    binary = "appconfig-reader"
    handler = "bootstrap"

    def test_the_agent_layer_is_a_required_parameter_checked_by_pattern(self):
        param = self.doc["Parameters"]["AppConfigAgentLayerArn"]
        self.assertNotIn("Default", param)
        pattern = re.compile(param["AllowedPattern"])
        self.assertTrue(pattern.match("arn:aws:lambda:eu-west-1:434848589818:layer:AWS-AppConfig-Extension:110"))
        self.assertTrue(pattern.match("arn:aws:lambda:eu-west-1:434848589818:layer:AWS-AppConfig-Extension-Arm64:43"))
        self.assertFalse(pattern.match("arn:aws:lambda:eu-west-1:123456789012:layer:my-layer:1"))

    def test_the_agent_layer_is_this_regions_and_this_architectures(self):
        (layer,) = self.props["Layers"]
        arn, values = layer["Fn::Sub"]
        self.assertEqual(arn, "arn:${AWS::Partition}:lambda:${AWS::Region}:${Publisher}:layer:${Name}:${Version}")
        self.assertEqual(values["Name"], {"Fn::If": ["OnArm64", "AWS-AppConfig-Extension-Arm64", "AWS-AppConfig-Extension"]})
        self.assertEqual(self.doc["Conditions"]["OnArm64"], {"Fn::Equals": [ARCHITECTURE, "arm64"]})
        # From the given ARN, the publisher's account (field 4) and the version (field 7).
        split = {"Fn::Split": [":", {"Ref": "AppConfigAgentLayerArn"}]}
        self.assertEqual(values["Publisher"], {"Fn::Select": [4, split]})
        self.assertEqual(values["Version"], {"Fn::Select": [7, split]})

    def test_deletion_protection_does_not_hold_the_stack(self):
        for name in ("Environment", "Profile"):
            self.assertEqual(self.doc["Resources"][name]["Properties"]["DeletionProtectionCheck"], "BYPASS", name)

    def test_the_reader_may_only_read_its_one_profile(self):
        (statement,) = [s for s in role_statements(self.doc) if s.get("Sid") == "ReadTheOneProfile"]
        self.assertEqual(sorted(statement["Action"]),
                         ["appconfig:GetLatestConfiguration", "appconfig:StartConfigurationSession"])
        self.assertIn("/configuration/${Profile}", statement["Resource"]["Fn::Sub"])


if __name__ == "__main__":
    unittest.main()
