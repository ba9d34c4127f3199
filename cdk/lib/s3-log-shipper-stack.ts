// The S3 log shipper (an external extension, as a layer), the custom runtime
// as a demo function that writes log lines, and the bucket the logs go to.
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ExampleProps, exampleFunction, extensionLayer, settings } from './common';

export interface S3LogShipperProps extends StackProps, ExampleProps {
  /** S3_KEY_PREFIX; the function may write only under it. */
  readonly keyPrefix?: string;
  /** Shipped objects are deleted after this many days. */
  readonly expireAfterDays?: number;
  /**
   * The original post's switch: deny the role the CloudWatch Logs calls once
   * logs go to S3. The platform's START/REPORT lines stop reaching CloudWatch
   * too; the shipper still ships them.
   */
  readonly disableCloudWatchLogs?: boolean;
}

/** The key prefixes the three tools accept: the same pattern in each. */
export const KEY_PREFIX = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;

export class S3LogShipperStack extends Stack {
  constructor(scope: Construct, id: string, props: S3LogShipperProps = {}) {
    super(scope, id, props);
    const s = settings(this, props, 'log-shipper-demo');
    const prefix = props.keyPrefix ?? 'logs';
    // An empty or slash-ended prefix would give the policy bucket//* while the
    // shipper writes prefix/function/...: every upload would be denied.
    if (!KEY_PREFIX.test(prefix)) {
      throw new Error(
        `keyPrefix ${JSON.stringify(prefix)} must be one or more path segments (letters, digits, !_.*'()-) separated by single slashes, with no slash at either end, such as logs or logs/prod`,
      );
    }
    const bucket = new s3.Bucket(this, 'LogBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      lifecycleRules: [
        {
          id: 'expire-shipped-logs',
          expiration: Duration.days(props.expireAfterDays ?? 30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Demo logs: emptied and removed with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions::AwsSolutions-S1',
      reason:
        "The demo bucket's own server access logs would need a second bucket; turn them on (serverAccessLogsBucket) for production.",
    });
    const layer = extensionLayer(this, 'ShipperLayer', 's3-log-shipper', s);
    const fn = exampleFunction(this, s, {
      binaryName: 'bootstrap',
      cargoPackage: 'custom-runtime',
      layers: [layer],
      environment: { S3_BUCKET_NAME: bucket.bucketName, S3_KEY_PREFIX: prefix },
      handler: 'function.handler',
    });
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ShipLogsUnderThePrefix',
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects(`${prefix}/*`)],
      }),
    );
    const bucketId = this.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
    Validations.of(this).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}/*]`,
      reason:
        'The shipper writes a new object per flush, under keys it makes up (date partitions, time, sequence): the wildcard is scoped to its own prefix of its own bucket, and to s3:PutObject.',
    });
    if (props.disableCloudWatchLogs) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          effect: iam.Effect.DENY,
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          // The stack's partition (aws, aws-cn, aws-us-gov), not a literal.
          resources: [`arn:${Aws.PARTITION}:logs:*:*:*`],
        }),
      );
    }
    // Teardown in the stack's own order: the function first (its
    // environments shut down, and the shipper uploads what it held at
    // SHUTDOWN), then the bucket is emptied, then removed. Emptying it while
    // the function still exists could be refilled, and the bucket's
    // deletion would fail.
    const autoDelete = bucket.node.tryFindChild('AutoDeleteObjectsCustomResource');
    if (!autoDelete) {
      throw new Error('the bucket has no auto-delete custom resource: is autoDeleteObjects still set?');
    }
    autoDelete.node.addDependency(fn);
    new CfnOutput(this, 'FunctionName', { value: fn.functionName });
    new CfnOutput(this, 'BucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'InvokeCommand', {
      value: `aws lambda invoke --function-name ${fn.functionName} --payload '{"lines":3}' --cli-binary-format raw-in-base64-out --log-type Tail out.json --query LogResult --output text | base64 -d`,
    });
    new CfnOutput(this, 'ListObjectsCommand', {
      value: `aws s3 ls s3://${bucket.bucketName}/${prefix}/ --recursive`,
    });
  }
}
