// The app: the three examples' stacks, with settings from context values,
// checked at synthesis by cdk-nag's AWS Solutions rules (a finding fails the
// synthesis unless it is acknowledged, with its reason, where it arises).
import { App, AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AppConfigReaderStack } from './appconfig-reader-stack';
import { namePrefix } from './common';
import { LifecycleLoggerStack } from './lifecycle-logger-stack';
import { S3LogShipperStack } from './s3-log-shipper-stack';

export function buildApp(props: AppProps = {}) {
  const app = new App(props);
  const context = (key: string) => app.node.tryGetContext(key) as string | undefined;
  const number = (key: string) => (context(key) === undefined ? undefined : Number(context(key)));
  const list = (key: string) =>
    (context(key) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  // Off unless subnets are named: -c managedInstancesSubnets=subnet-a,subnet-b
  // -c managedInstancesSecurityGroups=sg-1 [-c maxConcurrency=8]
  const managedInstances =
    list('managedInstancesSubnets').length > 0
      ? {
          subnetIds: list('managedInstancesSubnets'),
          securityGroupIds: list('managedInstancesSecurityGroups'),
          maxConcurrency: number('maxConcurrency'),
        }
      : undefined;
  // -c namePrefix=alice: stacks alice-LifecycleLogger…, functions
  // alice-lifecycle-demo…
  const prefix = namePrefix(context('namePrefix'));
  const stackName = (id: string) => (prefix ? `${prefix}${id}` : undefined);
  const common = {
    namePrefix: context('namePrefix'),
    architecture: context('architecture') === 'arm64' ? ('arm64' as const) : ('x86_64' as const),
    memorySize: number('memorySize'),
    timeout: number('timeout'),
    logRetentionDays: number('logRetentionDays'),
    managedInstances,
  };
  const stacks = {
    lifecycleLogger: new LifecycleLoggerStack(app, 'LifecycleLogger', {
      ...common,
      stackName: stackName('LifecycleLogger'),
      workMs: number('workMs'),
    }),
    s3LogShipper: new S3LogShipperStack(app, 'S3LogShipper', {
      ...common,
      stackName: stackName('S3LogShipper'),
      keyPrefix: context('keyPrefix'),
      expireAfterDays: number('expireAfterDays'),
      disableCloudWatchLogs: String(context('disableCloudWatchLogs')) === 'true',
    }),
    appConfigReader: new AppConfigReaderStack(app, 'AppConfigReader', {
      ...common,
      stackName: stackName('AppConfigReader'),
      logLevel: context('logLevel'),
    }),
  };
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stacks };
}
