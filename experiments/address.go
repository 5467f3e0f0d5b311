package experiments

import (
	"net/mail"
	"strings"
)

// ValidAddress accepts a bare email address (no display name) whose domain
// has a dot, or is localhost for development.
func ValidAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	return strings.Contains(domain, ".") || domain == "localhost"
}

// MailDomain is the domain of an address, with or without a display name
// ("Growth <insights@example.com>" gives "example.com"); Message-IDs are
// made in the sender's domain. It is "localhost" for anything unreadable.
func MailDomain(addr string) string {
	a, err := mail.ParseAddress(addr)
	if err != nil {
		return "localhost"
	}
	return a.Address[strings.LastIndexByte(a.Address, '@')+1:]
}
