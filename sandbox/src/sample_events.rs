//! Sample events for the common triggers, built from the `aws_lambda_events`
//! types rather than typed by hand, so they have the shape AWS sends.
//!
//! Each source takes a few overrides (`--field key=value`) for what people
//! change most: bucket and key, queue ARN, body, path and method.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyRequestContext, ApiGatewayV2httpRequest,
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use aws_lambda_events::cloudwatch_logs::{LogData, LogEntry};
use aws_lambda_events::dynamodb::{
    Event as DynamoDbEvent, EventRecord, StreamRecord, StreamViewType,
};
use aws_lambda_events::encodings::{Base64Data, SecondTimestamp};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::http::{HeaderMap, HeaderValue, Method};
use aws_lambda_events::kinesis::{KinesisEvent, KinesisEventRecord, KinesisRecord};
use aws_lambda_events::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlRequestContext,
    LambdaFunctionUrlRequestContextHttpDescription,
};
use aws_lambda_events::s3::{S3Bucket, S3Entity, S3Event, S3EventRecord, S3Object};
use aws_lambda_events::sns::{SnsEvent, SnsMessage, SnsRecord};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// A source the `event` command knows: its name, what it is, its overrides.
pub struct Source {
    pub name: &'static str,
    pub description: &'static str,
    pub fields: &'static [&'static str],
    build: fn(&mut Fields) -> Result<Value, EventError>,
}

pub const SOURCES: &[Source] = &[
    Source {
        name: "apigw-rest",
        description: "API Gateway REST API, proxy integration",
        fields: &["path", "method", "body"],
        build: apigw_rest,
    },
    Source {
        name: "apigw-http",
        description: "API Gateway HTTP API, payload format 2.0",
        fields: &["path", "method", "body"],
        build: apigw_http,
    },
    Source {
        name: "function-url",
        description: "Lambda function URL",
        fields: &["path", "method", "body"],
        build: function_url,
    },
    Source {
        name: "s3-put",
        description: "S3 object created (ObjectCreated:Put)",
        fields: &["bucket", "key", "size"],
        build: s3_put,
    },
    Source {
        name: "sqs",
        description: "SQS message",
        fields: &["queue-arn", "body"],
        build: sqs,
    },
    Source {
        name: "sns",
        description: "SNS notification",
        fields: &["topic-arn", "subject", "body"],
        build: sns,
    },
    Source {
        name: "eventbridge-scheduled",
        description: "EventBridge scheduled event (rate or cron rule)",
        fields: &["rule-arn"],
        build: eventbridge_scheduled,
    },
    Source {
        name: "eventbridge-custom",
        description: "EventBridge custom event (PutEvents)",
        fields: &["source", "detail-type", "detail"],
        build: eventbridge_custom,
    },
    Source {
        name: "dynamodb",
        description: "DynamoDB Streams INSERT record",
        fields: &["table", "id", "body"],
        build: dynamodb,
    },
    Source {
        name: "kinesis",
        description: "Kinesis Data Streams record",
        fields: &["stream-arn", "partition-key", "body"],
        build: kinesis,
    },
    Source {
        name: "cloudwatch-logs",
        description: "CloudWatch Logs subscription (data gzipped and base64-encoded)",
        fields: &["log-group", "body"],
        build: cloudwatch_logs,
    },
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("unknown event source {given:?}; the sources are: {known}")]
    UnknownSource { given: String, known: String },
    #[error("{event_source} takes no field {field:?}; its fields are: {known}")]
    UnknownField {
        event_source: &'static str,
        field: String,
        known: String,
    },
    #[error("field {field}={value:?} is not valid: {why}")]
    InvalidField {
        field: &'static str,
        value: String,
        why: String,
    },
}

/// The overrides given on the command line, consumed as the event is built.
pub struct Fields {
    values: BTreeMap<String, String>,
}

impl Fields {
    fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    fn or(&mut self, name: &str, default: &str) -> String {
        self.take(name).unwrap_or_else(|| default.to_string())
    }
}

