// Package advisory drafts the security advisory of a resolved case, as plain
// text for people and as a CSAF 2.0 document (OASIS Common Security
// Advisory Framework, profile csaf_security_advisory) for tools.
//
// A Draft is plain data: the workflow fills it from a case and decides what
// may appear. This package adds nothing about the reporter beyond what the
// Draft carries: the credit exactly as the reporter consented to it, and the
// reward only when the caller says the reporter agreed to its mention. It
// imports no other disclosured package.
package advisory

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gocsaf/csaf/v3/csaf"
)

// Draft is everything an advisory may say.
type Draft struct {
	// ID is the case ID; it becomes the CSAF tracking ID.
	ID string
	// Title is the advisory's title.
	Title string
	// System is the affected system or product.
	System string
	// Severity is one of none, low, medium, high, critical (or empty).
	Severity string
	// Reported, Fixed and Published are the dates of the report, the fix
	// and the publication; zero when not (yet) known.
	Reported, Fixed, Published time.Time
	// Credit is the name the reporter consented to be credited with,
	// exactly as given; empty means the reporter is not named.
	Credit string
	// Reward is the reward to mention ("250 EUR"); the caller sets it only
	// when the reporter agreed to its mention.
	Reward string
	// CVE is the CVE identifier, CVE-YYYY-NNNN; empty when none.
	CVE string
	// Publisher is the organisation that issues the advisory.
	Publisher Publisher
	// Generated is when the draft was made; it dates a draft without a
	// publication date.
	Generated time.Time
}

// Publisher issues the advisory.
type Publisher struct {
	Name string
	// Namespace is a URL of the publisher (CSAF: document.publisher.namespace),
	// e.g. https://example.com.
	Namespace string
	// Contact is where readers write, e.g. security@example.com.
	Contact string
}

// Severities are the severities a draft accepts, in increasing order.
var Severities = []string{"none", "low", "medium", "high", "critical"}

// cveRE is the CVE ID syntax (CVE numbering: at least four digits in the
// sequence part), as CSAF's schema has it.
var cveRE = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// ValidCVE reports whether s is a CVE identifier.
func ValidCVE(s string) bool { return cveRE.MatchString(s) }

// Check reports every problem that keeps d from being an advisory.
func (d Draft) Check() error {
	var errs []error
	if strings.TrimSpace(d.ID) == "" {
		errs = append(errs, errors.New("advisory: no ID"))
	}
	if strings.TrimSpace(d.Title) == "" {
		errs = append(errs, errors.New("advisory: no title"))
	}
	if strings.TrimSpace(d.System) == "" {
		errs = append(errs, errors.New("advisory: no affected system"))
	}
	if d.Severity != "" && !contains(Severities, d.Severity) {
		errs = append(errs, fmt.Errorf("advisory: severity %q is not one of %s", d.Severity, strings.Join(Severities, " ")))
	}
	if d.CVE != "" && !ValidCVE(d.CVE) {
		errs = append(errs, fmt.Errorf("advisory: %q is not a CVE identifier (CVE-YYYY-NNNN)", d.CVE))
	}
	if strings.TrimSpace(d.Publisher.Name) == "" {
		errs = append(errs, errors.New("advisory: no publisher name"))
	}
	if !strings.HasPrefix(d.Publisher.Namespace, "https://") && !strings.HasPrefix(d.Publisher.Namespace, "http://") {
		errs = append(errs, fmt.Errorf("advisory: publisher namespace %q is not a URL", d.Publisher.Namespace))
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.DateOnly)
}

