package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slicelab/tracking"
	"strconv"
	"strings"
	"time"
)

// config is everything the operator can set, from SLICELAB_* environment
// variables (and a few flags). It is validated once, at start.
type config struct {
	DataDir         string
	DatabaseURL     string
	HTTPAddr        string
	BaseURL         string
	SMTPURL         string
	MailFrom        string
	Secret          string
	OutboxDir       string
	SendRate        float64
	SendConcurrency int
	BatchSize       int
	BotWindow       time.Duration
	ContactCooldown time.Duration
	LogLevel        string
	MetricsToken    string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (the address that rate limits count and clicks record).
	TrustedProxies []netip.Prefix
	PprofAddr      string
	ClickFsync     bool
	SendFsync      bool
	// PreviousSecrets are replaced signing secrets; links signed with them
	// keep working until PreviousUntil.
	PreviousSecrets []string
	// TestRecipients may receive test messages besides the team's members.
	TestRecipients []string
	PreviousUntil  time.Time
	// ImportMaxBytes bounds the body of a contact import (API and upload);
	// imports stream, so this is about disk and time, not memory.
	ImportMaxBytes int64

	// derived
	db   dbTarget
	smtp *smtpTarget
}

type dbTarget struct {
	postgres bool
	dsn      string // postgres URL, or the SQLite file path
	// clickFsync: every batch of clicks is fsynced before its redirects are
	// answered (SLICELAB_CLICK_FSYNC).
	clickFsync bool
}

type smtpTarget struct {
	host     string
	port     int
	tls      string // starttls | tls | none
	username string
	password string
}

