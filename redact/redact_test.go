package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var ada = Identity{Name: "Ada Lovelace", Addrs: []string{"ada.lovelace@lovelace-labs.example"}}

func TestTextRemovesIdentity(t *testing.T) {
	tests := []struct {
		name, in string
		gone     []string
		kept     []string
	}{
		{"international phone", "Call me on +31 6 1234 5678 or +31612345678.", []string{"1234 5678", "31612345678"}, []string{"Call me on"}},
		{"national phone", "Mobile 06-12345678, office (020) 123 4567, US 415-555-0123.", []string{"12345678", "123 4567", "555-0123"}, []string{"office"}},
		{"00 prefix", "ring 0031 6 12 34 56 78 please", []string{"12 34 56 78"}, []string{"please"}},
		{"labelled", "Tel: ask me, +1 whatever\nSignal: adal.99", []string{"ask me", "adal.99"}, nil},
		{"addresses", "write to someone@else.example or ada%40lovelace-labs.example or bob [at] corp [dot] example", []string{"someone@else.example", "ada%40", "bob [at] corp"}, []string{"write to"}},
		{"own address any case", "mail ADA.LOVELACE@LOVELACE-LABS.EXAMPLE now", []string{"ADA.LOVELACE", "LOVELACE-LABS"}, []string{"mail", "now"}},
		{"domain in url", "PoC at https://blog.lovelace-labs.example/poc.html and https://lovelace%2Dlabs%2Eexample/x", []string{"lovelace-labs", "lovelace%2Dlabs"}, []string{"/poc.html"}},
		{"handles", "I'm @adalove on Twitter and @ada@infosec.exchange.", []string{"adalove", "infosec.exchange"}, []string{"on Twitter"}},
		{"profiles", "See twitter.com/adal, https://x.com/adal, linkedin.com/in/ada-l-123 and https://github.com/adal", []string{"adal", "ada-l-123"}, []string{"See"}},
		{"handle learnt from profile", "https://mastodon.social/@zx81fan\n\nzx81fan found this.", []string{"zx81fan"}, []string{"found this"}},
		{"name words", "My name is Ada Lovelace. Lovelace here.", []string{"Ada", "Lovelace"}, []string{"My name is"}},
		{"dash signature", "The bug.\n-- \nAda\nhttps://adas.example\n", []string{"adas.example", "Ada"}, []string{"The bug."}},
		{"sign-off signature", "Steps: open /admin.\n\nBest,\nCharles B.\nCTO, Engine Works\nengine-works.example\n\nCharles B. wrote the steps.", []string{"Charles", "Engine Works", "engine-works.example"}, []string{"Steps: open /admin."}},
		{"dutch sign-off", "Het lek zit in /login.\n\nMet vriendelijke groet,\nJan Jansen\n06 12345678", []string{"Jan", "Jansen", "12345678"}, []string{"/login"}},
		{"vcard in text", "see card\nBEGIN:VCARD\nVERSION:3.0\nFN:Ada Q\nTEL:+44 20 7946 0000\nEND:VCARD\nthanks for fixing", []string{"Ada Q", "7946"}, []string{"see card"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Text(tt.in, ada)
			for _, g := range tt.gone {
				if strings.Contains(strings.ToLower(r.Text), strings.ToLower(g)) {
					t.Errorf("%q survived: %q", g, r.Text)
				}
			}
			for _, k := range tt.kept {
				if !strings.Contains(r.Text, k) {
					t.Errorf("%q was lost: %q", k, r.Text)
				}
			}
			if r.Summary() == "" {
				t.Errorf("nothing counted as removed: %q", r.Text)
			}
		})
	}
}

// TestTextKeepsTechnicalContent: what a report needs survives.
func TestTextKeepsTechnicalContent(t *testing.T) {
	in := strings.Join([]string{
		"GET https://partner.example.net/api/v2/users?id=1234567890&fields=metadata HTTP/1.1",
		"Host: 192.0.2.17:8443",
		"Date: 2026-11-23 10:00:00, CVE-2024-12345, version 1.2.3.4567",
		"curl -s 'https://cdn.partner.example.net/backups/index.json'",
		"Canada metadata adamant",
		"https://github.com/partner/webapp/blob/main/src/login.go#L120",
		"uid=0(root) gid=0(root) id_rsa 0x0040a1b2c3 sha256:0123456789abcdef",
	}, "\n")
	r := Text(in, ada)
	if r.Text != in {
		t.Errorf("technical content changed (%s):\n%s\nwant\n%s", r.Summary(), r.Text, in)
	}
}

