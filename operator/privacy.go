package operator

import (
	"context"
	"net/http"

	"github.com/ukeygate/ukeygate/protocol"
)

// PersonalData answers GET /v1/admin/users/{id}/data (protocol.PersonalData).
type PersonalData = protocol.PersonalData

// UserData exports every personal record the gateway holds about a user,
// for a data request made to the operator.
func (c *Client) UserData(ctx context.Context, id string) (*PersonalData, error) {
	path, err := idPath("/v1/admin/users/", id, "/data")
	if err != nil {
		return nil, err
	}
	var d PersonalData
	if _, err := c.Do(ctx, http.MethodGet, path, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}
