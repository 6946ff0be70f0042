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
	ByLint      []lintBar // the lintsShown most frequent lint results
	MoreLints   []lintBar // the rest, in a table that opens
}

// lintsShown is how many lint results the report charts; the rest are listed below the chart.
const lintsShown = 15

// lintBar is one lint result's row of the report: how many issuances have it, with its status.
type lintBar struct {
	barRow
	Status, Class string
}

// lintBars are the report's lint results as bars, each linking to the certificates with it.
func lintBars(cs []inventory.LintCount) []lintBar {
	counts := make([]inventory.Count, len(cs))
	for i, c := range cs {
		counts[i] = inventory.Count{Key: c.Lint, Count: c.Count}
	}
	rows := bars(counts, nil)
	out := make([]lintBar, len(cs))
	for i, c := range cs {
		rows[i].Href = "/ui/certificates?" + url.Values{"lint": {c.Lint}, "lintStatus": {c.Status}}.Encode()
		out[i] = lintBar{barRow: rows[i], Status: c.Status, Class: lintClass(c.Status)}
	}
	return out
}

// report shows the inventory report as tables with bars: by issuing CA, signature algorithm, key,
// ownership and zlint result, each counting issuances.
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
	all := lintBars(r.Lints.ByLint)
	data.ByLint, data.MoreLints = all[:min(lintsShown, len(all))], all[min(lintsShown, len(all)):]
	return con.render(c, http.StatusOK, "report", "Report", "report", data)
}
