package okr

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"

	"slicelab/experiments"
	"slicelab/tracking"
)

// SurveySigner signs and opens survey links: a token names one member of one
// team and one week, and is sealed with HMAC-SHA256 under a key derived from
// the service secret, so a link answers for its member only and cannot be
// forged or altered.
type SurveySigner struct {
	key      []byte
	previous []tracking.Previous // keys, not secrets, once built
}

// surveyKeyLabel separates the survey key from other uses of the secret.
const surveyKeyLabel = "slicelab/okr/allocation-survey/v2"

// Token layout: version (1) | user id (16) | team id (16) | ISO year (2) | week (1) | MAC (16).
const (
	surveyVersion  = 2
	surveyBodyLen  = 1 + 16 + 16 + 2 + 1
	surveyMACLen   = 16
	surveyTokenLen = surveyBodyLen + surveyMACLen
)

// NewSurveySigner derives the survey key from the service secret, and from
// previous secrets whose links still open until they end.
func NewSurveySigner(secret []byte, previous ...tracking.Previous) *SurveySigner {
	g := &SurveySigner{key: surveyKey(secret)}
	for _, p := range previous {
		g.previous = append(g.previous, tracking.Previous{Secret: surveyKey(p.Secret), Until: p.Until})
	}
	return g
}

func surveyKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(surveyKeyLabel))
	return m.Sum(nil)
}

func (g *SurveySigner) mac(body []byte) []byte { return surveyMAC(g.key, body) }

func surveyMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)[:surveyMACLen]
}

// verify checks a MAC under the current key or a previous one not yet ended.
func (g *SurveySigner) verify(body, mac []byte) bool {
	if hmac.Equal(mac, g.mac(body)) {
		return true
	}
	for _, p := range g.previous {
		if time.Now().Before(p.Until) && hmac.Equal(mac, surveyMAC(p.Secret, body)) {
			return true
		}
	}
	return false
}

// SurveyRef is what a survey token names.
type SurveyRef struct {
	UserID uuid.UUID
	TeamID uuid.UUID
	Week   tracking.Week
}

// Token returns the URL-safe token (base64url) of a member's survey for a week.
func (g *SurveySigner) Token(r SurveyRef) string {
	b := make([]byte, surveyBodyLen, surveyTokenLen)
	b[0] = surveyVersion
	copy(b[1:17], r.UserID[:])
	copy(b[17:33], r.TeamID[:])
	binary.BigEndian.PutUint16(b[33:35], uint16(r.Week.Year))
	b[35] = byte(r.Week.Num)
	b = append(b, g.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Open checks a token and returns what it names; anything altered, cut short
// or signed with another secret is experiments.ErrNotFound.
func (g *SurveySigner) Open(tok string) (SurveyRef, error) {
	if len(tok) != base64.RawURLEncoding.EncodedLen(surveyTokenLen) {
		return SurveyRef{}, experiments.ErrNotFound
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != surveyTokenLen || b[0] != surveyVersion {
		return SurveyRef{}, experiments.ErrNotFound
	}
	if !g.verify(b[:surveyBodyLen], b[surveyBodyLen:]) {
		return SurveyRef{}, experiments.ErrNotFound
	}
	var r SurveyRef
	copy(r.UserID[:], b[1:17])
	copy(r.TeamID[:], b[17:33])
	r.Week = tracking.Week{Year: int(binary.BigEndian.Uint16(b[33:35])), Num: int(b[35])}
	if !r.Week.Valid() {
		return SurveyRef{}, experiments.ErrNotFound
	}
	return r, nil
}

// SurveyLinkWeeks is how long a survey link is valid: it answers its week
// until this many weeks after it (late answers are welcome, old links are not).
const SurveyLinkWeeks = 4

// ErrSurveyLinkExpired is a survey link whose week is long past.
var ErrSurveyLinkExpired = errors.New("this survey link has expired; use the link in this week's email")

// SurveyToken returns the token of a member's survey link for a week.
func (s *Service) SurveyToken(teamID, userID uuid.UUID, week tracking.Week) string {
	return s.survey.Token(SurveyRef{UserID: userID, TeamID: teamID, Week: week})
}

// SurveyLinkAuthentic says whether a survey token was signed with this
// service's secret, without reading the database.
func (s *Service) SurveyLinkAuthentic(tok string) bool {
	_, err := s.survey.Open(tok)
	return err == nil
}

// SurveyForm is what the survey page shows for a link.
type SurveyForm struct {
	Member     experiments.Member
	TeamName   string
	Week       tracking.Week
	Categories []Category
	// Previous is the member's answer for Week or, failing that, their
	// latest earlier answer (nil when none), to pre-fill the form.
	Previous *AllocationResponse
}

// openSurvey resolves a survey link to a member who still belongs to the team.
func (s *Service) openSurvey(ctx context.Context, tok string) (SurveyRef, experiments.Member, error) {
	ref, err := s.survey.Open(tok)
	if err != nil {
		return SurveyRef{}, experiments.Member{}, err
	}
	cur, err := s.CurrentWeek(ctx, ref.TeamID)
	if errors.Is(err, experiments.ErrNotFound) {
		return SurveyRef{}, experiments.Member{}, experiments.ErrNotFound
	} else if err != nil {
		return SurveyRef{}, experiments.Member{}, err
	}
	oldest := cur
	for range SurveyLinkWeeks {
		oldest = oldest.Prev()
	}
	if ref.Week.Before(oldest) {
		return SurveyRef{}, experiments.Member{}, ErrSurveyLinkExpired
	}
	m, err := s.exps.Member(ctx, ref.TeamID, ref.UserID)
	if errors.Is(err, experiments.ErrNotFound) {
		return SurveyRef{}, experiments.Member{}, experiments.ErrNotFound
	}
	return ref, m, err
}

// OpenSurvey resolves a survey link: the member, the week and the team's categories.
func (s *Service) OpenSurvey(ctx context.Context, tok string) (*SurveyForm, error) {
	ref, m, err := s.openSurvey(ctx, tok)
	if err != nil {
		return nil, err
	}
	team, err := s.exps.Team(ctx, ref.TeamID)
	if err != nil {
		return nil, err
	}
	cats, err := s.allocCategories(ctx, ref.TeamID)
	if err != nil {
		return nil, err
	}
	prev, err := s.AllocationOf(ctx, ref.TeamID, m.ID, ref.Week)
	if err != nil {
		return nil, err
	}
	return &SurveyForm{Member: m, TeamName: team.Name, Week: ref.Week, Categories: cats, Previous: prev}, nil
}

// SubmitSurvey stores the answer given through a survey link: the member,
// the team and the week come from the token only.
func (s *Service) SubmitSurvey(ctx context.Context, tok string, shares map[string]int) (AllocationResponse, error) {
	ref, m, err := s.openSurvey(ctx, tok)
	if err != nil {
		return AllocationResponse{}, err
	}
	return s.SubmitAllocation(ctx, ref.TeamID, m.ID, ref.Week, shares)
}
