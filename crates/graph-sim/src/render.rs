//! Turns tenant records into the JSON Graph serves (docs/graph.md §2, §8). Message content is
//! rebuilt here from each message's seed, deterministically.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::clock::Millis;
use crate::encode::{guid, ts};
use crate::tenant::{Author, Channel, Kind, Member, Message, Reaction, Team, Tenant};

const APPS: &[(&str, &str, &str)] = &[
    ("28b35b3f-2c0d-4a51-9b9a-1f0f5a7d3c11", "Workflows", "bot"),
    (
        "6a0e3d2b-7c41-4f8e-a3b2-9d5c1e0f4a22",
        "Azure DevOps",
        "bot",
    ),
    (
        "9f1d4c3e-2b5a-4e7d-8c6f-0a1b2c3d4e33",
        "Incoming Webhook",
        "connector",
    ),
];
const WORDS: &[&str] = &[
    "deploy",
    "review",
    "budget",
    "customer",
    "release",
    "meeting",
    "draft",
    "roadmap",
    "issue",
    "latency",
    "invoice",
    "design",
    "feedback",
    "sprint",
    "backlog",
    "launch",
    "contract",
    "slides",
    "survey",
    "résumé",
    "naïve",
    "café",
    "<script>",
    "&",
    "\"quoted\"",
    "tomorrow",
    "Friday",
    "Q3",
];

pub fn team_full(tenant: &Tenant, team: &Team) -> Value {
    let summary = team_summary(tenant, team);
    let general = team.channels.first().map(|c| c.id.clone());
    json!({
        "id": team.id,
        "createdDateTime": team.created.map(ts),
        "displayName": team.display_name,
        "description": team.description,
        "internalId": general,
        "classification": team.classification,
        "specialization": team.specialization,
        "visibility": team.visibility,
        "webUrl": general.as_ref().map(|g| format!(
            "https://teams.microsoft.com/l/team/{}/conversations?groupId={}&tenantId={}",
            pct(g), team.id, tenant.tenant_id)),
        "isArchived": team.is_archived,
        "tenantId": tenant.tenant_id,
        "isMembershipLimitedToOwners": if team.sparse { Value::Null } else { json!(false) },
        "memberSettings": if team.sparse { Value::Null } else { json!({
            "allowCreateUpdateChannels": true,
            "allowCreatePrivateChannels": true,
            "allowDeleteChannels": true,
            "allowAddRemoveApps": true,
            "allowCreateUpdateRemoveTabs": true,
            "allowCreateUpdateRemoveConnectors": true
        })},
        "guestSettings": {
            "allowCreateUpdateChannels": false,
            "allowDeleteChannels": false
        },
        "messagingSettings": {
            "allowUserEditMessages": true,
            "allowUserDeleteMessages": true,
            "allowOwnerDeleteMessages": true,
            "allowTeamMentions": true,
            "allowChannelMentions": true
        },
        "funSettings": if team.sparse { Value::Null } else { json!({
            "allowGiphy": true,
            "giphyContentRating": "moderate",
            "allowStickersAndMemes": true,
            "allowCustomMemes": true
        })},
        "discoverySettings": {
            "showInTeamsSearchAndSuggestions": team.visibility == "public"
        },
        "summary": summary,
    })
}

pub fn team_summary(tenant: &Tenant, team: &Team) -> Value {
    let owners = team
        .live_members()
        .filter(|(_, m)| has_role(m, "owner"))
        .count();
    let guests = team
        .live_members()
        .filter(|(_, m)| tenant.users[m.user].tenant_id != tenant.tenant_id)
        .count();
    json!({
        "ownersCount": owners,
        "membersCount": team.live_members().count() - guests,
        "guestsCount": guests,
    })
}

fn has_role(m: &Member, role: &str) -> bool {
    m.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
}

