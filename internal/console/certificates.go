package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
	"github.com/hzhook/hzhook/internal/inventory"
)

// certificateParams are the query parameters of GET /api/v1/certificates, in the order the filter
// form shows them; the console accepts exactly these.
var certificateParams = []string{"q", "host", "issuer", "precert", "ownership", "expiresWithinDays", "finding", "lint", "lintStatus", "sort", "page", "pageSize"}

type certificatesData struct {
	Query        url.Values
	List         apiwire.List[inventory.Certificate]
	SortKeys     []string
	Findings     []string
	LintStatuses []string
	Ownerships   []string
	Sort         string
}

// certificates lists the certificates of the same filters, sort and paging as the API; the URL
// is the filter, so a page can be shared. Empty form fields are dropped by a redirect, so shared
// URLs stay short.
func (con *Console) certificates(c echo.Context) error {
	if clean, ok := cleanQuery(c.Request().URL); !ok {
		return c.Redirect(http.StatusSeeOther, clean)
	}
	q, err := adminapi.CertificateQuery(c, con.now())
	if err != nil {
		return err
	}
	page, err := con.d.Inventory.ListCertificates(c.Request().Context(), q)
	if err != nil {
		return err
	}
	data := certificatesData{
		Query: c.QueryParams(), List: list(page, q.Page, q.PageSize), SortKeys: inventory.CertificateSortKeys(),
		Findings: adminapi.FindingTypes(), LintStatuses: inventory.LintStatuses(), Sort: c.QueryParam("sort"),
		Ownerships: []string{inventory.OwnershipOwn, inventory.OwnershipThirdParty, inventory.OwnershipUnknown},
	}
	return con.render(c, http.StatusOK, "certificates", "Certificates", "certificates", data)
}

// cleanQuery returns u without empty query parameters, and whether it had none.
func cleanQuery(u *url.URL) (string, bool) {
	q := u.Query()
	clean := true
	for k, vs := range q {
		if len(vs) == 0 || strings.TrimSpace(vs[0]) == "" {
			q.Del(k)
			clean = false
		}
	}
	if clean {
		return "", true
	}
	if len(q) == 0 {
		return u.Path, false
	}
	return u.Path + "?" + q.Encode(), false
}
