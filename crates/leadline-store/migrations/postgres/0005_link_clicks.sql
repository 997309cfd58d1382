-- Clicks on tracked links, counted for every link (a lead's link also leaves an activity).
-- Keep in step with ../sqlite/0005_link_clicks.sql.
ALTER TABLE tracked_links ADD COLUMN clicks BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tracked_links ADD COLUMN last_clicked_at BIGINT;
