package parser

import (
	"strings"
	"testing"
)

func TestStripQuoted(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "plain", in: "  Thanks, fixed in 2.3.\n\n", want: "Thanks, fixed in 2.3."},
		{
			name: "gmail",
			in: "Confirmed, we will fix this in 2.3.\n\nBest,\nBob\n\n" +
				"On Mon, Feb 5, 2024 at 10:00 AM Jane Doe <jane@example.org> wrote:\n\n" +
				"> Hi,\n>\n> I found an XSS in the login form.\n>\n",
			want: "Confirmed, we will fix this in 2.3.\n\nBest,\nBob",
		},
		{
			name: "gmail wrapped attribution",
			in: "Confirmed.\n\n" +
				"On Mon, Feb 5, 2024 at 10:00 AM Jane Doe via Security <\n" +
				"security@example.org> wrote:\n\n" +
				"> I found an XSS.\n",
			want: "Confirmed.",
		},
		{
			name: "gmail dutch",
			in: "Bevestigd.\n\nOp ma 5 feb 2024 om 10:00 schreef Jane Doe <jane@example.org>:\n\n" +
				"> Ik heb een XSS gevonden.\n",
			want: "Bevestigd.",
		},
		{
			name: "apple mail",
			in:   "We are on it.\n\n> On 5 Feb 2024, at 10:00, Jane Doe <jane@example.org> wrote:\n>\n> Hello,\n",
			want: "We are on it.",
		},
		{
			name: "apple mail unquoted attribution",
			in:   "We are on it.\n\nOn 5 Feb 2024, at 10:00, Jane Doe <jane@example.org> wrote:\n\n> Hello,\n> \n",
			want: "We are on it.",
		},
		{
			name: "apple mail dutch",
			in:   "Komt goed.\n\nGroet,\nPiet\n\nOp 5 feb. 2024 om 10:00 heeft Jane Doe <jane@example.org> het volgende geschreven:\n\n> Hallo,\n",
			want: "Komt goed.\n\nGroet,\nPiet",
		},
		{
			name: "iphone",
			in: "Will look tomorrow.\n\nSent from my iPhone\n\n" +
				"On 5 Feb 2024, at 10:00, Jane Doe <jane@example.org> wrote:\n\n> Hello,\n",
			want: "Will look tomorrow.",
		},
		{
			name: "iphone dutch",
			in:   "Kijk ik morgen naar.\n\nVerzonden vanaf mijn iPhone\n",
			want: "Kijk ik morgen naar.",
		},
		{
			name: "iphone dutch apple wording",
			in:   "Kijk ik morgen naar.\n\nVerstuurd vanaf mijn iPhone\n\n> Op 5 feb. 2024 om 10:00 heeft Jane het volgende geschreven:\n",
			want: "Kijk ik morgen naar.",
		},
		{
			name: "thunderbird with signature",
			in: "Fixed in 2.3.1.\n\n-- \nBob Builder\nSecurity Team\n\n" +
				"On 05/02/2024 10:00, Jane Doe wrote:\n> Hello,\n",
			want: "Fixed in 2.3.1.",
		},
		{
			name: "bare dash dash signature",
			in:   "Fixed.\n--\nBob\n",
			want: "Fixed.",
		},
		{
			name: "german",
			in:   "Danke.\n\nAm 05.02.2024 um 10:00 schrieb Jane Doe <jane@example.org>:\n> Hallo\n",
			want: "Danke.",
		},
		{
			name: "french with no-break space",
			in:   "Merci.\n\nLe lun. 5 févr. 2024 à 10:00, Jane Doe <jane@example.org> a écrit\u00a0:\n\n> Bonjour\n",
			want: "Merci.",
		},
		{
			name: "outlook desktop original message",
			in: "Thanks, we have reproduced it.\r\n\r\nKind regards,\r\nBob\r\n\r\n" +
				"-----Original Message-----\r\nFrom: Jane Doe <jane@example.org>\r\nSent: Monday, February 5, 2024 10:00 AM\r\n" +
				"To: security@example.org\r\nSubject: XSS in login\r\n\r\nHello,\r\n",
			want: "Thanks, we have reproduced it.\n\nKind regards,\nBob",
		},
		{
			name: "outlook original message spaced",
			in:   "Ok.\n\n----- Original Message -----\nFrom: jane@example.org\n",
			want: "Ok.",
		},
		{
			name: "outlook dutch original message",
			in: "Dank je, we kijken ernaar.\n\n-----Oorspronkelijk bericht-----\nVan: Jane Doe <jane@example.org>\n" +
				"Verzonden: maandag 5 februari 2024 10:00\nAan: security@example.org\nOnderwerp: XSS\n\nHallo,\n",
			want: "Dank je, we kijken ernaar.",
		},
		{
			name: "outlook web",
			in: "Thanks for the report.\r\n\r\n________________________________\r\n" +
				"From: Jane Doe <jane@example.org>\r\nSent: Monday, February 5, 2024 10:00\r\n" +
				"To: Security <security@example.org>\r\nSubject: XSS in login\r\n\r\nHello,\r\n",
			want: "Thanks for the report.",
		},
		{
			name: "outlook web dutch",
			in: "Bedankt.\n\n________________________________\nVan: Jane Doe <jane@example.org>\n" +
				"Verzonden: maandag 5 februari 2024 10:00\nAan: Security <security@example.org>\nOnderwerp: XSS\n\nHallo,\n",
			want: "Bedankt.",
		},
		{
			name: "new outlook with date and long to list",
			in: "Noted.\n\nFrom: Jane Doe <jane@example.org>\nTo: a@example.org; b@example.org;\n  c@example.org\n" +
				"Cc: d@example.org\nDate: Monday, 5 February 2024 10:00\nSubject: XSS\n",
			want: "Noted.",
		},
		{
			name: "html converted outlook bold headers",
			in:   "Noted.\n\n*From:* Jane Doe <jane@example.org>\n*Sent:* Monday, February 5, 2024 10:00 AM\n*To:* security@example.org\n",
			want: "Noted.",
		},
		{
			name: "from line in prose is kept",
			in:   "From: the logs we see the attack.\nNo more to say.\n",
			want: "From: the logs we see the attack.\nNo more to say.",
		},
		{
			name: "quote run at the end",
			in:   "Agreed.\n\n> Can you publish on the 15th?\n> Thanks\n",
			want: "Agreed.",
		},
		{
			name: "inline replies",
			in: "Hi Jane,\n\n> Is it fixed?\n\nYes, in 2.3.\n\n> When will you publish?\n> And credit me?\n\n" +
				"Next week, with credit.\n\n> Thanks\n",
			want: "Hi Jane,\n\nYes, in 2.3.\n\nNext week, with credit.",
		},
		{
			name: "inline replies under an attribution",
			in:   "Hi Jane,\n\nOn 05/02/2024 10:00, Jane Doe wrote:\n> Is it fixed?\nYes.\n> Publish?\nNo.\n\n-- \nBob\n",
			want: "Hi Jane,\n\nYes.\nNo.",
		},
		{
			name: "attribution with unquoted original below",
			in:   "Thanks.\n\nOn Mon, Feb 5, 2024 at 10:00 AM Jane <jane@example.org> wrote:\nHello, I found a bug.\n",
			want: "Thanks.",
		},
		{
			name: "prose ending in wrote is kept",
			in:   "On the login page the attacker wrote:\n<script>alert(1)</script>\n",
			want: "On the login page the attacker wrote:\n<script>alert(1)</script>",
		},
		{
			name: "two lines of prose are no wrapped attribution",
			in:   "On Monday we checked it.\nThis is what she wrote:\nit works\n",
			want: "On Monday we checked it.\nThis is what she wrote:\nit works",
		},
		{
			name: "everything quoted",
			in:   "> only a quote\n> nothing else\n",
			want: "",
		},
		{
			name: "crlf and lone cr",
			in:   "line one\r\nline two\rline three\r\n> quote\r\n",
			want: "line one\nline two\nline three",
		},
		{
			name: "signature separator must be exact",
			in:   "Use --force.\n---\nkept\n",
			want: "Use --force.\n---\nkept",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StripQuoted(tc.in); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func FuzzStripQuoted(f *testing.F) {
	for _, s := range []string{
		"Thanks.\n\nOn Mon, Feb 5, 2024 at 10:00 AM Jane <jane@example.org> wrote:\n> hi\n",
		"Ok\r\n-----Original Message-----\r\nFrom: a\r\nSent: b\r\n",
		"x\n________________________________\nVan: a\nVerzonden: b\n",
		"Hi\n> q\na\n> q\nb\n-- \nsig\n",
		"On 1\nx wrote:\n> q\nanswer\n",
		"Sent from my iPhone\n\nSent from my iPhone",
		"\r\r\n\r",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := StripQuoted(in)
		norm := strings.ReplaceAll(in, "\r\n", "\n")
		if len(out) > len(norm) {
			t.Fatalf("output longer than input: %q -> %q", in, out)
		}
		if out != strings.TrimSpace(out) {
			t.Fatalf("output not trimmed: %q", out)
		}
		// Every output line comes from the input (trimmed at the ends).
		lf := strings.ReplaceAll(norm, "\r", "\n")
		for _, l := range strings.Split(out, "\n") {
			if !strings.Contains(lf, l) {
				t.Fatalf("output line %q not in input %q", l, in)
			}
		}
	})
}