/// The sample event of `source`, with `fields` applied.
pub fn sample(source: &str, fields: &[(String, String)]) -> Result<Value, EventError> {
    let source =
        SOURCES
            .iter()
            .find(|s| s.name == source)
            .ok_or_else(|| EventError::UnknownSource {
                given: source.to_string(),
                known: SOURCES
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
    if let Some((field, _)) = fields
        .iter()
        .find(|(k, _)| !source.fields.contains(&k.as_str()))
    {
        return Err(EventError::UnknownField {
            event_source: source.name,
            field: field.clone(),
            known: source.fields.join(", "),
        });
    }
    let mut fields = Fields {
        values: fields.iter().cloned().collect(),
    };
    (source.build)(&mut fields)
}

/// One fixed moment, so that samples are stable from run to run.
fn sample_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-15T12:00:00Z")
        .expect("a valid timestamp")
        .with_timezone(&Utc)
}

fn to_json(event: impl Serialize) -> Result<Value, EventError> {
    Ok(serde_json::to_value(event).expect("aws_lambda_events types serialize"))
}

fn method(fields: &mut Fields, default: &str) -> Result<Method, EventError> {
    let value = fields.or("method", default).to_uppercase();
    Method::from_bytes(value.as_bytes()).map_err(|_| EventError::InvalidField {
        field: "method",
        value,
        why: "an HTTP method such as GET or POST".into(),
    })
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("user-agent", HeaderValue::from_static("curl/8.5.0"));
    headers.insert(
        "host",
        HeaderValue::from_static("example.execute-api.us-east-1.amazonaws.com"),
    );
    headers
}

fn apigw_rest(fields: &mut Fields) -> Result<Value, EventError> {
    let path = fields.or("path", "/hello");
    let method = method(fields, "GET")?;
    let mut context = ApiGatewayProxyRequestContext::default();
    context.account_id = Some(ACCOUNT.into());
    context.resource_id = Some("abc123".into());
    context.stage = Some("prod".into());
    context.request_id = Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into());
    context.resource_path = Some("/{proxy+}".into());
    context.path = Some(format!("/prod{path}"));
    context.http_method = method.clone();
    context.apiid = Some("1234567890".into());
    context.protocol = Some("HTTP/1.1".into());
    context.request_time_epoch = sample_time().timestamp_millis();
    context.identity.source_ip = Some("192.0.2.10".into());
    let mut event = ApiGatewayProxyRequest::default();
    event.resource = Some("/{proxy+}".into());
    event.path = Some(path.clone());
    event.http_method = method;
    event.headers = json_headers();
    event.path_parameters = [(
        "proxy".to_string(),
        path.trim_start_matches('/').to_string(),
    )]
    .into();
    event.request_context = context;
    event.body = fields.take("body");
    to_json(event)
}

fn apigw_http(fields: &mut Fields) -> Result<Value, EventError> {
    let path = fields.or("path", "/hello");
    let method = method(fields, "GET")?;
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = method.clone();
    http.path = Some(path.clone());
    http.protocol = Some("HTTP/1.1".into());
    http.source_ip = Some("192.0.2.10".into());
    http.user_agent = Some("curl/8.5.0".into());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(format!("{method} {path}"));
    context.account_id = Some(ACCOUNT.into());
    context.stage = Some("$default".into());
    context.request_id = Some("JKJaXmPLvHcESHA=".into());
    context.apiid = Some("r3pmxmplak".into());
    context.domain_name = Some("r3pmxmplak.execute-api.us-east-1.amazonaws.com".into());
    context.time_epoch = sample_time().timestamp_millis();
    context.http = http;
    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(format!("{method} {path}"));
    event.raw_path = Some(path);
    event.raw_query_string = Some(String::new());
    event.headers = json_headers();
    event.request_context = context;
    event.body = fields.take("body");
    to_json(event)
}

fn function_url(fields: &mut Fields) -> Result<Value, EventError> {
    let path = fields.or("path", "/");
    let method = method(fields, "GET")?;
    let mut http = LambdaFunctionUrlRequestContextHttpDescription::default();
    http.method = Some(method.to_string());
    http.path = Some(path.clone());
    http.protocol = Some("HTTP/1.1".into());
    http.source_ip = Some("192.0.2.10".into());
    http.user_agent = Some("curl/8.5.0".into());
    let mut context = LambdaFunctionUrlRequestContext::default();
    context.account_id = Some("anonymous".into());
    context.request_id = Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into());
    context.apiid = Some("abcdefghijklmnopqrstuvwxyz0123".into());
    context.domain_name = Some("abcdefghijklmnopqrstuvwxyz0123.lambda-url.us-east-1.on.aws".into());
    context.domain_prefix = Some("abcdefghijklmnopqrstuvwxyz0123".into());
    context.time_epoch = sample_time().timestamp_millis();
    context.http = http;
    let mut event = LambdaFunctionUrlRequest::default();
    event.version = Some("2.0".into());
    event.raw_path = Some(path);
    event.raw_query_string = Some(String::new());
    event.headers = json_headers();
    event.request_context = context;
    event.body = fields.take("body");
    to_json(event)
}

