package hzctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/config"
)

func bindCertsCommon(set *config.Set, o *adminOptions) {
	bindAdminOptions(set, o, "read API", 10*time.Second)
}

const certsUsage = "usage: hzctl certs list|show SHA256|report|import [flags]   (hzctl certs list --help)"

func runCerts(ctx context.Context, args []string, cio IO) error {
	if len(args) == 0 {
		return errors.New(certsUsage)
	}
	switch args[0] {
	case "list":
		return runCertsList(ctx, args[1:], cio)
	case "show":
		return runCertsShow(ctx, args[1:], cio)
	case "report":
		return runCertsReport(ctx, args[1:], cio)
	case "import":
		return runCertsImport(ctx, args[1:], cio)
	default:
		return fmt.Errorf("unknown subcommand %q; %s", args[0], certsUsage)
	}
}

func runCertsList(ctx context.Context, args []string, cio IO) error {
	var (
		o                                            adminOptions
		q, host, issuer, precert, ownership, sortKey string
		expires                                      int
		page, pageSize                               int
	)
	set := config.NewSet("hzctl certs list", cio.Env)
	bindCertsCommon(set, &o)
	set.String(&q, "q", "", "", "text in subject, issuer or hosts")
	set.String(&host, "host", "", "", "host name; www.example.com also finds *.example.com")
	set.String(&issuer, "issuer", "", "", "text in issuer or issuer CA")
	set.String(&precert, "precert", "", "", "true: only precertificates, false: only certificates")
	set.String(&ownership, "ownership", "", "", "own, thirdParty or unknown")
	set.Int(&expires, "expires-within-days", "", -1, "only certificates expiring within this many days (not yet expired)")
	set.String(&sortKey, "sort", "", "", "notAfter, notBefore, firstSeen, lastSeen, subject, issuer or keyLen; -key for descending")
	set.Int(&page, "page", "", 1, "page, from 1")
	set.Int(&pageSize, "page-size", "", 50, "certificates per page, at most 200")
	if err := parse(set, args, cio); err != nil {
		return err
	}
	v := url.Values{}
	for k, s := range map[string]string{"q": q, "host": host, "issuer": issuer, "precert": precert, "ownership": ownership, "sort": sortKey} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if expires >= 0 {
		v.Set("expiresWithinDays", strconv.Itoa(expires))
	}
	v.Set("page", strconv.Itoa(page))
	v.Set("pageSize", strconv.Itoa(pageSize))
	body, err := newAdminAPI(o).do(ctx, http.MethodGet, "/api/v1/certificates", v, nil)
	if err != nil || o.JSON {
		return printJSON(cio.Out, body, err)
	}
	var r apiwire.List[certView]
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	w := tabwriter.NewWriter(cio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SHA256\tNOT AFTER\tKIND\tOWNERSHIP\tISSUER\tHOSTS")
	for _, c := range r.Items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.SHA256, c.NotAfter.Format(time.DateOnly), c.kind(), orDash(c.Ownership),
			c.issuer(), hostList(c.Hosts, 3))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(cio.Out, "page %d of %d, %d certificates\n", r.Page, r.Pages, r.Total)
	return nil
}

