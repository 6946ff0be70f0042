package console

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
	"github.com/hzhook/hzhook/internal/inventory"
)

// exportLimit bounds an export: the first exportLimit certificates of the filter, in its sort.
const exportLimit = 10000

// exportPages calls fn with every certificate of the filter in c's query (paging ignored), up to
// exportLimit, reading apiwire.MaxPageSize at a time. It returns the filter's total.
func (con *Console) exportPages(c echo.Context, start func(total int) error, fn func(inventory.Certificate) error) error {
	q, err := adminapi.CertificateQuery(c, con.now())
	if err != nil {
		return err
	}
	q.PageSize = apiwire.MaxPageSize
	sent := 0
	for q.Page = 1; ; q.Page++ {
		p, err := con.d.Inventory.ListCertificates(c.Request().Context(), q)
		if err != nil {
			return err
		}
		if q.Page == 1 {
			if err := start(p.Total); err != nil {
				return err
			}
		}
		for _, cert := range p.Items {
			if sent == exportLimit {
				return nil
			}
			if err := fn(cert); err != nil {
				return err
			}
			sent++
		}
		if len(p.Items) < q.PageSize {
			return nil
		}
	}
}

func exportHeaders(c echo.Context, contentType, ext string, total int) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set(echo.HeaderContentDisposition, `attachment; filename="certificates-`+time.Now().UTC().Format("20060102-150405")+`.`+ext+`"`)
	h.Set("X-Total-Count", strconv.Itoa(total))
	h.Set("X-Export-Limit", strconv.Itoa(exportLimit))
	c.Response().WriteHeader(http.StatusOK)
}

// csvColumns are the certificate list's visible columns, with the full hashes.
var csvColumns = []string{"sha256", "tbsSha256", "subject", "hosts", "issuer", "issuerCa", "notBefore", "notAfter",
	"keyAlg", "keyLen", "sigAlg", "precert", "ownership", "firstSeen", "lastSeen", "source"}

// exportCSV streams the filter's certificates as CSV. Cells that a spreadsheet would run as a
// formula (=, +, -, @ first: names come from public CT logs) are prefixed with a quote.
func (con *Console) exportCSV(c echo.Context) error {
	w := csv.NewWriter(c.Response())
	err := con.exportPages(c, func(total int) error {
		exportHeaders(c, "text/csv; charset=utf-8", "csv", total)
		return w.Write(csvColumns)
	}, func(x inventory.Certificate) error {
		err := w.Write([]string{x.SHA256, x.TBSSHA256, cell(x.Subject), cell(strings.Join(x.Hosts, " ")), cell(x.Issuer), cell(x.IssuerCA),
			rfc3339(x.NotBefore), rfc3339(x.NotAfter), x.KeyAlg, strconv.Itoa(x.KeyLen), x.SigAlg, strconv.FormatBool(x.Precert),
			x.Ownership, rfc3339(x.FirstSeen), rfc3339(x.LastSeen), x.Source})
		w.Flush()
		return err
	})
	w.Flush()
	return err
}

func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// exportJSON streams the filter's certificates in the API's list shape: every exported item in
// items, as one page.
func (con *Console) exportJSON(c echo.Context) error {
	out := c.Response()
	enc := json.NewEncoder(out)
	total, n := 0, 0
	err := con.exportPages(c, func(t int) error {
		total = t
		exportHeaders(c, "application/json", "json", total)
		_, err := out.Write([]byte(`{"items":[`))
		return err
	}, func(x inventory.Certificate) error {
		if n > 0 {
			if _, err := out.Write([]byte{','}); err != nil {
				return err
			}
		}
		n++
		return enc.Encode(x)
	})
	if err != nil {
		return err
	}
	tail := apiwire.NewList([]inventory.Certificate{}, total, 1, max(n, 1))
	_, err = out.Write([]byte(`],"page":` + strconv.Itoa(tail.Page) + `,"pageSize":` + strconv.Itoa(tail.PageSize) +
		`,"total":` + strconv.Itoa(tail.Total) + `,"pages":` + strconv.Itoa(tail.Pages) + "}\n"))
	return err
}
