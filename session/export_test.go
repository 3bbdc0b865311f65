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
	return s.hub.knownLast(id)
}
