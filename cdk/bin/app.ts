#!/usr/bin/env node
// Choose settings with context values:
//   cdk deploy S3LogShipper -c architecture=arm64 -c disableCloudWatchLogs=true
//   cdk deploy AppConfigReader --parameters AppConfigAgentLayerArn=arn:aws:lambda:…
import { buildApp } from '../lib/app';

buildApp();
