package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/hzhook/hzhook/internal/apiwire"
	"github.com/hzhook/hzhook/internal/authz"
	"github.com/hzhook/hzhook/internal/handlers/adminapi"
	"github.com/hzhook/hzhook/internal/inventory"
	"github.com/hzhook/hzhook/internal/rules"
)

type findingsData struct {
	Query      url.Values
	Type       string
	Types      []string
	List       apiwire.List[inventory.Finding]
	Certs      map[string]inventory.Certificate // of the findings on this page, by sha256
	FindingsOn bool
}

// findings lists findings newest first, of one type or all, with the certificates they are on.
func (con *Console) findings(c echo.Context) error {
	if clean, ok := cleanQuery(c.Request().URL); !ok {
		return c.Redirect(http.StatusSeeOther, clean)
	}
	q, err := adminapi.FindingQuery(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	page, err := con.d.Inventory.ListFindings(ctx, q)
	if err != nil {
		return err
	}
	shas := make([]string, 0, len(page.Items))
	for _, f := range page.Items {
		shas = append(shas, f.SHA256)
	}
	certs, err := con.d.Inventory.Certificates(ctx, shas)
	if err != nil {
		return err
	}
	data := findingsData{Query: c.QueryParams(), Type: q.Type, Types: adminapi.FindingTypes(), List: list(page, q.Page, q.PageSize),
		Certs: certs, FindingsOn: con.opts.Findings}
	return con.render(c, http.StatusOK, "findings", "Findings", "findings", data)
}

// Kinds of authorization the findings page offers.
const (
	authorizeIssuance = "issuance" // this issuance: its tbsSha256
	authorizeKey      = "key"      // this key for these names: its spkiSha256
)

type authorizeData struct {
	Kind     string
	Cert     certificateData
	Names    string // the key's names, comma-separated, as the form shows them
	Note     string
	Open     int // findings of this issuance not yet authorized
	Error    string
	Existing []inventory.Finding
}

// authorizeConfirm shows what an authorization would cover before it is made: the certificate,
// the hash it names and, for a key, the names (editable: ".example.com" covers it and every name
// below).
func (con *Console) authorizeConfirm(c echo.Context) error {
	data, err := con.authorizeForm(c)
	if err != nil {
		return err
	}
	data.Names = strings.Join(data.Cert.Cert.Hosts, ", ")
	return con.render(c, http.StatusOK, "authorize", "Authorize", "findings", data)
}

func (con *Console) authorizeForm(c echo.Context) (authorizeData, error) {
	kind := c.FormValue("kind")
	if kind != authorizeIssuance && kind != authorizeKey {
		return authorizeData{}, echo.NewHTTPError(http.StatusBadRequest, "kind: must be one of "+authorizeIssuance+", "+authorizeKey)
	}
	cert, err := con.loadCertificate(c.Request().Context(), c.FormValue("sha256"))
	if err != nil {
		return authorizeData{}, err
	}
	switch {
	case kind == authorizeIssuance && cert.Cert.TBSSHA256 == "":
		return authorizeData{}, echo.NewHTTPError(http.StatusBadRequest, "this certificate's tbsSha256 is unknown: authorize its key instead")
	case kind == authorizeKey && cert.Payload.SPKISHA256 == "":
		return authorizeData{}, echo.NewHTTPError(http.StatusBadRequest, "this certificate's spkiSha256 is unknown: authorize its issuance instead")
	}
	fs, err := con.d.Inventory.ListFindings(c.Request().Context(), inventory.FindingQuery{SHA256: cert.Cert.SHA256, Page: 1, PageSize: 200})
	if err != nil {
		return authorizeData{}, err
	}
	data := authorizeData{Kind: kind, Cert: cert, Existing: fs.Items}
	for _, f := range fs.Items {
		if f.AuthorizedAt == nil {
			data.Open++
		}
	}
	return data, nil
}

// authorizeSubmit stores the authorization in the inventory (author "console"): its findings are
// marked authorized, their unsent alerts are never sent, and later events of the issuance or key
// make no findings.
func (con *Console) authorizeSubmit(c echo.Context) error {
	data, err := con.authorizeForm(c)
	if err != nil {
		return err
	}
	spec := rules.AuthorizationSpec{Note: c.FormValue("note")}
	if data.Kind == authorizeIssuance {
		spec.TBSSHA256 = data.Cert.Cert.TBSSHA256
	} else {
		spec.SPKISHA256 = data.Cert.Payload.SPKISHA256
		spec.Names = strings.FieldsFunc(c.FormValue("names"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	}
	res, err := con.d.Authorizer.Authorize(c.Request().Context(), spec, "console")
	if errors.Is(err, authz.ErrInvalid) {
		data.Error, data.Names, data.Note = err.Error(), c.FormValue("names"), c.FormValue("note")
		return con.render(c, http.StatusBadRequest, "authorize", "Authorize", "findings", data)
	}
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Authorized: %s. %s authorized now; their alerts will not be sent.", describe(res.Authorization), plural(res.Findings, "finding"))
	if !res.Added {
		msg = fmt.Sprintf("Already authorized: %s. %s authorized now.", describe(res.Authorization), plural(res.Findings, "finding"))
	}
	return con.redirectWithFlash(c, "/ui/findings", msg)
}

func describe(a inventory.AuthorizationRow) string {
	if a.TBSSHA256 != "" {
		return "issuance " + short(a.TBSSHA256)
	}
	return "key " + short(a.SPKISHA256) + " for " + strings.Join(a.Names, ", ")
}
