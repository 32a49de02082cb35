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

	// Set by staff commands.
	Severity    string
	FixBy       string // the expected solution date, formatted
	Message     string // what the staff member wrote above the quote
	Reward      string // "250 EUR"
	Reason      string // rejection reason, in words
	DuplicateOf string
	Credit      string
	PublishAt   string
	Owner       string // third-party owner address
	// Shared is true when the reporter consented (#share) to giving their
	// identity to a third-party owner.
	Shared   bool
	NextDate string // the next date promised to the reporter
	// Sender and Command describe the mail a Done/Refused answers.
	Sender  string
	Command string
	Changes []string
	Help    string

	// Set when OpenPGP is on: our current key's fingerprint, and whether
	// the message at hand could not be decrypted.
	Fingerprint   string
	Undecryptable bool

	// Set by timer mail.
	Timer   string
	Due     string
	Percent int

	// Set by the overview (digest, #overview) and the monthly report.
	Period     string // the period the numbers cover, formatted
	Open       []OverviewLine
	Publishing []OverviewLine
	Week       WeekNumbers
	// Report is a preformatted block (the SLA table, a case summary, an
	// advisory draft); templates indent it, never parse it.
	Report string
	// CVE is the CVE identifier recorded for the case's advisory.
	CVE string
}

// OverviewLine is one case in the staff overview. Subject is folded to
// one line.
type OverviewLine struct {
	CaseID    string
	Subject   string
	Severity  string
	State     string
	WaitsFor  string // us, reporter, third party
	Timer     string // the next deadline's timer; empty when none runs
	Due       string
	Used      int // percent of the timer elapsed
	Overdue   bool
	PublishAt string
}

// WeekNumbers are the overview's numbers for the week.
type WeekNumbers struct {
	Opened, Resolved, Rewards int
	RewardTotal               string // "750 EUR"
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
		Count: 6, Severity: "high", FixBy: "Fri 15 Jan 2027", Message: "We reproduced the problem.\nA fix is being tested.",
		Reward: "250 EUR", Reason: "out of scope", DuplicateOf: "CS-2026-0000", Credit: "Ada R.",
		PublishAt: "Mon 1 Feb 2027", Owner: "security@owner.example", NextDate: "Thu 26 Nov 2026 10:00 CET",
		Sender: "staff@example.com", Command: "Re: [CS-2026-0001] #assess high 2027-01-15",
		Changes: []string{"severity: high", "expected solution date: 2027-01-15"},
		Help:    "#reply\n#note", Timer: "assess", Due: "Thu 26 Nov 2026 10:00 CET", Percent: 80,
		Period: "Mon 23 Nov 2026 - Mon 30 Nov 2026",
		Open: []OverviewLine{
			{CaseID: "CS-2026-0003", Subject: "SQL injection in search", Severity: "critical", State: "assessed",
				WaitsFor: "us", Timer: "resolve", Due: "Fri 27 Nov 2026 10:00 CET", Used: 104, Overdue: true},
			{CaseID: "CS-2026-0001", Subject: "XSS in login form", Severity: "not assessed", State: "acknowledged",
				WaitsFor: "reporter", Timer: "assess", Due: "Thu 3 Dec 2026 10:00 CET", Used: 60},
		},
		Publishing: []OverviewLine{
			{CaseID: "CS-2026-0002", Subject: "Open redirect", Severity: "low", State: "resolved",
				WaitsFor: "us", PublishAt: "Mon 1 Feb 2027"},
		},
		Week:   WeekNumbers{Opened: 4, Resolved: 1, Rewards: 2, RewardTotal: "750 EUR"},
		Report: "TIMER        MET  BREACHED\nacknowledge  41   1",
		CVE:    "CVE-2026-12345",
	}
}
