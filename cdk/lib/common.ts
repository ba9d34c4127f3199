// What every stack of the repository shares: the architecture choice, the
// cargo-lambda target, the settings users tune, and log groups with
// retention.
import * as path from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RustExtension, RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';

/** The cargo workspace: every binary builds from its manifest. */
const MANIFEST = path.join(__dirname, '..', '..', 'Cargo.toml');

export interface ExampleProps {
  /** x86_64 (default) or arm64: the function and its layer always match. */
  readonly architecture?: 'x86_64' | 'arm64';
  /**
   * Starts every name the stack gives (and the stack's own), so that
   * deployments with different prefixes share an account and a region: in
   * a workshop, each attendee's own. Empty or absent keeps the plain names.
   */
  readonly namePrefix?: string;
  readonly memorySize?: number;
  /** Seconds. */
  readonly timeout?: number;
  /** Days; one of the values CloudWatch Logs accepts. */
  readonly logRetentionDays?: number;
  /** Run the function on Lambda Managed Instances (off when absent). */
  readonly managedInstances?: ManagedInstancesProps;
}

/**
 * Lambda Managed Instances: a capacity provider launches instances in these
 * subnets, and one execution environment serves up to `maxConcurrency`
 * invocations at once. The choice is made when the function is created:
 * Lambda cannot move an existing function onto it, or off it.
 */
export interface ManagedInstancesProps {
  readonly subnetIds: string[];
  readonly securityGroupIds: string[];
  /** PerExecutionEnvironmentMaxConcurrency (AWS_LAMBDA_MAX_CONCURRENCY). */
  readonly maxConcurrency?: number;
}

/** The smallest memory size of a function on Managed Instances, in MB. */
export const MANAGED_INSTANCES_MIN_MEMORY = 2048;

/** The prefixes the three tools accept: the same pattern in each. */
export const NAME_PREFIX = /^([a-z]([a-z0-9-]{0,14}[a-z0-9])?)?$/;

/** "" or "alice-": what starts every name of a deployment. */
export function namePrefix(prefix: string | undefined): string {
  if (!NAME_PREFIX.test(prefix ?? '')) {
    throw new Error(
      `namePrefix ${JSON.stringify(prefix)} must be empty or 1 to 16 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen, such as alice or team-3`,
    );
  }
  return prefix ? `${prefix}-` : '';
}

export interface Settings {
  readonly architecture: lambda.Architecture;
  /** "" or "alice-". */
  readonly prefix: string;
  readonly functionName: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly logGroup: logs.LogGroup;
  /** The function's role: it may write to its own log group, and no more. */
  readonly role: iam.Role;
  /** The cargo-lambda target of the architecture (glibc 2.26). */
  readonly target: string;
  readonly managedInstances?: ManagedInstancesProps;
}

/**
 * Bundling as scripts/package builds: the same glibc 2.26 target (it loads on
 * every provided runtime) and one package per build, so the binaries are
 * those that package and the checks build, from the same cache. A build of a
 * binary without its package unifies the whole workspace's features and
 * makes a larger binary.
 */
function bundling(s: Settings, cargoPackage: string) {
  return {
    architecture: s.architecture,
    cargoLambdaFlags: ['--target', s.target, '--package', cargoPackage],
  };
}

/**
 * The defaults are the same as the SAM and Terraform stacks'. The function
 * and its log group are named from the prefix; the role, the bucket and the
 * layer are left to CloudFormation, which makes their names unique to the
 * stack.
 */