fn s3_put(fields: &mut Fields) -> Result<Value, EventError> {
    let bucket = fields.or("bucket", "amzn-s3-demo-bucket");
    let key = fields.or("key", "uploads/example.json");
    let size_text = fields.or("size", "1024");
    let size = size_text.parse().map_err(|_| EventError::InvalidField {
        field: "size",
        value: size_text,
        why: "a number of bytes".into(),
    })?;
    let mut object = S3Object::default();
    object.key = Some(url_encode_key(&key));
    object.size = Some(size);
    object.e_tag = Some("0123456789abcdef0123456789abcdef".into());
    object.sequencer = Some("0A1B2C3D4E5F678901".into());
    let mut owner = aws_lambda_events::s3::S3UserIdentity::default();
    owner.principal_id = Some("A3NL1KOZZKExample".into());
    let mut s3_bucket = S3Bucket::default();
    s3_bucket.owner_identity = Some(owner);
    s3_bucket.arn = Some(format!("arn:aws:s3:::{bucket}"));
    s3_bucket.name = Some(bucket);
    let mut entity = S3Entity::default();
    entity.schema_version = Some("1.0".into());
    entity.configuration_id = Some("sandbox-notification".into());
    entity.bucket = s3_bucket;
    entity.object = object;
    let mut record = S3EventRecord::default();
    record.event_version = Some("2.1".into());
    record.event_source = Some("aws:s3".into());
    record.aws_region = Some(REGION.into());
    record.event_time = sample_time();
    record.event_name = Some("ObjectCreated:Put".into());
    record.principal_id.principal_id = Some("AWS:EXAMPLE".into());
    record.request_parameters.source_ip_address = Some("192.0.2.10".into());
    record.s3 = entity;
    let mut event = S3Event::default();
    event.records = vec![record];
    to_json(event)
}

