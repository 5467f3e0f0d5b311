// Command sendpeer is the peer of the send benchmark (bench/sendratio): the
// SMTP client slicelab uses (go-mail, one kept connection per sender, the
// same options), sending messages shaped like slicelab's (text and HTML
// alternatives, list headers, a tracked link each) as fast as it can, with
// no database, no templates and no queue. What it reaches against the same
// sink on the same machine is the ceiling for slicelab's sending there.
//
//	go run ./bench/sendpeer -addr 127.0.0.1:2525 -conns 32 -n 20000
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wneessen/go-mail"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2525", "the SMTP server (host:port, no TLS, no AUTH)")
	conns := flag.Int("conns", 32, "connections, one sender each (slicelab's SLICELAB_SEND_CONCURRENCY)")
	n := flag.Int("n", 20000, "messages in all")
	flag.Parse()
	host, p, err := net.SplitHostPort(*addr)
	if err != nil {
		fail("-addr: %v", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		fail("-addr: port %q: %v", p, err)
	}
	if *conns < 1 || *n < 1 {
		fail("-conns and -n must be at least 1")
	}
	var next, sent atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *conns)
	start := time.Now()
	for w := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := mail.NewClient(host, mail.WithPort(port), mail.WithTLSPolicy(mail.NoTLS), mail.WithTimeout(30*time.Second),
				mail.WithHELO("slicelab.bench"), mail.WithoutNoop())
			if err == nil {
				err = c.DialWithContext(context.Background())
			}
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := next.Add(1); i <= int64(*n); i = next.Add(1) {
				if err := c.Send(message(w, i)); err != nil {
					errs <- err
					return
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start).Seconds()
	close(errs)
	for err := range errs {
		fail("send: %v", err)
	}
	fmt.Printf("peer (go-mail alone, %d connections): %d messages in %.1f s = %.0f msg/s\n", *conns, sent.Load(), took, float64(sent.Load())/took)
}

// message is about the size and shape of one of slicelab's insights.
func message(w int, i int64) *mail.Msg {
	id := strconv.FormatInt(i, 10)
	link := "http://127.0.0.1:8080/c/AZrJ3f9Kc0mD2l6x8Q4bTg.2.AZrJ3f9Kc0mD2l6x8Q4bTgAZrJ3f9Kc0mD" + id
	m := mail.NewMsg()
	_ = m.From("Growth team <growth@slicelab.bench>")
	_ = m.AddToFormat("Contact "+id, "contact"+id+"@example.com")
	m.Subject("Your weekly insight")
	m.SetMessageIDWithValue(strconv.Itoa(w) + "-" + id + "@slicelab.bench")
	m.SetDate()
	m.SetBulk()
	m.SetListUnsubscribe("http://127.0.0.1:8080/u/AZrJ3f9Kc0mD2l6x8Q4bTg" + id)
	m.SetListUnsubscribePost()
	m.SetBodyString(mail.TypeTextPlain, "Hi Contact "+id+", see "+link+" or "+link+"1\n\nUnsubscribe: http://127.0.0.1:8080/u/x"+id)
	m.AddAlternativeString(mail.TypeTextHTML, `<p>Hi Contact `+id+`,</p><p>Your team saved 3 hours this week. <a href="`+link+
		`">See the insight</a> or <a href="`+link+`1">compare plans</a>.</p><p style="font-size:12px;color:#666">`+
		`<a href="http://127.0.0.1:8080/u/x`+id+`">Unsubscribe</a></p><img src="http://127.0.0.1:8080/o/x`+id+`" width="1" height="1" alt="">`)
	return m
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sendpeer: "+format+"\n", args...)
	os.Exit(1)
}
