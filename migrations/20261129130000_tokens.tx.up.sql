-- API tokens get a name, an optional expiry and a revocation time (owner: experiments).
ALTER TABLE api_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ;
--bun:split
ALTER TABLE api_tokens ADD COLUMN revoked_at TIMESTAMPTZ;
--bun:split
ALTER TABLE api_tokens ADD COLUMN last_used_at TIMESTAMPTZ;
