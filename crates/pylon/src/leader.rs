//! Leader election on a `coordination.k8s.io/v1` Lease: every replica serves traffic, only the
//! leader writes statuses. A leader renews the Lease every few seconds; when it stops, another
//! replica takes the Lease once it has not been renewed for the lease duration.

use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;
use pylon_model::k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use pylon_model::k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use pylon_model::k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::time::Duration;
use tokio::sync::watch;

pub const LEASE_NAME: &str = "pylon-leader";

#[derive(Clone)]
pub struct Election {
    pub namespace: String,
    pub identity: String,
    pub lease_duration: Duration,
}

/// Runs the election for ever, publishing whether this replica leads.
pub async fn run(client: Client, election: Election, leading: watch::Sender<bool>) {
    let api: Api<Lease> = Api::namespaced(client, &election.namespace);
    let retry = (election.lease_duration / 3).max(Duration::from_millis(500));
    loop {
        let now_leading = match try_lead(&api, &election).await {
            Ok(lead) => lead,
            Err(e) => {
                tracing::warn!(error = %e, "leader election: cannot read or write the Lease");
                // Without a renewed Lease we cannot know we still lead.
                false
            }
        };
        leading.send_if_modified(|was| {
            if *was != now_leading {
                tracing::info!(identity = %election.identity, leading = now_leading, "leadership changed");
                *was = now_leading;
                true
            } else {
                false
            }
        });
        tokio::time::sleep(retry).await;
    }
}

/// One round: create, renew or take over the Lease. Conflicting writes (another replica got there
/// first) fail on the resourceVersion and simply lose this round.
async fn try_lead(api: &Api<Lease>, e: &Election) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let duration_seconds = e.lease_duration.as_secs().max(1) as i32;
    let Some(mut lease) = api.get_opt(LEASE_NAME).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(LEASE_NAME.to_string()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(e.identity.clone()),
                lease_duration_seconds: Some(duration_seconds),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(other) => Err(other),
        };
    };
    let spec = lease.spec.get_or_insert_with(Default::default);
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let renewed = spec
        .renew_time
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let held_for = i64::from(spec.lease_duration_seconds.unwrap_or(duration_seconds));
    let expired = now.duration_since(renewed) > SignedDuration::from_secs(held_for);
    if holder != e.identity && !holder.is_empty() && !expired {
        return Ok(false);
    }
    if holder != e.identity {
        spec.holder_identity = Some(e.identity.clone());
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
    }
    spec.renew_time = Some(MicroTime(now));
    spec.lease_duration_seconds = Some(duration_seconds);
    match api
        .replace(LEASE_NAME, &PostParams::default(), &lease)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(other) => Err(other),
    }
}

/// Gives the Lease up on shutdown (if this replica holds it), so that another replica, or this
/// one restarted, leads at once instead of after the lease duration.
pub async fn release(client: Client, election: &Election) {
    let api: Api<Lease> = Api::namespaced(client, &election.namespace);
    let Ok(Some(mut lease)) = api.get_opt(LEASE_NAME).await else {
        return;
    };
    let Some(spec) = lease.spec.as_mut() else {
        return;
    };
    if spec.holder_identity.as_deref() != Some(election.identity.as_str()) {
        return;
    }
    spec.holder_identity = None;
    spec.renew_time = Some(MicroTime(Timestamp::UNIX_EPOCH));
    if let Err(e) = api
        .replace(LEASE_NAME, &PostParams::default(), &lease)
        .await
    {
        tracing::debug!(error = %e, "cannot release the Lease");
    }
}
