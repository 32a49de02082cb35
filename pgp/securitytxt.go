package pgp

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// SecurityTxt holds the fields of an RFC 9116 security.txt.
type SecurityTxt struct {
	// Contact is the security address (written as mailto:); required.
	Contact string
	// Expires is the time after which the file is stale; required, at most
	// a year ahead (RFC 9116 §2.5.5).
	Expires time.Time
	// Encryption is a URI for the key (https: or openpgp4fpr:).
	Encryption string
	// Languages are the preferred languages (RFC 5646 tags).
	Languages []string
	// Policy, Canonical and Acknowledgments are URIs, written when set.
	Policy, Canonical, Acknowledgments string
}

// Render writes the file (lines end in LF, RFC 9116 §2.2 allows either)
// and, when signer is not nil, clear-signs it (§2.3).
func (s SecurityTxt) Render(signer *Signer, now time.Time) ([]byte, error) {
	if s.Contact == "" {
		return nil, errors.New("security.txt: Contact is required")
	}
	if s.Expires.IsZero() || !s.Expires.After(now) {
		return nil, errors.New("security.txt: Expires must lie in the future")
	}
	if s.Expires.After(now.AddDate(1, 0, 0)) {
		return nil, errors.New("security.txt: Expires must lie less than a year ahead (RFC 9116 §2.5.5)")
	}
	var b strings.Builder
	contact := s.Contact
	if !strings.Contains(contact, ":") {
		contact = "mailto:" + contact
	}
	fmt.Fprintf(&b, "Contact: %s\n", contact)
	fmt.Fprintf(&b, "Expires: %s\n", s.Expires.UTC().Format("2006-01-02T15:04:05.000Z"))
	if s.Encryption != "" {
		fmt.Fprintf(&b, "Encryption: %s\n", s.Encryption)
	}
	if s.Acknowledgments != "" {
		fmt.Fprintf(&b, "Acknowledgments: %s\n", s.Acknowledgments)
	}
	if len(s.Languages) > 0 {
		fmt.Fprintf(&b, "Preferred-Languages: %s\n", strings.Join(s.Languages, ", "))
	}
	if s.Canonical != "" {
		fmt.Fprintf(&b, "Canonical: %s\n", s.Canonical)
	}
	if s.Policy != "" {
		fmt.Fprintf(&b, "Policy: %s\n", s.Policy)
	}
	text := []byte(b.String())
	if signer == nil {
		return text, nil
	}
	return signer.ClearSign(text)
}

// FingerprintURI is the openpgp4fpr: URI of a fingerprint, the
// Encryption value when no URL is configured.
func FingerprintURI(fpr string) string { return "openpgp4fpr:" + strings.ToLower(fpr) }