// oneLine folds s to one line: a title or name never breaks the layout.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Text renders the draft for people: short lines, no markup, so it reads
// the same in any mail client and can be pasted into a web page.
func Text(d Draft) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Security advisory %s: %s\n\n", oneLine(d.ID), oneLine(d.Title))
	row := func(k, v string) { fmt.Fprintf(&b, "%-16s %s\n", k+":", v) }
	row("Affected system", oneLine(d.System))
	sev := d.Severity
	if sev == "" {
		sev = "not assessed"
	}
	row("Severity", sev)
	cve := d.CVE
	if cve == "" {
		cve = "none assigned"
	}
	row("CVE", cve)
	row("Reported", day(d.Reported))
	row("Fixed", day(d.Fixed))
	row("Published", day(d.Published))
	b.WriteString("\n")
	fmt.Fprintf(&b, "%s resolved a security issue in %s that was reported through its\nresponsible disclosure programme.", oneLine(d.Publisher.Name), oneLine(d.System))
	if !d.Fixed.IsZero() {
		fmt.Fprintf(&b, " The issue was fixed on %s.", day(d.Fixed))
	}
	b.WriteString("\n\n")
	if d.Credit != "" {
		fmt.Fprintf(&b, "Credit: %s thanks %s for reporting this issue.\n", oneLine(d.Publisher.Name), oneLine(d.Credit))
	} else {
		b.WriteString("Credit: the reporter chose not to be named.\n")
	}
	if d.Reward != "" {
		fmt.Fprintf(&b, "Reward: %s.\n", oneLine(d.Reward))
	}
	if d.Publisher.Contact != "" {
		fmt.Fprintf(&b, "\nContact: %s\n", oneLine(d.Publisher.Contact))
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

const productID = "CSAFPID-0001"

// CSAF builds the draft, without the credit (see CSAFJSON), as a CSAF 2.0 document of category
// csaf_security_advisory. A draft with a publication date is status final,
// version 1, released that day under TLP:WHITE; without one it is status
// draft, version 0.1.0, dated Generated and TLP:AMBER, because it is not
// public yet.
func CSAF(d Draft) (*csaf.Advisory, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	gen := d.Generated.UTC()
	if gen.IsZero() {
		gen = time.Now().UTC()
	}
	released := gen
	status, version, tlp := csaf.CSAFTrackingStatusDraft, csaf.RevisionNumber("0.1.0"), csaf.TLPLabel(csaf.TLPLabelAmber)
	if !d.Published.IsZero() {
		released = d.Published.UTC()
		status, version, tlp = csaf.CSAFTrackingStatusFinal, "1", csaf.TLPLabelWhite
	}
	ts := released.Format(time.RFC3339)
	title := oneLine(d.Title)
	system := oneLine(d.System)
	summary := fmt.Sprintf("%s resolved a security issue in %s that was reported through its responsible disclosure programme.", oneLine(d.Publisher.Name), system)

	doc := &csaf.Document{
		Category:    ptr(csaf.DocumentCategory("csaf_security_advisory")),
		CSAFVersion: ptr(csaf.CSAFVersion20),
		Lang:        ptr(csaf.Lang("en")),
		Title:       ptr(title),
		Distribution: &csaf.DocumentDistribution{
			TLP: &csaf.TLP{DocumentTLPLabel: &tlp, URL: ptr("https://www.first.org/tlp/")},
		},
		Publisher: &csaf.DocumentPublisher{
			Category:  ptr(csaf.CSAFCategoryVendor),
			Name:      ptr(oneLine(d.Publisher.Name)),
			Namespace: ptr(d.Publisher.Namespace),
		},
		Notes: csaf.Notes{{NoteCategory: ptr(csaf.CSAFNoteCategorySummary), Title: ptr("Summary"), Text: ptr(summary)}},
		Tracking: &csaf.Tracking{
			ID:                 ptr(csaf.TrackingID(oneLine(d.ID))),
			Status:             &status,
			Version:            &version,
			InitialReleaseDate: ptr(ts),
			CurrentReleaseDate: ptr(ts),
			RevisionHistory:    csaf.Revisions{{Date: ptr(ts), Number: ptr(version), Summary: ptr("Initial release.")}},
			Generator: &csaf.Generator{
				Date:   ptr(gen.Format(time.RFC3339)),
				Engine: &csaf.Engine{Name: ptr("disclosured")},
			},
		},
	}
	if d.Publisher.Contact != "" {
		doc.Publisher.ContactDetails = ptr(oneLine(d.Publisher.Contact))
	}
	if d.Severity != "" {
		doc.AggregateSeverity = &csaf.AggregateSeverity{Text: ptr(d.Severity)}
	}
	if d.Reward != "" {
		doc.Notes = append(doc.Notes, &csaf.Note{NoteCategory: ptr(csaf.CSAFNoteCategoryGeneral),
			Title: ptr("Reward"), Text: ptr("The reporter received a reward of " + oneLine(d.Reward) + ".")})
	}

	products := csaf.Products{ptr(csaf.ProductID(productID))}
	vuln := &csaf.Vulnerability{
		Title: ptr(title),
		Notes: csaf.Notes{{NoteCategory: ptr(csaf.CSAFNoteCategoryDescription), Title: ptr("Description"), Text: ptr(summary)}},
	}
	if d.CVE != "" {
		vuln.CVE = ptr(csaf.CVE(d.CVE))
	}
	if !d.Reported.IsZero() {
		vuln.DiscoveryDate = ptr(d.Reported.UTC().Format(time.RFC3339))
	}
	if !d.Published.IsZero() {
		vuln.ReleaseDate = ptr(ts)
	}
	if d.Fixed.IsZero() {
		vuln.ProductStatus = &csaf.ProductStatus{KnownAffected: &products}
		vuln.Remediations = csaf.Remediations{{Category: ptr(csaf.CSAFRemediationCategoryNoneAvailable),
			Details: ptr("A fix is being prepared."), ProductIds: &products}}
	} else {
		vuln.ProductStatus = &csaf.ProductStatus{Fixed: &products}
		vuln.Remediations = csaf.Remediations{{Category: ptr(csaf.CSAFRemediationCategoryVendorFix),
			Date: ptr(d.Fixed.UTC().Format(time.RFC3339)), Details: ptr("Fixed by " + oneLine(d.Publisher.Name) + "; no action is needed."),
			ProductIds: &products}}
	}
	if d.Severity != "" {
		vuln.Threats = csaf.Threats{{Category: ptr(csaf.CSAFThreatCategoryImpact),
			Details: ptr("Severity: " + d.Severity), ProductIds: &products}}
	}
	adv := &csaf.Advisory{
		Document: doc,
		ProductTree: &csaf.ProductTree{FullProductNames: &csaf.FullProductNames{
			{Name: ptr(system), ProductID: ptr(csaf.ProductID(productID))},
		}},
		Vulnerabilities: csaf.Vulnerabilities{vuln},
	}
	if err := adv.Validate(); err != nil {
		return nil, fmt.Errorf("advisory %s: %w", d.ID, err)
	}
	return adv, nil
}

// CSAFJSON is CSAF(d) encoded as indented JSON, as a file or attachment,
// with the reporter's credit.
//
// The credit is added here and not in CSAF because csaf/v3 (v3.7.0) tags
// its Acknowledgements fields "acknowledgements", while the CSAF 2.0
// schema spells the property "acknowledgments" and allows no other: the
// library's field would make the document invalid.
func CSAFJSON(d Draft) ([]byte, error) {
	adv, err := CSAF(d)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(adv)
	if err != nil {
		return nil, fmt.Errorf("encode advisory %s: %w", d.ID, err)
	}
	var doc struct {
		Document        json.RawMessage  `json:"document"`
		ProductTree     json.RawMessage  `json:"product_tree"`
		Vulnerabilities []map[string]any `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("encode advisory %s: %w", d.ID, err)
	}
	if d.Credit != "" {
		doc.Vulnerabilities[0]["acknowledgments"] = []map[string]any{{
			"names": []string{oneLine(d.Credit)}, "summary": "for reporting this issue",
		}}
	}
	b, err = json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode advisory %s: %w", d.ID, err)
	}
	return append(b, '\n'), nil
}

// FileName is the CSAF file name for an advisory ID (CSAF 2.0 §5.1: the
// tracking ID lowercased, characters other than [+\-a-z0-9] replaced by
// "_", extension .json).
func FileName(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		if r == '+' || r == '-' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String() + ".json"
}
