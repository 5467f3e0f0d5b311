package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"slicelab/experiments"
)

// The outbox viewer (the embedded default's mail transport): the .eml files
// that slicelab "sent", newest first, each rendered with its headers and
// its tracked links, so that a newcomer can act as a recipient.

const outboxPerPage = 50

type outboxItem struct {
	Name, From, To, Subject string
	Date                    time.Time
}

type outboxView struct {
	Items      []outboxItem
	Page       int
	Pages      int
	Total      int
	Prev, Next int
}

var decoder = &mime.WordDecoder{}

func decodeHeader(s string) string {
	d, err := decoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// outboxFiles lists the current team's .eml files, newest first (their
// names start with the time they were written, then the team).
func (s *server) outboxFiles(c echo.Context) ([]string, error) {
	if s.OutboxDir == "" {
		return nil, echo.NewHTTPError(http.StatusNotFound, "There is no outbox: mail goes out over SMTP (SLICELAB_SMTP_URL).")
	}
	entries, err := os.ReadDir(s.OutboxDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if team, ok := experiments.OutboxTeam(e.Name()); !e.IsDir() && ok && team == principal(c).Team.ID {
			names = append(names, e.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(b, a) })
	return names, nil
}

func (s *server) outboxPage(c echo.Context) error {
	names, err := s.outboxFiles(c)
	if err != nil {
		return err
	}
	page, _ := strconv.Atoi(c.QueryParam("page"))
	page = max(page, 1)
	v := outboxView{Page: page, Total: len(names), Pages: max(1, (len(names)+outboxPerPage-1)/outboxPerPage)}
	from := (page - 1) * outboxPerPage
	for _, n := range names[min(from, len(names)):min(from+outboxPerPage, len(names))] {
		it := outboxItem{Name: n}
		if f, err := os.Open(filepath.Join(s.OutboxDir, n)); err == nil {
			if m, err := mail.ReadMessage(f); err == nil {
				it.From, it.To, it.Subject = decodeHeader(m.Header.Get("From")), decodeHeader(m.Header.Get("To")), decodeHeader(m.Header.Get("Subject"))
				it.Date, _ = m.Header.Date()
			}
			f.Close()
		}
		v.Items = append(v.Items, it)
	}
	if page > 1 {
		v.Prev = page - 1
	}
	if page < v.Pages {
		v.Next = page + 1
	}
	return s.page(c, http.StatusOK, "outbox", "Outbox", "outbox", v)
}

type outboxMessageView struct {
	Name    string
	Headers [][2]string
	Subject string
	Text    string
	HasHTML bool
	Links   []outboxLink
}

type outboxLink struct {
	URL, Text string
	Tracked   bool
}

// parsedMessage is an .eml file's headers and its text and HTML parts.
type parsedMessage struct {
	header     mail.Header
	text, html string
}

// readMessage parses an outbox file named by the URL; a name that is not a
// plain .eml file name of the outbox is not found.
func (s *server) readMessage(c echo.Context) (*parsedMessage, string, error) {
	if s.OutboxDir == "" {
		return nil, "", echo.NewHTTPError(http.StatusNotFound, "There is no outbox: mail goes out over SMTP.")
	}
	name := c.Param("name")
	if name != filepath.Base(name) || !strings.HasSuffix(name, ".eml") || strings.HasPrefix(name, ".") {
		return nil, "", experiments.ErrNotFound
	}
	if team, ok := experiments.OutboxTeam(name); !ok || team != principal(c).Team.ID {
		return nil, "", experiments.ErrNotFound // another team's message, or one from before names carried a team
	}
	raw, err := os.ReadFile(filepath.Join(s.OutboxDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", experiments.ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, "", echo.NewHTTPError(http.StatusUnprocessableEntity, "This file is not a readable email: "+err.Error())
	}
	pm := &parsedMessage{header: m.Header}
	if err := pm.walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body); err != nil {
		return nil, "", echo.NewHTTPError(http.StatusUnprocessableEntity, "This email's body cannot be read: "+err.Error())
	}
	return pm, name, nil
}

// walk collects the first text/plain and text/html parts, through nested
// multiparts.
func (pm *parsedMessage) walk(ctype, encoding string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := pm.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(io.LimitReader(body, 4<<20))
	if err != nil {
		return err
	}
	switch {
	case mt == "text/html" && pm.html == "":
		pm.html = string(b)
	case mt == "text/plain" && pm.text == "":
		pm.text = string(b)
	}
	return nil
}

var hrefRE = regexp.MustCompile(`(?is)<a(\s[^>]*?)href\s*=\s*"([^"]+)"([^>]*)>(.*?)</a>`)
var tagRE = regexp.MustCompile(`<[^>]*>`)

func (s *server) outboxMessage(c echo.Context) error {
	pm, name, err := s.readMessage(c)
	if err != nil {
		return err
	}
	v := outboxMessageView{Name: name, Subject: decodeHeader(pm.header.Get("Subject")), Text: pm.text, HasHTML: pm.html != ""}
	for _, h := range []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"} {
		if val := pm.header.Get(h); val != "" {
			v.Headers = append(v.Headers, [2]string{h, decodeHeader(val)})
		}
	}
	base := strings.TrimRight(s.BaseURL, "/")
	for _, m := range hrefRE.FindAllStringSubmatch(pm.html, -1) {
		u := html.UnescapeString(m[2])
		text := strings.Trim(html.UnescapeString(tagRE.ReplaceAllString(m[4], "")), " \t\r\n\u200b\u00a0")
		if text == "" || strings.Contains(m[1]+m[3], `aria-hidden="true"`) || strings.HasPrefix(u, "mailto:") {
			continue // the hidden honeypot link (clicking it marks the delivery as a bot's); mailto is not tracked
		}
		v.Links = append(v.Links, outboxLink{URL: u, Text: text, Tracked: base != "" && strings.HasPrefix(u, base+"/c/")})
	}
	return s.page(c, http.StatusOK, "outbox_message", v.Subject, "outbox", v)
}

// outboxHTML answers a message's HTML part for the sandboxed iframe.
func (s *server) outboxHTML(c echo.Context) error {
	pm, _, err := s.readMessage(c)
	if err != nil {
		return err
	}
	return sandboxed(c, pm.html)
}
