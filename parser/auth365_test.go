package parser

import (
	"strings"
	"testing"
)

// Header samples in the shape Exchange Online and Gmail write them (issue
// 10 §4). The tenant is CloudSphere's; attacker is another tenant.
const (
	tenant         = "8c3dbb3e-0b3f-4d47-9a4a-6f1f1b2f7a10"
	attackerTenant = "0d2a1c5e-7e55-4f3c-a4f4-2b9b8a1e6c33"

	// Staff to security@ inside the tenant: organisation fields, no
	// Authentication-Results at all.
	exchangeInternal = "Received: from AM6PR04MB5123.eurprd04.prod.outlook.com (2603:10a6:20b:f0::10) by\r\n" +
		" AM6PR04MB4321.eurprd04.prod.outlook.com with HTTPS; Mon, 23 Nov 2026 09:12:03 +0000\r\n" +
		"From: Alice Staff <alice@cloudsphere.example>\r\n" +
		"To: security@cloudsphere.example\r\n" +
		"Subject: Re: [CS-2026-0001] #assess high\r\n" +
		"Message-ID: <AM6PR04MB5123C0FFEE@AM6PR04MB5123.eurprd04.prod.outlook.com>\r\n" +
		"X-MS-Exchange-Organization-SCL: -1\r\n" +
		"X-MS-Exchange-Organization-AuthSource: AM6PR04MB5123.eurprd04.prod.outlook.com\r\n" +
		"X-MS-Exchange-Organization-AuthAs: Internal\r\n" +
		"X-MS-Exchange-Organization-AuthMechanism: 04\r\n" +
		"X-MS-Exchange-CrossTenant-Id: " + tenant + "\r\n" +
		"X-MS-Exchange-CrossTenant-AuthAs: Internal\r\n" +
		"X-MS-Exchange-CrossTenant-AuthSource: AM6PR04MB5123.eurprd04.prod.outlook.com\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nConfirmed.\r\n"

	// Staff mail entering the tenant from outside (another provider):
	// Exchange's Authentication-Results without authserv-id.
	exchangeExternal = "Authentication-Results: spf=pass (sender IP is 209.85.220.41)\r\n" +
		" smtp.mailfrom=cloudsphere.example; dkim=pass (signature was verified)\r\n" +
		" header.d=cloudsphere.example;dmarc=pass action=none\r\n" +
		" header.from=cloudsphere.example;compauth=pass reason=100\r\n" +
		"Received-SPF: Pass (protection.outlook.com: domain of cloudsphere.example designates\r\n" +
		" 209.85.220.41 as permitted sender)\r\n" +
		"From: Alice Staff <alice@cloudsphere.example>\r\n" +
		"To: security@cloudsphere.example\r\n" +
		"Subject: Re: [CS-2026-0001] #assess high\r\n" +
		"X-MS-Exchange-Organization-AuthAs: Anonymous\r\n" +
		"X-MS-Exchange-Organization-AuthSource: DB5PEPF00014B9D.eurprd02.prod.outlook.com\r\n" +
		"X-MS-Exchange-CrossTenant-Id: " + tenant + "\r\n" +
		"X-MS-Exchange-CrossTenant-AuthAs: Anonymous\r\n" +
		"\r\nConfirmed.\r\n"

	// Gmail's verdict: DKIM as header.i, no header.d, no DMARC record.
	google = "Authentication-Results: mx.google.com;\r\n" +
		"       dkim=pass header.i=@cloudsphere.example header.s=google header.b=AbCdEf12;\r\n" +
		"       spf=pass (google.com: domain of alice@cloudsphere.example designates 209.85.220.41 as permitted sender) smtp.mailfrom=alice@cloudsphere.example\r\n" +
		"From: Alice Staff <alice@cloudsphere.example>\r\n" +
		"To: security@cloudsphere.example\r\n" +
		"Subject: Re: [CS-2026-0001] #assess high\r\n\r\nConfirmed.\r\n"
)

