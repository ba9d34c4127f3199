// Assertions on the synthesized templates: runtime, architecture, layer
// wiring, environment, IAM, and cdk-nag's AWS Solutions checks. Bundling is
// skipped (no Rust build), so the tests take seconds; `cdk synth` in
// scripts/check-stacks does the real bundling.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app';

function synth(context: Record<string, string> = {}) {
  const { app, stacks } = buildApp({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const template = (stack: Stack) => Template.fromStack(stack);
  return { app, stacks, template };
}

function functionOf(template: Template) {
  const functions = template.findResources('AWS::Lambda::Function', {
    Properties: { Runtime: 'provided.al2023' },
  });
  assert.equal(Object.keys(functions).length, 1, 'one example function');
  return Object.values(functions)[0].Properties;
}

function allowedActions(template: Template): string[] {
  const actions = new Set<string>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      if (statement.Effect !== 'Allow') continue;
      for (const action of [statement.Action].flat()) actions.add(action);
    }
  }
  return [...actions].sort();
}

test('every function runs on provided.al2023, x86_64 by default, with the shared defaults', () => {
  const { stacks, template } = synth();
  const handlers = {
    lifecycleLogger: 'function.handler',
    s3LogShipper: 'function.handler',
    appConfigReader: 'bootstrap',
  };
  for (const [name, stack] of Object.entries(stacks)) {
    const fn = functionOf(template(stack));
    assert.equal(fn.Handler, handlers[name as keyof typeof handlers], name);
    assert.deepEqual(fn.Architectures, ['x86_64'], name);
    assert.equal(fn.MemorySize, 128, name);
    assert.equal(fn.Timeout, 10, name);
    template(stack).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
  }
});

test('the extension layers match the function: architecture, runtime, wiring', () => {
  for (const architecture of ['x86_64', 'arm64']) {
    const { stacks, template } = synth({ architecture });
    for (const stack of [stacks.lifecycleLogger, stacks.s3LogShipper]) {
      const t = template(stack);
      const layers = t.findResources('AWS::Lambda::LayerVersion');
      assert.equal(Object.keys(layers).length, 1);
      const [layerId, layer] = Object.entries(layers)[0];
      assert.deepEqual(layer.Properties.CompatibleArchitectures, [architecture]);
      assert.deepEqual(layer.Properties.CompatibleRuntimes, ['provided.al2023']);
      const fn = functionOf(t);
      assert.deepEqual(fn.Architectures, [architecture]);
      assert.deepEqual(fn.Layers, [{ Ref: layerId }]);
    }
  }
});

test('environment variables', () => {
  const { stacks, template } = synth();
  const names = (stack: Stack) => Object.keys(functionOf(template(stack)).Environment.Variables).sort();
  assert.deepEqual(names(stacks.lifecycleLogger), ['LIFECYCLE_LOGGER_WORK_MS']);
  assert.deepEqual(names(stacks.s3LogShipper), ['S3_BUCKET_NAME', 'S3_KEY_PREFIX']);
  assert.deepEqual(names(stacks.appConfigReader), ['APPCONFIG_PROFILE']);
  assert.equal(
    functionOf(template(stacks.appConfigReader)).Environment.Variables.APPCONFIG_PROFILE,
    'DemoExtensionApplication/Production/LoggingLevel/LogLevel',
  );
});

test('least privilege: logs on the own group, PutObject under the prefix, the one AppConfig profile', () => {
  const { stacks, template } = synth();
  assert.deepEqual(
    allowedActions(template(stacks.lifecycleLogger)).filter((a) => !a.startsWith('logs:')),
    [],
  );
  const shipper = template(stacks.s3LogShipper);
  shipper.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({
          Sid: 'ShipLogsUnderThePrefix',
          Action: 's3:PutObject',
          Resource: { 'Fn::Join': ['', [Match.objectLike({ 'Fn::GetAtt': Match.anyValue() }), '/logs/*']] },
        }),
      ]),
    },
  });
  const reader = template(stacks.appConfigReader);
  assert.deepEqual(
    allowedActions(reader).filter((a) => !a.startsWith('logs:')),
    ['appconfig:GetLatestConfiguration', 'appconfig:StartConfigurationSession'],
  );
});

