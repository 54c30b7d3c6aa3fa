//! # absync-adapter-grpc
//!
//! The gRPC face of absync (tonic): every service of `proto/absync/v1` (`AbsenceIngest` for HR
//! systems, `Subscriptions` for webhook subscribers, `Deliveries` for operators tracking what was sent),
//! bearer-token authentication resolving the caller's tenant, `grpc.health.v1` and server reflection.
//!
//! This crate maps protobuf messages to domain values (naming every bad field in an `INVALID_ARGUMENT`
//! with `google.rpc.BadRequest` details) and application errors to `tonic::Status`. It must never hold
//! business rules or touch a store directly: it calls the application's use cases.

mod auth;
mod convert;
mod deliveries;
mod ingest;
mod oversized;
mod server;
mod status;
mod subscriptions;
mod traced;

pub use deliveries::UnspecifiedStatus;
pub use server::{GrpcApi, ServeError, serve};

/// The generated protobuf types and service stubs of `absync.v1`.
pub mod proto {
    #![allow(
        missing_docs,
        missing_debug_implementations,
        unreachable_pub,
        clippy::all,
        clippy::pedantic
    )]
    tonic::include_proto!("absync.v1");

    /// The encoded file descriptor set of `absync.v1`, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/absync_descriptor.bin"));
}

/// Entry points for the fuzz targets in `fuzz/` (see `fuzz/README.md`); not an API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::proto;
    use absync_domain::Absence;

    pub use crate::convert::Violation;

    /// PutAbsence's conversion of the request's absence: the domain absence, or every bad field.
    ///
    /// # Errors
    /// One violation per bad field, named by its path in the request (`absence.owner.id`).
    pub fn absence_from_proto(absence: Option<proto::Absence>) -> Result<Absence, Vec<Violation>> {
        crate::convert::absence_from_proto(absence)
    }

    /// The absence as GetAbsence shows it.
    #[must_use]
    pub fn absence_to_proto(absence: &Absence) -> proto::Absence {
        crate::convert::absence_to_proto(absence)
    }
}
