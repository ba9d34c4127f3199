"""Offline checks of the Terraform stacks.

Providers cannot be downloaded here, so `terraform validate` and `plan`
cannot run; these tests parse the HCL and assert what a deployment depends
on: runtime, architecture wiring, layer layout, handler, environment,
least-privilege IAM, the bucket's protections, log retention. Run them with
scripts/check-stacks.
"""

import os
import re
import unittest
import zipfile
from pathlib import Path

import hcl2
from hcl2 import SerializationOptions

STACKS = Path(__file__).resolve().parent.parent
REPO = STACKS.parent
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False)


def load(stack):
    """All blocks of a stack's .tf files, merged by kind."""
    merged = {}
    for path in sorted((STACKS / stack).glob("*.tf")):
        with open(path) as f:
            for kind, blocks in hcl2.load(f, serialization_options=OPTIONS).items():
                merged.setdefault(kind, []).extend(blocks)
    return merged


def named(doc, kind, type_name):
    """{name: body} of the blocks `kind "type_name" "name"`."""
    found = {}
    for block in doc.get(kind, []):
        for name, body in block.get(type_name, {}).items():
            found[name] = body
    return found


def variables(doc):
    return {name: body for block in doc.get("variable", []) for name, body in block.items()}


def locals_of(doc):
    return {k: v for block in doc.get("locals", []) for k, v in block.items()}


def statements(doc, document):
    return named(doc, "data", "aws_iam_policy_document")[document]["statement"]


def key_prefix_pattern(condition):
    """The regex of the shipper's key_prefix validation, as Python's re."""
    return re.compile(re.search(r'regex\("(.+)", var\.key_prefix\)', condition).group(1))


def allowed_actions(doc):
    """Every action an Allow statement of the stack's IAM documents grants."""
    return {action for body in named(doc, "data", "aws_iam_policy_document").values()
            for statement in body["statement"]
            if statement.get("effect", "Allow") == "Allow" and "principals" not in statement
            for action in statement["actions"]}


def only(blocks):
    assert len(blocks) == 1, blocks
    return next(iter(blocks.values()))


class Common:
    """What every stack must declare."""

    stack = None
    handler = None
    environment = None

    def setUp(self):
        self.doc = load(self.stack)
        self.function = only(named(self.doc, "resource", "aws_lambda_function"))

    def test_function_runs_on_provided_al2023_with_its_handler(self):
        self.assertEqual(self.function["runtime"], "provided.al2023")
        self.assertEqual(self.function["handler"], self.handler)

    def test_architecture_is_a_parameter_x86_64_by_default(self):
        architecture = variables(self.doc)["architecture"]
        self.assertEqual(architecture["default"], "x86_64")
        self.assertIn('"arm64"', architecture["validation"][0]["condition"])
        self.assertEqual(self.function["architectures"], ["${var.architecture}"])

    def test_sizing_and_retention_are_parameters_with_defaults(self):
        vars_ = variables(self.doc)
        for name, default in [("memory_size", 128), ("timeout", 10), ("log_retention_days", 14)]:
            self.assertEqual(vars_[name]["default"], default, name)
        self.assertEqual(self.function["memory_size"], "${var.memory_size}")
        self.assertEqual(self.function["timeout"], "${var.timeout}")
        self.assertEqual(self.function["function_name"], "${var.function_name}")
        group = only(named(self.doc, "resource", "aws_cloudwatch_log_group"))
        self.assertEqual(group["retention_in_days"], "${var.log_retention_days}")
        self.assertEqual(group["name"], "/aws/lambda/${var.function_name}")

    def test_environment_variables(self):
        env = self.function["environment"][0]["variables"]
        self.assertEqual(sorted(env), sorted(self.environment))

    def test_allow_statements_name_their_actions_and_resources(self):
        for document, body in named(self.doc, "data", "aws_iam_policy_document").items():
            for statement in body["statement"]:
                if statement.get("effect", "Allow") != "Allow" or "principals" in statement:
                    continue
                for action in statement["actions"]:
                    self.assertNotIn("*", action, f"{document}: {action}")
                for resource in statement["resources"]:
                    self.assertNotEqual(resource, "*", document)

    def test_logs_may_only_go_to_the_functions_own_group(self):
        allows = [s for doc in named(self.doc, "data", "aws_iam_policy_document").values()
                  for s in doc["statement"] if s.get("effect", "Allow") == "Allow"]
        logs = [s for s in allows if any(a.startswith("logs:") for a in s["actions"])]
        self.assertEqual(len(logs), 1)
        self.assertEqual(logs[0]["resources"], ["${aws_cloudwatch_log_group.function.arn}:*"])