test('the CloudWatch Logs switch is off by default and denies the three calls when on', () => {
  const deny = (context: Record<string, string>) =>
    Object.values(synth(context).template(synth(context).stacks.s3LogShipper).findResources('AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s: { Effect: string }) => s.Effect === 'Deny');
  assert.equal(deny({}).length, 0);
  const [statement] = deny({ disableCloudWatchLogs: 'true' });
  assert.deepEqual([statement.Action].flat().sort(), [
    'logs:CreateLogGroup',
    'logs:CreateLogStream',
    'logs:PutLogEvents',
  ]);
  // The stack's partition: arn:aws: matches nothing in aws-cn or aws-us-gov.
  assert.deepEqual(statement.Resource, {
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:*:*:*']],
  });
});

test('a key prefix that is empty or slash-ended is refused, as in the other tools', () => {
  for (const bad of ['', 'logs/', '/logs', 'logs//prod']) {
    assert.throws(() => synth({ keyPrefix: bad }), /must be one or more path segments/, JSON.stringify(bad));
  }
  assert.doesNotThrow(() => synth({ keyPrefix: 'logs/prod' }));
});

test('the bucket is private, encrypted, TLS only, expiring and removed with the stack', () => {
  const { stacks, template } = synth();
  const t = template(stacks.s3LogShipper);
  t.hasResourceProperties('AWS::S3::Bucket', {
    PublicAccessBlockConfiguration: {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    },
    BucketEncryption: Match.objectLike({}),
    LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30, Status: 'Enabled' })] },
  });
  t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
  t.hasResourceProperties('AWS::S3::BucketPolicy', {
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]),
    },
  });
});

test('the AppConfig agent layer is a required parameter, checked by pattern', () => {
  const { stacks, template } = synth();
  const t = template(stacks.appConfigReader);
  const parameter = t.toJSON().Parameters.AppConfigAgentLayerArn;
  assert.equal(parameter.Default, undefined);
  const pattern = new RegExp(parameter.AllowedPattern);
  assert.ok(pattern.test('arn:aws:lambda:eu-west-1:434848589818:layer:AWS-AppConfig-Extension-Arm64:43'));
  assert.ok(!pattern.test('arn:aws:lambda:eu-west-1:123456789012:layer:my-layer:1'));
  for (const type of ['Application', 'Environment', 'ConfigurationProfile', 'HostedConfigurationVersion',
    'DeploymentStrategy', 'Deployment']) {
    t.resourceCountIs(`AWS::AppConfig::${type}`, 1);
  }
});

test('cdk-nag finds nothing that is not acknowledged with a reason', () => {
  const { app } = synth();
  assert.doesNotThrow(() => app.synth());
});

test('context values set sizing and retention', () => {
  const { stacks, template } = synth({
    memorySize: '256',
    timeout: '20',
    logRetentionDays: '30',
  });
  const t = template(stacks.s3LogShipper);
  const fn = functionOf(t);
  assert.equal(fn.MemorySize, 256);
  assert.equal(fn.Timeout, 20);
  t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
});

/** Every name a stack gives: its own, and its resources' name properties. */
function namesOf(stack: Stack, t: Template): string[] {
  const names = [stack.stackName];
  // An AppConfig environment's or profile's name is the application's own
  // business; the application and the strategy have names of the region.
  const named = ['AWS::AppConfig::Application', 'AWS::AppConfig::DeploymentStrategy'];
  for (const resource of Object.values(t.toJSON().Resources) as { Type: string; Properties?: Record<string, unknown> }[]) {
    for (const key of ['FunctionName', 'LogGroupName', 'RoleName', 'BucketName', 'LayerName', 'Name']) {
      if (key === 'Name' && !named.includes(resource.Type)) continue;
      const value = resource.Properties?.[key];
      if (typeof value === 'string') names.push(value);
    }
  }
  return names;
}

test('a name prefix starts every name, and two prefixes share none', () => {
  const alice = synth({ namePrefix: 'alice' });
  const bob = synth({ namePrefix: 'bob' });
  for (const key of Object.keys(alice.stacks) as (keyof typeof alice.stacks)[]) {
    const aliceNames = namesOf(alice.stacks[key], alice.template(alice.stacks[key]));
    const bobNames = namesOf(bob.stacks[key], bob.template(bob.stacks[key]));
    for (const name of aliceNames) assert.match(name, /alice-/, `${key}: ${name}`);
    assert.deepEqual(aliceNames.filter((name) => bobNames.includes(name)), [], key);
  }
  assert.equal(alice.stacks.s3LogShipper.stackName, 'alice-S3LogShipper');
  assert.equal(functionOf(alice.template(alice.stacks.s3LogShipper)).FunctionName, 'alice-log-shipper-demo');
  const reader = functionOf(alice.template(alice.stacks.appConfigReader));
  assert.match(reader.Environment.Variables.APPCONFIG_PROFILE, /^alice-DemoExtensionApplication\//);
});

test('account-wide and global names are left to CloudFormation', () => {
  // IAM role names are account-wide and bucket names global: generated
  // names are unique to the stack, so one prefix in two regions never clashes.
  const { stacks, template } = synth({ namePrefix: 'alice' });
  for (const stack of Object.values(stacks)) {
    const t = template(stack);
    for (const role of Object.values(t.findResources('AWS::IAM::Role'))) {
      assert.equal(role.Properties.RoleName, undefined);
    }
    for (const bucket of Object.values(t.findResources('AWS::S3::Bucket'))) {
      assert.equal(bucket.Properties.BucketName, undefined);
    }
  }
});

test('a name prefix that would break a name is refused', () => {
  for (const namePrefix of ['Alice', 'alice_', 'alice-', '-alice', 'a-very-long-prefix-indeed']) {
    assert.throws(() => synth({ namePrefix }), /namePrefix .* must be empty or 1 to 16 lowercase/, namePrefix);
  }
});

test('the bucket is emptied only after the function is gone', () => {
  // The shipper uploads what it holds at SHUTDOWN, which deleting the
  // function triggers: emptying the bucket first could see it refilled.
  const { stacks, template } = synth();
  const t = template(stacks.s3LogShipper);
  const [functionId] = Object.keys(
    t.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'provided.al2023' } }),
  );
  const autoDelete = Object.values(t.findResources('Custom::S3AutoDeleteObjects'));
  assert.equal(autoDelete.length, 1);
  assert.ok(autoDelete[0].DependsOn.includes(functionId), JSON.stringify(autoDelete[0].DependsOn));
});

