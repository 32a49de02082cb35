package parser

import (
	"strings"
	"testing"
)

func TestCheckAuth(t *testing.T) {
	const (
		ours = "mx.example.org"
		from = "Bob Builder <bob@example.org>"
	)
	tests := []struct {
		name   string
		ar     []string
		from   string
		id     string
		ok     bool
		reason string // must be contained in Reason
	}{
		{
			name:   "dmarc pass",
			ar:     []string{"mx.example.org; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; dmarc=pass header.from=example.org"},
			ok:     true,
			reason: "dmarc=pass for example.org",
		},
		{
			name:   "dmarc pass, bare from address, upper case",
			ar:     []string{"mx.example.org; dmarc=pass (p=reject dis=none) header.from=Example.ORG"},
			from:   "BOB@EXAMPLE.ORG",
			ok:     true,
			reason: "dmarc=pass",
		},
		{
			name:   "aligned dkim",
			ar:     []string{"mx.example.org; dkim=pass header.d=example.org header.s=sel header.b=abcd; dmarc=none header.from=example.org"},
			ok:     true,
			reason: "dkim=pass for example.org",
		},
		{
			name:   "dkim for a parent domain",
			ar:     []string{"mx.example.org; dkim=pass header.d=example.org"},
			from:   "bob@staff.example.org",
			ok:     true,
			reason: "dkim=pass for example.org",
		},
		{
			name:   "dkim for a top-level domain is not aligned",
			ar:     []string{"mx.example.org; dkim=pass header.d=org"},
			reason: "dkim=pass for org but From is example.org",
		},
		{
			name:   "dkim for a lookalike is not aligned",
			ar:     []string{"mx.example.org; dkim=pass header.d=ample.org"},
			reason: "dkim=pass for ample.org but From is example.org",
		},
		{
			name:   "dkim pass unaligned",
			ar:     []string{"mx.example.org; dkim=pass header.d=other.example; spf=pass smtp.mailfrom=other.example"},
			reason: "dkim=pass for other.example but From is example.org",
		},
		{
			name:   "dmarc fail",
			ar:     []string{"mx.example.org; dkim=fail header.d=example.org; dmarc=fail header.from=example.org"},
			reason: "dmarc=fail, dkim=fail for example.org",
		},
		{
			name:   "dmarc pass for another domain",
			ar:     []string{"mx.example.org; dmarc=pass header.from=other.example"},
			reason: "dmarc=pass for other.example but From is example.org",
		},
		{
			name:   "dmarc pass without header.from",
			ar:     []string{"mx.example.org; dmarc=pass"},
			reason: "dmarc=pass without header.from",
		},
		{
			name:   "no dkim or dmarc",
			ar:     []string{"mx.example.org; spf=pass smtp.mailfrom=example.org"},
			reason: "no dmarc or dkim result in Authentication-Results from mx.example.org",
		},
		{
			name:   "none",
			ar:     []string{"mx.example.org 1; none"},
			reason: "no dmarc or dkim result",
		},
		{
			name:   "foreign authserv-id only",
			ar:     []string{"mx.google.com; dmarc=pass header.from=example.org"},
			reason: "no Authentication-Results from mx.example.org (topmost is from mx.google.com)",
		},
		{
			name:   "missing header",
			reason: "no Authentication-Results from mx.example.org",
		},
		{
			name: "forged field with our id below a genuine failing one",
			ar: []string{
				"mx.example.org; dkim=none; dmarc=fail header.from=example.org",
				"mx.example.org; dmarc=pass header.from=example.org",
			},
			reason: "dmarc=fail",
		},
		{
			name: "foreign id above ours",
			ar: []string{
				"evil.example; dmarc=pass header.from=example.org",
				"mx.example.org; dmarc=pass header.from=example.org",
			},
			reason: "topmost Authentication-Results is from evil.example, not mx.example.org",
		},
		{
			name: "opendkim comments with semicolons",
			ar: []string{"mx.example.org (Postfix); dkim=pass (2048-bit key; unprotected) header.d=example.org " +
				"header.i=@example.org header.a=rsa-sha256 header.s=sel header.b=Abc/def+1; " +
				"dkim-atps=neutral"},
			ok:     true,
			reason: "dkim=pass for example.org",
		},
		{
			name:   "nested comments and comment after the id",
			ar:     []string{"mx.example.org (a (nested; one) \\) comment); dmarc=pass (p=none; dis=none (x)) header.from=example.org"},
			ok:     true,
			reason: "dmarc=pass",
		},
		{
			name:   "case-insensitive id",
			ar:     []string{"MX.Example.ORG; dmarc=pass header.from=example.org"},
			id:     "mx.EXAMPLE.org",
			ok:     true,
			reason: "dmarc=pass",
		},
		{
			name:   "quoted reason cannot smuggle a result",
			ar:     []string{`mx.example.org; dkim=fail reason="bad; dkim=pass header.d=example.org" header.d=evil.example`},
			reason: "dkim=fail for evil.example",
		},
		{
			name:   "quoted header.from",
			ar:     []string{`mx.example.org; dmarc=pass header.from="example.org"`},
			ok:     true,
			reason: "dmarc=pass",
		},
		{
			name:   "malformed result does not hide the next one",
			ar:     []string{"mx.example.org; arc=pass header.oldest-pass=x; garbage; dmarc=pass header.from=example.org"},
			ok:     true,
			reason: "dmarc=pass",
		},
		{
			name:   "version other than 1",
			ar:     []string{"mx.example.org 2; dmarc=pass header.from=example.org"},
			reason: "topmost is from an unreadable field",
		},
		{
			name:   "garbage",
			ar:     []string{"(((\"\\;;;=;", ""},
			reason: "no Authentication-Results from mx.example.org",
		},
		{
			name:   "empty value",
			ar:     []string{""},
			reason: "no Authentication-Results",
		},
		{
			name:   "from without domain",
			ar:     []string{"mx.example.org; dmarc=pass header.from=example.org"},
			from:   "bob",
			reason: `From address "bob" has no domain`,
		},
		{
			name:   "no authserv-id configured",
			ar:     []string{"; dmarc=pass header.from=example.org"},
			id:     " ",
			reason: "no authserv-id configured",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, id := tc.from, tc.id
			if f == "" {
				f = from
			}
			if id == "" {
				id = ours
			}
			got := CheckAuth(tc.ar, f, id)
			if got.OK != tc.ok || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("got %+v, want OK=%v with reason containing %q", got, tc.ok, tc.reason)
			}
		})
	}
}

