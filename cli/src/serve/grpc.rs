//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`,
//! plain or gzip, answered once the request's spans are committed.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};

use super::receiver::{Receiver, Refusal};
use crate::ui::Access;

/// The trace service over the shared receiver.
pub struct Traces {
    receiver: Arc<Receiver>,
}

#[tonic::async_trait]
impl TraceService for Traces {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let busy = |Refusal::Busy(why)| Status::unavailable(why);
        let permit = self.receiver.permit().await.map_err(busy)?;
        let accepted = self
            .receiver
            .take(request.into_inner(), permit)
            .await
            .map_err(busy)?;
        let partial_success = (accepted.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: accepted.rejected,
            error_message: accepted.message.unwrap_or_default(),
        });
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}

/// Checks each call against the access rule.
#[derive(Clone)]
pub struct Guard {
    access: Access,
    receiver: Arc<Receiver>,
}

impl tonic::service::Interceptor for Guard {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        // gRPC has no Host header to check; browsers cannot speak it, so
        // the DNS-rebinding rule of the HTTP side has nothing to guard here.
        if self.access.admits_bearer(authorization, true) {
            Ok(request)
        } else {
            self.receiver.refused();
            Err(Status::unauthenticated(
                "this server needs its token: send the metadata authorization: Bearer <token>",
            ))
        }
    }
}

/// The gRPC service: gzip both ways, the body limit applied while
/// inflating (tonic answers `RESOURCE_EXHAUSTED` past it; an uncompressed
/// message over it gets `OUT_OF_RANGE`), every call checked by `access`.
pub fn service(
    receiver: Arc<Receiver>,
    access: Access,
) -> InterceptedService<TraceServiceServer<Traces>, Guard> {
    let limit = receiver.body_limit;
    let guard = Guard {
        access,
        receiver: Arc::clone(&receiver),
    };
    let server = TraceServiceServer::new(Traces { receiver })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    InterceptedService::new(server, guard)
}