func runCertsShow(ctx context.Context, args []string, cio IO) error {
	var o adminOptions
	set := config.NewSet("hzctl certs show", cio.Env)
	bindCertsCommon(set, &o)
	// The sha256 may come before or after the flags.
	var sha string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sha, args = args[0], args[1:]
	}
	if err := parse(set, args, cio); err != nil {
		return err
	}
	if rest := set.Args(); len(rest) > 0 {
		if sha == "" {
			sha, rest = rest[0], rest[1:]
		}
		// Flags after the sha256 (show --json SHA --api URL).
		if err := set.FlagSet().Parse(rest); err != nil {
			return err
		}
	}
	if sha == "" {
		return errors.New("usage: hzctl certs show SHA256 [flags]")
	}
	body, err := newAdminAPI(o).do(ctx, http.MethodGet, "/api/v1/certificates/"+url.PathEscape(sha), nil, nil)
	if err != nil || o.JSON {
		return printJSON(cio.Out, body, err)
	}
	var d struct {
		certView
		Twins     []certView
		CTEntries []struct {
			Log       string
			Index     int64
			SHA256    string
			Precert   bool
			Timestamp time.Time
		}
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	w := tabwriter.NewWriter(cio.Out, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"sha256", d.SHA256}, {"kind", d.kind()}, {"tbsSha256", d.TBSSHA256}, {"subject", d.Subject},
		{"issuer", d.Issuer}, {"issuerCa", orDash(d.IssuerCA)}, {"serial", d.Serial},
		{"notBefore", d.NotBefore.Format(time.RFC3339)}, {"notAfter", d.NotAfter.Format(time.RFC3339)},
		{"hosts", strings.Join(d.Hosts, ", ")}, {"key", fmt.Sprintf("%s %d (%d bits strength)", d.KeyAlg, d.KeyLen, d.KeyStrength)},
		{"sigAlg", d.SigAlg}, {"ownership", orDash(d.Ownership)}, {"firstSeen", d.FirstSeen.Format(time.RFC3339)},
		{"lastSeen", d.LastSeen.Format(time.RFC3339)}, {"source", d.Source}, {"receivedVia", orDash(d.ReceivedVia)},
	} {
		fmt.Fprintf(w, "%s:\t%s\n", kv[0], kv[1])
	}
	for _, t := range d.Twins {
		fmt.Fprintf(w, "twin:\t%s (%s)\n", t.SHA256, t.kind())
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(cio.Out, "\nCT entries of this issuance (%d):\n", len(d.CTEntries))
	w = tabwriter.NewWriter(cio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "LOG\tINDEX\tTIMESTAMP\tKIND\tSHA256")
	for _, e := range d.CTEntries {
		kind := "cert"
		if e.Precert {
			kind = "precert"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", e.Log, e.Index, e.Timestamp.Format(time.RFC3339), kind, e.SHA256)
	}
	return w.Flush()
}

func runCertsReport(ctx context.Context, args []string, cio IO) error {
	var o adminOptions
	set := config.NewSet("hzctl certs report", cio.Env)
	bindCertsCommon(set, &o)
	if err := parse(set, args, cio); err != nil {
		return err
	}
	body, err := newAdminAPI(o).do(ctx, http.MethodGet, "/api/v1/report", nil, nil)
	if err != nil || o.JSON {
		return printJSON(cio.Out, body, err)
	}
	type count struct {
		Key   string
		Count int
	}
	var r struct {
		Issuances, Certificates, Expired, Wildcards int
		Expiring                                    []struct{ WithinDays, Count int }
		ByIssuerCA, BySigAlg, ByKey, ByOwnership    []count
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	w := tabwriter.NewWriter(cio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "issuances\t%d\t(%d certificates and precertificates)\n", r.Issuances, r.Certificates)
	fmt.Fprintf(w, "expired\t%d\t\n", r.Expired)
	for _, e := range r.Expiring {
		fmt.Fprintf(w, "expiring within %d days\t%d\t\n", e.WithinDays, e.Count)
	}
	fmt.Fprintf(w, "wildcards\t%d\t\n", r.Wildcards)
	for _, g := range []struct {
		title  string
		counts []count
	}{{"issuer CA", r.ByIssuerCA}, {"signature algorithm", r.BySigAlg}, {"key", r.ByKey}, {"ownership", r.ByOwnership}} {
		fmt.Fprintf(w, "\nby %s\t\t\n", g.title)
		for _, c := range g.counts {
			fmt.Fprintf(w, "  %s\t%d\t\n", c.Key, c.Count)
		}
	}
	return w.Flush()
}

// certView is the part of the API's certificate the tables show.
type certView struct {
	SHA256, TBSSHA256, Subject, Issuer, IssuerCA, Serial string
	NotBefore, NotAfter, FirstSeen, LastSeen             time.Time
	Hosts                                                []string
	KeyAlg, SigAlg, Ownership, Source, ReceivedVia       string
	KeyLen, KeyStrength                                  int
	Precert                                              bool
}

func (c certView) kind() string {
	if c.Precert {
		return "precert"
	}
	return "cert"
}

func (c certView) issuer() string {
	if c.IssuerCA != "" {
		return c.IssuerCA
	}
	return c.Issuer
}

func hostList(hosts []string, n int) string {
	if len(hosts) <= n {
		return strings.Join(hosts, ",")
	}
	return strings.Join(hosts[:n], ",") + fmt.Sprintf(" (+%d)", len(hosts)-n)
}
