package tracking

import (
	"slices"
	"strings"
	"testing"
)

const (
	uaChrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaFirefox = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
	uaSafari  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
)

func TestClassifyHuman(t *testing.T) {
	tests := []struct{ name, method, ua string }{
		{"Chrome", "GET", uaChrome},
		{"Firefox", "GET", uaFirefox},
		{"Safari", "GET", uaSafari},
		{"iPhone Mail", "GET", uaIPhone},
		{"Android Chrome", "GET", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36"},
		{"Edge", "GET", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67"},
		{"Outlook desktop", "GET", "Mozilla/4.0 (compatible; ms-office; MSOffice 16)"},
		{"Thunderbird", "GET", "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.10.1"},
		{"surrounding white space", "GET", "  " + uaChrome + "\t"},
		{"POST from a browser", "POST", uaChrome},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			automated, reason := Classify(tt.method, tt.ua)
			if automated || reason != "" {
				t.Errorf("Classify(%q, %q) = %v, %q; want human", tt.method, tt.ua, automated, reason)
			}
		})
	}
}

func TestClassifyAutomated(t *testing.T) {
	tests := []struct {
		name, method, ua string
		reason           string // exact, or a prefix when it ends with "("
	}{
		{"HEAD from a browser", "HEAD", uaChrome, ReasonHead},
		{"HEAD without a user agent", "HEAD", "", ReasonHead},
		{"HEAD from curl", "HEAD", "curl/8.5.0", ReasonHead},
		{"empty user agent", "GET", "", ReasonNoUserAgent},
		{"blank user agent", "GET", " \t ", ReasonNoUserAgent},
		{"curl", "GET", "curl/8.5.0", ReasonScannerUA + " (curl/)"},
		{"wget", "GET", "Wget/1.21.4", ReasonScannerUA + " (wget)"},
		{"python-requests", "GET", "python-requests/2.31.0", ReasonScannerUA + " (python-requests)"},
		{"python urllib", "GET", "Python-urllib/3.12", ReasonScannerUA + " (python-urllib)"},
		{"Go", "GET", "Go-http-client/1.1", ReasonScannerUA + " (go-http-client)"},
		{"Go HTTP/2", "GET", "Go-http-client/2.0", ReasonScannerUA + " (go-http-client)"},
		{"Java", "GET", "Java/17.0.2", ReasonScannerUA + " (java/)"},
		{"Apache HttpClient", "GET", "Apache-HttpClient/4.5.14 (Java/17.0.2)", ReasonScannerUA + " ("},
		{"okhttp", "GET", "okhttp/4.12.0", ReasonScannerUA + " (okhttp)"},
		{"libwww-perl", "GET", "libwww-perl/6.72", ReasonScannerUA + " (libwww-perl)"},
		{"Googlebot", "GET", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", ReasonScannerUA + " (bot)"},
		{"Bingbot", "GET", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", ReasonScannerUA + " (bot)"},
		{"BingPreview", "GET", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b", ReasonScannerUA + " (bingpreview)"},
		{"Yahoo Slurp", "GET", "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)", ReasonScannerUA + " (slurp)"},
		{"Barracuda", "GET", "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))", ReasonScannerUA + " (barracuda)"},
		{"Mimecast", "GET", "Mozilla/5.0 Mimecast URL Protect", ReasonScannerUA + " (mimecast)"},
		{"Proofpoint", "GET", "Proofpoint URL Defense", ReasonScannerUA + " (proofpoint)"},
		{"headless Chrome", "GET", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36", ReasonScannerUA + " (headlesschrome)"},
		{"PhantomJS", "GET", "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1", ReasonScannerUA + " (phantomjs)"},
		{"generic crawler", "GET", "SomeCrawler/1.0", ReasonScannerUA + " (crawler)"},
		{"generic spider", "GET", "Baiduspider/2.0", ReasonScannerUA + " (spider)"},
		{"link scanner", "GET", "Acme Link Scanner 3", ReasonScannerUA + " (scanner)"},
		{"upper case", "GET", "CURL/7.0", ReasonScannerUA + " (curl/)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			automated, reason := Classify(tt.method, tt.ua)
			if !automated {
				t.Fatalf("Classify(%q, %q) = human; want automated", tt.method, tt.ua)
			}
			if strings.HasSuffix(tt.reason, "(") {
				if !strings.HasPrefix(reason, tt.reason) || !strings.HasSuffix(reason, ")") {
					t.Errorf("reason = %q, want %q…)", reason, tt.reason)
				}
			} else if reason != tt.reason {
				t.Errorf("reason = %q, want %q", reason, tt.reason)
			}
		})
	}
}

// The fragment list is documented as lower case and sorted; Classify relies
// on the first.
func TestScannerAgentsList(t *testing.T) {
	if !slices.IsSorted(scannerAgents) {
		t.Errorf("scannerAgents is not sorted: %q", scannerAgents)
	}
	for _, f := range scannerAgents {
		if f != strings.ToLower(f) || strings.TrimSpace(f) != f || f == "" {
			t.Errorf("fragment %q is not a trimmed lower-case string", f)
		}
	}
}

func TestAnonymizeIP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.77", "203.0.113.0/24"},
		{"203.0.113.0", "203.0.113.0/24"},
		{"203.0.113.255", "203.0.113.0/24"},
		{"10.1.2.3", "10.1.2.0/24"},
		{"127.0.0.1", "127.0.0.0/24"},
		{"0.0.0.0", "0.0.0.0/24"},
		{"255.255.255.255", "255.255.255.0/24"},
		{"2001:db8:abcd:12:34:56:78:9a", "2001:db8:abcd::/48"},
		{"2001:db8:abcd:ffff::1", "2001:db8:abcd::/48"},
		{"2001:DB8:ABCD:12::1", "2001:db8:abcd::/48"},
		{"::1", "::/48"},
		{"fe80::1%eth0", "fe80::/48"},
		{"::ffff:203.0.113.77", "203.0.113.0/24"},
		{"::ffff:cb00:714d", "203.0.113.0/24"},
		{"", ""},
		{"garbage", ""},
		{"203.0.113", ""},
		{"203.0.113.256", ""},
		{"203.0.113.77:443", ""},
		{"[2001:db8::1]:443", ""},
		{"2001:db8::/32", ""},
		{" 203.0.113.77", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := AnonymizeIP(tt.in); got != tt.want {
				t.Errorf("AnonymizeIP(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