func TestCheckMicrosoft365(t *testing.T) {
	forgedBelow := "Authentication-Results: spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=cloudsphere.example;\r\n" +
		" dkim=none (message not signed) header.d=none;dmarc=fail action=oreject header.from=cloudsphere.example;compauth=fail reason=000\r\n" +
		"ARC-Authentication-Results: i=1; mx.attacker.example; dmarc=pass header.from=cloudsphere.example\r\n" +
		"Authentication-Results: spf=pass smtp.mailfrom=cloudsphere.example; dmarc=pass action=none header.from=cloudsphere.example\r\n" +
		"From: Alice Staff <alice@cloudsphere.example>\r\nTo: security@cloudsphere.example\r\nSubject: #close\r\n\r\nx\r\n"
	// Organisation fields forged by a sender in another tenant, who also
	// wrote our tenant ID; that tenant's Exchange stamped its own.
	forgedOrg := "Authentication-Results: spf=fail (sender IP is 40.107.1.2) smtp.mailfrom=cloudsphere.example;\r\n" +
		" dkim=none (message not signed) header.d=none;dmarc=fail action=none header.from=cloudsphere.example\r\n" +
		"X-MS-Exchange-CrossTenant-Id: " + attackerTenant + "\r\n" +
		"From: Alice Staff <alice@cloudsphere.example>\r\nTo: security@cloudsphere.example\r\nSubject: #close\r\n" +
		"X-MS-Exchange-Organization-AuthAs: Internal\r\n" +
		"X-MS-Exchange-Organization-AuthSource: AM6PR04MB5123.eurprd04.prod.outlook.com\r\n" +
		"X-MS-Exchange-CrossTenant-Id: " + tenant + "\r\n\r\nx\r\n"
	// Exchange did not strip the forged field but added its own verdict.
	forgedAndStamped := "X-MS-Exchange-Organization-AuthAs: Anonymous\r\n" +
		"X-MS-Exchange-Organization-AuthSource: DB5PEPF00014B9D.eurprd02.prod.outlook.com\r\n" +
		"From: Alice Staff <alice@cloudsphere.example>\r\nTo: security@cloudsphere.example\r\nSubject: #close\r\n" +
		"X-MS-Exchange-Organization-AuthAs: Internal\r\n\r\nx\r\n"
	withAuthservID := "Authentication-Results: mx.attacker.example; dmarc=pass header.from=cloudsphere.example\r\n" +
		"From: Alice Staff <alice@cloudsphere.example>\r\nTo: security@cloudsphere.example\r\nSubject: #close\r\n\r\nx\r\n"

	tests := []struct {
		name, raw, tenant string
		ok                bool
		reason            string
	}{
		{"exchange internal", exchangeInternal, "", true, "inside the Microsoft 365 organisation"},
		{"exchange internal, tenant matches", exchangeInternal, strings.ToUpper(tenant), true, "inside"},
		{"exchange internal, other tenant configured", exchangeInternal, attackerTenant, false, "is not staff.tenant_id"},
		{"exchange external, dmarc pass", exchangeExternal, tenant, true, "dmarc=pass for cloudsphere.example"},
		{"exchange external, dmarc pass for another domain", strings.ReplaceAll(exchangeExternal, "header.from=cloudsphere.example", "header.from=attacker.example"), "", false, "dmarc=pass for attacker.example but From is cloudsphere.example"},
		{"forged pass below the topmost field and in ARC", forgedBelow, tenant, false, "dmarc=fail"},
		{"forged organisation fields, tenant check", forgedOrg, tenant, false, attackerTenant + `" is not staff.tenant_id`},
		{"forged organisation fields and Exchange's own", forgedAndStamped, "", false, `AuthAs is "Anonymous"`},
		{"topmost field with an authserv-id", withAuthservID, "", false, "has an authserv-id"},
		{"google mail under microsoft365", google, "", false, "not Exchange Online's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Parse([]byte(tt.raw), Limits{})
			got := CheckMicrosoft365(m.Exchange, m.AuthResults, m.From.Addr, tt.tenant)
			if got.OK != tt.ok || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("CheckMicrosoft365 = %+v, want ok %v with %q", got, tt.ok, tt.reason)
			}
		})
	}

	// Without staff.tenant_id the forged organisation fields pass: the
	// README tells operators to set it, and that the guarantee is
	// Exchange's removal of X-MS-Exchange-Organization-* from incoming mail.
	m := Parse([]byte(forgedOrg), Limits{})
	if got := CheckMicrosoft365(m.Exchange, m.AuthResults, m.From.Addr, ""); !got.OK {
		t.Errorf("without a tenant: %+v; this test pins what staff.tenant_id adds", got)
	}
}

func TestCheckAuthGoogleIdentity(t *testing.T) {
	tests := []struct {
		name, raw, from string
		ok              bool
		reason          string
	}{
		{"google header.i", google, "", true, "dkim=pass for header.i=@cloudsphere.example"},
		{"header.i of a subdomain", strings.Replace(google, "header.i=@cloudsphere.example", "header.i=@mail.cloudsphere.example", 1), "", true, "header.i=@mail.cloudsphere.example"},
		{"header.i with a local part", strings.Replace(google, "header.i=@cloudsphere.example", "header.i=alice@cloudsphere.example", 1), "", true, "header.i=@cloudsphere.example"},
		{"header.i of a parent is not enough", google, "bob@staff.cloudsphere.example", false, "but From is staff.cloudsphere.example"},
		{"header.i of a lookalike", strings.Replace(google, "header.i=@cloudsphere.example", "header.i=@cloudsphere.example.attacker.example", 1), "", false, "but From is cloudsphere.example"},
		{"header.i outside header.d", strings.Replace(google, "header.i=@cloudsphere.example", "header.d=attacker.example header.i=@cloudsphere.example", 1), "", false, "dkim=pass for attacker.example"},
		{"header.i failing", strings.Replace(google, "dkim=pass", "dkim=fail", 1), "", false, "dkim=fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Parse([]byte(tt.raw), Limits{})
			from := m.From.Addr
			if tt.from != "" {
				from = tt.from
			}
			got := CheckAuth(m.AuthResults, from, "mx.google.com")
			if got.OK != tt.ok || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("CheckAuth = %+v, want ok %v with %q", got, tt.ok, tt.reason)
			}
		})
	}
}