/// S3 URL-encodes object keys in its notifications, a space as `+`: a
/// function must decode the key before it fetches the object.
pub fn url_encode_key(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b'*' => {
                encoded.push(byte as char)
            }
            b' ' => encoded.push('+'),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

fn sqs(fields: &mut Fields) -> Result<Value, EventError> {
    let mut message = SqsMessage::default();
    message.message_id = Some("059f36b4-87a3-44ab-83d2-661975830a7d".into());
    message.receipt_handle = Some("AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a".into());
    message.body = Some(fields.or("body", r#"{"orderId":"1234"}"#));
    message.attributes = [
        ("ApproximateReceiveCount", "1"),
        ("SentTimestamp", "1768478400000"),
        ("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
        ("ApproximateFirstReceiveTimestamp", "1768478400001"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    message.event_source = Some("aws:sqs".into());
    message.event_source_arn = Some(fields.or(
        "queue-arn",
        &format!("arn:aws:sqs:{REGION}:{ACCOUNT}:my-queue"),
    ));
    message.aws_region = Some(REGION.into());
    let mut event = SqsEvent::default();
    event.records = vec![message];
    to_json(event)
}

fn sns(fields: &mut Fields) -> Result<Value, EventError> {
    let topic = fields.or(
        "topic-arn",
        &format!("arn:aws:sns:{REGION}:{ACCOUNT}:my-topic"),
    );
    let mut message = SnsMessage::default();
    message.sns_message_type = "Notification".into();
    message.message_id = "95df01b4-ee98-5cb9-9903-4c221d41eb5e".into();
    message.subject = fields.take("subject").or(Some("example subject".into()));
    message.message = fields.or("body", "example message");
    message.timestamp = sample_time();
    message.signature_version = "1".into();
    message.signature = "EXAMPLE".into();
    message.signing_cert_url =
        format!("https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000000000.pem");
    message.unsubscribe_url = format!(
        "https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic}:sub"
    );
    message.topic_arn = topic.clone();
    let mut record = SnsRecord::default();
    record.event_source = "aws:sns".into();
    record.event_version = "1.0".into();
    record.event_subscription_arn = format!("{topic}:c9135db0-26c4-47ec-8998-413945fb5a96");
    record.sns = message;
    let mut event = SnsEvent::default();
    event.records = vec![record];
    to_json(event)
}

fn eventbridge(
    source: String,
    detail_type: String,
    detail: Value,
    resources: Vec<String>,
) -> Result<Value, EventError> {
    let mut event: EventBridgeEvent<Value> = EventBridgeEvent::default();
    event.version = Some("0".into());
    event.id = Some("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa".into());
    event.detail_type = detail_type;
    event.source = source;
    event.account = Some(ACCOUNT.into());
    event.time = Some(sample_time());
    event.region = Some(REGION.into());
    event.resources = Some(resources);
    event.detail = detail;
    to_json(event)
}

fn eventbridge_scheduled(fields: &mut Fields) -> Result<Value, EventError> {
    let rule = fields.or(
        "rule-arn",
        &format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/every-five-minutes"),
    );
    eventbridge(
        "aws.events".into(),
        "Scheduled Event".into(),
        json!({}),
        vec![rule],
    )
}

fn eventbridge_custom(fields: &mut Fields) -> Result<Value, EventError> {
    let detail_text = fields.or("detail", r#"{"orderId":"1234","status":"shipped"}"#);
    let detail = serde_json::from_str(&detail_text).map_err(|e| EventError::InvalidField {
        field: "detail",
        value: detail_text,
        why: format!("the detail must be JSON ({e})"),
    })?;
    let source = fields.or("source", "com.example.orders");
    let detail_type = fields.or("detail-type", "Order Shipped");
    eventbridge(source, detail_type, detail, Vec::new())
}

fn dynamodb(fields: &mut Fields) -> Result<Value, EventError> {
    let table = fields.or("table", "Orders");
    let id = fields.or("id", "1234");
    let body = fields.or("body", "example item");
    let item =
        |value: Value| serde_json::from_value(value).expect("DynamoDB JSON converts to an item");
    let mut change = StreamRecord::default();
    change.approximate_creation_date_time = sample_time();
    change.keys = item(json!({"Id": {"S": id}}));
    change.new_image = item(json!({"Id": {"S": id}, "Body": {"S": body}}));
    change.sequence_number = Some("111100000000000000001".into());
    change.size_bytes = 26;
    change.stream_view_type = Some(StreamViewType::NewAndOldImages);
    let mut record = EventRecord::default();
    record.aws_region = REGION.into();
    record.change = change;
    record.event_id = "c4ca4238a0b923820dcc509a6f75849b".into();
    record.event_name = "INSERT".into();
    record.event_source = Some("aws:dynamodb".into());
    record.event_version = Some("1.1".into());
    record.event_source_arn = Some(format!(
        "arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}/stream/2026-01-15T12:00:00.000"
    ));
    let mut event = DynamoDbEvent::default();
    event.records = vec![record];
    to_json(event)
}

fn kinesis(fields: &mut Fields) -> Result<Value, EventError> {
    let mut data = Base64Data::default();
    data.extend_from_slice(fields.or("body", r#"{"reading":42}"#).as_bytes());
    let mut arrival = SecondTimestamp::default();
    *arrival = sample_time();
    let mut record = KinesisRecord::default();
    record.approximate_arrival_timestamp = arrival;
    record.data = data;
    record.partition_key = fields.or("partition-key", "sensor-1");
    record.sequence_number = "49590338271490256608559692538361571095921575989136588898".into();
    record.kinesis_schema_version = Some("1.0".into());
    let mut event_record = KinesisEventRecord::default();
    event_record.aws_region = Some(REGION.into());
    event_record.event_id = Some(
        "shardId-000000000006:49590338271490256608559692538361571095921575989136588898".into(),
    );
    event_record.event_name = Some("aws:kinesis:record".into());
    event_record.event_source = Some("aws:kinesis".into());
    event_record.event_source_arn = Some(fields.or(
        "stream-arn",
        &format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/my-stream"),
    ));
    event_record.event_version = Some("1.0".into());
    event_record.invoke_identity_arn = Some(format!("arn:aws:iam::{ACCOUNT}:role/lambda-role"));
    event_record.kinesis = record;
    let mut event = KinesisEvent::default();
    event.records = vec![event_record];
    to_json(event)
}

fn cloudwatch_logs(fields: &mut Fields) -> Result<Value, EventError> {
    let group = fields.or("log-group", "/aws/lambda/my-function");
    let message = fields.or("body", "[ERROR] First test message");
    let entry = |id: &str, offset_ms: i64, message: String| {
        let mut entry = LogEntry::default();
        entry.id = id.into();
        entry.timestamp = sample_time().timestamp_millis() + offset_ms;
        entry.message = message;
        entry
    };
    let mut data = LogData::default();
    data.owner = ACCOUNT.into();
    data.log_group = group;
    data.log_stream = "2026/01/15/[$LATEST]2d2b1c0f55b24d4b8a2a3c6f1e9e1d0b".into();
    data.subscription_filters = vec!["sandbox-filter".into()];
    data.message_type = "DATA_MESSAGE".into();
    data.log_events = vec![
        entry("eventId1", 0, message),
        entry("eventId2", 1, "[ERROR] Second test message".into()),
    ];
    // CloudWatch Logs sends the data gzipped, then base64-encoded with
    // padding. The crate's own serializer leaves the padding out (and its
    // deserializer then rejects the result), so the encoding is done here.
    let json = serde_json::to_vec(&data).expect("log data serializes");
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    gzip.write_all(&json).expect("writing to memory succeeds");
    let gzipped = gzip.finish().expect("writing to memory succeeds");
    Ok(json!({"awslogs": {"data": STANDARD.encode(gzipped)}}))
}
