// The AppConfig reader (a lambda_runtime function) with the AWS AppConfig
// agent layer, and the AppConfig application, environment, profile, hosted
// version, strategy and deployment it reads.
import { Aws, CfnOutput, CfnParameter, Fn, Stack, StackProps } from 'aws-cdk-lib';
import * as appconfig from 'aws-cdk-lib/aws-appconfig';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ExampleProps, exampleFunction, settings } from './common';

export interface AppConfigReaderProps extends StackProps, ExampleProps {
  readonly applicationName?: string;
  readonly environmentName?: string;
  readonly profileName?: string;
  /** The loglevel of the configuration version; deploy another to roll out a new version. */
  readonly logLevel?: string;
}

export class AppConfigReaderStack extends Stack {
  constructor(scope: Construct, id: string, props: AppConfigReaderProps = {}) {
    super(scope, id, props);
    const s = settings(this, props, 'appconfig-reader-demo');
    // A deploy-time parameter with no default: the agent's layer ARN differs
    // per region, and arm64 has its own layer (AWS-AppConfig-Extension-Arm64).
    const agentLayerArn = new CfnParameter(this, 'AppConfigAgentLayerArn', {
      type: 'String',
      allowedPattern:
        '^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:AWS-AppConfig-Extension(-Arm64)?:[0-9]+$',
      constraintDescription:
        "the AWS AppConfig agent layer of this region and architecture, from the AWS AppConfig User Guide's table of agent versions",
      description:
        'See "Available versions of the AWS AppConfig Agent Lambda extension" in the AWS AppConfig User Guide.',
    });
    // This region's layer of this architecture, whatever ARN was given: from
    // it only the publisher's account and the version are taken. Another
    // architecture's layer cannot be named, and another region's ARN names
    // a layer version that does not exist here, which fails the deploy
    // instead of the function's Init.
    const given = Fn.split(':', agentLayerArn.valueAsString, 8);
    const agentLayerName =
      s.architecture === lambda.Architecture.ARM_64
        ? 'AWS-AppConfig-Extension-Arm64'
        : 'AWS-AppConfig-Extension';
    const agentLayer = `arn:${Aws.PARTITION}:lambda:${Aws.REGION}:${Fn.select(4, given)}:layer:${agentLayerName}:${Fn.select(7, given)}`;
    const names = {
      // The agent finds the application by name: two of one name in a
      // region would be ambiguous.
      application: `${s.prefix}${props.applicationName ?? 'DemoExtensionApplication'}`,
      environment: props.environmentName ?? 'Production',
      profile: props.profileName ?? 'LoggingLevel',
    };
    const app = new appconfig.CfnApplication(this, 'Application', { name: names.application });
    const env = new appconfig.CfnEnvironment(this, 'Environment', {
      applicationId: app.ref,
      name: names.environment,
      // Where an account turns AppConfig's deletion protection on, a
      // recently read environment or profile could not be deleted for an
      // hour: this demo stack's deletion goes ahead.
      deletionProtectionCheck: 'BYPASS',
    });
    const profile = new appconfig.CfnConfigurationProfile(this, 'Profile', {
      applicationId: app.ref,
      name: names.profile,
      locationUri: 'hosted',
      deletionProtectionCheck: 'BYPASS',
    });
    const version = new appconfig.CfnHostedConfigurationVersion(this, 'LevelVersion', {
      applicationId: app.ref,
      configurationProfileId: profile.ref,
      contentType: 'application/json',
      content: JSON.stringify({ loglevel: props.logLevel ?? 'normal' }),
    });
    const strategy = new appconfig.CfnDeploymentStrategy(this, 'AllAtOnce', {
      name: `${s.functionName}-all-at-once`,
      deploymentDurationInMinutes: 0,
      growthFactor: 100,
      finalBakeTimeInMinutes: 0,
      replicateTo: 'NONE',
    });
    const deployment = new appconfig.CfnDeployment(this, 'LevelDeployment', {
      applicationId: app.ref,
      environmentId: env.ref,
      configurationProfileId: profile.ref,
      configurationVersion: version.ref,
      deploymentStrategyId: strategy.ref,
    });
    const fn = exampleFunction(this, s, {
      binaryName: 'appconfig-reader',
      cargoPackage: 'appconfig-reader',
      layers: [lambda.LayerVersion.fromLayerVersionArn(this, 'AppConfigAgent', agentLayer)],
      environment: {
        APPCONFIG_PROFILE: `${names.application}/${names.environment}/${names.profile}/LogLevel`,
      },
    });
    fn.node.addDependency(deployment);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadTheOneProfile',
        actions: ['appconfig:StartConfigurationSession', 'appconfig:GetLatestConfiguration'],
        resources: [
          Stack.of(this).formatArn({
            service: 'appconfig',
            resource: 'application',
            resourceName: `${app.ref}/environment/${env.ref}/configuration/${profile.ref}`,
          }),
        ],
      }),
    );
    new CfnOutput(this, 'FunctionName', { value: fn.functionName });
    new CfnOutput(this, 'AppConfigProfile', {
      value: `${names.application}/${names.environment}/${names.profile}`,
    });
    new CfnOutput(this, 'InvokeCommand', {
      value: `aws lambda invoke --function-name ${fn.functionName} --payload '{"hello":"world"}' --cli-binary-format raw-in-base64-out --log-type Tail out.json --query LogResult --output text | base64 -d`,
    });
  }
}
