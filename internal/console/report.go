package console

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/inventory"
)

type reportData struct {
	Report      inventory.Report
	ByIssuerCA  []barRow
	BySigAlg    []barRow
	ByKey       []barRow
	ByOwnership []barRow
}

// report shows the inventory report as tables with bars: by issuing CA, signature algorithm, key
// and ownership, each counting issuances.
func (con *Console) report(c echo.Context) error {
	r, err := con.d.Inventory.Report(c.Request().Context(), con.now())
	if err != nil {
		return err
	}
	data := reportData{
		Report: r,
		ByIssuerCA: bars(r.ByIssuerCA, func(k string) string {
			return "/ui/certificates?" + url.Values{"issuer": {k}}.Encode()
		}),
		BySigAlg: bars(r.BySigAlg, nil),
		ByKey:    bars(r.ByKey, nil),
		ByOwnership: bars(r.ByOwnership, func(k string) string {
			return "/ui/certificates?" + url.Values{"ownership": {k}}.Encode()
		}),
	}
	return con.render(c, http.StatusOK, "report", "Report", "report", data)
}
