-- A first look at a tenant.
--   teams-sql --demo -f sql/explore.sql
-- Every query below reads live from Microsoft Graph; the summary line after each one on
-- stderr says how many Graph requests it took.

-- Size of each team: channels, members, and root posts that are not deleted.
WITH ch AS (SELECT team_id, count(*) AS channels FROM channels GROUP BY team_id),
     mb AS (SELECT team_id, count(*) AS members FROM members GROUP BY team_id),
     ms AS (SELECT team_id, count(*) AS posts
            FROM messages WHERE deleted_date_time IS NULL GROUP BY team_id)
SELECT t.display_name AS team, t.visibility, ch.channels, mb.members, ms.posts
FROM teams t
LEFT JOIN ch ON ch.team_id = t.id
LEFT JOIN mb ON mb.team_id = t.id
LEFT JOIN ms ON ms.team_id = t.id
ORDER BY ms.posts DESC NULLS LAST, team;

-- The ten most active channels, counting posts and replies.
WITH activity AS (
    SELECT team_id, channel_id, count(*) AS posts, 0 AS replies
    FROM messages GROUP BY team_id, channel_id
    UNION ALL
    SELECT team_id, channel_id, 0 AS posts, count(*) AS replies
    FROM message_replies GROUP BY team_id, channel_id
)
SELECT t.display_name AS team, c.display_name AS channel, c.membership_type,
       sum(a.posts) AS posts, sum(a.replies) AS replies,
       sum(a.posts) + sum(a.replies) AS total
FROM activity a
JOIN channels c ON c.team_id = a.team_id AND c.id = a.channel_id
JOIN teams t ON t.id = a.team_id
GROUP BY t.display_name, c.display_name, c.membership_type
ORDER BY total DESC, team, channel
LIMIT 10;

-- Who reacts most, on posts and replies alike (reactions name users by id; members names them).
WITH reactions AS (
    SELECT unnest(reactions) AS r FROM messages
    UNION ALL
    SELECT unnest(reactions) AS r FROM message_replies
),
reactors AS (
    SELECT r['user']['user']['id'] AS user_id, r['reaction_type'] AS reaction_type FROM reactions
),
people AS (SELECT DISTINCT user_id, display_name FROM members)
SELECT coalesce(p.display_name, x.user_id) AS person,
       count(*) AS reactions,
       count(DISTINCT x.reaction_type) AS kinds
FROM reactors x
LEFT JOIN people p ON p.user_id = x.user_id
GROUP BY coalesce(p.display_name, x.user_id)
ORDER BY reactions DESC, person
LIMIT 10;

-- Replies per thread: the ten longest conversations.
SELECT t.display_name AS team, c.display_name AS channel, m.id AS thread,
       substr(regexp_replace(coalesce(nullif(m.subject, ''), m.body['content']), '<[^>]*>', '', 'g'), 1, 40) AS starts_with,
       count(r.id) AS replies,
       max(r.created_date_time) AS last_reply
FROM messages m
JOIN channels c ON c.team_id = m.team_id AND c.id = m.channel_id
JOIN teams t ON t.id = m.team_id
LEFT JOIN message_replies r
       ON r.team_id = m.team_id AND r.channel_id = m.channel_id AND r.parent_message_id = m.id
WHERE m.deleted_date_time IS NULL
GROUP BY t.display_name, c.display_name, m.id, substr(regexp_replace(coalesce(nullif(m.subject, ''), m.body['content']), '<[^>]*>', '', 'g'), 1, 40)
ORDER BY replies DESC, team, channel, thread
LIMIT 10;
