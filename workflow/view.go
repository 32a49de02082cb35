package workflow

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"disclosured/store"
)

// CaseSummary is one line of `cases`.
type CaseSummary struct {
	ID         string    `json:"id"`
	State      State     `json:"state"`
	Reporter   string    `json:"reporter"`
	Subject    string    `json:"subject"`
	ReceivedAt time.Time `json:"received_at"`
	Class      string    `json:"class"`
}

// CaseView is everything `show` prints about a case (SPEC §2).
type CaseView struct {
	ID           string                     `json:"id"`
	State        State                      `json:"state"`
	Reporter     string                     `json:"reporter"`
	ReporterName string                     `json:"reporter_name,omitempty"`
	Subject      string                     `json:"subject"`
	ReceivedAt   time.Time                  `json:"received_at"`
	Class        string                     `json:"class"`
	Language     string                     `json:"language"`
	Severity     *string                    `json:"severity"`
	FixBy        *string                    `json:"fix_by"`
	Reward       *store.Reward              `json:"reward"`
	Credit       *string                    `json:"credit"`
	Consents     []store.Consent            `json:"consents"`
	PublishAt    *string                    `json:"publish_at"`
	CVE          *string                    `json:"cve"`
	ThirdParty   *string                    `json:"third_party"`
	RefersTo     *string                    `json:"refers_to"`
	PausedAt     *time.Time                 `json:"paused_at"`
	Pauses       []store.Pause              `json:"pauses"`
	Deadlines    map[TimerName]DeadlineView `json:"deadlines"`
	Messages     []MessageView              `json:"messages"`
	Events       []store.Event              `json:"events"`
	// Encrypted and Keys: see store.Case.
	Encrypted bool      `json:"encrypted"`
	Keys      []KeyView `json:"keys"`
}

// KeyView is one reporter key of a case.
type KeyView struct {
	Addr        string    `json:"addr"`
	Fingerprint string    `json:"fingerprint"`
	Source      string    `json:"source"`
	AddedAt     time.Time `json:"added_at"`
	Accepted    bool      `json:"accepted"`
}

// DeadlineView is one timer of a case.
type DeadlineView struct {
	Due      time.Time  `json:"due"`
	MetAt    *time.Time `json:"met_at"`
	Breached bool       `json:"breached"`
}

// MessageView is one mail of a case, in or out.
type MessageView struct {
	Direction   string             `json:"direction"`
	Kind        string             `json:"kind"`
	From        string             `json:"from"`
	To          []string           `json:"to"`
	Subject     string             `json:"subject"`
	At          time.Time          `json:"at"`
	MessageID   string             `json:"message_id,omitempty"`
	Class       string             `json:"class,omitempty"`
	Status      string             `json:"status,omitempty"`
	Attempts    int                `json:"attempts,omitempty"`
	LastError   string             `json:"last_error,omitempty"`
	Size        int64              `json:"size,omitempty"`
	Truncated   bool               `json:"truncated,omitempty"`
	Text        string             `json:"text,omitempty"`
	URLs        []string           `json:"urls,omitempty"`
	IPs         []string           `json:"ips,omitempty"`
	Hosts       []string           `json:"hosts,omitempty"`
	Attachments []store.Attachment `json:"attachments,omitempty"`
	Problems    []string           `json:"problems,omitempty"`
	// PGP is what OpenPGP processing found (incoming mail only).
	PGP *store.PGP `json:"pgp,omitempty"`
}

// ErrNoCase is returned for an unknown case ID.
var ErrNoCase = errors.New("no such case")

// ListCases returns the cases, optionally only those in state, oldest first.
func ListCases(db *store.DB, state string) ([]CaseSummary, error) {
	out := []CaseSummary{}
	err := db.View(func(tx *store.Tx) error {
		cases, err := tx.Cases()
		if err != nil {
			return err
		}
		for _, c := range cases {
			if state != "" && !strings.EqualFold(c.State, state) {
				continue
			}
			out = append(out, CaseSummary{ID: c.ID, State: stateOf(c), Reporter: c.Reporter.Addr,
				Subject: c.Subject, ReceivedAt: c.ReceivedAt, Class: c.Class})
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].ReceivedAt.Equal(out[j].ReceivedAt) {
			return out[i].ReceivedAt.Before(out[j].ReceivedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// ShowCase assembles the full view of one case.
func ShowCase(db *store.DB, id string) (*CaseView, error) {
	var v *CaseView
	err := db.View(func(tx *store.Tx) error {
		var err error
		v, err = showTx(tx, id)
		return err
	})
	return v, err
}

func showTx(tx *store.Tx, id string) (*CaseView, error) {
	var v *CaseView
	err := func() error {
		c, err := tx.Case(id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s: %w", id, ErrNoCase)
		}
		if err != nil {
			return err
		}
		v = &CaseView{ID: c.ID, State: stateOf(c), Reporter: c.Reporter.Addr, ReporterName: c.Reporter.Name,
			Subject: c.Subject, ReceivedAt: c.ReceivedAt, Class: c.Class, Language: c.Language,
			Severity: opt(c.Severity), FixBy: opt(c.FixBy), Reward: c.Reward, Credit: opt(c.Credit),
			Consents: c.Consents, PublishAt: opt(c.PublishAt), CVE: opt(c.CVE), ThirdParty: opt(c.ThirdParty),
			RefersTo: opt(c.RefersTo), PausedAt: c.PausedAt, Pauses: c.Pauses, Deadlines: map[TimerName]DeadlineView{}}
		if v.Pauses == nil {
			v.Pauses = []store.Pause{}
		}
		v.Encrypted, v.Keys = c.Encrypted, []KeyView{}
		for _, k := range c.Keys {
			v.Keys = append(v.Keys, KeyView{Addr: k.Addr, Fingerprint: k.Fingerprint, Source: k.Source,
				AddedAt: k.AddedAt, Accepted: k.Accepted})
		}
		if v.Consents == nil {
			v.Consents = []store.Consent{}
		}
		for name, d := range c.Deadlines {
			v.Deadlines[TimerName(name)] = DeadlineView{Due: d.Due, MetAt: d.MetAt, Breached: d.Breached}
		}
		msgs, err := tx.Messages(id)
		if err != nil {
			return err
		}
		v.Messages = []MessageView{}
		for _, m := range msgs {
			mv := MessageView{Direction: m.Direction, Kind: m.Kind, From: m.From, To: m.To,
				Subject: m.Subject, At: m.At, MessageID: m.MessageID, Class: m.Class, Size: m.Size,
				Truncated: m.Truncated, Text: m.Text, URLs: m.URLs, IPs: m.IPs, Hosts: m.Hosts,
				Attachments: m.Attachments, Problems: m.Problems, PGP: m.PGP}
			if m.Direction == "out" {
				om, err := tx.Mail(m.OutboxID)
				if err != nil {
					return err
				}
				mv.Status, mv.Attempts, mv.LastError = om.Status, om.Attempts, om.LastError
			}
			v.Messages = append(v.Messages, mv)
		}
		v.Events, err = tx.Events(id)
		if v.Events == nil {
			v.Events = []store.Event{}
		}
		return err
	}()
	return v, err
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
