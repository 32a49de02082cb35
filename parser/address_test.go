package parser

import "testing"

func TestSameAddress(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"staff@example.test", "staff@example.test", true},
		{"Staff@Example.TEST", "staff@example.test", true},
		{" staff@example.test", "staff@example.test.", true},
		{"\u017Ftaff@example.test", "staff@example.test", false},           // ſ LATIN SMALL LETTER LONG S
		{"staff@\u212Aey.test", "staff@key.test", false},                   // K KELVIN SIGN
		{"st\u0430ff@example.test", "staff@example.test", false},           // Cyrillic а
		{"staff@b\u00fccher.example", "staff@xn--bcher-kva.example", true}, // IDNA A-label
		{"staff@B\u00dcCHER.example", "staff@b\u00fccher.example", false},  // no Unicode case folding
		{"staff", "staff", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := SameAddress(tt.a, tt.b); got != tt.want {
			t.Errorf("SameAddress(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
