package tracking

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Spool is the local, append-only file that clicks go to while the ledger
// cannot be written (the database restarting or unreachable): the person is
// still redirected once the click is fsynced there, and the clicks are
// replayed into the ledger when it is back.
//
// One JSON object per line; each Append is one write and one fsync (a
// batch of clicks at a time). A line cut short by a crash was never
// acknowledged and is dropped when the file is opened again. Replaying
// inserts into the ledger first and empties the file after, so a crash in
// between replays some clicks twice; the projector counts a click id once.
//
// The file is locked (flock) while open: several processes sharing a data
// folder each take a file of their own (clicks.spool, clicks-1.spool, …).
type Spool struct {
	path string

	replaying sync.Mutex // one Replay at a time
	mu        sync.Mutex
	f         *os.File
	size      int64 // bytes in the file
	done      int64 // bytes replayed so far
	pending   int   // records not replayed yet
}

const spoolSlots = 16

// OpenSpool opens (creating it and dir, mode 0700/0600) the first spool file
// in dir that no other process holds, keeping what an earlier run left in it
// for Replay.
func OpenSpool(dir string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tracking: spool folder: %w", err)
	}
	for i := range spoolSlots {
		name := "clicks.spool"
		if i > 0 {
			name = "clicks-" + strconv.Itoa(i) + ".spool"
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("tracking: spool: %w", err)
		}
		if err := lockFile(f); err != nil {
			f.Close()
			if errors.Is(err, errLocked) {
				continue
			}
			return nil, fmt.Errorf("tracking: spool: lock %s: %w", path, err)
		}
		s := &Spool{path: path, f: f}
		if err := s.recover(); err != nil {
			f.Close()
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("tracking: spool: all %d spool files in %s are held by other processes", spoolSlots, dir)
}

// recover counts the complete records and cuts off a line left half-written.
func (s *Spool) recover() error {
	if err := os.Chmod(s.path, 0o600); err != nil {
		return fmt.Errorf("tracking: spool: %w", err)
	}
	r := bufio.NewReader(io.NewSectionReader(s.f, 0, 1<<62))
	var good int64
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("tracking: spool: read %s: %w", s.path, err)
		}
		good += int64(len(line))
		s.pending++
	}
	if err := s.f.Truncate(good); err != nil {
		return fmt.Errorf("tracking: spool: %w", err)
	}
	s.size = good
	return nil
}

// Path is the spool file's path.
func (s *Spool) Path() string { return s.path }

// Pending is how many spooled clicks wait to be replayed.
func (s *Spool) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// spoolRecord is a spooled click; short keys keep the file small.
type spoolRecord struct {
	ID           uuid.UUID `json:"id"`
	DeliveryID   uuid.UUID `json:"d"`
	VariantID    uuid.UUID `json:"v"`
	ExperimentID uuid.UUID `json:"e"`
	LinkIdx      int       `json:"l"`
	LinkCount    int       `json:"n"`
	ClickedAt    int64     `json:"t"` // Unix nanoseconds
	Method       string    `json:"m"`
	UserAgent    string    `json:"ua"`
	IP           string    `json:"ip"`
}

// Append writes clicks at the end of the file and fsyncs it: when it returns
// nil they are durable.
func (s *Spool) Append(clicks []RawClick) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, c := range clicks {
		if err := enc.Encode(spoolRecord{ID: c.ID, DeliveryID: c.DeliveryID, VariantID: c.VariantID, ExperimentID: c.ExperimentID,
			LinkIdx: c.LinkIdx, LinkCount: c.LinkCount, ClickedAt: c.ClickedAt.UnixNano(), Method: c.Method,
			UserAgent: c.UserAgent, IP: c.IP}); err != nil {
			return fmt.Errorf("tracking: spool: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("tracking: spool is closed")
	}
	if _, err := s.f.WriteAt(buf.Bytes(), s.size); err != nil {
		_ = s.f.Truncate(s.size) // no half record stays behind
		return fmt.Errorf("tracking: spool: write: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		_ = s.f.Truncate(s.size)
		return fmt.Errorf("tracking: spool: fsync: %w", err)
	}
	s.size += int64(buf.Len())
	s.pending += len(clicks)
	return nil
}

// Replay hands the spooled clicks to insert, up to max at a time, oldest
// first, until the file is empty (drained) or insert fails. The file is
// emptied once everything in it was inserted; drained is then called with
// the lock held, so that no Append comes between the last check and it.
func (s *Spool) Replay(ctx context.Context, max int, insert func(context.Context, []RawClick) error, drained func()) (int, error) {
	s.replaying.Lock()
	defer s.replaying.Unlock()
	n := 0
	for {
		s.mu.Lock()
		if s.f == nil {
			s.mu.Unlock()
			return n, errors.New("tracking: spool is closed")
		}
		from, to := s.done, s.size
		if from == to {
			if to > 0 {
				if err := s.f.Truncate(0); err != nil {
					s.mu.Unlock()
					return n, fmt.Errorf("tracking: spool: %w", err)
				}
				if err := s.f.Sync(); err != nil {
					s.mu.Unlock()
					return n, fmt.Errorf("tracking: spool: fsync: %w", err)
				}
				s.size, s.done, s.pending = 0, 0, 0
			}
			if drained != nil {
				drained()
			}
			s.mu.Unlock()
			return n, nil
		}
		f := s.f
		s.mu.Unlock()

		// The bytes before s.size never change until the file is emptied,
		// which only Replay does: read them without the lock.
		clicks, used, bad, err := readSpool(f, from, to, max)
		if err != nil {
			return n, err
		}
		if len(clicks) > 0 {
			if err := insert(ctx, clicks); err != nil {
				return n, err
			}
		}
		s.mu.Lock()
		s.done = from + used
		s.pending -= len(clicks) + bad
		s.mu.Unlock()
		n += len(clicks)
	}
}

// readSpool decodes up to max records from [from, to); used is the bytes
// they took, bad the lines that were not a record (skipped).
func readSpool(f *os.File, from, to int64, max int) (clicks []RawClick, used int64, bad int, err error) {
	r := bufio.NewReader(io.NewSectionReader(f, from, to-from))
	for len(clicks) < max {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, 0, fmt.Errorf("tracking: spool: read: %w", err)
		}
		used += int64(len(line))
		var rec spoolRecord
		if err := json.Unmarshal(line, &rec); err != nil || rec.ID == uuid.Nil {
			bad++
			continue
		}
		clicks = append(clicks, RawClick{ID: rec.ID, DeliveryID: rec.DeliveryID, VariantID: rec.VariantID,
			ExperimentID: rec.ExperimentID, LinkIdx: rec.LinkIdx, LinkCount: rec.LinkCount,
			ClickedAt: time.Unix(0, rec.ClickedAt).UTC(), Method: rec.Method, UserAgent: rec.UserAgent, IP: rec.IP,
			Spooled: true})
	}
	return clicks, used, bad, nil
}

// Close releases the file (and its lock); what was not replayed stays in it
// for the next run.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
