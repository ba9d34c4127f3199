"""Offline checks of the SAM templates, and their parity with the Terraform
stacks: for each example both tools must declare the same runtime, handler,
architectures, layer layout, environment variables, sizing defaults and IAM
actions. Run with scripts/check-stacks (after `sam validate --lint`).
"""

import re
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


def sam_allowed_actions(function):
    actions = set()
    for policy in function["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if statement["Effect"] == "Allow":
                listed = statement["Action"]
                actions.update([listed] if isinstance(listed, str) else listed)
    return actions


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
        self.assertEqual(self.props["Architectures"], [{"Ref": "Architecture"}])
        self.assertEqual(self.doc["Parameters"]["Architecture"]["AllowedValues"], ["x86_64", "arm64"])

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
        self.assertEqual(params["Architecture"]["Default"], tf_variables["architecture"]["default"])
        for param, var in [("MemorySize", "memory_size"), ("Timeout", "timeout"),
                           ("LogRetentionDays", "log_retention_days")]:
            self.assertEqual(params[param]["Default"], tf_variables[var]["default"], param)
        self.assertEqual(sorted(self.props["Environment"]["Variables"]),
                         sorted(function["environment"][0]["variables"]))
        # SAM gives every function AWSLambdaBasicExecutionRole for its logs;
        # Terraform states the logs statement itself. The rest must match.
        tf_actions = {a for a in allowed_actions(self.tf) if not a.startswith("logs:")}
        self.assertEqual(sam_allowed_actions(self.function), tf_actions)


class ExtensionStack(Common):
    extension = None
    layer = None

    def test_the_extension_layer_is_built_by_make_into_extensions(self):
        layer = self.doc["Resources"][self.layer]
        self.assertEqual(layer["Metadata"]["BuildMethod"], "makefile")
        self.assertEqual(layer["Properties"]["CompatibleArchitectures"], [{"Ref": "Architecture"}])
        self.assertEqual(layer["Properties"]["CompatibleRuntimes"], ["provided.al2023"])
        self.assertEqual(layer["Properties"]["RetentionPolicy"], "Delete", "sam delete removes the layer")
        self.assertEqual(self.props["Layers"], [{"Ref": self.layer}])
        makefile = (SAM / self.stack / "Makefile").read_text()
        self.assertRegex(makefile, rf"build-{self.layer}:\n\t\$\(call extension_layer,{self.extension}\)")
        shared = (SAM / "layer.mk").read_text()
        self.assertIn("$(ARTIFACTS_DIR)/extensions/$(1)", shared)
        self.assertIn("chmod 755", shared)


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
        (statement,) = self.props["Policies"][0]["Statement"]
        self.assertEqual(statement["Action"], "s3:PutObject")
        self.assertEqual(statement["Resource"], {"Fn::Sub": "${LogBucket.Arn}/${KeyPrefix}/*"})

    def test_the_key_prefix_is_checked_with_terraforms_pattern(self):
        allowed = self.doc["Parameters"]["KeyPrefix"]["AllowedPattern"]
        (validation,) = variables(load("s3-log-shipper"))["key_prefix"]["validation"]
        self.assertEqual(re.compile(allowed), key_prefix_pattern(validation["condition"]))
        self.assertIsNone(re.match(allowed, "logs/"))

    def test_cloudwatch_logs_switch_is_off_by_default(self):
        self.assertEqual(self.doc["Parameters"]["DisableCloudWatchLogs"]["Default"], "false")
        condition, deny, _ = self.props["Policies"][1]["Fn::If"]
        self.assertEqual(condition, "NoCloudWatchLogs")
        self.assertEqual(deny["Statement"][0]["Effect"], "Deny")
        self.assertEqual(sorted(deny["Statement"][0]["Action"]),
                         ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])
        # The stack's partition: arn:aws: matches nothing in aws-cn or aws-us-gov.
        self.assertEqual(deny["Statement"][0]["Resource"], {"Fn::Sub": "arn:${AWS::Partition}:logs:*:*:*"})

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
        self.assertEqual(self.props["Layers"], [{"Ref": "AppConfigAgentLayerArn"}])

    def test_the_reader_may_only_read_its_one_profile(self):
        (statement,) = self.props["Policies"][0]["Statement"]
        self.assertEqual(sorted(statement["Action"]),
                         ["appconfig:GetLatestConfiguration", "appconfig:StartConfigurationSession"])
        self.assertIn("/configuration/${Profile}", statement["Resource"]["Fn::Sub"])


if __name__ == "__main__":
    unittest.main()