export function settings(scope: Construct, props: ExampleProps, name: string): Settings {
  const architecture =
    props.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
  const prefix = namePrefix(props.namePrefix);
  const functionName = `${prefix}${name}`;
  const logGroup = new logs.LogGroup(scope, 'LogGroup', {
    logGroupName: `/aws/lambda/${functionName}`,
    retention: (props.logRetentionDays ?? 14) as logs.RetentionDays,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role = new iam.Role(scope, 'Role', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
  });
  logGroup.grantWrite(role);
  const managed = props.managedInstances;
  if (managed && (managed.subnetIds.length === 0 || managed.securityGroupIds.length === 0)) {
    throw new Error(
      'Managed Instances need at least one subnet and one security group: set both managedInstancesSubnets and managedInstancesSecurityGroups',
    );
  }
  const memorySize = props.memorySize ?? (managed ? MANAGED_INSTANCES_MIN_MEMORY : 128);
  if (managed && memorySize < MANAGED_INSTANCES_MIN_MEMORY) {
    throw new Error(
      `memorySize ${memorySize} is too small for Managed Instances: they need ${MANAGED_INSTANCES_MIN_MEMORY} MB or more`,
    );
  }
  const target =
    architecture === lambda.Architecture.ARM_64
      ? 'aarch64-unknown-linux-gnu.2.26'
      : 'x86_64-unknown-linux-gnu.2.26';
  return {
    architecture,
    prefix,
    functionName,
    memorySize,
    timeout: Duration.seconds(props.timeout ?? 10),
    logGroup,
    role,
    target,
    managedInstances: managed,
  };
}

export interface ExampleFunctionProps {
  /** The workspace binary, and the package it belongs to. */
  readonly binaryName: string;
  readonly cargoPackage: string;
  readonly layers: lambda.ILayerVersion[];
  readonly environment: { [name: string]: string };
  /**
   * RustFunction always sets the handler to `bootstrap`; the hand-written
   * runtime reads `_HANDLER` as file.function, so its stacks give one.
   */
  readonly handler?: string;
}

/** The example's function on provided.al2023, with the stack's settings. */
export function exampleFunction(scope: Construct, s: Settings, props: ExampleFunctionProps) {
  const fn = new RustFunction(scope, 'Function', {
    manifestPath: MANIFEST,
    binaryName: props.binaryName,
    runtime: 'provided.al2023',
    functionName: s.functionName,
    architecture: s.architecture,
    memorySize: s.memorySize,
    timeout: s.timeout,
    logGroup: s.logGroup,
    role: s.role,
    layers: props.layers,
    bundling: bundling(s, props.cargoPackage),
    environment: props.environment,
  });
  if (props.handler) {
    (fn.node.defaultChild as lambda.CfnFunction).handler = props.handler;
  }
  if (s.managedInstances) {
    onManagedInstances(scope, s, fn, s.managedInstances);
  }
  return fn;
}

/**
 * A capacity provider in the given subnets, for the function's
 * architecture, and the function attached to it: its published versions
 * run there, several invocations per execution environment.
 */
function onManagedInstances(
  scope: Construct,
  s: Settings,
  fn: lambda.IFunction,
  managed: ManagedInstancesProps,
) {
  const provider = new lambda.CapacityProvider(scope, 'CapacityProvider', {
    subnets: managed.subnetIds.map((id, i) => ec2.Subnet.fromSubnetId(scope, `Subnet${i}`, id)),
    securityGroups: managed.securityGroupIds.map((id, i) =>
      ec2.SecurityGroup.fromSecurityGroupId(scope, `SecurityGroup${i}`, id),
    ),
    architectures: [s.architecture],
  });
  provider.addFunction(fn, {
    perExecutionEnvironmentMaxConcurrency: managed.maxConcurrency,
    publishToLatestPublished: true,
  });
  Validations.of(provider).acknowledge({
    id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator]',
    reason:
      "The capacity provider's operator role is the one Lambda documents: the AWS managed policy that lets Lambda run EC2 instances for it.",
  });
}

/** An extension of the workspace as a layer: `extensions/<binary>`, mode 755. */
export function extensionLayer(scope: Construct, id: string, binaryName: string, s: Settings) {
  const layer = new RustExtension(scope, id, {
    manifestPath: MANIFEST,
    binaryName,
    architecture: s.architecture,
    bundling: bundling(s, binaryName),
    description: `${binaryName} external extension (extensions/${binaryName})`,
  });
  // Set on the underlying resource: on the construct, RustFunction would
  // refuse the layer as incompatible with its runtime.
  (layer.node.defaultChild as lambda.CfnLayerVersion).compatibleRuntimes = ['provided.al2023'];
  return layer;
}