func TestSplitReply(t *testing.T) {
	r := SplitReply("> all quoted\n> here\n")
	if r.Text != "" || !r.Uncut || r.Note != UncutNote {
		t.Errorf("all quoted: %+v", r)
	}
	r = SplitReply("See below.\n\nBegin forwarded message:\n\nFrom: Jane <jane@example.org>\nSubject: x\nDate: 5 Feb 2024\n\nbody\n")
	if r.Text != "See below." || !strings.HasPrefix(r.Forwarded, "Begin forwarded message:") || !strings.Contains(r.Forwarded, "body") || r.Uncut {
		t.Errorf("forward: %+v", r)
	}
	r = SplitReply("---------- Forwarded message ---------\nFrom: Jane <jane@example.org>\nDate: 5 Feb 2024\n\nbody\n")
	if r.Text != "" || r.Uncut || !strings.Contains(r.Forwarded, "body") {
		t.Errorf("bare forward: %+v", r)
	}
	if r := SplitReply("Fixed.\n"); r.Uncut || r.Text != "Fixed." || r.Forwarded != "" {
		t.Errorf("plain: %+v", r)
	}
}

func TestTripleAngleLines(t *testing.T) {
	tests := []struct{ in, want string }{
		// A run of only ">>>" lines is a prompt, kept.
		{">>> import os\n>>> os.getcwd()\n'/'\n", ">>> import os\n>>> os.getcwd()\n'/'"},
		// Next to shallower quotes it is a deep quote.
		{"Ok.\n\n> a\n>> b\n>>> c\n", "Ok."},
		// Under a quoted line, separated by a blank, still a quote.
		{"Ok.\n\n> a\n\n>>> c\n", "Ok."},
		// Under an attribution.
		{"Ok.\n\nOn Mon, Feb 5, 2024 at 10:00 AM Jane <jane@example.org> wrote:\n>>> c\n", "Ok."},
		// Spaced quote markers count as depth.
		{"Ok.\n\n> > c\n", "Ok."},
	}
	for _, tt := range tests {
		if got := StripQuoted(tt.in); got != tt.want {
			t.Errorf("StripQuoted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
