//! The ALB fixed-response action.

use super::step::{Exchange, Flow, Step};
use crate::message::answer;
use bytes::Bytes;

#[derive(Debug)]
pub struct Fixed {
    status: u16,
    content_type: String,
    body: Bytes,
}

impl Fixed {
    pub fn new(status: u16, content_type: &str, body: &Option<String>) -> Self {
        Fixed {
            status,
            content_type: content_type.to_string(),
            body: Bytes::from(body.clone().unwrap_or_default()),
        }
    }
}

impl Step for Fixed {
    async fn request<'a>(&'a self, _: &mut Exchange<'a>) -> Flow {
        Flow::Answer(answer::fixed(
            self.status,
            &self.content_type,
            self.body.clone(),
        ))
    }
}
