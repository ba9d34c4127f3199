"""The CDK stacks, as synthesized into cdk.out, against the Terraform stacks:
for each example both declare the same runtime, handler, architectures,
layer layout, environment variables, sizing and retention defaults, and IAM
actions. Run by scripts/check-stacks after `cdk synth`.
"""

import json
import os
import unittest
from pathlib import Path

# Run from the repository root, as scripts/check-stacks does.
from terraform.tests.test_stacks import allowed_actions, load, named, only, variables

CDK = Path(__file__).resolve().parent.parent
STACKS = {"LifecycleLogger": "lifecycle-logger", "S3LogShipper": "s3-log-shipper", "AppConfigReader": "appconfig-reader"}


def synthesized(stack):
    return json.loads((CDK / "cdk.out" / f"{stack}.template.json").read_text())


def example_function(template):
    (function,) = [r["Properties"] for r in template["Resources"].values()
                   if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Runtime") == "provided.al2023"]
    return function


def cdk_allowed_actions(template):
    actions = set()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Allow":
                    listed = statement["Action"]
                    actions.update([listed] if isinstance(listed, str) else listed)
    return actions


@unittest.skipUnless((CDK / "cdk.out").exists(), "run cdk synth first")
class SameAsTerraform(unittest.TestCase):
    def test_each_example_is_the_same_in_both_tools(self):
        for stack, folder in STACKS.items():
            with self.subTest(stack):
                template, tf = synthesized(stack), load(folder)
                function = example_function(template)
                tf_function = only(named(tf, "resource", "aws_lambda_function"))
                tf_variables = variables(tf)
                self.assertEqual(function["Runtime"], tf_function["runtime"])
                self.assertEqual(function["Handler"], tf_function["handler"])
                self.assertEqual(function["Architectures"], [tf_variables["architecture"]["default"]])
                self.assertEqual(function["MemorySize"], tf_variables["memory_size"]["default"])
                self.assertEqual(function["Timeout"], tf_variables["timeout"]["default"])
                self.assertEqual(sorted(function["Environment"]["Variables"]),
                                 sorted(tf_function["environment"][0]["variables"]))
                (group,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
                self.assertEqual(group["RetentionInDays"], tf_variables["log_retention_days"]["default"])
                self.assertEqual(cdk_allowed_actions(template), allowed_actions(tf))
                layers = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
                for layer in layers:
                    self.assertEqual(layer["CompatibleRuntimes"], ["provided.al2023"])
                    self.assertEqual(layer["CompatibleArchitectures"], function["Architectures"])

    def test_the_layer_assets_hold_executable_extensions(self):
        for stack, extension in (("LifecycleLogger", "lifecycle-logger"), ("S3LogShipper", "s3-log-shipper")):
            with self.subTest(stack):
                assets = json.loads((CDK / "cdk.out" / f"{stack}.assets.json").read_text())["files"]
                paths = [CDK / "cdk.out" / a["source"]["path"] for a in assets.values()]
                found = [p / "extensions" / extension for p in paths if (p / "extensions" / extension).exists()]
                self.assertEqual(len(found), 1, paths)
                self.assertTrue(os.access(found[0], os.X_OK))


if __name__ == "__main__":
    unittest.main()
