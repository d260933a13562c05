//! Sources turn the outside world into [`Snapshot`](pylon_model::Snapshot)s. The file source reads
//! the manifests a user would `kubectl apply` and watches them; a kube source comes later.

mod files;
mod kube;

pub use files::FileSource;
pub use kube::{resource, KubeSource};
