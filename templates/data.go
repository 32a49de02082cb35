package templates

// Data is what every template can use. Fields that do not apply to a mail
// are empty. Times are pre-formatted in the organisation's time zone with
// the zone shown.
type Data struct {
	OrgName    string
	OrgAddress string

	CaseID       string
	Subject      string // the case's subject as the reporter wrote it
	State        string
	ReporterName string
	ReporterAddr string
	ReceivedAt   string
	AssessDue    string
	ResolveDue   string

	// Text is the message the mail is about: the report, or the follow-up.
	Text        string
	Class       string
	URLs        []string
	IPs         []string
	Hosts       []string
	Attachments []string
	Problems    []string
	// Notes are remarks for staff, e.g. that no acknowledgment was sent.
	Notes []string
	// Count is a number the template needs (e.g. reports in a flood).
	Count int
}

// Sample returns data with every field set, used to test-render templates.
func Sample() Data {
	return Data{
		OrgName: "CloudSphere", OrgAddress: "security@example.com",
		CaseID: "CS-2026-0001", Subject: "XSS in login form", State: "acknowledged",
		ReporterName: "Ada Reporter", ReporterAddr: "ada@example.org",
		ReceivedAt: "Mon 23 Nov 2026 10:00 CET", AssessDue: "Thu 26 Nov 2026 10:00 CET",
		ResolveDue: "Fri 22 Jan 2027 10:00 CET",
		Text:       "The login form at https://app.example.com/login reflects the\nusername parameter.",
		Class:      "human", URLs: []string{"https://app.example.com/login"},
		IPs: []string{"192.0.2.7"}, Hosts: []string{"app.example.com"},
		Attachments: []string{"poc.html (text/html, 1.2 KB)"},
		Problems:    []string{"unknown charset x-foo"}, Notes: []string{"no acknowledgment sent"},
		Count: 6,
	}
}
