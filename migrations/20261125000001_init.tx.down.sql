DROP TABLE IF EXISTS clicks;
--bun:split
DROP TABLE IF EXISTS deliveries;
--bun:split
DROP TABLE IF EXISTS links;
--bun:split
DROP TABLE IF EXISTS variants;
--bun:split
DROP TABLE IF EXISTS experiments;
--bun:split
DROP TABLE IF EXISTS contact_tags;
--bun:split
DROP TABLE IF EXISTS contacts;
--bun:split
DROP TABLE IF EXISTS api_tokens;
--bun:split
DROP TABLE IF EXISTS teams;