class ExtensionStack(Common):
    extension = None

    def test_the_extension_is_a_layer_of_the_functions_architecture(self):
        layer = only(named(self.doc, "resource", "aws_lambda_layer_version"))
        self.assertEqual(layer["compatible_runtimes"], ["provided.al2023"])
        self.assertEqual(layer["compatible_architectures"], ["${var.architecture}"])
        self.assertEqual(self.function["layers"], ["${aws_lambda_layer_version.extension.arn}"])
        self.assertEqual(
            locals_of(self.doc)["layer_zip"],
            f"${{local.artifacts}}/layer/extensions/{self.extension}.zip",
        )

    def test_the_zips_it_uploads_are_where_scripts_package_writes_them(self):
        """Checked against a real scripts/package output when there is one."""
        deploy = REPO / "target" / "deploy" / "x86_64"
        if not deploy.exists():
            self.skipTest("no target/deploy/x86_64: run scripts/package")
        local = locals_of(self.doc)
        for key in ("layer_zip", "code_zip"):
            path = local[key].replace("${local.artifacts}", str(deploy))
            self.assertTrue(Path(path).exists(), path)
        with zipfile.ZipFile(local["layer_zip"].replace("${local.artifacts}", str(deploy))) as z:
            info = z.getinfo(f"extensions/{self.extension}")
            self.assertEqual((info.external_attr >> 16) & 0o777, 0o755, "the extension must be executable")


class LifecycleLogger(ExtensionStack, unittest.TestCase):
    stack = "lifecycle-logger"
    extension = "lifecycle-logger"
    # The hand-written runtime reads _HANDLER as file.function.
    handler = "function.handler"
    environment = ["LIFECYCLE_LOGGER_WORK_MS"]


class S3LogShipper(ExtensionStack, unittest.TestCase):
    stack = "s3-log-shipper"
    extension = "s3-log-shipper"
    handler = "function.handler"
    environment = ["S3_BUCKET_NAME", "S3_KEY_PREFIX"]

    def test_the_shipper_may_only_put_objects_under_its_prefix(self):
        s3 = [s for s in statements(self.doc, "function") if s["sid"] == "ShipLogsUnderThePrefix"]
        self.assertEqual(s3[0]["actions"], ["s3:PutObject"])
        self.assertEqual(s3[0]["resources"], ["${aws_s3_bucket.logs.arn}/${local.prefix}/*"])

    def test_the_bucket_is_private_encrypted_tls_only_expiring_and_removable(self):
        bucket = only(named(self.doc, "resource", "aws_s3_bucket"))
        self.assertTrue(bucket["force_destroy"])
        block = only(named(self.doc, "resource", "aws_s3_bucket_public_access_block"))
        for key in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
            self.assertTrue(block[key], key)
        sse = only(named(self.doc, "resource", "aws_s3_bucket_server_side_encryption_configuration"))
        self.assertEqual(sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"], "AES256")
        lifecycle = only(named(self.doc, "resource", "aws_s3_bucket_lifecycle_configuration"))
        self.assertEqual(lifecycle["rule"][0]["expiration"][0]["days"], "${var.expire_after_days}")
        tls = statements(self.doc, "tls_only")[0]
        self.assertEqual(tls["effect"], "Deny")
        self.assertEqual(tls["condition"][0]["variable"], "aws:SecureTransport")
        bucket_policy = named(self.doc, "resource", "aws_s3_bucket_policy")["tls_only"]
        self.assertEqual(bucket_policy["depends_on"], ["${aws_s3_bucket_public_access_block.logs}"])

    def test_the_key_prefix_is_refused_when_empty_or_slash_ended(self):
        (validation,) = variables(self.doc)["key_prefix"]["validation"]
        pattern = key_prefix_pattern(validation["condition"])
        for good in ("logs", "logs/prod", "a.b/c-d_e"):
            self.assertTrue(pattern.match(good), good)
        for bad in ("", "/", "logs/", "/logs", "logs//prod", "lo gs"):
            self.assertFalse(pattern.match(bad), repr(bad))

    def test_cloudwatch_logs_can_be_turned_off_and_are_on_by_default(self):
        self.assertFalse(variables(self.doc)["disable_cloudwatch_logs"]["default"])
        deny = statements(self.doc, "no_cloudwatch_logs")[0]
        self.assertEqual(deny["effect"], "Deny")
        self.assertEqual(sorted(deny["actions"]), ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])
        policy = named(self.doc, "resource", "aws_iam_role_policy")["no_cloudwatch_logs"]
        self.assertEqual(policy["count"], "${var.disable_cloudwatch_logs ? 1 : 0}")


