//! Kubernetes input objects as Pylon reads them: the typed kinds, the immutable [`Snapshot`] that
//! sources publish, the decoder for multi-document YAML manifests, and [`Problem`]s that name the
//! object, file and field a user has to fix.

pub mod aws;
mod decode;
pub mod lattice;
mod object;
mod problem;
mod snapshot;

pub use decode::{decode_api_object, decode_manifests, Decoded, DecodedObject};
pub use gateway_api;
pub use k8s_openapi;
pub use object::{Kind, Object, ObjectRef};
pub use problem::{Problem, Severity};
pub use snapshot::Snapshot;