func TestTextPlaceholdersAreNotRedactedAgain(t *testing.T) {
	id := Identity{Name: "Phone Reporter", Addrs: []string{"reporter@example.org"}}
	r := Text("reporter@example.org, +31 6 1234 5678, Phone Reporter", id)
	want := "[e-mail address], [phone number], [reporter]"
	if r.Text != want {
		t.Errorf("got %q, want %q", r.Text, want)
	}
}

func TestTextSummary(t *testing.T) {
	r := Text("Call +31 6 1234 5678 or 06-12345678.\n\nRegards,\nAda", ada)
	if got, want := r.Summary(), "2 phone numbers, 1 signature block"; got != want {
		t.Errorf("summary %q, want %q (text %q)", got, want, r.Text)
	}
	if Text("nothing here", Identity{}).Summary() != "" {
		t.Error("summary of an untouched text is not empty")
	}
}

// TestSignOffNotInTheMiddle: a "Thanks," line with the rest of the report
// after it is not a signature.
func TestSignOffNotInTheMiddle(t *testing.T) {
	in := "Thanks,\n" + strings.Repeat("step\n", 12) + "end"
	if r := Text(in, Identity{}); !strings.Contains(r.Text, "end") {
		t.Errorf("report cut at an early sign-off: %q", r.Text)
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{
		"Call +31 6 1234 5678\n-- \nAda\n",
		"ada%40lovelace-labs.example @ada https://twitter.com/ada",
		"Best,\nAda\nBEGIN:VCARD\nFN:x\n",
		"\uE000\uE001\uE000 [reporter]",
		"(020) 123 4567 06-12345678 tel:+3161234",
	} {
		f.Add(s, "Ada Lovelace", "ada.lovelace@lovelace-labs.example")
	}
	f.Fuzz(func(t *testing.T, text, name, addr string) {
		id := Identity{Name: name, Addrs: []string{addr}}
		r := Text(text, id)
		if !utf8.ValidString(r.Text) {
			t.Fatalf("invalid UTF-8 out")
		}
		if strings.ContainsRune(r.Text, sentinelBase) {
			t.Fatalf("sentinel left in %q", r.Text)
		}
		// The reporter's address never survives, in any case.
		if a := strings.TrimSpace(addr); strings.Count(a, "@") == 1 && len(a) > 6 && isASCII(a) &&
			emailRE.MatchString(a) && strings.Contains(strings.ToLower(r.Text), strings.ToLower(a)) {
			t.Fatalf("address %q survived in %q", a, r.Text)
		}
		// Idempotent enough: a second pass finds no phone number or
		// e-mail address left.
		again := Text(r.Text, Identity{})
		if again.Removed["e-mail address"] > 0 || again.Removed["phone number"] > 0 {
			t.Fatalf("second pass still removes %s from %q", again.Summary(), r.Text)
		}
	})
}

// TestNameLineStartsSignature: without "-- " or a sign-off, a short line
// near the end that starts with the reporter's name begins the signature
// (as an HTML footer converted to text does).
func TestNameLineStartsSignature(t *testing.T) {
	in := "The bucket is open.\nSteps: list it.\n\nAda Lovelace · Quartz Research · Amsterdam\nhttps://quartz-research.example"
	r := Text(in, ada)
	if strings.Contains(r.Text, "Quartz") || strings.Contains(r.Text, "Amsterdam") || !strings.Contains(r.Text, "Steps: list it.") {
		t.Errorf("got %q", r.Text)
	}
	// A sentence is not a name line.
	long := "The bucket is open.\nAda found that " + strings.Repeat("the listing shows every invoice ", 4) + "today."
	if r := Text(long, ada); !strings.Contains(r.Text, "every invoice") {
		t.Errorf("a long line was cut: %q", r.Text)
	}
}

// TestFoundFeedsExact: what Text removed from a report, it removes from
// other text through Identity.Exact, even where no pattern would.
func TestFoundFeedsExact(t *testing.T) {
	r := Text("Signal: zq-signal-9\nI'm @zqhax.", ada)
	id := ada
	id.Exact = r.Found
	m := Text("The finder (zq-signal-9 on Signal) asks for credit.", id)
	if strings.Contains(m.Text, "zq-signal-9") || !strings.Contains(m.Text, "asks for credit") {
		t.Errorf("got %q (found %q)", m.Text, r.Found)
	}
}

// BenchmarkText redacts a 256 KiB report of mixed technical text and
// contact details.
func BenchmarkText(b *testing.B) {
	line := "GET https://partner.example.net/api?id=1234567890 from 192.0.2.7; Ada at +31 6 1234 5678 or ada@lovelace-labs.example @adal\n"
	text := strings.Repeat(line, (256<<10)/len(line))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Text(text, ada)
	}
}
