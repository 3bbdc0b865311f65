package ca

import (
	"context"
	"strings"

	"github.com/ukeygate/ukeygate/storage"
)

// Correction is a change of a user's personal fields, applied once the
// registration authority approved it (ra). An empty field is left as it
// is; the result must pass the same checks as a new user
// (UserRequest.Validate). Certificates already issued keep their subject;
// credentials issued afterwards carry the corrected fields.
type Correction struct {
	Name     string
	IDNumber string
	Phone    string
}

// Empty reports whether c changes nothing.
func (c Correction) Empty() bool { return c.Name == "" && c.IDNumber == "" && c.Phone == "" }

// CorrectUser applies c to user id, committing extra (the caller's
// conditions and writes, such as the decided correction request) and the
// audit entry of ctx's action in the same transaction. An unknown or
// deleted user is ErrUserNotFound; a field that fails the checks is a
// *RequestError and nothing changes.
func (s *Service) CorrectUser(ctx context.Context, id string, c Correction, extra ...storage.Op) (*User, error) {
	u, rev, err := s.loadUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Name != "" {
		u.Name = strings.TrimSpace(c.Name)
	}
	if c.IDNumber != "" {
		u.IDNumber = c.IDNumber
	}
	if c.Phone != "" {
		u.Phone = c.Phone
	}
	req := UserRequest{Name: u.Name, IDNumber: u.IDNumber, Phone: u.Phone, Organization: u.Organization, Kind: u.Kind, CreditCode: u.CreditCode}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	var b txnBuilder
	b.cond(userKey(id), rev)
	b.put(userKey(id), u, 0)
	b.ops = append(b.ops, extra...)
	user := u.toUser(s.now())
	if err := b.commitAction(ctx, s.store, user); err != nil {
		return nil, err
	}
	return user, nil
}
