"""What the stacks' own Terraform tests cannot check.

Each stack's tests/*.tftest.hcl (run by `terraform test` with a mock
provider) asserts what it plans: runtime, architecture wiring, names,
least-privilege IAM, the bucket's protections. This file parses the HCL for
what spans the tools (no hand-written partition, no deprecated runtime in
any of the three) or is about how the configuration is written, and holds
the loader the SAM and CDK parity tests compare Terraform with. Run with
scripts/check-stacks.
"""

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


class Structure(unittest.TestCase):
    """What Terraform's own tests (each stack's tests/*.tftest.hcl) cannot
    say: how the configuration is written rather than what it plans."""

    def test_the_bucket_policy_waits_for_the_public_access_block(self):
        # S3 refuses a bucket policy while the public access block is being set.
        policy = named(load("s3-log-shipper"), "resource", "aws_s3_bucket_policy")["tls_only"]
        self.assertEqual(policy["depends_on"], ["${aws_s3_bucket_public_access_block.logs}"])

    def test_every_stack_has_its_own_tests_and_lock_file(self):
        for stack in ("lifecycle-logger", "s3-log-shipper", "appconfig-reader"):
            self.assertTrue(list((STACKS / stack / "tests").glob("*.tftest.hcl")), stack)
            lock = (STACKS / stack / ".terraform.lock.hcl").read_text()
            self.assertIn('provider "registry.terraform.io/hashicorp/aws"', lock, stack)
            # zh: hashes cover every platform's package, not only this machine's.
            self.assertGreater(lock.count('"zh:'), 10, stack)


class PackagedZips(unittest.TestCase):
    """The zips the stacks upload are where scripts/package writes them:
    checked against a real scripts/package output when there is one."""

    def test_the_zips_exist_with_executable_extensions(self):
        deploy = REPO / "target" / "deploy" / "x86_64"
        if not deploy.exists():
            self.skipTest("no target/deploy/x86_64: run scripts/package")
        for stack, extension in (("lifecycle-logger", "lifecycle-logger"), ("s3-log-shipper", "s3-log-shipper"),
                                 ("appconfig-reader", None)):
            local = locals_of(load(stack))
            for key in ("layer_zip", "code_zip"):
                if key in local:
                    path = Path(local[key].replace("${local.artifacts}", str(deploy)))
                    self.assertTrue(path.exists(), path)
            if extension:
                layer = local["layer_zip"].replace("${local.artifacts}", str(deploy))
                with zipfile.ZipFile(layer) as z:
                    info = z.getinfo(f"extensions/{extension}")
                    self.assertEqual((info.external_attr >> 16) & 0o777, 0o755, "the extension must be executable")


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
