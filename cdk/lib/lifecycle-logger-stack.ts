// The lifecycle logger (an external extension, as a layer) with the
// hand-written custom runtime (the function).
import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ExampleProps, exampleFunction, extensionLayer, settings } from './common';

export interface LifecycleLoggerProps extends StackProps, ExampleProps {
  /** LIFECYCLE_LOGGER_WORK_MS: the extension's simulated work after each invoke. */
  readonly workMs?: number;
}

export class LifecycleLoggerStack extends Stack {
  constructor(scope: Construct, id: string, props: LifecycleLoggerProps = {}) {
    super(scope, id, props);
    const s = settings(this, props, 'lifecycle-demo');
    const layer = extensionLayer(this, 'LifecycleLoggerLayer', 'lifecycle-logger', s);
    const fn = exampleFunction(this, s, {
      binaryName: 'bootstrap',
      cargoPackage: 'custom-runtime',
      layers: [layer],
      environment: { LIFECYCLE_LOGGER_WORK_MS: String(props.workMs ?? 5000) },
      handler: 'function.handler',
    });
    new CfnOutput(this, 'FunctionName', { value: fn.functionName });
    new CfnOutput(this, 'InvokeCommand', {
      value: `aws lambda invoke --function-name ${fn.functionName} --payload '{"message":"hello"}' --cli-binary-format raw-in-base64-out --log-type Tail out.json --query LogResult --output text | base64 -d`,
    });
  }
}
