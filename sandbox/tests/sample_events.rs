//! Every sample event deserializes into its `aws_lambda_events` type with
//! the overridden fields intact.

use std::io::Read;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::cloudwatch_logs::LogsEvent;
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::SqsEvent;
use base64::Engine;
use lambda_sandbox::sample_events::{EventError, SOURCES, sample, url_encode_key};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn event<T: DeserializeOwned>(source: &str, fields: &[(&str, &str)]) -> T {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let value = sample(source, &fields).unwrap_or_else(|e| panic!("{source}: {e}"));
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{source} does not parse back ({e}): {value:#}"))
}

#[test]
fn http_events_carry_path_method_and_body() {
    let rest: ApiGatewayProxyRequest = event(
        "apigw-rest",
        &[
            ("path", "/orders/7"),
            ("method", "post"),
            ("body", "{\"n\":1}"),
        ],
    );
    assert_eq!(rest.path.as_deref(), Some("/orders/7"));
    assert_eq!(rest.http_method.as_str(), "POST");
    assert_eq!(rest.body.as_deref(), Some("{\"n\":1}"));
    assert_eq!(
        rest.request_context.account_id.as_deref(),
        Some("123456789012")
    );

    let http: ApiGatewayV2httpRequest = event(
        "apigw-http",
        &[("path", "/orders/7"), ("method", "DELETE"), ("body", "x")],
    );
    assert_eq!(http.raw_path.as_deref(), Some("/orders/7"));
    assert_eq!(http.request_context.http.method.as_str(), "DELETE");
    assert_eq!(http.route_key.as_deref(), Some("DELETE /orders/7"));
    assert_eq!(http.body.as_deref(), Some("x"));

    let url: LambdaFunctionUrlRequest = event(
        "function-url",
        &[("path", "/hook"), ("method", "PUT"), ("body", "y")],
    );
    assert_eq!(url.raw_path.as_deref(), Some("/hook"));
    assert_eq!(url.request_context.http.method.as_deref(), Some("PUT"));
    assert_eq!(url.body.as_deref(), Some("y"));
}

#[test]
fn record_events_carry_their_overrides() {
    let s3: S3Event = event(
        "s3-put",
        &[
            ("bucket", "my-logs"),
            ("key", "2026/01/app.log"),
            ("size", "77"),
        ],
    );
    let record = &s3.records[0];
    assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
    assert_eq!(record.s3.bucket.name.as_deref(), Some("my-logs"));
    assert_eq!(
        record.s3.bucket.arn.as_deref(),
        Some("arn:aws:s3:::my-logs")
    );
    assert_eq!(record.s3.object.key.as_deref(), Some("2026/01/app.log"));
    assert_eq!(record.s3.object.size, Some(77));

    let sqs: SqsEvent = event(
        "sqs",
        &[
            ("queue-arn", "arn:aws:sqs:eu-west-1:111122223333:jobs"),
            ("body", "hello"),
        ],
    );
    assert_eq!(
        sqs.records[0].event_source_arn.as_deref(),
        Some("arn:aws:sqs:eu-west-1:111122223333:jobs")
    );
    assert_eq!(sqs.records[0].body.as_deref(), Some("hello"));

    let sns: SnsEvent = event(
        "sns",
        &[
            ("topic-arn", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("subject", "s"),
            ("body", "m"),
        ],
    );
    assert_eq!(
        sns.records[0].sns.topic_arn,
        "arn:aws:sns:us-east-1:123456789012:alerts"
    );
    assert_eq!(
        (
            sns.records[0].sns.subject.as_deref(),
            sns.records[0].sns.message.as_str()
        ),
        (Some("s"), "m")
    );

    let dynamo: DynamoDbEvent = event(
        "dynamodb",
        &[("table", "Users"), ("id", "u-1"), ("body", "hi")],
    );
    let record = &dynamo.records[0];
    assert!(
        record
            .event_source_arn
            .as_deref()
            .unwrap()
            .contains(":table/Users/stream/")
    );
    let keys = serde_json::to_value(&record.change.keys).unwrap();
    assert_eq!(keys, json!({"Id": {"S": "u-1"}}));
    assert_eq!(
        serde_json::to_value(&record.change.new_image).unwrap()["Body"],
        json!({"S": "hi"})
    );

    let kinesis: KinesisEvent = event(
        "kinesis",
        &[
            (
                "stream-arn",
                "arn:aws:kinesis:us-east-1:123456789012:stream/s",
            ),
            ("partition-key", "p"),
            ("body", "raw bytes"),
        ],
    );
    let record = &kinesis.records[0];
    assert_eq!(
        record.event_source_arn.as_deref(),
        Some("arn:aws:kinesis:us-east-1:123456789012:stream/s")
    );
    assert_eq!(record.kinesis.partition_key, "p");
    assert_eq!(&record.kinesis.data[..], b"raw bytes");
}

#[test]
fn eventbridge_events_are_scheduled_or_custom() {
    let scheduled: EventBridgeEvent<Value> = event(
        "eventbridge-scheduled",
        &[(
            "rule-arn",
            "arn:aws:events:us-east-1:123456789012:rule/nightly",
        )],
    );
    assert_eq!(
        (scheduled.source.as_str(), scheduled.detail_type.as_str()),
        ("aws.events", "Scheduled Event")
    );
    assert_eq!(
        scheduled.resources.unwrap(),
        ["arn:aws:events:us-east-1:123456789012:rule/nightly"]
    );

    let custom: EventBridgeEvent<Value> = event(
        "eventbridge-custom",
        &[
            ("source", "my.app"),
            ("detail-type", "Thing Happened"),
            ("detail", "{\"a\":[1,2]}"),
        ],
    );
    assert_eq!(
        (custom.source.as_str(), custom.detail_type.as_str()),
        ("my.app", "Thing Happened")
    );
    assert_eq!(custom.detail, json!({"a": [1, 2]}));
}

#[test]
fn cloudwatch_logs_data_is_gzipped_base64_with_the_documented_structure() {
    let value = sample(
        "cloudwatch-logs",
        &[
            ("log-group".into(), "/aws/lambda/checkout".into()),
            ("body".into(), "boom".into()),
        ],
    )
    .unwrap();
    // Decode by hand, as a subscriber without the crate would.
    let encoded = value["awslogs"]["data"].as_str().unwrap();
    let gzipped = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_string(&mut text)
        .unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    for field in [
        "owner",
        "logGroup",
        "logStream",
        "subscriptionFilters",
        "messageType",
        "logEvents",
    ] {
        assert!(data.get(field).is_some(), "{field} missing from {data:#}");
    }
    assert_eq!(data["messageType"], "DATA_MESSAGE");
    assert_eq!(data["logGroup"], "/aws/lambda/checkout");
    assert_eq!(data["logEvents"][0]["message"], "boom");
    assert!(data["logEvents"][0]["timestamp"].is_i64());
    // And the crate reads it back too, from the bytes a function receives.
    let parsed: LogsEvent = serde_json::from_str(&value.to_string()).unwrap();
    assert_eq!(parsed.aws_logs.data.log_events.len(), 2);
}

#[test]
fn every_listed_source_builds_and_parses_as_json_objects() {
    for source in SOURCES {
        let value = sample(source.name, &[]).unwrap();
        assert!(value.is_object(), "{}", source.name);
    }
}

#[test]
fn mistakes_name_what_is_accepted() {
    let err = sample("s3", &[]).unwrap_err();
    assert!(matches!(err, EventError::UnknownSource { .. }));
    let message = err.to_string();
    for source in SOURCES {
        assert!(message.contains(source.name), "{message}");
    }
    let err = sample("sqs", &[("bucket".into(), "b".into())])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "sqs takes no field \"bucket\"; its fields are: queue-arn, body"
    );
    let err = sample(
        "eventbridge-custom",
        &[("detail".into(), "not json".into())],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("field detail=\"not json\" is not valid"),
        "{err}"
    );
}

#[test]
fn s3_keys_are_url_encoded_as_s3_sends_them() {
    assert_eq!(
        url_encode_key("reports/2026 Q1/r&d.csv"),
        "reports/2026+Q1/r%26d.csv"
    );
    let s3: S3Event = event("s3-put", &[("key", "a b:c.txt")]);
    assert_eq!(s3.records[0].s3.object.key.as_deref(), Some("a+b%3Ac.txt"));
}
