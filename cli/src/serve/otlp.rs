//! OTLP trace requests into the spans the library's extraction takes: each
//! span with the `service.name` of its own resource, so one server receives
//! many services. Spans whose ids are invalid are rejected one by one (and
//! counted for the response's `partial_success`); the rest are kept.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue as OtlpKeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, status, Span as OtlpSpan};
use opentelemetry_sdk::trace::{SpanData, SpanEvents};
use reagentic_protocol::pipeline::IngestSpan;

/// The spans of one request, and what was rejected.
#[derive(Debug, Default)]
pub struct Spans {
    /// The spans kept, in request order.
    pub spans: Vec<IngestSpan>,
    /// How many spans were rejected.
    pub rejected: i64,
    /// Why the first one was (for `partial_success.error_message`).
    pub first_problem: Option<String>,
}

/// Turns a decoded request into spans; never fails as a whole.
pub fn spans_of(request: ExportTraceServiceRequest) -> Spans {
    let mut out = Spans::default();
    for resource_spans in request.resource_spans {
        let service = resource_spans.resource.as_ref().and_then(|resource| {
            resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(name) if !name.is_empty() => Some(name.clone()),
                    _ => None,
                })
        });
        for scope_spans in resource_spans.scope_spans {
            let scope = match scope_spans.scope {
                Some(scope) => InstrumentationScope::builder(scope.name)
                    .with_version(scope.version)
                    .with_attributes(attributes(scope.attributes))
                    .build(),
                None => InstrumentationScope::default(),
            };
            for otlp in scope_spans.spans {
                match span_data(otlp, &scope) {
                    Ok(span) => out.spans.push(IngestSpan::new(span, service.clone())),
                    Err(problem) => {
                        out.rejected += 1;
                        out.first_problem.get_or_insert(problem);
                    }
                }
            }
        }
    }
    out
}

/// Bytes of exactly `N`, or `None`.
fn id_bytes<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

fn span_data(otlp: OtlpSpan, scope: &InstrumentationScope) -> Result<SpanData, String> {
    let trace_id = id_bytes::<16>(&otlp.trace_id)
        .map(TraceId::from_bytes)
        .filter(|id| *id != TraceId::INVALID)
        .ok_or_else(|| {
            format!(
                "span {:?}: the trace id must be 16 bytes, not all zero (got {} bytes)",
                otlp.name,
                otlp.trace_id.len()
            )
        })?;
    let span_id = id_bytes::<8>(&otlp.span_id)
        .map(SpanId::from_bytes)
        .filter(|id| *id != SpanId::INVALID)
        .ok_or_else(|| {
            format!(
                "span {:?}: the span id must be 8 bytes, not all zero (got {} bytes)",
                otlp.name,
                otlp.span_id.len()
            )
        })?;
    let parent_span_id = if otlp.parent_span_id.is_empty() {
        SpanId::INVALID
    } else {
        id_bytes::<8>(&otlp.parent_span_id)
            .map(SpanId::from_bytes)
            .ok_or_else(|| {
                format!(
                    "span {:?}: the parent span id must be empty or 8 bytes (got {} bytes)",
                    otlp.name,
                    otlp.parent_span_id.len()
                )
            })?
    };
    // Flags carry the trace flags in their low byte and, in two bits above,
    // whether the parent is remote.
    let flags = TraceFlags::new((otlp.flags & 0xff) as u8);
    let parent_span_is_remote = otlp.flags & 0x300 == 0x300;
    let trace_state = otlp.trace_state.parse().unwrap_or(TraceState::NONE);
    let start_time = at(otlp.start_time_unix_nano);
    // A clock that went backwards between start and end must not give a
    // negative duration.
    let end_time = at(otlp.end_time_unix_nano).max(start_time);
    let mut events = SpanEvents::default();
    events.dropped_count = otlp.dropped_events_count;
    events.events = otlp
        .events
        .into_iter()
        .map(|event| {
            opentelemetry::trace::Event::new(
                event.name,
                at(event.time_unix_nano),
                attributes(event.attributes),
                event.dropped_attributes_count,
            )
        })
        .collect();
    let status = match otlp.status {
        Some(s) if s.code == status::StatusCode::Error as i32 => Status::error(s.message),
        Some(s) if s.code == status::StatusCode::Ok as i32 => Status::Ok,
        _ => Status::Unset,
    };
    Ok(SpanData {
        span_context: SpanContext::new(trace_id, span_id, flags, true, trace_state),
        parent_span_id,
        parent_span_is_remote,
        span_kind: kind(otlp.kind),
        name: Cow::Owned(otlp.name),
        start_time,
        end_time,
        attributes: attributes(otlp.attributes),
        dropped_attributes_count: otlp.dropped_attributes_count,
        events,
        links: Default::default(),
        status,
        instrumentation_scope: scope.clone(),
    })
}