// envHelp documents every variable; `slicelab help` prints it.
const envHelp = `Environment variables (all optional):
  SLICELAB_DATA_DIR          folder for the embedded default's database, outbox and secret (default ./data)
  SLICELAB_DATABASE_URL      postgres://… for PostgreSQL, or a SQLite file (PATH, sqlite:PATH or file:PATH);
                             default: <SLICELAB_DATA_DIR>/slicelab.db
  SLICELAB_HTTP_ADDR         listen address (default 127.0.0.1:8080)
  SLICELAB_BASE_URL          absolute URL of this service in emails (default http://<SLICELAB_HTTP_ADDR>)
  SLICELAB_SMTP_URL          smtp://user:pass@host:port?tls=starttls|tls|none; unset: write .eml files to the outbox
  SLICELAB_OUTBOX_DIR        outbox folder (default <SLICELAB_DATA_DIR>/outbox)
  SLICELAB_MAIL_FROM         From address (default "slicelab <noreply@localhost>")
  SLICELAB_SECRET            signing secret for tracked links, at least 32 characters; required with PostgreSQL
                             (SQLite default: generated once and kept in <SLICELAB_DATA_DIR>/secret)
  SLICELAB_PREVIOUS_SECRETS  comma-separated secrets replaced by SLICELAB_SECRET: links signed with them keep working
  SLICELAB_PREVIOUS_SECRETS_UNTIL  until this date (e.g. 2027-01-31), then only SLICELAB_SECRET opens links
  SLICELAB_SEND_RATE         messages per second, shared by all the instances that send, 0 = unlimited (default 50)
  SLICELAB_TEST_RECIPIENTS   comma-separated addresses (pm@example.com) or domains (@example.com) that may receive
                             test messages besides the team's members (default: members only; 60 a team per hour)
  SLICELAB_SEND_CONCURRENCY  parallel send jobs per process, each with one SMTP connection kept open (default 32)
  SLICELAB_SEND_FSYNC        on: every group of recorded send outcomes waits for the database's disk; off: for
                             its server only (PostgreSQL synchronous_commit=off, SQLite synchronous=NORMAL for
                             those commits), which survives a crash or kill of slicelab, while a crash of the
                             database server or machine may send the last moment's messages again (default off)
  SLICELAB_BOT_WINDOW        clicks this soon after the send count as automated (default 10s; 0s off)
  SLICELAB_CONTACT_COOLDOWN  per-team contact cool-down (default 24h; 0s off)
  SLICELAB_LOG_LEVEL         debug | info | warn | error (default info)
  SLICELAB_METRICS_TOKEN     bearer token for /metrics (default: none, and /metrics answers this machine only)
  SLICELAB_TRUSTED_PROXIES   comma-separated addresses or CIDR ranges of reverse proxies (e.g. 10.0.0.0/8,127.0.0.1)
                             whose X-Forwarded-For names the client (default: none; the connection's address is the client)
  SLICELAB_CLICK_FSYNC       on: every batch of clicks is on disk (fsynced) before its redirects are answered;
                             off: written to the database but not fsynced, which survives a crash or restart of
                             slicelab but may lose the last second of clicks if the machine or database server
                             crashes (SQLite synchronous=NORMAL, PostgreSQL synchronous_commit=off) (default on)
  SLICELAB_IMPORT_MAX_BYTES  largest contact import body, in bytes or with KiB/MiB/GiB (default 1GiB); imports stream
  SLICELAB_PPROF_ADDR        serve Go's profiler (net/http/pprof) on this address, e.g. 127.0.0.1:6060 (default: off)
`

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		DataDir:         orDefault(getenv("SLICELAB_DATA_DIR"), "data"),
		DatabaseURL:     getenv("SLICELAB_DATABASE_URL"),
		HTTPAddr:        orDefault(getenv("SLICELAB_HTTP_ADDR"), "127.0.0.1:8080"),
		BaseURL:         getenv("SLICELAB_BASE_URL"),
		SMTPURL:         getenv("SLICELAB_SMTP_URL"),
		MailFrom:        orDefault(getenv("SLICELAB_MAIL_FROM"), "slicelab <noreply@localhost>"),
		Secret:          getenv("SLICELAB_SECRET"),
		OutboxDir:       getenv("SLICELAB_OUTBOX_DIR"),
		SendRate:        50,
		SendConcurrency: 32,
		BatchSize:       100,
		BotWindow:       10 * time.Second,
		ContactCooldown: 24 * time.Hour,
		LogLevel:        orDefault(getenv("SLICELAB_LOG_LEVEL"), "info"),
		MetricsToken:    getenv("SLICELAB_METRICS_TOKEN"),
		PprofAddr:       getenv("SLICELAB_PPROF_ADDR"),
		ClickFsync:      true,
		ImportMaxBytes:  1 << 30,
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if v := getenv("SLICELAB_SEND_RATE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			bad("SLICELAB_SEND_RATE", "%q is not a number of messages per second (0 or more)", v)
		}
		c.SendRate = f
	}
	if v := getenv("SLICELAB_IMPORT_MAX_BYTES"); v != "" {
		n, ok := parseBytes(v)
		if !ok || n < 1<<10 {
			bad("SLICELAB_IMPORT_MAX_BYTES", "%q is not a size of at least 1KiB, such as 1073741824, 512MiB or 2GiB", v)
		}
		c.ImportMaxBytes = n
	}
	if v := getenv("SLICELAB_SEND_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			bad("SLICELAB_SEND_CONCURRENCY", "%q is not a whole number from 1 to 256", v)
		}
		c.SendConcurrency = n
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"SLICELAB_BOT_WINDOW", &c.BotWindow}, {"SLICELAB_CONTACT_COOLDOWN", &c.ContactCooldown}} {
		if v := getenv(d.name); v != "" {
			dur, err := time.ParseDuration(v)
			if err != nil || dur < 0 {
				bad(d.name, "%q is not a duration such as 10s, 24h or 0s", v)
			}
			*d.dst = dur
		}
	}
	if v := strings.TrimSpace(getenv("SLICELAB_TRUSTED_PROXIES")); v != "" {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if pfx, err := netip.ParsePrefix(part); err == nil {
				c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
			} else if ip, err := netip.ParseAddr(part); err == nil {
				c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(ip, ip.BitLen()))
			} else {
				bad("SLICELAB_TRUSTED_PROXIES", "%q is not an address or a CIDR range such as 10.0.0.0/8", part)
			}
		}
	}
	for _, part := range strings.Split(getenv("SLICELAB_TEST_RECIPIENTS"), ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(part, "@") && len(part) > 1 && !strings.ContainsAny(part[1:], "@ "):
			c.TestRecipients = append(c.TestRecipients, part)
		default:
			if a, err := mail.ParseAddress(part); err != nil || a.Address != part {
				bad("SLICELAB_TEST_RECIPIENTS", "%q is neither an address (pm@example.com) nor a domain (@example.com)", part)
				continue
			}
			c.TestRecipients = append(c.TestRecipients, part)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("SLICELAB_LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("SLICELAB_HTTP_ADDR", "%q is not host:port", c.HTTPAddr)
	}
	switch v := getenv("SLICELAB_SEND_FSYNC"); v {
	case "", "off":
	case "on":
		c.SendFsync = true
	default:
		bad("SLICELAB_SEND_FSYNC", "%q is not on or off", v)
	}
	switch v := getenv("SLICELAB_CLICK_FSYNC"); v {
	case "", "on":
	case "off":
		c.ClickFsync = false
	default:
		bad("SLICELAB_CLICK_FSYNC", "%q is not on or off", v)
	}
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			bad("SLICELAB_PPROF_ADDR", "%q is not host:port", c.PprofAddr)
		}
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://" + c.HTTPAddr
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("SLICELAB_BASE_URL", "%q is not an absolute http(s) URL", c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || !strings.Contains(a.Address, "@") {
		bad("SLICELAB_MAIL_FROM", "%q is not an email address", c.MailFrom)
	}
	if c.Secret != "" && len(c.Secret) < minSecret {
		bad("SLICELAB_SECRET", "must be at least %d characters", minSecret)
	}
	if v := getenv("SLICELAB_PREVIOUS_SECRETS"); v != "" {
		for i, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if len(p) < minSecret {
				bad("SLICELAB_PREVIOUS_SECRETS", "secret %d has %d characters; each needs at least %d", i+1, len(p), minSecret)
			}
			c.PreviousSecrets = append(c.PreviousSecrets, p)
		}
		until := getenv("SLICELAB_PREVIOUS_SECRETS_UNTIL")
		t, err := time.Parse(time.RFC3339, until)
		if err != nil {
			t, err = time.Parse(time.DateOnly, until)
		}
		switch {
		case until == "":
			bad("SLICELAB_PREVIOUS_SECRETS_UNTIL", "is required with SLICELAB_PREVIOUS_SECRETS: until when old links keep working, e.g. 2027-01-31")
		case err != nil:
			bad("SLICELAB_PREVIOUS_SECRETS_UNTIL", "%q is not a date such as 2027-01-31 or a time such as 2027-01-31T00:00:00Z", until)
		}
		c.PreviousUntil = t
	}
	db, err := parseDatabaseURL(c.DatabaseURL, c.DataDir)
	if err != nil {
		bad("SLICELAB_DATABASE_URL", "%v", err)
	}
	c.db = db
	c.db.clickFsync = c.ClickFsync
	if c.db.postgres && c.Secret == "" {
		// Each instance would make a secret of its own in its data folder, and
		// links minted by one would be 404 on another.
		bad("SLICELAB_SECRET", "is required with PostgreSQL (SLICELAB_DATABASE_URL=postgres://…): every instance must sign links with the same secret; set at least %d characters", minSecret)
	}
	if c.OutboxDir == "" {
		c.OutboxDir = filepath.Join(c.DataDir, "outbox")
	}
	if c.SMTPURL != "" {
		s, err := parseSMTPURL(c.SMTPURL)
		if err != nil {
			bad("SLICELAB_SMTP_URL", "%v", err)
		}
		c.smtp = s
	}
	return c, errors.Join(errs...)
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func parseDatabaseURL(v, dataDir string) (dbTarget, error) {
	switch {
	case v == "":
		return dbTarget{dsn: filepath.Join(dataDir, "slicelab.db")}, nil
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		if _, err := url.Parse(v); err != nil {
			return dbTarget{}, fmt.Errorf("not a valid postgres:// URL: %v", err)
		}
		return dbTarget{postgres: true, dsn: v}, nil
	case strings.HasPrefix(v, "sqlite:"), strings.HasPrefix(v, "file:"):
		p := v[strings.IndexByte(v, ':')+1:]
		p = strings.TrimPrefix(p, "//")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p == "" {
			return dbTarget{}, errors.New("names no file")
		}
		return dbTarget{dsn: p}, nil
	case strings.Contains(v, "://"):
		return dbTarget{}, fmt.Errorf("%q: use postgres://… or a SQLite file path", v)
	default:
		return dbTarget{dsn: v}, nil
	}
}