/// `GET /teams` populates only id, displayName, description and visibility; the other
/// properties are present and null (docs/graph.md §2.1, §9.16).
pub fn team_listed(team: &Team) -> Value {
    json!({
        "id": team.id,
        "createdDateTime": null,
        "displayName": team.display_name,
        "description": team.description,
        "internalId": null,
        "classification": null,
        "specialization": null,
        "visibility": team.visibility,
        "webUrl": null,
        "isArchived": null,
        "tenantId": null,
        "isMembershipLimitedToOwners": null,
        "memberSettings": null,
        "guestSettings": null,
        "messagingSettings": null,
        "funSettings": null,
        "discoverySettings": null,
        "summary": null,
    })
}

pub fn group(team: &Team) -> Value {
    json!({
        "id": team.id,
        "deletedDateTime": null,
        "classification": team.classification,
        "createdDateTime": team.created.map(ts),
        "creationOptions": ["Team", "ExchangeProvisioningFlags:3552"],
        "description": team.description,
        "displayName": team.display_name,
        "expirationDateTime": null,
        "groupTypes": ["Unified"],
        "isAssignableToRole": null,
        "mail": format!("{}@contoso.onmicrosoft.com", team.mail_nickname),
        "mailEnabled": true,
        "mailNickname": team.mail_nickname,
        "membershipRule": null,
        "membershipRuleProcessingState": null,
        "onPremisesDomainName": null,
        "onPremisesLastSyncDateTime": null,
        "onPremisesSyncEnabled": null,
        "preferredDataLocation": null,
        "preferredLanguage": null,
        "proxyAddresses": [format!("SMTP:{}@contoso.onmicrosoft.com", team.mail_nickname)],
        "renewedDateTime": team.created.map(ts),
        "resourceBehaviorOptions": [],
        "resourceProvisioningOptions": ["Team"],
        "securityEnabled": false,
        "securityIdentifier": format!("S-1-12-1-{}", crate::encode::fnv(team.id.as_bytes()) % 4_000_000_000),
        "theme": null,
        "visibility": if team.visibility == "private" { "Private" } else { "Public" },
        "onPremisesProvisioningErrors": [],
    })
}

pub fn plain_group(g: &crate::tenant::PlainGroup) -> Value {
    json!({
        "id": g.id,
        "deletedDateTime": null,
        "classification": null,
        "createdDateTime": ts(g.created),
        "creationOptions": [],
        "description": null,
        "displayName": g.display_name,
        "expirationDateTime": null,
        "groupTypes": [],
        "isAssignableToRole": null,
        "mail": null,
        "mailEnabled": false,
        "mailNickname": g.display_name.replace(' ', ""),
        "membershipRule": null,
        "membershipRuleProcessingState": null,
        "onPremisesDomainName": null,
        "onPremisesLastSyncDateTime": null,
        "onPremisesSyncEnabled": null,
        "preferredDataLocation": null,
        "preferredLanguage": null,
        "proxyAddresses": [],
        "renewedDateTime": ts(g.created),
        "resourceBehaviorOptions": [],
        "resourceProvisioningOptions": [],
        "securityEnabled": true,
        "securityIdentifier": format!("S-1-12-1-{}", crate::encode::fnv(g.id.as_bytes()) % 4_000_000_000),
        "theme": null,
        "visibility": null,
        "onPremisesProvisioningErrors": [],
    })
}

/// Full channel object, including `email` (expensive in real Graph, docs/graph.md §2.4) but not
/// `summary`, which only `$select=summary` brings.
pub fn channel(tenant: &Tenant, team: &Team, ch: &Channel) -> Value {
    let shared = ch.membership == crate::tenant::Membership::Shared;
    json!({
        "id": ch.id,
        "createdDateTime": ch.created.map(ts),
        "displayName": ch.display_name,
        "description": ch.description,
        "isFavoriteByDefault": ch.is_favorite_by_default,
        "email": ch.email,
        "tenantId": tenant.tenant_id,
        "webUrl": format!(
            "https://teams.microsoft.com/l/channel/{}/{}?groupId={}&tenantId={}",
            pct(&ch.id), pct(&ch.display_name), team.id, tenant.tenant_id),
        "membershipType": ch.membership.as_str(),
        "isArchived": false,
        "layoutType": "post",
        "moderationSettings": if shared { Value::Null } else { json!({
            "userNewMessageRestriction": "everyone",
            "replyRestriction": "everyone",
            "allowNewMessageFromBots": true,
            "allowNewMessageFromConnectors": true
        })},
    })
}