fn kind(kind: i32) -> SpanKind {
    match span::SpanKind::try_from(kind) {
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

fn at(unix_nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(unix_nanos)
}

/// Attributes in the SDK's form; an attribute without a value is left out.
fn attributes(list: Vec<OtlpKeyValue>) -> Vec<KeyValue> {
    list.into_iter()
        .filter_map(|kv| Some(KeyValue::new(kv.key, value(kv.value?.value?))))
        .collect()
}

/// An OTLP value in the SDK's form. The SDK has no maps, bytes or mixed
/// arrays: those become their JSON text (bytes as base64), which the
/// extraction reads as it reads JSON-valued attributes.
fn value(value: any_value::Value) -> Value {
    match value {
        any_value::Value::StringValue(s) => Value::String(s.into()),
        any_value::Value::BoolValue(b) => Value::Bool(b),
        any_value::Value::IntValue(i) => Value::I64(i),
        any_value::Value::DoubleValue(f) => Value::F64(f),
        any_value::Value::ArrayValue(array) => {
            let items: Vec<any_value::Value> =
                array.values.into_iter().filter_map(|v| v.value).collect();
            homogeneous(&items)
                .unwrap_or_else(|| Value::String(json_text(&any_array(items)).into()))
        }
        other => Value::String(json_text(&other).into()),
    }
}

/// The SDK array of a homogeneous array of scalars.
fn homogeneous(items: &[any_value::Value]) -> Option<Value> {
    use any_value::Value as V;
    let array = match items.first()? {
        V::StringValue(_) => Array::String(
            items
                .iter()
                .map(|v| match v {
                    V::StringValue(s) => Some(StringValue::from(s.clone())),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        V::BoolValue(_) => Array::Bool(
            items
                .iter()
                .map(|v| match v {
                    V::BoolValue(b) => Some(*b),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        V::IntValue(_) => Array::I64(
            items
                .iter()
                .map(|v| match v {
                    V::IntValue(i) => Some(*i),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        V::DoubleValue(_) => Array::F64(
            items
                .iter()
                .map(|v| match v {
                    V::DoubleValue(f) => Some(*f),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    };
    Some(Value::Array(array))
}

fn any_array(items: Vec<any_value::Value>) -> any_value::Value {
    any_value::Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
        values: items
            .into_iter()
            .map(|v| AnyValue { value: Some(v) })
            .collect(),
    })
}

/// Plain JSON of a value: maps as objects, arrays as arrays, bytes as base64.
fn json_text(value: &any_value::Value) -> String {
    json(value).to_string()
}

fn json(value: &any_value::Value) -> serde_json::Value {
    use base64::Engine;
    use serde_json::Value as J;
    let of = |v: &AnyValue| v.value.as_ref().map_or(J::Null, json);
    match value {
        any_value::Value::StringValue(s) => J::from(s.as_str()),
        any_value::Value::BoolValue(b) => J::from(*b),
        any_value::Value::IntValue(i) => J::from(*i),
        any_value::Value::DoubleValue(f) => J::from(*f),
        any_value::Value::ArrayValue(a) => J::Array(a.values.iter().map(of).collect()),
        any_value::Value::KvlistValue(list) => J::Object(
            list.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, of)))
                .collect(),
        ),
        any_value::Value::BytesValue(b) => {
            J::from(base64::engine::general_purpose::STANDARD.encode(b))
        }
        // An index into a profile's string table, which traces do not have.
        any_value::Value::StringValueStrindex(_) => J::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::Status as SdkStatus;

    /// An OTLP/JSON request as the spec writes it: upper- and lower-case hex
    /// ids, enums as integers, 64-bit integers as strings and as numbers, and
    /// fields this decoder does not know.
    const JSON: &str = r#"{
      "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "travel"}}]},
        "unknownField": {"x": 1},
        "scopeSpans": [{
          "scope": {"name": "openinference", "version": "1.0"},
          "spans": [
            {"traceId": "4BF92F3577B34DA6A3CE929D0E0E4736", "spanId": "00f067aa0ba902b7",
             "parentSpanId": "", "name": "invoke_agent planner", "kind": 1,
             "startTimeUnixNano": "1764558000000000000", "endTimeUnixNano": 1764558001000000000,
             "attributes": [
               {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
               {"key": "n", "value": {"intValue": 7}},
               {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}}},
               {"key": "m", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": true}}]}}}
             ],
             "status": {"code": 2, "message": "boom"},
             "futureField": true},
            {"traceId": "00000000000000000000000000000000", "spanId": "00f067aa0ba902b8", "name": "bad"}
          ]
        }]
      }]
    }"#;

    #[test]
    fn otlp_json_follows_the_spec_and_bad_ids_are_rejected_one_by_one() {
        let request: ExportTraceServiceRequest = serde_json::from_str(JSON).unwrap();
        let spans = spans_of(request);
        assert_eq!(spans.rejected, 1);
        assert!(spans.first_problem.unwrap().contains("trace id"));
        assert_eq!(spans.spans.len(), 1);
        let span = &spans.spans[0];
        assert_eq!(span.service_name(), Some("travel"));
        let data = span.span();
        assert_eq!(
            data.span_context.trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
        );
        assert_eq!(data.span_kind, SpanKind::Internal);
        assert_eq!(
            data.end_time.duration_since(data.start_time).unwrap(),
            Duration::from_secs(1)
        );
        assert_eq!(data.status, SdkStatus::error("boom"));
        assert_eq!(data.instrumentation_scope.name(), "openinference");
        let attr = |key: &str| {
            data.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(attr("gen_ai.usage.input_tokens"), Some(Value::I64(12)));
        assert_eq!(attr("n"), Some(Value::I64(7)));
        assert_eq!(attr("tags"), Some(Value::String(r#"["a",1]"#.into())));
        assert_eq!(attr("m"), Some(Value::String(r#"{"k":true}"#.into())));
    }

    #[test]
    fn wrong_length_ids_are_rejected_and_an_empty_parent_is_a_root() {
        let span = |trace: Vec<u8>, span: Vec<u8>, parent: Vec<u8>| OtlpSpan {
            trace_id: trace,
            span_id: span,
            parent_span_id: parent,
            name: "s".into(),
            ..Default::default()
        };
        let scope = InstrumentationScope::default();
        assert!(span_data(span(vec![1; 16], vec![1; 8], vec![]), &scope).is_ok());
        assert!(span_data(span(vec![1; 15], vec![1; 8], vec![]), &scope).is_err());
        assert!(span_data(span(vec![1; 16], vec![0; 8], vec![]), &scope).is_err());
        assert!(span_data(span(vec![1; 16], vec![1; 8], vec![1; 3]), &scope).is_err());
    }
}
