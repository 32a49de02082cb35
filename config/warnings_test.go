package config

import (
	"strings"
	"testing"
)

func TestWarningsTLSNone(t *testing.T) {
	tests := []struct {
		imapTLS, imapAddr, smtpTLS, smtpAddr string
		want                                 []string
	}{
		{"none", "127.0.0.1:143", "none", "localhost:25", nil},
		{"none", "[::1]:143", "starttls", "mail.example.com:587", nil},
		{"implicit", "mail.example.com:993", "none", "mail.example.com:25",
			[]string{"smtp.tls is none but smtp.address mail.example.com:25 is not a loopback address"}},
		{"none", "192.0.2.1:143", "none", "10.0.0.1:25",
			[]string{"imap.tls is none but imap.address 192.0.2.1:143", "smtp.tls is none but smtp.address 10.0.0.1:25"}},
	}
	for _, tt := range tests {
		c := &Config{IMAP: IMAP{TLS: tt.imapTLS, Address: tt.imapAddr}, SMTP: SMTP{TLS: tt.smtpTLS, Address: tt.smtpAddr}}
		got := c.Warnings()
		if len(got) != len(tt.want) {
			t.Errorf("%+v: warnings %q, want %q", tt, got, tt.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], tt.want[i]) || !strings.Contains(got[i], "in clear") {
				t.Errorf("warning %q, want prefix %q", got[i], tt.want[i])
			}
		}
	}
}
