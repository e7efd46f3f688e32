//! `$expand=replies`: a root post with its newest replies inline, shared by the messages list
//! and delta (docs/graph.md §2.6).

use serde_json::{Value, json};

use super::Ctx;
use crate::odata::encode_token;
use crate::render::{self, MsgCtx, pct};
use crate::tenant::Message;

/// Inline replies per message under `$expand=replies` (docs/graph.md §2.6).
pub const INLINE_REPLIES: usize = 1000;

/// A root post with `replies`, `replies@odata.count` and, past 1000 replies,
/// `replies@odata.nextLink` to the rest (newest first, like the replies list).
pub fn with_replies(ctx: &Ctx, mctx: &MsgCtx<'_>, root: &Message) -> Value {
    let mut v = render::message(mctx, root, None);
    let total = root.replies.len();
    let inline: Vec<Value> = root
        .replies
        .iter()
        .rev()
        .take(INLINE_REPLIES)
        .map(|r| render::message(mctx, r, Some(root)))
        .collect();
    v["replies@odata.count"] = json!(total);
    if total > INLINE_REPLIES {
        let oldest_inline = root.replies[total - INLINE_REPLIES].id;
        let token = encode_token(&json!({"k": -(oldest_inline as i64)}));
        v["replies@odata.nextLink"] = json!(format!(
            "{}/v1.0/teams/{}/channels/{}/messages/{}/replies?$skiptoken={}",
            ctx.base,
            pct(&mctx.team.id),
            pct(&mctx.channel.id),
            root.id,
            token
        ));
    }
    v["replies"] = Value::Array(inline);
    v
}