pub fn channel_summary(team: &Team, ch: &Channel) -> Value {
    let guests = team
        .live_members()
        .filter(|(_, m)| has_role(m, "guest"))
        .count();
    let owners = team
        .live_members()
        .filter(|(_, m)| has_role(m, "owner"))
        .count();
    json!({
        "ownersCount": owners,
        "membersCount": team.live_members().count() - guests,
        "guestsCount": guests,
        "hasMembersFromOtherTenants": ch.membership == crate::tenant::Membership::Shared,
    })
}

pub fn member(tenant: &Tenant, m: &Member) -> Value {
    let u = &tenant.users[m.user];
    json!({
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "id": m.id,
        "roles": m.roles,
        "displayName": u.display_name,
        // Team members see the whole history: Graph's "beginning of time" value.
        "visibleHistoryStartDateTime": if m.visible_history_start == 0 {
            "0001-01-01T00:00:00Z".to_string()
        } else {
            ts(m.visible_history_start)
        },
        "userId": u.id,
        "email": u.email,
        "tenantId": u.tenant_id,
    })
}

/// Where a message lives, for `channelIdentity`, `webUrl` and mentions.
pub struct MsgCtx<'a> {
    pub tenant: &'a Tenant,
    pub team: &'a Team,
    pub channel: &'a Channel,
    /// `Prefer: include-unknown-enum-members` was sent (docs/graph.md §2.11).
    pub include_unknown_enum: bool,
}

fn user_identity(tenant: &Tenant, user: usize, with_name: bool) -> Value {
    let u = &tenant.users[user];
    json!({
        "@odata.type": "#microsoft.graph.teamworkUserIdentity",
        "id": u.id,
        "displayName": if with_name { json!(u.display_name) } else { Value::Null },
        "userIdentityType": "aadUser",
        "tenantId": u.tenant_id,
    })
}

