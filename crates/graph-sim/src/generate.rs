//! Deterministic tenant generation from a seed and size parameters. Every team, channel and
//! thread draws from its own generator derived from the seed, so the same seed and epoch always
//! give the same tenant, whatever the sizes of the other parts.

use std::collections::HashMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::clock::Millis;
use crate::config::SimConfig;
use crate::encode::{guid, hex32, mix};
use crate::tenant::{
    Author, Channel, Kind, Member, Membership, Message, PlainGroup, Reaction, Team, Tenant, User,
    membership_id,
};

const DAY: Millis = 86_400_000;
/// History reaches this far back, beyond delta's eight-month window (docs/graph.md §5.1).
pub const HISTORY_DAYS: Millis = 300;

const FIRST: &[&str] = &[
    "Adele",
    "Alex",
    "Allan",
    "Christie",
    "Debra",
    "Diego",
    "Emily",
    "Enrico",
    "Grady",
    "Henrietta",
    "Irvin",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Søren",
    "Zoë",
    "Nuno",
    "Aiko",
    "Ravi",
    "Fatima",
    "Olivier",
    "Chen",
];
const LAST: &[&str] = &[
    "Vance",
    "Wilber",
    "Deal",
    "Cline",
    "Zollinger",
    "Soto",
    "Braun",
    "Mueller",
    "Archie",
    "Mueller",
    "Sherman",
    "Langer",
    "Lauer",
    "Sherwood",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Hunter",
    "Wilke",
    "Fernandez",
    "Gupta",
    "Kierkegaard",
    "O'Neil",
    "Silva",
    "Tanaka",
];
const TEAM_WORDS: &[&str] = &[
    "Mark 8 Project",
    "Sales and Marketing",
    "Retail",
    "U.S. Sales",
    "Digital Initiative",
    "Engineering",
    "Contoso Life",
    "Leadership",
    "Finance",
    "HR Taskforce",
    "Operations",
    "Product Support",
    "Legal & Compliance",
    "Design Studio",
    "Data Platform",
    "Field Service",
];
const CHANNEL_WORDS: &[&str] = &[
    "Announcements",
    "Research and Development",
    "Design",
    "Go-to-market",
    "Support",
    "Budget 2026",
    "Ops / on-call",
    "Random",
    "Customer feedback",
    "Q&A",
    "Planning",
    "Releases",
];

pub fn generate(cfg: &SimConfig, now: Millis) -> Tenant {
    let mut rng = SmallRng::seed_from_u64(mix(cfg.seed, &[1]));
    let n_users = (cfg.members_per_team * 2).max(12);
    let users: Vec<User> = (0..n_users)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i / FIRST.len() + i * 7) % LAST.len()];
            // Every ninth user is a guest from another directory.
            let guest = i % 9 == 8;
            let mail_first: String = first.chars().filter(|c| c.is_ascii_alphabetic()).collect();
            let mail_last: String = last.chars().filter(|c| c.is_ascii_alphabetic()).collect();
            User {
                id: guid(&mut rng),
                display_name: if guest {
                    format!("{first} {last} (Fabrikam)")
                } else {
                    format!("{first} {last}")
                },
                email: if guest {
                    format!("{mail_first}.{mail_last}{i}@fabrikam.example")
                } else {
                    format!("{mail_first}.{mail_last}{i}@contoso.onmicrosoft.com")
                },
                tenant_id: if guest {
                    "b1a2c3d4-0000-4e5f-8a9b-0c1d2e3f4a5b".to_string()
                } else {
                    cfg.tenant_id.clone()
                },
            }
        })
        .collect();

    let mut tenant = Tenant {
        tenant_id: cfg.tenant_id.clone(),
        users,
        teams: Vec::with_capacity(cfg.teams),
        team_index: HashMap::new(),
        plain_groups: Vec::new(),
        change_seq: 0,
    };
    for t in 0..cfg.teams {
        let team = gen_team(cfg, &tenant, t, now);
        tenant.team_index.insert(team.id.clone(), t);
        tenant.teams.push(team);
    }
    // Each team's first shared channel is also visible to the next team (allChannels,
    // docs/graph.md §2.4: the team's channels plus those shared with it).
    let n = tenant.teams.len();
    if n > 1 {
        for t in 0..n {
            if let Some(c) = tenant.teams[t]
                .channels
                .iter()
                .position(|c| c.membership == Membership::Shared)
            {
                tenant.teams[(t + 1) % n].incoming.push((t, c));
            }
        }
    }
    let mut grng = SmallRng::seed_from_u64(mix(cfg.seed, &[2]));
    for i in 0..3 {
        tenant.plain_groups.push(PlainGroup {
            id: guid(&mut grng),
            display_name: ["All Company", "Printer admins", "Parking permits"][i].to_string(),
            created: now - (HISTORY_DAYS + 40 + i as Millis) * DAY,
        });
    }
    tenant
}

