package api

import (
	"net/http"

	"github.com/ukeygate/ukeygate/audit"
	"github.com/ukeygate/ukeygate/auth"
	"github.com/ukeygate/ukeygate/protocol"
)

// Named operators: the bootstrap operator (the admin token) adds and
// removes them; every operator lists them.

const (
	actionOperatorAdd    = "operator.add"
	actionOperatorRemove = "operator.remove"
)

// OperatorRequest is the body of POST /v1/admin/operators.
type OperatorRequest protocol.OperatorRequest

// Validate checks the name's shape.
func (q *OperatorRequest) Validate() error {
	if !auth.ValidOperatorName(q.Name) {
		return invalid("name", "1 to 32 of a-z, 0-9 and '-', starting with a letter, not \"admin\"")
	}
	return nil
}

func wireOperator(o *auth.Operator, token string) protocol.Operator {
	return protocol.Operator{Name: o.Name, CreatedAt: o.CreatedAt, CreatedBy: o.CreatedBy, Token: token}
}

func (a *API) adminAddOperator(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	var req OperatorRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return audit.Entry{Action: actionOperatorAdd, Actor: actorAdmin, Detail: "operator=" + res.(*auth.Operator).Name}
	})
	op, tok, err := a.admin.AddOperator(ctx, auth.OperatorFrom(r.Context()), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, wireOperator(op, tok))
	return nil
}

func (a *API) adminListOperators(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	if err := noQuery(r); err != nil {
		return err
	}
	list, err := a.admin.Operators(r.Context())
	if err != nil {
		return err
	}
	out := protocol.OperatorList{Operators: make([]protocol.Operator, 0, len(list))}
	for _, o := range list {
		out.Operators = append(out.Operators, wireOperator(o, ""))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) adminRemoveOperator(w http.ResponseWriter, r *http.Request) error {
	if err := a.admin.Authorize(r); err != nil {
		return err
	}
	name := r.PathValue("name")
	if !auth.ValidOperatorName(name) {
		return auth.ErrOperatorNotFound
	}
	if err := a.decodeOptional(w, r, &NoBodyRequest{}); err != nil {
		return err
	}
	ctx := a.audited(r.Context(), func(res any) audit.Entry {
		return audit.Entry{Action: actionOperatorRemove, Actor: actorAdmin, Detail: "operator=" + res.(*auth.Operator).Name}
	})
	op, err := a.admin.RemoveOperator(ctx, auth.OperatorFrom(r.Context()), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wireOperator(op, ""))
	return nil
}