test("the agent layer is this region's and this architecture's", () => {
  for (const [architecture, name] of [
    ['x86_64', 'AWS-AppConfig-Extension'],
    ['arm64', 'AWS-AppConfig-Extension-Arm64'],
  ]) {
    const { stacks, template } = synth({ architecture });
    const t = template(stacks.appConfigReader);
    const [layer] = functionOf(t).Layers;
    const parts = JSON.stringify(layer);
    assert.ok(parts.includes(`:layer:${name}:`), parts);
    assert.ok(parts.includes('{"Ref":"AWS::Region"}'), parts);
    assert.ok(parts.includes('{"Ref":"AWS::Partition"}'), parts);
    // From the given ARN, only the publisher's account and the version.
    assert.ok(parts.includes('{"Fn::Select":[4,{"Fn::Split":[":",{"Ref":"AppConfigAgentLayerArn"}]}]}'), parts);
    assert.ok(parts.includes('{"Fn::Select":[7,{"Fn::Split":[":",{"Ref":"AppConfigAgentLayerArn"}]}]}'), parts);
  }
});

test("AppConfig's deletion protection does not hold the stack", () => {
  const { stacks, template } = synth();
  const t = template(stacks.appConfigReader);
  t.hasResourceProperties('AWS::AppConfig::Environment', { DeletionProtectionCheck: 'BYPASS' });
  t.hasResourceProperties('AWS::AppConfig::ConfigurationProfile', { DeletionProtectionCheck: 'BYPASS' });
});

test('Managed Instances are off by default', () => {
  const { stacks, template } = synth();
  for (const stack of Object.values(stacks)) {
    const t = template(stack);
    t.resourceCountIs('AWS::Lambda::CapacityProvider', 0);
    assert.equal(functionOf(t).CapacityProviderConfig, undefined);
  }
});

test('with subnets named, each function runs on a capacity provider of its architecture', () => {
  const { stacks, template } = synth({
    managedInstancesSubnets: 'subnet-0a1b2c3d, subnet-4e5f6a7b',
    managedInstancesSecurityGroups: 'sg-0123abcd',
    maxConcurrency: '8',
    architecture: 'arm64',
  });
  for (const stack of Object.values(stacks)) {
    const t = template(stack);
    t.hasResourceProperties('AWS::Lambda::CapacityProvider', {
      VpcConfig: { SubnetIds: ['subnet-0a1b2c3d', 'subnet-4e5f6a7b'], SecurityGroupIds: ['sg-0123abcd'] },
      InstanceRequirements: { Architectures: ['arm64'] },
    });
    const [providerId] = Object.keys(t.findResources('AWS::Lambda::CapacityProvider'));
    const fn = functionOf(t);
    assert.deepEqual(fn.CapacityProviderConfig, {
      LambdaManagedInstancesCapacityProviderConfig: {
        CapacityProviderArn: { 'Fn::GetAtt': [providerId, 'Arn'] },
        PerExecutionEnvironmentMaxConcurrency: 8,
      },
    });
    assert.equal(fn.PublishToLatestPublished, true);
    // The smallest memory size Managed Instances accept.
    assert.equal(fn.MemorySize, 2048);
    // The operator role Lambda documents for capacity providers.
    t.hasResourceProperties('AWS::IAM::Role', {
      ManagedPolicyArns: [
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AWSLambdaManagedEC2ResourceOperator']] },
      ],
    });
  }
});

test('Managed Instances without a security group, or with too little memory, are refused', () => {
  assert.throws(
    () => synth({ managedInstancesSubnets: 'subnet-0a1b2c3d' }),
    /at least one subnet and one security group/,
  );
  assert.throws(
    () =>
      synth({
        managedInstancesSubnets: 'subnet-0a1b2c3d',
        managedInstancesSecurityGroups: 'sg-0123abcd',
        memorySize: '512',
      }),
    /too small for Managed Instances/,
  );
});

test('cdk-nag accepts the Managed Instances variant', () => {
  const { app } = synth({
    managedInstancesSubnets: 'subnet-0a1b2c3d',
    managedInstancesSecurityGroups: 'sg-0123abcd',
  });
  assert.doesNotThrow(() => app.synth());
});