fn gen_team(cfg: &SimConfig, tenant: &Tenant, t: usize, now: Millis) -> Team {
    let mut rng = SmallRng::seed_from_u64(mix(cfg.seed, &[10, t as u64]));
    let base = TEAM_WORDS[t % TEAM_WORDS.len()];
    let display_name = if t < TEAM_WORDS.len() {
        base.to_string()
    } else {
        format!("{base} {}", t / TEAM_WORDS.len() + 1)
    };
    // Every fourth team has its optional properties null.
    let sparse = t % 4 == 3;
    let created = now - (HISTORY_DAYS + 5 + rng.random_range(0..60)) * DAY;
    let mail_nickname: String = display_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut team = Team {
        id: guid(&mut rng),
        display_name,
        description: (!sparse).then(|| format!("Everything about {base}.")),
        classification: (!sparse && t.is_multiple_of(3)).then(|| "Confidential".to_string()),
        visibility: if t % 3 == 1 { "private" } else { "public" },
        specialization: (!sparse).then_some("none"),
        created: (!sparse).then_some(created),
        is_archived: false,
        sparse,
        mail_nickname,
        members: Vec::new(),
        member_index: HashMap::new(),
        channels: Vec::new(),
        channel_index: HashMap::new(),
        incoming: Vec::new(),
        removed: false,
    };

    let n_users = tenant.users.len();
    let first_user = (t * 5) % n_users;
    for m in 0..cfg.members_per_team.min(n_users) {
        let user = (first_user + m) % n_users;
        let guest = tenant.users[user].tenant_id != tenant.tenant_id;
        let roles: Vec<String> = if guest {
            vec!["guest".into()]
        } else if m == 0 || m % 5 == 1 {
            vec!["owner".into()]
        } else {
            vec![]
        };
        let id = membership_id(&team.id, &tenant.users[user].id);
        team.member_index.insert(id.clone(), team.members.len());
        team.members.push(Member {
            id,
            user,
            roles,
            visible_history_start: 0,
            joined: 0,
            removed: false,
        });
    }

    let member_users: Vec<usize> = team.members.iter().map(|m| m.user).collect();
    let mut shared_first_root: Option<Millis> = None;
    for c in 0..cfg.channels_per_team {
        let membership = match c {
            0 => Membership::Standard,
            1 => Membership::Private,
            2 => Membership::Shared,
            _ if c % 4 == 3 => Membership::Private,
            _ => Membership::Standard,
        };
        let domain = if membership == Membership::Private {
            "thread.skype"
        } else {
            "thread.tacv2"
        };
        let id = format!("19:{}@{domain}", hex32(&mut rng));
        let display_name = if c == 0 {
            "General".to_string()
        } else {
            let w = CHANNEL_WORDS[(c + t) % CHANNEL_WORDS.len()];
            if c > CHANNEL_WORDS.len() {
                format!("{w} {c}")
            } else {
                w.to_string()
            }
        };
        let channel_created = if sparse && c == 2 {
            None
        } else {
            Some(created + c as Millis * DAY)
        };
        let mut ch = Channel {
            email: if membership == Membership::Standard {
                format!(
                    "{}.{}@contoso.onmicrosoft.com",
                    team.mail_nickname,
                    &hex32(&mut rng)[..8]
                )
            } else {
                String::new()
            },
            id,
            display_name,
            description: (c % 2 == 0).then(|| format!("Channel {c} of {}", team.display_name)),
            membership,
            created: channel_created,
            is_favorite_by_default: if membership == Membership::Shared {
                None
            } else {
                Some(c == 0)
            },
            messages: Vec::new(),
            hard_deleted: Vec::new(),
            removed: false,
        };
        let crng_seed = mix(cfg.seed, &[20, t as u64, c as u64]);
        // Channels 0 and 1 of every team start with a post at the same millisecond, so the same
        // message id occurs in two channels (docs/graph.md §8: ids repeat across channels).
        let forced_first = if c <= 1 {
            Some(*shared_first_root.get_or_insert_with(|| {
                let mut r = SmallRng::seed_from_u64(mix(cfg.seed, &[30, t as u64]));
                now - (HISTORY_DAYS - 1) * DAY + r.random_range(0..DAY)
            }))
        } else {
            None
        };
        ch.messages = gen_messages(cfg, crng_seed, t, c, now, forced_first, &member_users);
        team.channel_index
            .insert(ch.id.clone(), team.channels.len());
        team.channels.push(ch);
    }
    team
}

