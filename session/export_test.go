package session

// HubOpen is closed once the Service's store watch has first opened (the
// hub starts on the first Watch): events committed after it reach the
// watchers live, not by a re-list.
func HubOpen(s *Service) <-chan struct{} { return s.hub.open }

// Known reports whether the hub remembers session id (known.go) and the
// seq of its last event.
func Known(s *Service, id string) (int64, bool) {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	last, _, ok := s.hub.knownLast(id)
	return last, ok
}

// KnownFirst reports whether the hub would answer session id's first
// event from memory (known.go: a session made here, at its first event).
func KnownFirst(s *Service, id string) bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	_, at, _ := s.hub.knownLast(id)
	return !at.IsZero()
}