/// A chatMessage. `root` is the thread's root post when `m` is a reply.
pub fn message(ctx: &MsgCtx<'_>, m: &Message, root: Option<&Message>) -> Value {
    let tenant = ctx.tenant;
    let mut rng = SmallRng::seed_from_u64(m.seed);
    let deleted = m.deleted.is_some();
    let from = match m.author {
        Author::User(u) => json!({
            "application": null,
            "device": null,
            "user": user_identity(tenant, u, true),
        }),
        Author::App(a) => {
            let (id, name, kind) = APPS[a % APPS.len()];
            json!({
                "application": {
                    "@odata.type": "#microsoft.graph.teamworkApplicationIdentity",
                    "id": id,
                    "displayName": name,
                    "applicationIdentityType": kind,
                },
                "device": null,
                "user": null,
            })
        }
        Author::Nobody => Value::Null,
    };
    let system = m.kind == Kind::SystemEvent;
    let message_type = if system {
        if ctx.include_unknown_enum {
            "systemEventMessage"
        } else {
            "unknownFutureValue"
        }
    } else {
        "message"
    };
    let mut mentions = Vec::new();
    let mut attachments = Vec::new();
    let mut event_detail = Value::Null;
    let (content_type, content) = if deleted {
        ("html", String::new())
    } else if let Some(html) = &m.custom_html {
        ("html", html.clone())
    } else {
        match m.kind {
            Kind::Text => ("text", sentence(&mut rng, 6)),
            Kind::Html => (
                "html",
                format!("<p>{}</p>", html_escape(&sentence(&mut rng, 10))),
            ),
            Kind::Mentions => {
                // Members who had joined when the message was posted (tombstones included, so
                // a removal changes nothing either): its text never changes afterwards.
                let pool: Vec<&crate::tenant::Member> = ctx
                    .team
                    .members
                    .iter()
                    .filter(|x| x.joined <= m.created)
                    .collect();
                let n = rng.random_range(1..=2usize).min(pool.len().max(1));
                let mut html = String::from("<div><div>");
                for i in 0..n {
                    if pool.is_empty() {
                        break;
                    }
                    let mem = pool[rng.random_range(0..pool.len())];
                    let u = &tenant.users[mem.user];
                    html.push_str(&format!(
                        "<at id=\"{i}\">{}</at>&nbsp;",
                        html_escape(&u.display_name)
                    ));
                    mentions.push(json!({
                        "id": i,
                        "mentionText": u.display_name,
                        "mentioned": {
                            "application": null,
                            "device": null,
                            "conversation": null,
                            "tag": null,
                            "user": user_identity(tenant, mem.user, true),
                        }
                    }));
                }
                html.push_str(&html_escape(&sentence(&mut rng, 7)));
                html.push_str("</div></div>");
                ("html", html)
            }
            Kind::FileAttachment => {
                let att_id = guid(&mut rng);
                let name = format!("{}.docx", WORDS[rng.random_range(0..16)]);
                attachments.push(json!({
                    "id": att_id,
                    "contentType": "reference",
                    "contentUrl": format!(
                        "https://contoso.sharepoint.com/sites/{}/Shared%20Documents/{}/{}",
                        ctx.team.mail_nickname, pct(&ctx.channel.display_name), name),
                    "content": null,
                    "name": name,
                    "thumbnailUrl": null,
                    "teamsAppId": null,
                }));
                (
                    "html",
                    format!(
                        "<div>{} <attachment id=\"{att_id}\"></attachment></div>",
                        html_escape(&sentence(&mut rng, 5))
                    ),
                )
            }
            Kind::Card => {
                let att_id = hex_id(&mut rng);
                let card = json!({
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": sentence(&mut rng, 4), "weight": "bolder"},
                        {"type": "TextBlock", "text": sentence(&mut rng, 8), "wrap": true}
                    ]
                });
                attachments.push(json!({
                    "id": att_id,
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    // Graph carries the card JSON as a string (docs/graph.md §8).
                    "content": card.to_string(),
                    "name": null,
                    "thumbnailUrl": null,
                    "teamsAppId": null,
                }));
                ("html", format!("<attachment id=\"{att_id}\"></attachment>"))
            }
            Kind::SystemEvent => {
                event_detail = system_event(ctx, &mut rng, m);
                ("html", "<systemEventMessage/>".to_string())
            }
        }
    };
    let (mentions, attachments) = if deleted {
        (vec![], vec![])
    } else {
        (mentions, attachments)
    };
    let reactions: Vec<Value> = m
        .reactions
        .iter()
        .map(|r| {
            json!({
                "reactionType": r.reaction_type,
                "reactionContentUrl": null,
                "displayName": reaction_name(&r.reaction_type),
                "createdDateTime": ts(r.at),
                "user": {
                    "application": null,
                    "device": null,
                    "user": user_identity(tenant, r.user, false),
                }
            })
        })
        .collect();
    let parent = root.map(|r| r.id).unwrap_or(m.id);
    let mut o = Map::new();
    o.insert("id".into(), json!(m.id.to_string()));
    o.insert("replyToId".into(), json!(root.map(|r| r.id.to_string())));
    o.insert("etag".into(), json!(m.last_modified.to_string()));
    o.insert("messageType".into(), json!(message_type));
    o.insert("createdDateTime".into(), json!(ts(m.created)));
    o.insert("lastModifiedDateTime".into(), json!(ts(m.last_modified)));
    o.insert("lastEditedDateTime".into(), json!(m.edited.map(ts)));
    o.insert("deletedDateTime".into(), json!(m.deleted.map(ts)));
    o.insert(
        "subject".into(),
        if root.is_none() && !system && m.seed.is_multiple_of(5) && !deleted {
            json!(sentence(&mut SmallRng::seed_from_u64(m.seed ^ 1), 3))
        } else if root.is_none() {
            json!("")
        } else {
            Value::Null
        },
    );
    o.insert("summary".into(), Value::Null);
    o.insert("chatId".into(), Value::Null);
    o.insert("importance".into(), json!(m.importance));
    o.insert("locale".into(), json!("en-us"));
    o.insert(
        "webUrl".into(),
        json!(format!(
            "https://teams.microsoft.com/l/message/{}/{}?groupId={}&tenantId={}&createdTime={}&parentMessageId={}",
            pct(&ctx.channel.id), m.id, ctx.team.id, tenant.tenant_id, m.created, parent
        )),
    );
    o.insert("policyViolation".into(), Value::Null);
    o.insert("eventDetail".into(), event_detail);
    o.insert("from".into(), from);
    o.insert(
        "body".into(),
        json!({"contentType": content_type, "content": content}),
    );
    o.insert(
        "channelIdentity".into(),
        json!({"teamId": ctx.team.id, "channelId": ctx.channel.id}),
    );
    o.insert("attachments".into(), Value::Array(attachments));
    o.insert("mentions".into(), Value::Array(mentions));
    o.insert("reactions".into(), Value::Array(reactions));
    // Every reaction ever added, and every removal, in time order.
    let mut events: Vec<(Millis, &str, &Reaction)> = m
        .reactions
        .iter()
        .chain(m.unreacted.iter().map(|(r, _)| r))
        .map(|r| (r.at, "reactionAdded", r))
        .chain(
            m.unreacted
                .iter()
                .map(|(r, at)| (*at, "reactionRemoved", r)),
        )
        .collect();
    events.sort_by_key(|(at, _, _)| *at);
    let history: Vec<Value> = events
        .into_iter()
        .map(|(at, action, r)| {
            json!({
                "modifiedDateTime": ts(at),
                "actions": action,
                "reaction": {
                    "reactionType": r.reaction_type,
                    "displayName": reaction_name(&r.reaction_type),
                    "reactionContentUrl": null,
                    "createdDateTime": ts(r.at),
                    "user": {"application": null, "device": null, "user": user_identity(tenant, r.user, false)}
                }
            })
        })
        .collect();
    o.insert("messageHistory".into(), Value::Array(history));
    Value::Object(o)
}

