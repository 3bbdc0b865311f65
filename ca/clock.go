package ca

import "time"

// Now returns the CA's clock (Config.Now): the time Verify checks validity
// against when the caller wants "now", and the time credential states are
// computed at.
func (s *Service) Now() time.Time { return s.now() }
