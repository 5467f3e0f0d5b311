package tracking

import "strings"

// scannerAgents is the one maintained list of user-agent fragments (lower
// case) that mark a request as coming from a link scanner, a crawler or a
// scripted client rather than a person. Keep it sorted.
var scannerAgents = []string{
	"apache-httpclient",
	"barracuda",
	"bingpreview",
	"bot",
	"crawler",
	"curl/",
	"go-http-client",
	"headlesschrome",
	"httpclient",
	"java/",
	"libwww-perl",
	"mimecast",
	"okhttp",
	"phantomjs",
	"proofpoint",
	"python-requests",
	"python-urllib",
	"scanner",
	"slurp",
	"spider",
	"wget",
}

// Reasons stored with automated clicks.
const (
	ReasonHead        = "head request"
	ReasonNoUserAgent = "no user agent"
	ReasonScannerUA   = "scanner user agent"
)

// Classify tells whether a hit looks automated from the request alone, and why.
func Classify(method, userAgent string) (automated bool, reason string) {
	if method == "HEAD" {
		return true, ReasonHead
	}
	ua := strings.ToLower(strings.TrimSpace(userAgent))
	if ua == "" {
		return true, ReasonNoUserAgent
	}
	ua = strings.ReplaceAll(ua, "cubot", "") // a phone maker, not a bot
	for _, frag := range scannerAgents {
		if strings.Contains(ua, frag) {
			return true, ReasonScannerUA + " (" + frag + ")"
		}
	}
	return false, ""
}
