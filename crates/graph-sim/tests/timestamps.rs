//! Which timestamps each change moves, and therefore what channel delta and getAllMessages'
//! lastModifiedDateTime filter return (docs/graph.md §8.1, §9.22): a new reply to an old thread,
//! an edit of a post and of a reply, a reaction added and taken back, and a soft delete.

mod common;

use chrono::{DateTime, Utc};
use common::{Env, enc, ids};
use graph_sim::SimConfig;
use serde_json::Value;

fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn ts(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

struct Fixture {
    env: Env,
    sim: graph_sim::Sim,
    team: String,
    ch: String,
}

impl Fixture {
    fn path(&self) -> String {
        format!("/teams/{}/channels/{}/messages", self.team, enc(&self.ch))
    }

    async fn post(&self, id: &str) -> Value {
        self.env.ok(&format!("{}/{id}", self.path())).await
    }

    async fn reply(&self, root: &str, id: &str) -> Value {
        self.env
            .ok(&format!("{}/{root}/replies/{id}", self.path()))
            .await
    }

    /// Ids getAllMessages returns with `lastModifiedDateTime gt since`.
    async fn exported_since(&self, since: DateTime<Utc>) -> Vec<String> {
        let f = format!("lastModifiedDateTime gt {}", fmt(since));
        let (items, _) = self
            .env
            .all_pages(&format!(
                "/teams/{}/channels/getAllMessages?$filter={}",
                self.team,
                enc(&f)
            ))
            .await;
        let mut got = ids(&items);
        got.sort();
        got
    }

    /// Root ids of the next delta round from `link`, and the round's deltaLink.
    async fn delta_round(&self, link: &str) -> (Vec<Value>, String) {
        let mut url = link.to_string();
        let mut items = Vec::new();
        loop {
            let (s, v) = self.env.get_abs(&url).await;
            assert_eq!(s, 200, "{url}: {v}");
            items.extend(v["value"].as_array().unwrap().iter().cloned());
            match v["@odata.nextLink"].as_str() {
                Some(n) => url = n.to_string(),
                None => return (items, v["@odata.deltaLink"].as_str().unwrap().to_string()),
            }
        }
    }

    /// Moves the clock on and returns the moment before the next change.
    fn tick(&self) -> DateTime<Utc> {
        self.sim.advance(chrono::Duration::minutes(3));
        let t = self.sim.now();
        self.sim.advance(chrono::Duration::seconds(1));
        t
    }
}

#[tokio::test]
async fn each_change_moves_the_documented_timestamps() {
    let env = Env::new(SimConfig {
        teams: 1,
        messages_per_channel: 40,
        ..SimConfig::for_tests()
    })
    .await;
    let sim = env.server.sim();
    let team = sim.team_ids()[0].clone();
    let ch = sim.channels(&team)[0]["id"].as_str().unwrap().to_string();
    let f = Fixture { env, sim, team, ch };
    let delta = f.env.url(&format!("{}/delta?$expand=replies", f.path()));
    let (_, mut link) = f.delta_round(&delta).await;

    // The oldest live thread with a reply: older than delta's eight-month window.
    let roots = f.sim.messages(&f.team, &f.ch);
    let live = |m: &&Value| m["deletedDateTime"].is_null() && m["messageType"] == "message";
    let old = roots
        .iter()
        .filter(live)
        .find(|m| {
            !f.sim
                .replies(&f.team, &f.ch, m["id"].as_str().unwrap())
                .is_empty()
        })
        .unwrap();
    let old_id = old["id"].as_str().unwrap().to_string();
    assert!(
        ts(&old["lastModifiedDateTime"]) < f.sim.now() - chrono::Duration::days(245),
        "an old thread: {old}"
    );
    let old_before = f.post(&old_id).await;

    // 1. A new reply to the old thread: the reply is new (created = lastModified, never edited);
    //    the post keeps every timestamp. Delta returns the whole chain (the post, with the reply
    //    under $expand=replies); the export filter returns the reply alone.
    let t = f.tick();
    let new_reply = f
        .sim
        .post_reply(&f.team, &f.ch, &old_id, "<p>late answer</p>")
        .unwrap();
    let r = f.reply(&old_id, &new_reply).await;
    assert_eq!(r["createdDateTime"], r["lastModifiedDateTime"]);
    assert!(r["lastEditedDateTime"].is_null() && r["deletedDateTime"].is_null());
    assert!(ts(&r["createdDateTime"]) > t);
    assert_eq!(
        f.post(&old_id).await,
        old_before,
        "the post does not change"
    );
    let (items, next) = f.delta_round(&link).await;
    link = next;
    assert_eq!(ids(&items), vec![old_id.clone()]);
    assert_eq!(
        items[0]["lastModifiedDateTime"],
        old_before["lastModifiedDateTime"]
    );
    assert!(ids(items[0]["replies"].as_array().unwrap()).contains(&new_reply));
    assert_eq!(f.exported_since(t).await, vec![new_reply.clone()]);

    // 2. An edit of a post: lastEditedDateTime = lastModifiedDateTime = the edit; created kept.
    let post = roots.iter().rev().filter(live).nth(1).unwrap();
    let post_id = post["id"].as_str().unwrap().to_string();
    let t = f.tick();
    f.sim
        .edit_message(&f.team, &f.ch, &post_id, None, "<p>edited post</p>")
        .unwrap();
    let p = f.post(&post_id).await;
    assert_eq!(p["lastEditedDateTime"], p["lastModifiedDateTime"]);
    assert!(ts(&p["lastEditedDateTime"]) > t);
    assert_eq!(p["createdDateTime"], post["createdDateTime"]);
    assert!(p["deletedDateTime"].is_null());
    let (items, next) = f.delta_round(&link).await;
    link = next;
    assert_eq!(ids(&items), vec![post_id.clone()]);
    assert_eq!(f.exported_since(t).await, vec![post_id.clone()]);

    // 3. An edit of a reply: the reply's lastEditedDateTime and lastModifiedDateTime move, its
    //    post's do not; delta returns the chain, the export the reply.
    let t = f.tick();
    f.sim
        .edit_message(
            &f.team,
            &f.ch,
            &old_id,
            Some(&new_reply),
            "<p>edited reply</p>",
        )
        .unwrap();
    let r = f.reply(&old_id, &new_reply).await;
    assert_eq!(r["lastEditedDateTime"], r["lastModifiedDateTime"]);
    assert!(ts(&r["lastEditedDateTime"]) > t);
    assert_eq!(f.post(&old_id).await, old_before);
    let (items, next) = f.delta_round(&link).await;
    link = next;
    assert_eq!(ids(&items), vec![old_id.clone()]);
    assert_eq!(f.exported_since(t).await, vec![new_reply.clone()]);

    // 4. A reaction (here on the reply): lastModifiedDateTime moves, lastEditedDateTime does not.
    let edited_at = r["lastEditedDateTime"].clone();
    let t = f.tick();
    f.sim
        .react(&f.team, &f.ch, &old_id, Some(&new_reply), "heart")
        .unwrap();
    let r = f.reply(&old_id, &new_reply).await;
    assert!(ts(&r["lastModifiedDateTime"]) > t);
    assert_eq!(
        r["lastEditedDateTime"], edited_at,
        "a reaction is not an edit"
    );
    assert_eq!(r["reactions"][0]["reactionType"], "heart");
    assert_eq!(f.post(&old_id).await, old_before);
    let (items, next) = f.delta_round(&link).await;
    link = next;
    assert_eq!(ids(&items), vec![old_id.clone()]);
    assert_eq!(f.exported_since(t).await, vec![new_reply.clone()]);

    // 4b. Taking the reaction back moves lastModifiedDateTime again ("including when a reaction
    //     is added or removed"); the history keeps both.
    let t = f.tick();
    f.sim
        .unreact(&f.team, &f.ch, &old_id, Some(&new_reply), "heart")
        .unwrap();
    let r = f.reply(&old_id, &new_reply).await;
    assert!(ts(&r["lastModifiedDateTime"]) > t);
    assert_eq!(r["lastEditedDateTime"], edited_at);
    assert_eq!(r["reactions"], serde_json::json!([]));
    let actions: Vec<&Value> = r["messageHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["actions"])
        .collect();
    assert_eq!(actions, ["reactionAdded", "reactionRemoved"]);
    let (items, next) = f.delta_round(&link).await;
    link = next;
    assert_eq!(ids(&items), vec![old_id.clone()]);
    assert_eq!(f.exported_since(t).await, vec![new_reply.clone()]);

    // 5. A soft delete of a post: deletedDateTime = lastModifiedDateTime = the deletion,
    //    lastEditedDateTime kept (null here), body emptied; delta and the export return it.
    let victim = roots.iter().rev().filter(live).nth(2).unwrap();
    let victim_id = victim["id"].as_str().unwrap().to_string();
    let t = f.tick();
    f.sim.soft_delete(&f.team, &f.ch, &victim_id, None).unwrap();
    let v = f.post(&victim_id).await;
    assert_eq!(v["deletedDateTime"], v["lastModifiedDateTime"]);
    assert!(ts(&v["deletedDateTime"]) > t);
    assert_eq!(v["lastEditedDateTime"], victim["lastEditedDateTime"]);
    assert_eq!(v["body"]["content"], "");
    let (items, _) = f.delta_round(&link).await;
    assert_eq!(ids(&items), vec![victim_id.clone()]);
    assert!(items[0]["deletedDateTime"].is_string());
    assert_eq!(f.exported_since(t).await, vec![victim_id.clone()]);
}
