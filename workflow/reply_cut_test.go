package workflow

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEmptyMessageAfterCutIsRefused: a #reply or #progress whose mail is
// all quote (Outlook's header block, an attribution at the top, a forward
// with nothing above it, an app signature alone) is refused with a
// reason, and the reporter gets nothing.
func TestEmptyMessageAfterCutIsRefused(t *testing.T) {
	bodies := map[string]string{
		"outlook block only":     "________________________________\r\nFrom: Ada <ada@example.org>\r\nSent: Friday, 20 November 2026 15:00\r\nTo: security@example.test\r\nSubject: XSS\r\n\r\nThe page is vulnerable.",
		"attribution and quote":  "On Fri, 20 Nov 2026 at 15:00 Ada <ada@example.org> wrote:\r\n> The page is vulnerable.",
		"app signature only":     "Sent from my iPhone",
		"forward with no text":   "---------- Forwarded message ---------\r\nFrom: Ada <ada@example.org>\r\nDate: Fri, 20 Nov 2026\r\nSubject: XSS\r\n\r\nThe page is vulnerable.",
		"original message block": "-----Original Message-----\r\nFrom: Ada <ada@example.org>\r\nSent: Friday\r\n\r\nThe page is vulnerable.",
	}
	for _, kw := range []string{"#reply", "#progress"} {
		for name, body := range bodies {
			t.Run(kw+" "+name, func(t *testing.T) {
				f := newFixture(t)
				f.e.opts().StaffAuth = "none"
				id := f.ingest(t, report("ada@example.org", "XSS", "r1@example.org", "")).CaseID
				_, mark := f.sentSince(t, 0)
				f.ingest(t, []byte(fmt.Sprintf("From: Sam Staff <%s>\r\nTo: security@example.test\r\nSubject: Re: [%s] New report: XSS %s\r\n"+
					"Message-ID: <%d@example.test>\r\n\r\n%s\r\n", staffAddr, id, kw, time.Now().UnixNano(), body)))
				got, _ := f.sentSince(t, mark)
				subs := subjects(got)
				if len(subs) != 1 || !strings.HasPrefix(subs[0], staffAddr+" [CS-2026-0001] Refused:") {
					t.Fatalf("mails %q, want one Refused to staff", subs)
				}
				if !strings.Contains(got[0].raw, "needs a message") {
					t.Errorf("refusal gives no reason:\n%s", got[0].raw)
				}
			})
		}
	}
}