func TestNeutraliseAuthResults(t *testing.T) {
	for in, want := range map[string]string{
		"a (b; c) d":           "a   d",
		"a (b (c) d) e":        "a   e",
		`a (b \) c) d`:         "a   d",
		`a "b c;d=e" f`:        "a b_c_d_e f",
		`a "b\"c" d`:           "a b_c d",
		"a (unterminated; x":   "a  ",
		`a "unterminated; x`:   "a unterminated__x",
		"plain; dkim=pass x=y": "plain; dkim=pass x=y",
	} {
		if got := neutraliseAuthResults(in); got != want {
			t.Errorf("neutraliseAuthResults(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCheckAuth(f *testing.F) {
	for _, s := range []string{
		"mx.example.org; dkim=pass (2048-bit key; unprotected) header.d=example.org; dmarc=pass header.from=example.org",
		`mx.example.org 1; dkim=fail reason="a;b" header.d=x; arc=pass header.oldest-pass=0`,
		"mx.example.org (x (y) \\) z); none",
		"((\"\\",
	} {
		f.Add(s, "bob@example.org")
	}
	f.Fuzz(func(t *testing.T, v, from string) {
		got := CheckAuth([]string{v, v}, from, "mx.example.org")
		if got.Reason == "" {
			t.Fatal("empty reason")
		}
		if got.OK && !strings.Contains(strings.ToLower(v), "pass") {
			t.Fatalf("passed without a pass result: %q", v)
		}
	})
}