class AppConfigReader(Common, unittest.TestCase):
    stack = "appconfig-reader"
    handler = "bootstrap"
    environment = ["APPCONFIG_PROFILE"]

    def test_the_agent_layer_is_chosen_per_region_and_architecture(self):
        arn = variables(self.doc)["appconfig_agent_layer_arn"]
        self.assertNotIn("default", arn, "no default: the ARN differs per region and architecture")
        self.assertEqual(self.function["layers"], ["${var.appconfig_agent_layer_arn}"])
        condition = self.function["lifecycle"][0]["precondition"][0]["condition"]
        self.assertIn("data.aws_region.current.name", condition)
        self.assertIn("local.agent_layer_name", condition)
        self.assertIn("AWS-AppConfig-Extension-Arm64", locals_of(self.doc)["agent_layer_name"])

    def test_the_reader_may_only_read_its_one_profile(self):
        read = [s for s in statements(self.doc, "function") if s["sid"] == "ReadTheOneProfile"][0]
        self.assertEqual(sorted(read["actions"]), ["appconfig:GetLatestConfiguration", "appconfig:StartConfigurationSession"])
        (resource,) = read["resources"]
        self.assertRegex(resource, r"application/\$\{aws_appconfig_application\.app\.id\}/environment/.+/configuration/.+")

    def test_the_configuration_is_deployed_with_the_functions_stack(self):
        for kind in ("aws_appconfig_application", "aws_appconfig_environment", "aws_appconfig_configuration_profile",
                     "aws_appconfig_hosted_configuration_version", "aws_appconfig_deployment_strategy",
                     "aws_appconfig_deployment"):
            self.assertEqual(len(named(self.doc, "resource", kind)), 1, kind)
        version = only(named(self.doc, "resource", "aws_appconfig_hosted_configuration_version"))
        self.assertEqual(version["content_type"], "application/json")
        self.assertEqual(variables(self.doc)["log_level"]["default"], "normal")


# Runtimes Lambda no longer accepts for new functions, or soon will not.
DEPRECATED = re.compile(
    r"provided\.al2(?!023)|\bgo1\.x\b|python3\.[0-8]\b|nodejs1[0-8]\.x|\bjava8\b|dotnetcore|ruby2\.\d"
)


class PartitionAwareArns(unittest.TestCase):
    """aws-cn and aws-us-gov are partitions of their own: an ARN written
    as arn:aws:... there matches nothing, so a deny silently does nothing
    and an allow denies. Hand-written ARNs take the stack's partition."""

    def test_no_stack_writes_the_aws_partition_by_hand(self):
        literal = re.compile(r"arn:aws:")
        for tool, suffixes in (("terraform", {".tf"}), ("sam", {".yaml"}), ("cdk/lib", {".ts"})):
            for path in (REPO / tool).rglob("*"):
                if path.suffix not in suffixes or "node_modules" in path.parts:
                    continue
                for number, line in enumerate(path.read_text().splitlines(), 1):
                    if line.strip().startswith(("#", "//")) or "AllowedPattern" in line or "arn:aws[" in line:
                        continue
                    self.assertIsNone(literal.search(line), f"{path}:{number}: {line.strip()}")

    def test_the_hand_written_arns_name_the_current_partition(self):
        shipper = statements(load("s3-log-shipper"), "no_cloudwatch_logs")[0]
        self.assertEqual(shipper["resources"], ["arn:${data.aws_partition.current.partition}:logs:*:*:*"])
        reader = statements(load("appconfig-reader"), "function")
        profile = next(s for s in reader if s.get("sid") == "ReadTheOneProfile")
        self.assertTrue(profile["resources"][0].startswith("arn:${data.aws_partition.current.partition}:appconfig:"))


class NoDeprecatedRuntimes(unittest.TestCase):
    def test_no_stack_names_a_deprecated_runtime(self):
        for tool in ("sam", "terraform", "cdk"):
            root = REPO / tool
            if not root.exists():
                continue
            for path in root.rglob("*"):
                if not path.is_file() or "node_modules" in path.parts or path.suffix not in {
                    ".tf", ".yaml", ".yml", ".json", ".ts", ".toml"
                }:
                    continue
                for number, line in enumerate(path.read_text().splitlines(), 1):
                    self.assertIsNone(DEPRECATED.search(line), f"{path}:{number}: {line.strip()}")


if __name__ == "__main__":
    unittest.main()