fn gen_messages(
    cfg: &SimConfig,
    seed: u64,
    t: usize,
    c: usize,
    now: Millis,
    forced_first: Option<Millis>,
    members: &[usize],
) -> Vec<Message> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let n = cfg.messages_per_channel;
    let start = now - HISTORY_DAYS * DAY;
    let end = now - 3_600_000;
    let mut times: Vec<Millis> = (0..n)
        .map(|_| {
            // Activity grows towards the present (density rises as u^2 falls off): about 15% of
            // posts in the last week, about 10% older than delta's eight-month window.
            let u: f64 = rng.random();
            let t = end - ((end - start) as f64 * u * u) as Millis;
            round_some(&mut rng, t)
        })
        .collect();
    times.sort_unstable();
    if let (Some(f), Some(first)) = (forced_first, times.first_mut()) {
        *first = f;
        times.sort_unstable();
    }
    let mut used = std::collections::HashSet::new();
    let mut msgs = Vec::with_capacity(n);
    for (i, &created) in times.iter().enumerate() {
        let big = cfg.big_threads && t == 0 && c == 0 && i == n / 2;
        let n_replies = if big {
            1005
        } else if cfg.replies_per_message == 0 || rng.random_bool(0.25) {
            0
        } else {
            rng.random_range(1..=cfg.replies_per_message)
        };
        let root = gen_message(&mut rng, created, now, members, true, &mut used);
        let mut root = root;
        let span = (now - root.created - 1000).clamp(1000, 3 * DAY);
        let mut rtimes: Vec<Millis> = (0..n_replies)
            .map(|_| {
                let t = root.created + 1000 + rng.random_range(0..span);
                round_some(&mut rng, t)
            })
            .collect();
        rtimes.sort_unstable();
        for rt in rtimes {
            let rt = rt.min(now - 1);
            let reply = gen_message(&mut rng, rt, now, members, false, &mut used);
            root.replies.push(reply);
        }
        root.replies.sort_by_key(|r| r.id);
        root.recompute_chain();
        msgs.push(root);
    }
    msgs.sort_by_key(|m| m.id);
    msgs
}

/// A third of the timestamps fall on a 10 ms boundary, so they render with 2 fractional digits.
fn round_some<R: Rng>(rng: &mut R, t: Millis) -> Millis {
    if rng.random_bool(0.33) {
        t - t.rem_euclid(10)
    } else {
        t
    }
}

fn gen_message<R: Rng>(
    rng: &mut R,
    created: Millis,
    now: Millis,
    members: &[usize],
    root: bool,
    used: &mut std::collections::HashSet<u64>,
) -> Message {
    let mut id = created.max(0) as u64;
    while !used.insert(id) {
        id += 1;
    }
    let created = id as Millis;
    let roll: u32 = rng.random_range(0..100);
    let (kind, author) = match roll {
        0..=4 if root => (Kind::SystemEvent, Author::Nobody),
        5..=9 => (Kind::Card, Author::App(rng.random_range(0..3))),
        10..=21 => (Kind::Text, pick_user(rng, members)),
        22..=37 => (Kind::Mentions, pick_user(rng, members)),
        38..=45 => (Kind::FileAttachment, pick_user(rng, members)),
        46..=47 => (Kind::Html, Author::Nobody),
        _ => (Kind::Html, pick_user(rng, members)),
    };
    let mut m = Message {
        id,
        created,
        last_modified: created,
        edited: None,
        deleted: None,
        kind,
        author,
        seed: rng.random(),
        custom_html: None,
        importance: match rng.random_range(0..20) {
            0 => "high",
            1 => "urgent",
            _ => "normal",
        },
        reactions: Vec::new(),
        unreacted: Vec::new(),
        replies: Vec::new(),
        seq: 0,
        chain_modified: created,
        chain_seq: 0,
    };
    let headroom = (now - created - 1).max(1);
    if kind != Kind::SystemEvent {
        if rng.random_bool(0.08) {
            let e = created + 1 + rng.random_range(0..headroom.min(5 * DAY));
            m.edited = Some(e);
            m.last_modified = e;
        }
        if !members.is_empty() && rng.random_bool(0.2) {
            for _ in 0..rng.random_range(1..=3) {
                let at = created + 1 + rng.random_range(0..headroom.min(2 * DAY));
                m.reactions.push(Reaction {
                    reaction_type: ["like", "heart", "laugh", "surprised", "😀"]
                        [rng.random_range(0..5)]
                    .to_string(),
                    user: members[rng.random_range(0..members.len())],
                    at,
                });
                m.last_modified = m.last_modified.max(at);
            }
        }
        if rng.random_bool(0.04) {
            let d = created + 1 + rng.random_range(0..headroom.min(DAY));
            m.deleted = Some(d);
            m.last_modified = m.last_modified.max(d);
            m.reactions.clear();
        }
    }
    m.chain_modified = m.last_modified;
    m
}

fn pick_user<R: Rng>(rng: &mut R, members: &[usize]) -> Author {
    if members.is_empty() {
        Author::Nobody
    } else {
        Author::User(members[rng.random_range(0..members.len())])
    }
}