func parseSMTPURL(v string) (*smtpTarget, error) {
	u, err := url.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return nil, fmt.Errorf("scheme must be smtp:// (or smtps://), got %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("has no host")
	}
	t := &smtpTarget{host: u.Hostname(), tls: u.Query().Get("tls")}
	if u.Scheme == "smtps" && t.tls == "" {
		t.tls = "tls"
	}
	if t.tls == "" {
		t.tls = "starttls"
	}
	switch t.tls {
	case "starttls":
		t.port = 587
	case "tls":
		t.port = 465
	case "none":
		t.port = 25
	default:
		return nil, fmt.Errorf("tls=%q: use starttls, tls or none", t.tls)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a port number", p)
		}
		t.port = n
	}
	if u.User != nil {
		t.username = u.User.Username()
		t.password, _ = u.User.Password()
	}
	return t, nil
}

// minSecret is the shortest signing secret accepted from any source.
const minSecret = 32

// secret returns the configured signing secret, or the one kept in the data
// folder, creating it on first use so that tracked links survive restarts.
// Every source must give at least 32 characters.
func (c *config) secret() ([]byte, error) {
	if c.Secret != "" {
		return []byte(c.Secret), nil
	}
	path := filepath.Join(c.DataDir, "secret")
	if s, err := readSecret(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	// Written whole to a private file, then linked into place: a process
	// starting at the same moment finds either no secret or all of it.
	tmp, err := os.CreateTemp(c.DataDir, ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("keep secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(hex.EncodeToString(raw[:]) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("keep secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("keep secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("keep secret: %w", err)
	}
	return readSecret(path)
}

// readSecret reads a kept secret, refusing one shorter than 32 characters
// and keeping the file private.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimSpace(string(b))
	if len(s) < minSecret {
		return nil, fmt.Errorf("the secret in %s has %d characters; it needs at least %d (remove the file to have a new one made, which breaks links already sent, or set SLICELAB_SECRET)", path, len(s), minSecret)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("%s can be read by others and cannot be made private: %w", path, err)
		}
	}
	return []byte(s), nil
}

// previousSecrets are the secrets replaced by SLICELAB_SECRET whose links
// still open, until SLICELAB_PREVIOUS_SECRETS_UNTIL.
func (c *config) previousSecrets() []tracking.Previous {
	var out []tracking.Previous
	for _, s := range c.PreviousSecrets {
		out = append(out, tracking.Previous{Secret: []byte(s), Until: c.PreviousUntil})
	}
	return out
}

// privateDir makes sure the data folder exists and only the service's user
// can enter it: it holds the database, the secret and the outbox.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data folder %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data folder %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data folder %s is open to others and cannot be made private: %w", dir, err)
		}
	}
	return nil
}

// parseBytes reads a size: a whole number of bytes, or one with a KiB, MiB
// or GiB suffix.
func parseBytes(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, false
	}
	return n * mult, true
}