fn system_event(ctx: &MsgCtx<'_>, rng: &mut SmallRng, m: &Message) -> Value {
    let initiator = ctx
        .team
        .members
        .first()
        .map(|mem| json!({"application": null, "device": null, "user": user_identity(ctx.tenant, mem.user, false)}))
        .unwrap_or(Value::Null);
    match rng.random_range(0..3) {
        0 => json!({
            "@odata.type": "#microsoft.graph.membersAddedEventMessageDetail",
            "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
            "members": ctx.team.members.iter().take(2).map(|mem| json!({
                "id": ctx.tenant.users[mem.user].id,
                "displayName": null,
                "userIdentityType": "aadUser",
                "tenantId": ctx.tenant.users[mem.user].tenant_id,
            })).collect::<Vec<_>>(),
            "initiator": initiator,
        }),
        1 => json!({
            "@odata.type": "#microsoft.graph.teamDescriptionUpdatedEventMessageDetail",
            "teamId": ctx.team.id,
            "teamDescription": ctx.team.description,
            "initiator": initiator,
        }),
        _ => json!({
            "@odata.type": "#microsoft.graph.channelAddedEventMessageDetail",
            "channelId": ctx.channel.id,
            "channelDisplayName": ctx.channel.display_name,
            "initiator": initiator,
            "eventTime": ts(m.created),
        }),
    }
}

fn reaction_name(t: &str) -> &'static str {
    match t {
        "like" => "Like",
        "heart" => "Heart",
        "laugh" => "Laugh",
        "surprised" => "Surprised",
        "sad" => "Sad",
        "angry" => "Angry",
        _ => "Emoji",
    }
}

fn sentence<R: Rng>(rng: &mut R, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s
}

fn hex_id<R: Rng>(rng: &mut R) -> String {
    let a: u64 = rng.random();
    format!("{a:016x}")
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Percent-encodes a path or query component the way Graph's own links do.
pub fn pct(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
