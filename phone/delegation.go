package phone

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ukeygate/ukeygate/protocol"
)

// Delegations lists the delegations granted to this phone's user and, for
// an organisation, those of its credentials (GET /v1/me/delegations).
func (c *Client) Delegations(ctx context.Context) ([]protocol.Delegation, error) {
	var out protocol.DelegationList
	if err := c.Do(ctx, http.MethodGet, "/v1/me/delegations", nil, &out); err != nil {
		return nil, err
	}
	return out.Delegations, nil
}

// AcceptDelegation accepts a delegation granted to this phone's user,
// with the user's own PIN.
func (c *Client) AcceptDelegation(ctx context.Context, id, pin string) (*protocol.Delegation, error) {
	return c.delegationStep(ctx, id, "/accept", pin)
}

// ApproveDelegation approves, as the organisation, a delegation the
// delegate has accepted, with the organisation's PIN.
func (c *Client) ApproveDelegation(ctx context.Context, id, pin string) (*protocol.Delegation, error) {
	return c.delegationStep(ctx, id, "/approve", pin)
}

func (c *Client) delegationStep(ctx context.Context, id, step, pin string) (*protocol.Delegation, error) {
	var out protocol.Delegation
	if err := c.Do(ctx, http.MethodPost, "/v1/me/delegations/"+url.PathEscape(id)+step, protocol.DelegationPINRequest{PIN: pin}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
