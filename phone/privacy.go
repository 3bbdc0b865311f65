package phone

import (
	"context"
	"net/http"

	"github.com/ukeygate/ukeygate/protocol"
)

// MyData downloads every personal record the gateway holds about the
// device's user (GET /v1/me/data).
func (c *Client) MyData(ctx context.Context) (*protocol.PersonalData, error) {
	var out protocol.PersonalData
	if err := c.Do(ctx, http.MethodGet, "/v1/me/data", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAccount deletes the device's user's account with their PIN
// (DELETE /v1/me). Afterwards the device is unknown to the gateway.
func (c *Client) DeleteAccount(ctx context.Context, pin string) (*protocol.AccountDeleted, error) {
	var out protocol.AccountDeleted
	if err := c.Do(ctx, http.MethodDelete, "/v1/me", protocol.AccountDeleteRequest{PIN: pin}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
