package operator

import (
	"context"
	"net/http"

	"github.com/ukeygate/ukeygate/protocol"
)

// DelegationRequest is the body of POST /v1/admin/users/{id}/delegations.
type DelegationRequest = protocol.DelegationRequest

// Delegation is a delegation of an organisation's credential to a staff
// member (protocol.Delegation).
type Delegation = protocol.Delegation

// AddDelegation grants delegate req.User the use of organisation org's
// credential req.Credential (POST /v1/admin/users/{org}/delegations). It
// becomes usable once the delegate accepted it and the organisation
// approved it, each from their phone with their own PIN.
func (c *Client) AddDelegation(ctx context.Context, org string, req DelegationRequest) (*Delegation, error) {
	var d Delegation
	if err := c.post(ctx, "/v1/admin/users/", org, "/delegations", req, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Delegations lists the delegations of organisation org's credentials
// (GET /v1/admin/users/{org}/delegations).
func (c *Client) Delegations(ctx context.Context, org string) ([]Delegation, error) {
	path, err := idPath("/v1/admin/users/", org, "/delegations")
	if err != nil {
		return nil, err
	}
	var out protocol.DelegationList
	if _, err := c.Do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return out.Delegations, nil
}

// RevokeDelegation revokes delegation id of organisation org; its key
// wraps are erased (DELETE /v1/admin/users/{org}/delegations/{id}).
func (c *Client) RevokeDelegation(ctx context.Context, org, id string) (*Delegation, error) {
	path, err := idPath("/v1/admin/users/", org, "/delegations/")
	if err != nil {
		return nil, err
	}
	if path, err = idPath(path, id, ""); err != nil {
		return nil, err
	}
	var d Delegation
	if _, err := c.Do(ctx, http.MethodDelete, path, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}
